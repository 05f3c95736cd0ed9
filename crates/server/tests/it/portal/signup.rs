//! From sign-up to an application's key and secret, and the pages' policy.

use std::sync::Arc;

use crate::support::{Browser, TestServer, config_for};
use fintechapi_domain::SystemClock;
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;

use super::{PASSWORD, link_in_last_mail, log_in, sign_up};

const XSS: &str = "<script>alert(1)</script>";

async fn a_developer_signs_up_registers_an_app_and_gets_a_key_and_secret_once(db: TestDb) {
    let config = config_for(&db);
    let server = TestServer::start_with(db, config.clone()).await;
    let mut b = Browser::new(&server);

    // A weak password is refused next to its field; what was typed stays.
    let form = b.get("/portal/signup").await;
    assert!(form.body.contains(r#"<label for="email">"#));
    let weak = sign_up(&mut b, "dana@tpp.example", "Dana", "password1234").await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    assert!(
        weak.body.contains(r#"id="password-error""#),
        "{}",
        weak.body
    );
    assert!(weak.body.contains(r#"value="dana@tpp.example""#));

    let ok = sign_up(&mut b, "Dana@TPP.example", "Dana Developer", PASSWORD).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(ok.body.contains("Check your mail"));

    // Not verified yet: login says so (only after the right password).
    let early = log_in(&mut b, "dana@tpp.example", PASSWORD).await;
    assert_eq!(early.status, StatusCode::UNAUTHORIZED);
    assert!(early.body.contains("confirm your e-mail"), "{}", early.body);

    let verify = link_in_last_mail(&server, "dana@tpp.example").await;
    assert_eq!(b.get(&verify).await.status, StatusCode::OK);
    assert_eq!(
        b.get(&verify).await.status,
        StatusCode::BAD_REQUEST,
        "a verification link works once"
    );

    let in_ = log_in(&mut b, "dana@tpp.example", PASSWORD).await;
    assert_eq!(in_.status, StatusCode::SEE_OTHER);
    let dashboard = b.get("/portal/dashboard").await;
    assert!(dashboard.body.contains("Welcome, Dana Developer"));
    let csrf = dashboard.csrf();

    let org = b
        .submit(
            "/portal/orgs/new",
            &[
                ("legal_name", &format!("Dana {XSS} GmbH")),
                ("country", "de"),
                ("role_aisp", "on"),
                ("role_pisp", "on"),
                ("competent_authority", "BaFin"),
                ("authorisation_number", "HRB 1"),
            ],
            &csrf,
        )
        .await;
    assert_eq!(org.status, StatusCode::SEE_OTHER, "{}", org.body);
    let org_path = org.location.unwrap();
    let org_page = b.get(&org_path).await;
    assert!(
        org_page
            .body
            .contains("Dana &#60;script&#62;alert(1)&#60;/script&#62; GmbH")
            || org_page.body.contains("Dana &lt;script&gt;"),
        "{}",
        org_page.body
    );
    assert!(!org_page.body.contains(XSS));

    // An app asking for a product outside the organisation's roles is refused, nothing created.
    let app_form = b.get(&format!("{org_path}/apps/new")).await;
    let csrf = app_form.csrf();
    let refused = b
        .submit(
            &format!("{org_path}/apps/new"),
            &[
                ("name", "Budget"),
                ("redirect_uris", "https://budget.example/cb"),
                ("security_profile", "basic"),
                ("environment", "sandbox"),
                ("product_piis", "on"),
            ],
            &csrf,
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body.contains(r#"id="products-error""#),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("https://budget.example/cb"),
        "typed values are kept"
    );

    let created = b
        .submit(
            &format!("{org_path}/apps/new"),
            &[
                ("name", &format!("Budget {XSS}")),
                ("description", XSS),
                (
                    "redirect_uris",
                    "https://budget.example/cb\nhttp://localhost:3000/cb",
                ),
                ("security_profile", "basic"),
                ("environment", "sandbox"),
                ("product_ais", "on"),
                ("product_pis", "on"),
            ],
            &csrf,
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert!(!created.body.contains(XSS));
    let grab = |id: &str| {
        let at = created.body.find(&format!(r#"<code id="{id}">"#)).unwrap();
        let rest = &created.body[at..];
        rest[rest.find('>').unwrap() + 1..rest.find("</code>").unwrap()].to_owned()
    };
    let (key, secret) = (grab("consumer-key"), grab("consumer-secret"));
    assert!(key.starts_with("ck_") && secret.starts_with("cs_"));

    let registry =
        fintechapi_server::app::registry(&config, server.db.store().await, Arc::new(SystemClock))
            .unwrap();
    let client = registry
        .authenticate(&key, &secret)
        .await
        .unwrap()
        .expect("the shown credentials authenticate");
    assert_eq!(client.application.name, format!("Budget {XSS}"));

    // The app page lists the key, never the secret, and everything escaped.
    let app_path = format!("/portal/apps/{}", client.application.id);
    let app_page = b.get(&app_path).await;
    assert!(app_page.body.contains(&key));
    assert!(!app_page.body.contains(&secret));
    assert!(!app_page.body.contains(XSS));
    assert!(app_page.body.contains("approved"));

    // Rotation shows a new secret once; the old one still works during the grace period.
    let rotated = b
        .submit(&format!("{app_path}/rotate"), &[], &app_page.csrf())
        .await;
    assert_eq!(rotated.status, StatusCode::OK);
    assert!(rotated.body.contains("previous secret keeps working"));
    assert!(
        registry
            .authenticate(&key, &secret)
            .await
            .unwrap()
            .is_some()
    );

    // Logout ends the session for good.
    let stolen = b.cookies.clone();
    let out = b.submit("/portal/logout", &[], &app_page.csrf()).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    b.cookies = stolen;
    let after = b.get("/portal/dashboard").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert_eq!(after.location.as_deref(), Some("/portal/login"));
    server.stop().await;
}
both_stores!(a_developer_signs_up_registers_an_app_and_gets_a_key_and_secret_once);

async fn pages_are_served_with_a_strict_policy_and_unknown_pages_are_html(db: TestDb) {
    let server = TestServer::start(db).await;
    let resp = server.get("/portal").await;
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(resp.headers()["x-frame-options"], "DENY");
    assert_eq!(resp.headers()["referrer-policy"], "same-origin");
    let body = resp.text().await.unwrap();
    assert!(!body.contains("<script"), "no JavaScript anywhere");
    let no_redirects = fintechapi_testkit::https_client(&server.ca)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let missing = no_redirects
        .get(server.url("/portal/apps/not-an-id"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 303, "login first");
    assert_eq!(missing.headers()["location"], "/portal/login");
    let unknown = server.get("/portal/no/such/page").await;
    assert_eq!(unknown.status(), 404);
    assert!(
        unknown.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    server.stop().await;
}
both_stores!(pages_are_served_with_a_strict_policy_and_unknown_pages_are_html);
