//! The TPP registry against real stores, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use std::sync::Arc;

use fintechapi_domain::ids::UserId;
use fintechapi_domain::password::PasswordHash;
use fintechapi_domain::portal::{MemberRole, NewUser, PortalRepository, UserKind};
use fintechapi_domain::registry::{
    ApiProduct, Environment, Plan, Psd2Role, Psd2Roles, RegistryChange, RegistryEvent,
    SecurityProfile, Status, SubscriptionStatus,
};
use fintechapi_domain::secret::Pepper;
use fintechapi_domain::{Clock, ManualClock};
use fintechapi_registry::{
    Actor, Freshness, NewApplication, NewOrganisation, Registry, RegistryCache, RegistryError,
};
use fintechapi_storage::Store;
use fintechapi_testkit::{Backend, TestDb, both_stores};
use time::macros::datetime;

struct Fixture {
    registry: Registry<Store>,
    cache: Arc<RegistryCache>,
    clock: Arc<ManualClock>,
    owner: UserId,
}

async fn fixture(db: &TestDb) -> Fixture {
    let store = db.store().await;
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-25 10:00 UTC)));
    let owner = UserId::random();
    store
        .create_user(NewUser {
            id: owner,
            email: "owner@tpp.example".parse().unwrap(),
            display_name: "Owner".into(),
            kind: UserKind::Developer,
            password: PasswordHash::from_phc("$argon2id$unused".into()),
            email_verified_at: Some(clock.now()),
            created_at: clock.now(),
        })
        .await
        .unwrap();
    // Compared with the store's registry version on every lookup, as on
    // SQLite, so changes made past the registry (`repo()`) count too.
    let cache = Arc::new(RegistryCache::new(Freshness::Versioned, 100));
    let registry = Registry::new(
        store,
        Pepper::from_bytes(&[42; 32]).unwrap(),
        clock.clone(),
        time::Duration::hours(24),
    )
    .with_cache(cache.clone());
    Fixture {
        registry,
        cache,
        clock,
        owner,
    }
}

fn actor() -> Actor {
    Actor("owner@tpp.example".into())
}

fn org_input(name: &str, roles: Psd2Roles) -> NewOrganisation {
    NewOrganisation {
        legal_name: name.into(),
        country: "de".into(),
        roles,
        competent_authority: "BaFin".into(),
        authorisation_number: "HRB 12345".into(),
    }
}

fn app_input(env: Environment, products: Vec<ApiProduct>) -> NewApplication {
    NewApplication {
        name: "Budget Buddy".into(),
        description: "Shows your spending".into(),
        redirect_uris: vec!["https://buddy.example/cb".into()],
        security_profile: SecurityProfile::Basic,
        jwks: None,
        jwks_uri: None,
        tls_subject_dn: None,
        environment: env,
        products,
    }
}

async fn a_sandbox_app_gets_approved_subscriptions_and_working_credentials(db: TestDb) {
    let f = fixture(&db).await;
    let roles = Psd2Roles::default()
        .with(Psd2Role::Aisp)
        .with(Psd2Role::Pisp);
    let org = f
        .registry
        .create_organisation(&actor(), Some(f.owner), org_input("Buddy GmbH", roles))
        .await
        .unwrap();
    assert_eq!(org.country, "DE");
    let (app, issued) = f
        .registry
        .create_application(
            &actor(),
            &org,
            app_input(Environment::Sandbox, vec![ApiProduct::Ais, ApiProduct::Pis]),
            false,
        )
        .await
        .unwrap();
    let subs = f.registry.repo().subscriptions_of(app.id).await.unwrap();
    assert_eq!(subs.len(), 2);
    assert!(
        subs.iter()
            .all(|s| s.status == SubscriptionStatus::Approved)
    );

    let client = f
        .registry
        .authenticate(&issued.consumer_key, issued.secret().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(client.application.id, app.id);
    assert!(
        f.registry
            .authenticate(&issued.consumer_key, "cs_wrong")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        f.registry
            .authenticate("ck_unknown", issued.secret().unwrap())
            .await
            .unwrap()
            .is_none()
    );
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
    f.registry
        .authenticate(&issued.consumer_key, issued.secret().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last_used().await, first);
    f.clock.advance(time::Duration::seconds(31));
    f.registry
        .authenticate(&issued.consumer_key, issued.secret().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last_used().await, f.clock.now());
}
both_stores!(a_sandbox_app_gets_approved_subscriptions_and_working_credentials);

async fn production_subscriptions_wait_for_an_administrator(db: TestDb) {
    let f = fixture(&db).await;
    let org = f
        .registry
        .create_organisation(
            &actor(),
            Some(f.owner),
            org_input("Prod GmbH", Psd2Roles::default().with(Psd2Role::Aisp)),
        )
        .await
        .unwrap();
    let (app, _) = f
        .registry
        .create_application(
            &actor(),
            &org,
            app_input(Environment::Production, vec![ApiProduct::Ais]),
            false,
        )
        .await
        .unwrap();
    let subs = f.registry.repo().subscriptions_of(app.id).await.unwrap();
    assert_eq!(subs[0].status, SubscriptionStatus::Pending);
}
both_stores!(production_subscriptions_wait_for_an_administrator);

async fn invalid_applications_are_refused_field_by_field_and_nothing_is_created(db: TestDb) {
    let f = fixture(&db).await;
    let org = f
        .registry
        .create_organisation(
            &actor(),
            Some(f.owner),
            org_input("Ais Only GmbH", Psd2Roles::default().with(Psd2Role::Aisp)),
        )
        .await
        .unwrap();
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
    assert!(
        f.registry
            .repo()
            .applications_of(org.id)
            .await
            .unwrap()
            .is_empty()
    );

    f.registry
        .create_application(
            &actor(),
            &org,
            app_input(Environment::Sandbox, vec![ApiProduct::Ais]),
            false,
        )
        .await
        .unwrap();
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
    assert_eq!(
        f.registry
            .repo()
            .applications_of(org.id)
            .await
            .unwrap()
            .len(),
        1
    );
    let same_org = f
        .registry
        .create_organisation(
            &actor(),
            Some(f.owner),
            org_input("Ais Only GmbH", Psd2Roles::default().with(Psd2Role::Aisp)),
        )
        .await;
    assert!(matches!(same_org, Err(RegistryError::Invalid(e)) if e.get("legal_name").is_some()));
}
both_stores!(invalid_applications_are_refused_field_by_field_and_nothing_is_created);

async fn a_fapi2_app_registers_an_https_jwks_uri_and_never_a_plain_http_one_or_both_kinds_of_keys(
    db: TestDb,
) {
    let f = fixture(&db).await;
    let org = f
        .registry
        .create_organisation(
            &actor(),
            Some(f.owner),
            org_input("Fapi GmbH", Psd2Roles::default().with(Psd2Role::Aisp)),
        )
        .await
        .unwrap();
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
        .registry
        .create_application(
            &actor(),
            &org,
            fapi2(None, " https://buddy.example/.well-known/jwks.json "),
            false,
        )
        .await
        .unwrap();
    assert_eq!(
        app.jwks_uri.as_deref(),
        Some("https://buddy.example/.well-known/jwks.json")
    );
}
both_stores!(
    a_fapi2_app_registers_an_https_jwks_uri_and_never_a_plain_http_one_or_both_kinds_of_keys
);

async fn a_rotated_secret_works_during_the_grace_period_then_not_at_all(db: TestDb) {
    let f = fixture(&db).await;
    let org = f
        .registry
        .create_organisation(
            &actor(),
            Some(f.owner),
            org_input("Rotate GmbH", Psd2Roles::default().with(Psd2Role::Aisp)),
        )
        .await
        .unwrap();
    let (app, old) = f
        .registry
        .create_application(
            &actor(),
            &org,
            app_input(Environment::Sandbox, vec![ApiProduct::Ais]),
            false,
        )
        .await
        .unwrap();
    let new = f.registry.rotate_secret(&actor(), app.id).await.unwrap();
    assert_ne!(new.consumer_key, old.consumer_key);
    f.clock.advance(time::Duration::hours(23));
    assert!(
        f.registry
            .authenticate(&old.consumer_key, old.secret().unwrap())
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        f.registry
            .authenticate(&new.consumer_key, new.secret().unwrap())
            .await
            .unwrap()
            .is_some()
    );
    // Served from the cache now, and the clock still ends the grace period.
    f.clock.advance(time::Duration::hours(2));
    assert!(
        f.registry
            .authenticate(&old.consumer_key, old.secret().unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        f.registry
            .authenticate(&new.consumer_key, new.secret().unwrap())
            .await
            .unwrap()
            .is_some()
    );

    // Revocation works at once.
    let live = f
        .registry
        .repo()
        .credential_by_key(&new.consumer_key)
        .await
        .unwrap()
        .unwrap();
    f.registry.revoke(&actor(), live.id).await.unwrap();
    assert!(
        f.registry
            .authenticate(&new.consumer_key, new.secret().unwrap())
            .await
            .unwrap()
            .is_none()
    );
}
both_stores!(a_rotated_secret_works_during_the_grace_period_then_not_at_all);

async fn a_suspended_application_or_organisation_stops_authenticating(db: TestDb) {
    let f = fixture(&db).await;
    let org = f
        .registry
        .create_organisation(
            &actor(),
            Some(f.owner),
            org_input("Suspend GmbH", Psd2Roles::default().with(Psd2Role::Aisp)),
        )
        .await
        .unwrap();
    let (app, issued) = f
        .registry
        .create_application(
            &actor(),
            &org,
            app_input(Environment::Sandbox, vec![ApiProduct::Ais]),
            false,
        )
        .await
        .unwrap();
    let login = || {
        f.registry
            .authenticate(&issued.consumer_key, issued.secret().unwrap())
    };
    f.registry
        .set_application_status(&actor(), app.id, Status::Suspended)
        .await
        .unwrap();
    assert!(login().await.unwrap().is_none());
    f.registry
        .set_application_status(&actor(), app.id, Status::Active)
        .await
        .unwrap();
    assert!(login().await.unwrap().is_some());
    f.registry
        .repo()
        .set_organisation_status(org.id, Status::Suspended)
        .await
        .unwrap();
    assert!(login().await.unwrap().is_none());
    let trail = f.registry.repo().audit_trail(10).await.unwrap();
    assert!(trail.iter().any(|e| e.action == "application.suspend"));
}
both_stores!(a_suspended_application_or_organisation_stops_authenticating);

async fn a_token_reaches_only_approved_products_of_an_active_application(db: TestDb) {
    let f = fixture(&db).await;
    let roles = Psd2Roles::default()
        .with(Psd2Role::Aisp)
        .with(Psd2Role::Pisp);
    let org = f
        .registry
        .create_organisation(&actor(), Some(f.owner), org_input("Standing GmbH", roles))
        .await
        .unwrap();
    let (app, _) = f
        .registry
        .create_application(
            &actor(),
            &org,
            app_input(
                Environment::Production,
                vec![ApiProduct::Ais, ApiProduct::Pis],
            ),
            false,
        )
        .await
        .unwrap();
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
    f.registry
        .set_application_status(&actor(), app.id, Status::Suspended)
        .await
        .unwrap();
    assert_eq!(usable().await.unwrap(), None);
    f.registry
        .set_application_status(&actor(), app.id, Status::Active)
        .await
        .unwrap();
    f.registry
        .repo()
        .set_organisation_status(org.id, Status::Suspended)
        .await
        .unwrap();
    assert_eq!(usable().await.unwrap(), None);
    assert_eq!(
        f.registry
            .active_products(fintechapi_domain::ids::ApplicationId::random())
            .await
            .unwrap(),
        None
    );
}
both_stores!(a_token_reaches_only_approved_products_of_an_active_application);

async fn made_up_client_ids_are_not_cached_and_known_ones_stay_cached(db: TestDb) {
    let f = fixture(&db).await;
    let org = f
        .registry
        .create_organisation(
            &actor(),
            Some(f.owner),
            org_input("Flood GmbH", Psd2Roles::default().with(Psd2Role::Aisp)),
        )
        .await
        .unwrap();
    let (_, issued) = f
        .registry
        .create_application(
            &actor(),
            &org,
            app_input(Environment::Sandbox, vec![ApiProduct::Ais]),
            false,
        )
        .await
        .unwrap();
    let client = f
        .registry
        .authenticate(&issued.consumer_key, issued.secret().unwrap())
        .await
        .unwrap();
    assert!(client.is_some());
    assert_eq!(f.cache.len(), 1);
    for i in 0..500 {
        let key = format!("ck_made_up_{i}");
        assert!(
            f.registry
                .authenticate(&key, "cs_guess")
                .await
                .unwrap()
                .is_none()
        );
        assert!(f.registry.identify(&key).await.unwrap().is_none());
    }
    assert_eq!(f.cache.len(), 1, "unknown keys grew the cache");
    // A wrong secret for a known key is refused from the cache as well.
    assert!(
        f.registry
            .authenticate(&issued.consumer_key, "cs_wrong")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        f.registry
            .authenticate(&issued.consumer_key, issued.secret().unwrap())
            .await
            .unwrap()
            .is_some()
    );
}
both_stores!(made_up_client_ids_are_not_cached_and_known_ones_stay_cached);

async fn the_secret_is_stored_nowhere(db: TestDb) {
    let f = fixture(&db).await;
    let org = f
        .registry
        .create_organisation(
            &actor(),
            Some(f.owner),
            org_input("Secret GmbH", Psd2Roles::default().with(Psd2Role::Aisp)),
        )
        .await
        .unwrap();
    let (app, issued) = f
        .registry
        .create_application(
            &actor(),
            &org,
            app_input(Environment::Sandbox, vec![ApiProduct::Ais]),
            false,
        )
        .await
        .unwrap();
    let rotated = f.registry.rotate_secret(&actor(), app.id).await.unwrap();
    let secrets = [
        issued.secret().unwrap().to_owned(),
        rotated.secret().unwrap().to_owned(),
    ];
    let store = db.store().await;
    let dump = dump_text(&db, &store).await;
    for secret in &secrets {
        assert!(
            !dump.contains(secret.as_str()),
            "a consumer secret is stored in clear"
        );
        assert!(
            !dump.contains(&secret[3..]),
            "a consumer secret is stored in clear"
        );
    }
    assert!(dump.contains(&issued.consumer_key), "the dump is real");
}
both_stores!(the_secret_is_stored_nowhere);

/// Every text column of the portal's tables, concatenated.
async fn dump_text(db: &TestDb, _store: &Store) -> String {
    let tables = [
        "users",
        "sessions",
        "one_time_tokens",
        "organisations",
        "applications",
        "subscriptions",
        "credentials",
        "outbox",
        "audit_log",
    ];
    let mut out = String::new();
    match db.database_url() {
        Some(url) => {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            for table in tables {
                let sql = format!("SELECT CAST(t AS TEXT) FROM {table} t");
                for row in sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&pool)
                    .await
                    .unwrap()
                {
                    out.push_str(&row);
                }
            }
        }
        None => {
            out = String::from_utf8_lossy(&std::fs::read(db.sqlite_path()).unwrap()).into_owned();
            let wal = db.sqlite_path().with_extension("db-wal");
            if let Ok(bytes) = std::fs::read(wal) {
                out.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }
    out
}

async fn only_an_owner_of_the_organisation_invites(db: TestDb) {
    let f = fixture(&db).await;
    let org = f
        .registry
        .create_organisation(
            &actor(),
            Some(f.owner),
            org_input("Invite GmbH", Psd2Roles::default().with(Psd2Role::Aisp)),
        )
        .await
        .unwrap();
    let store = f.registry.repo();
    let owner = store.user(f.owner).await.unwrap().unwrap();
    let outsider = store
        .create_user(NewUser {
            id: UserId::random(),
            email: "outsider@tpp.example".parse().unwrap(),
            display_name: "Outsider".into(),
            kind: UserKind::Developer,
            password: PasswordHash::from_phc("$argon2id$unused".into()),
            email_verified_at: Some(f.clock.now()),
            created_at: f.clock.now(),
        })
        .await
        .unwrap();
    let invitee = "new@tpp.example".parse().unwrap();

    let refused = f
        .registry
        .invite(
            &Actor("outsider@tpp.example".into()),
            &outsider,
            &org,
            "new@tpp.example",
            "owner",
            "https://portal.example",
        )
        .await;
    assert!(
        matches!(refused, Err(RegistryError::NotOwner)),
        "{refused:?}"
    );
    assert!(
        store.mails_to(&invitee).await.unwrap().is_empty(),
        "a refused invitation sends no mail"
    );

    f.registry
        .invite(
            &actor(),
            &owner,
            &org,
            "new@tpp.example",
            "developer",
            "https://portal.example",
        )
        .await
        .unwrap();
    let mails = store.mails_to(&invitee).await.unwrap();
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0]
            .body_text
            .contains("https://portal.example/portal/invitations/accept?token=")
    );
}
both_stores!(only_an_owner_of_the_organisation_invites);

async fn only_an_owner_removes_members_and_the_last_owner_stays(db: TestDb) {
    let f = fixture(&db).await;
    let org = f
        .registry
        .create_organisation(
            &actor(),
            Some(f.owner),
            org_input("Remove GmbH", Psd2Roles::default().with(Psd2Role::Aisp)),
        )
        .await
        .unwrap();
    let outsider = UserId::random();
    let refused = f
        .registry
        .remove_member(&actor(), outsider, org.id, f.owner)
        .await;
    assert!(
        matches!(refused, Err(RegistryError::NotOwner)),
        "{refused:?}"
    );
    let last = f
        .registry
        .remove_member(&actor(), f.owner, org.id, f.owner)
        .await;
    assert!(matches!(last, Err(RegistryError::Invalid(_))), "{last:?}");
    let (seen, role) = f
        .registry
        .organisation_of_member(f.owner, org.id)
        .await
        .unwrap();
    assert_eq!((seen.id, role), (org.id, MemberRole::Owner));
    let hidden = f.registry.organisation_of_member(outsider, org.id).await;
    assert!(matches!(hidden, Err(RegistryError::NotFound)), "{hidden:?}");
}

both_stores!(only_an_owner_removes_members_and_the_last_owner_stays);

/// Waits (2 s at most) for the watch to report `want`, skipping other events.
async fn heard(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<RegistryEvent>,
    want: impl Fn(&RegistryEvent) -> bool,
) {
    tokio::time::timeout(std::time::Duration::from_secs(2), async {
        while let Some(event) = events.recv().await {
            if want(&event) {
                return;
            }
        }
        panic!("the watch ended");
    })
    .await
    .expect("the watch reports within 2 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_hears_another_nodes_changes_and_forgets_everything_when_its_watch_breaks() {
    let db = TestDb::create(Backend::Postgres).await;
    // Node A writes without a cache; node B serves from one kept fresh by its watch.
    let a = fixture(&db).await;
    let store = db.store().await;
    let cache = Arc::new(RegistryCache::new(Freshness::Announced, 100));
    let b = Registry::new(
        store.clone(),
        Pepper::from_bytes(&[42; 32]).unwrap(),
        a.clock.clone(),
        time::Duration::hours(24),
    )
    .with_cache(cache.clone());
    let (sent, mut events) = tokio::sync::mpsc::unbounded_channel();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let watch = {
        let cache = cache.clone();
        tokio::spawn(async move {
            store
                .watch_registry(
                    move |event| {
                        cache.apply(event);
                        let _ = sent.send(event);
                    },
                    stopped,
                )
                .await;
        })
    };
    heard(&mut events, |e| *e == RegistryEvent::Connected).await;

    let org = a
        .registry
        .create_organisation(
            &actor(),
            Some(a.owner),
            org_input("Watch GmbH", Psd2Roles::default().with(Psd2Role::Aisp)),
        )
        .await
        .unwrap();
    let (app, issued) = a
        .registry
        .create_application(
            &actor(),
            &org,
            app_input(Environment::Sandbox, vec![ApiProduct::Ais]),
            false,
        )
        .await
        .unwrap();
    // The creation's own notification (one per transaction), so that the
    // next one heard is the suspension's.
    heard(&mut events, |e| {
        *e == RegistryEvent::Changed(RegistryChange::Application(app.id))
    })
    .await;
    let login = || b.authenticate(&issued.consumer_key, issued.secret().unwrap());
    assert!(login().await.unwrap().is_some());
    assert!(b.active_products(app.id).await.unwrap().is_some());
    assert_eq!(cache.len(), 2, "both answers are cached");

    a.registry
        .set_application_status(&actor(), app.id, Status::Suspended)
        .await
        .unwrap();
    heard(&mut events, |e| {
        *e == RegistryEvent::Changed(RegistryChange::Application(app.id))
    })
    .await;
    assert!(login().await.unwrap().is_none());
    assert_eq!(b.active_products(app.id).await.unwrap(), None);
    a.registry
        .set_application_status(&actor(), app.id, Status::Active)
        .await
        .unwrap();
    heard(&mut events, |e| {
        *e == RegistryEvent::Changed(RegistryChange::Application(app.id))
    })
    .await;
    assert!(login().await.unwrap().is_some());

    // The listening connection is killed: everything cached is forgotten, and
    // nothing is cached until the watch listens again.
    let killed = db
        .raw_strings(
            "SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        .await;
    assert_eq!(killed, ["true"], "one listening connection");
    heard(&mut events, |e| *e == RegistryEvent::Lost).await;
    heard(&mut events, |e| *e == RegistryEvent::Connected).await;
    assert_eq!(cache.len(), 0);
    assert!(login().await.unwrap().is_some());
    a.registry
        .repo()
        .set_organisation_status(org.id, Status::Suspended)
        .await
        .unwrap();
    heard(&mut events, |e| {
        *e == RegistryEvent::Changed(RegistryChange::Organisation(org.id))
    })
    .await;
    assert!(login().await.unwrap().is_none());

    let _ = stop.send(true);
    watch.await.unwrap();
}
