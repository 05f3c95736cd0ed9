//! Applications: what is created and refused, which subscriptions they get,
//! and which products a token of theirs reaches.

use fintechapi_domain::Clock;
use fintechapi_domain::ids::ApplicationId;
use fintechapi_domain::portal::PortalRepository;
use fintechapi_domain::registry::{
    ApiProduct, Environment, Plan, Psd2Role, Psd2Roles, SecurityProfile, Status, SubscriptionStatus,
};
use fintechapi_registry::{NewApplication, RegistryError};
use fintechapi_testkit::{TestDb, both_stores};

use crate::fixture::{actor, aisp, app_input, fixture, org_input};

fn aisp_and_pisp() -> Psd2Roles {
    aisp().with(Psd2Role::Pisp)
}

async fn a_sandbox_app_gets_approved_subscriptions_and_working_credentials(db: TestDb) {
    let f = fixture(&db).await;
    let org = f.org("Buddy GmbH", aisp_and_pisp()).await;
    assert_eq!(org.country, "DE");
    let (app, issued) = f
        .app(
            &org,
            Environment::Sandbox,
            vec![ApiProduct::Ais, ApiProduct::Pis],
        )
        .await;
    let subs = f.registry.repo().subscriptions_of(app.id).await.unwrap();
    assert_eq!(subs.len(), 2);
    assert!(
        subs.iter()
            .all(|s| s.status == SubscriptionStatus::Approved)
    );

    let secret = issued.secret().unwrap();
    let client = f
        .registry
        .authenticate(&issued.consumer_key, secret)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(client.application.id, app.id);
    assert!(!f.authenticates(&issued.consumer_key, "cs_wrong").await);
    assert!(!f.authenticates("ck_unknown", secret).await);
    let creds = f.registry.repo().credentials_of(app.id).await.unwrap();
    assert!(creds[0].last_used_at.is_some(), "last use is recorded");

    // Recorded to the minute, not written on every request.
    let last_used = || async {
        f.registry.repo().credentials_of(app.id).await.unwrap()[0]
            .last_used_at
            .unwrap()
    };
    let first = last_used().await;
    f.clock.advance(time::Duration::seconds(30));
    assert!(f.authenticates(&issued.consumer_key, secret).await);
    assert_eq!(last_used().await, first);
    f.clock.advance(time::Duration::seconds(31));
    assert!(f.authenticates(&issued.consumer_key, secret).await);
    assert_eq!(last_used().await, f.clock.now());
}
both_stores!(a_sandbox_app_gets_approved_subscriptions_and_working_credentials);

async fn production_subscriptions_wait_for_an_administrator(db: TestDb) {
    let f = fixture(&db).await;
    let org = f.org("Prod GmbH", aisp()).await;
    let (app, _) = f
        .app(&org, Environment::Production, vec![ApiProduct::Ais])
        .await;
    let subs = f.registry.repo().subscriptions_of(app.id).await.unwrap();
    assert_eq!(subs[0].status, SubscriptionStatus::Pending);
}
both_stores!(production_subscriptions_wait_for_an_administrator);

async fn invalid_applications_are_refused_field_by_field_and_nothing_is_created(db: TestDb) {
    let f = fixture(&db).await;
    let org = f.org("Ais Only GmbH", aisp()).await;
    let mut input = app_input(Environment::Production, vec![ApiProduct::Pis]);
    input.redirect_uris = vec![
        "http://buddy.example/cb".into(),
        "https://buddy.example/cb#x".into(),
    ];
    input.name = " ".into();
    let Err(RegistryError::Invalid(errors)) = f
        .registry
        .create_application(&actor(), &org, input, false)
        .await
    else {
        panic!("accepted an invalid application");
    };
    assert!(errors.get("products").unwrap().contains("PISP"), "{errors}");
    assert!(errors.get("redirect_uris").is_some(), "{errors}");
    assert_eq!(errors.get("name"), Some("is required"));
    let applications = || async { f.registry.repo().applications_of(org.id).await.unwrap() };
    assert!(applications().await.is_empty());

    f.sandbox_ais_app(&org).await;
    let duplicate = f
        .registry
        .create_application(
            &actor(),
            &org,
            app_input(Environment::Sandbox, vec![ApiProduct::Ais]),
            false,
        )
        .await;
    assert!(matches!(duplicate, Err(RegistryError::Invalid(e)) if e.get("name").is_some()));
    assert_eq!(applications().await.len(), 1);
    let same_org = f
        .registry
        .create_organisation(&actor(), Some(f.owner), org_input("Ais Only GmbH", aisp()))
        .await;
    assert!(matches!(same_org, Err(RegistryError::Invalid(e)) if e.get("legal_name").is_some()));
}
both_stores!(invalid_applications_are_refused_field_by_field_and_nothing_is_created);

async fn a_fapi2_app_registers_an_https_jwks_uri_and_never_a_plain_http_one_or_both_kinds_of_keys(
    db: TestDb,
) {
    let f = fixture(&db).await;
    let org = f.org("Fapi GmbH", aisp()).await;
    let fapi2 = |jwks: Option<&str>, jwks_uri: &str| NewApplication {
        security_profile: SecurityProfile::Fapi2,
        jwks: jwks.map(str::to_owned),
        jwks_uri: Some(jwks_uri.into()),
        ..app_input(Environment::Sandbox, vec![ApiProduct::Ais])
    };
    let refusals = [
        (
            fapi2(None, "http://buddy.example/jwks"),
            "jwks_uri",
            "must use https",
        ),
        (
            fapi2(None, "https://buddy.example/jwks#k1"),
            "jwks_uri",
            "must not contain a fragment (#…)",
        ),
        (
            fapi2(None, "https://me:pw@buddy.example/jwks"),
            "jwks_uri",
            "must not contain user information",
        ),
        (
            fapi2(
                Some(r#"{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b"}]}"#),
                "https://buddy.example/jwks",
            ),
            "jwks",
            "must not be given together with a JWKS URI; choose one",
        ),
        (
            // Request objects are checked with the client's keys: it needs some.
            NewApplication {
                security_profile: SecurityProfile::Fapi2,
                tls_subject_dn: Some("CN=buddy".into()),
                require_signed_request_object: true,
                ..app_input(Environment::Sandbox, vec![ApiProduct::Ais])
            },
            "require_signed_request_object",
            "needs a JWKS or a JWKS URI: request objects are checked with the client's keys",
        ),
    ];
    for (input, field, problem) in refusals {
        let Err(RegistryError::Invalid(errors)) = f
            .registry
            .create_application(&actor(), &org, input, false)
            .await
        else {
            panic!("accepted an unfit jwks_uri");
        };
        assert_eq!(errors.get(field), Some(problem), "{errors}");
    }
    let (app, _) = f
        .app_from(
            &org,
            fapi2(None, " https://buddy.example/.well-known/jwks.json "),
        )
        .await;
    assert_eq!(
        app.jwks_uri.as_deref(),
        Some("https://buddy.example/.well-known/jwks.json")
    );
}
both_stores!(
    a_fapi2_app_registers_an_https_jwks_uri_and_never_a_plain_http_one_or_both_kinds_of_keys
);

async fn a_token_reaches_only_approved_products_of_an_active_application(db: TestDb) {
    let f = fixture(&db).await;
    let org = f.org("Standing GmbH", aisp_and_pisp()).await;
    let (app, _) = f
        .app(
            &org,
            Environment::Production,
            vec![ApiProduct::Ais, ApiProduct::Pis],
        )
        .await;
    let usable = || async {
        f.registry
            .active_products(app.id)
            .await
            .map(|u| u.map(|u| u.products))
    };
    assert_eq!(
        usable().await.unwrap(),
        Some(vec![]),
        "pending subscriptions give nothing"
    );
    f.registry
        .approve_products(&actor(), &org, &app, &[ApiProduct::Pis])
        .await
        .unwrap();
    assert_eq!(
        usable().await.unwrap(),
        Some(vec![(ApiProduct::Pis, Plan::Standard)])
    );
    // An operator's plan overrides the tier on every call, and is audited.
    let assigned = || async {
        f.registry
            .active_products(app.id)
            .await
            .unwrap()
            .unwrap()
            .assigned_plan
    };
    assert_eq!(assigned().await, None);
    f.registry
        .set_application_plan(&actor(), app.id, Some("unlimited"))
        .await
        .unwrap();
    assert_eq!(assigned().await.as_deref(), Some("unlimited"));
    assert_eq!(
        f.registry
            .repo()
            .application(app.id)
            .await
            .unwrap()
            .unwrap()
            .assigned_plan
            .as_deref(),
        Some("unlimited")
    );
    assert!(
        f.registry
            .set_application_plan(&actor(), app.id, Some("<b>"))
            .await
            .is_err()
    );
    f.registry
        .set_application_plan(&actor(), app.id, None)
        .await
        .unwrap();
    assert_eq!(assigned().await, None);
    f.set_application_status(app.id, Status::Suspended).await;
    assert_eq!(usable().await.unwrap(), None);
    f.set_application_status(app.id, Status::Active).await;
    f.registry
        .repo()
        .set_organisation_status(org.id, Status::Suspended)
        .await
        .unwrap();
    assert_eq!(usable().await.unwrap(), None);
    assert_eq!(
        f.registry
            .active_products(ApplicationId::random())
            .await
            .unwrap(),
        None
    );
}
both_stores!(a_token_reaches_only_approved_products_of_an_active_application);
