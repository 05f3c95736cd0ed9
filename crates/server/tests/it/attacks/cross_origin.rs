//! Cross-origin and token-less form posts change nothing.

use std::sync::Arc;

use super::healthy;
use crate::support::xs2a::{REDIRECT, demo_tpp};
use crate::support::{Browser, TestServer, config_for, operator};
use fintechapi_domain::portal::PortalRepository;
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Posts `form` without a token, with a wrong one, and with the right one
/// from another site: all refused with a page.
async fn refused_without_token_or_from_elsewhere(
    b: &mut Browser,
    path: &str,
    form: &[(&str, &str)],
    csrf: &str,
) {
    let mut wrong = form.to_vec();
    wrong.push(("csrf", "not-the-token"));
    let mut right = form.to_vec();
    right.push(("csrf", csrf));
    let attempts = [
        (form.to_vec(), vec![]),
        (wrong, vec![]),
        (right.clone(), vec![("origin", "https://evil.example")]),
        (right.clone(), vec![("sec-fetch-site", "cross-site")]),
        (right, vec![("origin", "null")]),
    ];
    for (form, headers) in attempts {
        let page = b.post_with(path, &form, &headers).await;
        assert!(
            matches!(page.status, StatusCode::FORBIDDEN | StatusCode::BAD_REQUEST),
            "{path} with {headers:?} and {:?}: {} {}",
            form.iter().find(|(k, _)| *k == "csrf"),
            page.status,
            page.body
        );
        assert!(
            page.location.is_none(),
            "{path} went on to {:?}",
            page.location
        );
    }
}

async fn cross_origin_and_tokenless_posts_on_portal_and_admin_forms_change_nothing(db: TestDb) {
    let server = TestServer::start(db).await;
    let store = server.db.store().await;

    // Before login: sign-up, login, reset and admin login.
    let mut anon = Browser::new(&server);
    let csrf = anon.get("/portal/signup").await.csrf();
    refused_without_token_or_from_elsewhere(
        &mut anon,
        "/portal/signup",
        &[
            ("email", "csrf@tpp.example"),
            ("display_name", "C"),
            ("password", crate::support::PASSWORD),
        ],
        &csrf,
    )
    .await;
    assert!(
        store
            .user_by_email(&"csrf@tpp.example".parse().unwrap())
            .await
            .unwrap()
            .is_none(),
        "a refused sign-up created a user"
    );
    let csrf = anon.get("/portal/reset").await.csrf();
    refused_without_token_or_from_elsewhere(
        &mut anon,
        "/portal/reset",
        &[("email", "csrf@tpp.example")],
        &csrf,
    )
    .await;
    let mut ops = operator(&server).await;
    let csrf = anon.get("/admin/login").await.csrf();
    refused_without_token_or_from_elsewhere(
        &mut anon,
        "/admin/login",
        &[
            ("email", "ops@bank.example"),
            ("password", crate::support::OPERATOR_PASSWORD),
        ],
        &csrf,
    )
    .await;
    assert_eq!(
        anon.get("/admin").await.location.as_deref(),
        Some("/admin/login"),
        "a refused login logged in"
    );

    // A developer's forms.
    let api = crate::support::Api::developer(&server, "dev@tpp.example").await;
    let (app_id, key, secret) = api.sandbox_app(&["AISP"], &["ais"]).await;
    let mut dev = Browser::new(&server);
    dev.log_in("dev@tpp.example", crate::support::PASSWORD)
        .await;
    let csrf = dev.get("/portal/dashboard").await.csrf();
    refused_without_token_or_from_elsewhere(
        &mut dev,
        "/portal/orgs/new",
        &[
            ("legal_name", "Forged GmbH"),
            ("country", "DE"),
            ("role_aisp", "on"),
            ("competent_authority", "BaFin"),
            ("authorisation_number", "1"),
        ],
        &csrf,
    )
    .await;
    assert!(
        store
            .organisation_by_name("Forged GmbH")
            .await
            .unwrap()
            .is_none()
    );
    refused_without_token_or_from_elsewhere(
        &mut dev,
        &format!("/portal/apps/{app_id}/rotate"),
        &[],
        &csrf,
    )
    .await;
    let registry = fintechapi_server::app::registry(
        &config_for(&server.db),
        store.clone(),
        Arc::new(fintechapi_domain::SystemClock),
    )
    .unwrap();
    let client = registry
        .authenticate(&key, &secret)
        .await
        .unwrap()
        .expect("the secret still works");
    assert_eq!(client.application.id.to_string(), app_id);
    refused_without_token_or_from_elsewhere(
        &mut dev,
        "/portal/security/totp",
        &[
            ("action", "enable"),
            ("seed", "JBSWY3DPEHPK3PXP"),
            ("code", "000000"),
        ],
        &csrf,
    )
    .await;
    refused_without_token_or_from_elsewhere(&mut dev, "/portal/logout", &[], &csrf).await;
    assert_eq!(
        dev.get("/portal/dashboard").await.status,
        StatusCode::OK,
        "a refused logout ended the session"
    );

    // The operator's forms.
    let csrf = ops.get("/admin").await.csrf();
    refused_without_token_or_from_elsewhere(
        &mut ops,
        &format!("/admin/apps/{app_id}/status"),
        &[("status", "suspended")],
        &csrf,
    )
    .await;
    assert!(
        registry
            .authenticate(&key, &secret)
            .await
            .unwrap()
            .is_some(),
        "a refused post suspended the application"
    );
    refused_without_token_or_from_elsewhere(
        &mut ops,
        "/admin/psus",
        &[
            ("login", "forged"),
            ("name", "Forged"),
            ("password", "forged password 2026"),
        ],
        &csrf,
    )
    .await;
    refused_without_token_or_from_elsewhere(&mut ops, "/admin/logout", &[], &csrf).await;
    assert_eq!(
        ops.get("/admin").await.status,
        StatusCode::OK,
        "a refused logout ended the operator's session"
    );
    healthy(&server).await;
    server.stop().await;
}
both_stores!(cross_origin_and_tokenless_posts_on_portal_and_admin_forms_change_nothing);

async fn cross_origin_and_tokenless_posts_on_bank_and_online_banking_forms_change_nothing(
    db: TestDb,
) {
    let (server, tpp, token) = demo_tpp(db, "ais").await;
    let consent = tpp
        .consent(&token, json!({"allPsd2": "allAccounts"}), 4)
        .await;

    // The bank's pages in an authorization: login, then the consent screen.
    let (mut psu, screen) = tpp
        .at_bank(&server, &consent, "alice", "alice-demo-2026")
        .await;
    refused_without_token_or_from_elsewhere(
        &mut psu,
        "/bank/consent",
        &[("decision", "approve")],
        &screen.csrf(),
    )
    .await;
    let status = tpp
        .get(&format!("/v1/consents/{consent}/status"), &token, &[])
        .await;
    assert_eq!(
        status.body["consentStatus"], "received",
        "a refused approval changed the consent"
    );

    let mut other = Browser::new(&server);
    let par = server
        .client()
        .post(server.url("/oauth2/par"))
        .basic_auth(&tpp.key, Some(&tpp.secret))
        .form(&[
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", &format!("AIS:{consent}")),
            (
                "code_challenge",
                &fintechapi_domain::secret::pkce_s256(
                    "a-pkce-code-verifier-of-fifty-characters-0123456789",
                ),
            ),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(par.status(), StatusCode::CREATED);
    let par: Value = par.json().await.unwrap();
    crate::support::open(&mut other, &tpp.key, par["request_uri"].as_str().unwrap()).await;
    let csrf = other.get("/bank/login").await.csrf();
    refused_without_token_or_from_elsewhere(
        &mut other,
        "/bank/login",
        &[("login", "bob"), ("password", "bob-demo-2026")],
        &csrf,
    )
    .await;
    assert!(
        !other.get("/bank/sca").await.status.is_success(),
        "a refused login went on to the second factor"
    );

    // Online banking.
    let mut online = Browser::new(&server);
    let csrf = online.get("/bank/online").await.csrf();
    refused_without_token_or_from_elsewhere(
        &mut online,
        "/bank/online/login",
        &[("login", "carol"), ("password", "carol-demo-2026")],
        &csrf,
    )
    .await;
    assert!(
        !online.get("/bank/online/sca").await.status.is_success(),
        "a refused login went on"
    );
    healthy(&server).await;
    server.stop().await;
}
both_stores!(cross_origin_and_tokenless_posts_on_bank_and_online_banking_forms_change_nothing);
