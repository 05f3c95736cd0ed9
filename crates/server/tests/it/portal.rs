//! The Developer Portal through its forms, over HTTPS, on both stores:
//! sign-up → verify → login → organisation → application → key and secret.

use std::sync::Arc;

use crate::support::{Browser, Page, TestServer, config_for};
use fintechapi_domain::SystemClock;
use fintechapi_domain::portal::{Email, PortalRepository};
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;

const PASSWORD: &str = "correct horse battery staple 42";
const XSS: &str = "<script>alert(1)</script>";

async fn link_in_last_mail(server: &TestServer, to: &str) -> String {
    let store = server.db.store().await;
    let mails = store.mails_to(&to.parse::<Email>().unwrap()).await.unwrap();
    let text = &mails.last().expect("a mail").body_text;
    let start = text.find("https://").unwrap();
    let link = text[start..].split_whitespace().next().unwrap();
    link.split_once("/portal")
        .map(|(_, path)| format!("/portal{path}"))
        .unwrap()
}

/// Signs up, verifies and logs in; returns the logged-in browser.
async fn developer(server: &TestServer, email: &str) -> Browser {
    let mut b = Browser::new(server);
    let form = b.get("/portal/signup").await;
    let csrf = form.csrf();
    let done = b
        .post(
            "/portal/signup",
            &[
                ("email", email),
                ("display_name", "Dana Developer"),
                ("password", PASSWORD),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let verify = link_in_last_mail(server, email).await;
    assert_eq!(b.get(&verify).await.status, StatusCode::OK);
    let login = b.get("/portal/login").await;
    let csrf = login.csrf();
    let logged_in = b
        .post(
            "/portal/login",
            &[("email", email), ("password", PASSWORD), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(
        logged_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        logged_in.body
    );
    assert_eq!(logged_in.location.as_deref(), Some("/portal/dashboard"));
    b
}

async fn a_developer_signs_up_registers_an_app_and_gets_a_key_and_secret_once(db: TestDb) {
    let config = config_for(&db);
    let server = TestServer::start_with(db, config.clone()).await;
    let mut b = Browser::new(&server);

    // A weak password is refused next to its field; what was typed stays.
    let form = b.get("/portal/signup").await;
    assert!(form.body.contains(r#"<label for="email">"#));
    let csrf = form.csrf();
    let weak = b
        .post(
            "/portal/signup",
            &[
                ("email", "dana@tpp.example"),
                ("display_name", "Dana"),
                ("password", "password1234"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    assert!(
        weak.body.contains(r#"id="password-error""#),
        "{}",
        weak.body
    );
    assert!(weak.body.contains(r#"value="dana@tpp.example""#));

    let ok = b
        .post(
            "/portal/signup",
            &[
                ("email", "Dana@TPP.example"),
                ("display_name", "Dana Developer"),
                ("password", PASSWORD),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(ok.body.contains("Check your mail"));

    // Not verified yet: login says so (only after the right password).
    let login = b.get("/portal/login").await;
    let early = b
        .post(
            "/portal/login",
            &[
                ("email", "dana@tpp.example"),
                ("password", PASSWORD),
                ("csrf", &login.csrf()),
            ],
        )
        .await;
    assert_eq!(early.status, StatusCode::UNAUTHORIZED);
    assert!(early.body.contains("confirm your e-mail"), "{}", early.body);

    let verify = link_in_last_mail(&server, "dana@tpp.example").await;
    assert_eq!(b.get(&verify).await.status, StatusCode::OK);
    assert_eq!(
        b.get(&verify).await.status,
        StatusCode::BAD_REQUEST,
        "a verification link works once"
    );

    let login = b.get("/portal/login").await;
    let in_ = b
        .post(
            "/portal/login",
            &[
                ("email", "dana@tpp.example"),
                ("password", PASSWORD),
                ("csrf", &login.csrf()),
            ],
        )
        .await;
    assert_eq!(in_.status, StatusCode::SEE_OTHER);
    let dashboard = b.get("/portal/dashboard").await;
    assert!(dashboard.body.contains("Welcome, Dana Developer"));
    let csrf = dashboard.csrf();

    let org = b
        .post(
            "/portal/orgs/new",
            &[
                ("legal_name", &format!("Dana {XSS} GmbH")),
                ("country", "de"),
                ("role_aisp", "on"),
                ("role_pisp", "on"),
                ("competent_authority", "BaFin"),
                ("authorisation_number", "HRB 1"),
                ("csrf", &csrf),
            ],
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
        .post(
            &format!("{org_path}/apps/new"),
            &[
                ("name", "Budget"),
                ("redirect_uris", "https://budget.example/cb"),
                ("security_profile", "basic"),
                ("environment", "sandbox"),
                ("product_piis", "on"),
                ("csrf", &csrf),
            ],
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
        .post(
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
                ("csrf", &csrf),
            ],
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
        .post(&format!("{app_path}/rotate"), &[("csrf", &app_page.csrf())])
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
    let out = b
        .post("/portal/logout", &[("csrf", &app_page.csrf())])
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    b.cookies = stolen;
    let after = b.get("/portal/dashboard").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert_eq!(after.location.as_deref(), Some("/portal/login"));
    server.stop().await;
}
both_stores!(a_developer_signs_up_registers_an_app_and_gets_a_key_and_secret_once);

async fn forms_without_a_valid_token_or_from_another_origin_are_refused_and_change_nothing(
    db: TestDb,
) {
    let server = TestServer::start(db).await;
    let mut b = developer(&server, "eve@tpp.example").await;
    let csrf = b.get("/portal/dashboard").await.csrf();
    let org = |name: &'static str| {
        vec![
            ("legal_name", name),
            ("country", "DE"),
            ("role_aisp", "on"),
            ("competent_authority", "BaFin"),
            ("authorisation_number", "1"),
        ]
    };

    let missing = b.post("/portal/orgs/new", &org("No Token GmbH")).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    let mut wrong = org("Wrong Token GmbH");
    wrong.push(("csrf", "not-the-token"));
    assert_eq!(
        b.post("/portal/orgs/new", &wrong).await.status,
        StatusCode::FORBIDDEN
    );
    let mut right = org("Cross Site GmbH");
    right.push(("csrf", &csrf));
    let cross = b
        .post_with(
            "/portal/orgs/new",
            &right,
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    assert!(cross.body.contains("another site"));
    let fetch = b
        .post_with(
            "/portal/orgs/new",
            &right,
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(fetch.status, StatusCode::FORBIDDEN);
    let null_origin = b
        .post_with("/portal/orgs/new", &right, &[("origin", "null")])
        .await;
    assert_eq!(
        null_origin.status,
        StatusCode::FORBIDDEN,
        "an opaque origin alone is not trusted"
    );

    let store = server.db.store().await;
    for name in ["No Token GmbH", "Wrong Token GmbH", "Cross Site GmbH"] {
        assert!(
            store.organisation_by_name(name).await.unwrap().is_none(),
            "{name} was created"
        );
    }
    // A browser's opaque origin on a same-origin post, with the token, works.
    let mut null_ok = org("Null Origin GmbH");
    null_ok.push(("csrf", &csrf));
    let null_same = b
        .post_with(
            "/portal/orgs/new",
            &null_ok,
            &[("origin", "null"), ("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(
        null_same.status,
        StatusCode::SEE_OTHER,
        "{}",
        null_same.body
    );
    // Same-origin with the token works.
    let ok = b
        .post_with(
            "/portal/orgs/new",
            &right,
            &[
                ("origin", &server.base_url),
                ("sec-fetch-site", "same-origin"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);

    // Login and sign-up forms need their pre-session token too.
    let mut anon = Browser::new(&server);
    let login = anon
        .post(
            "/portal/login",
            &[("email", "eve@tpp.example"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(login.status, StatusCode::FORBIDDEN);
    server.stop().await;
}
both_stores!(forms_without_a_valid_token_or_from_another_origin_are_refused_and_change_nothing);

async fn login_never_tells_which_part_was_wrong_and_locks_after_five_failures(db: TestDb) {
    let server = TestServer::start(db).await;
    developer(&server, "lock@tpp.example").await;
    let mut b = Browser::new(&server);
    let csrf = b.get("/portal/login").await.csrf();
    let unknown = b
        .post(
            "/portal/login",
            &[
                ("email", "nobody@tpp.example"),
                ("password", PASSWORD),
                ("csrf", &csrf),
            ],
        )
        .await;
    let wrong = b
        .post(
            "/portal/login",
            &[
                ("email", "lock@tpp.example"),
                ("password", "wrong password 1234"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let message = |p: &Page| {
        p.body[p.body.find("role=\"alert\"").unwrap()..]
            .lines()
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(message(&unknown), message(&wrong));

    for _ in 0..4 {
        b.post(
            "/portal/login",
            &[
                ("email", "lock@tpp.example"),
                ("password", "wrong password 1234"),
                ("csrf", &csrf),
            ],
        )
        .await;
    }
    let locked = b
        .post(
            "/portal/login",
            &[
                ("email", "lock@tpp.example"),
                ("password", PASSWORD),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(
        locked.status,
        StatusCode::UNAUTHORIZED,
        "the right password does not open a locked account"
    );
    assert_eq!(message(&locked), message(&wrong));

    // Signing up again with a registered address looks the same as a new sign-up.
    let mut c = Browser::new(&server);
    let csrf = c.get("/portal/signup").await.csrf();
    let again = c
        .post(
            "/portal/signup",
            &[
                ("email", "lock@tpp.example"),
                ("display_name", "Mallory"),
                ("password", PASSWORD),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(again.body.contains("Check your mail"));

    // A password reset lifts the lock.
    let csrf = c.get("/portal/reset").await.csrf();
    c.post(
        "/portal/reset",
        &[("email", "lock@tpp.example"), ("csrf", &csrf)],
    )
    .await;
    let link = link_in_last_mail(&server, "lock@tpp.example").await;
    let form = c.get(&link).await;
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let reset = c
        .post(
            "/portal/reset/confirm",
            &[
                ("token", &token),
                ("password", "a brand new passphrase 77"),
                ("csrf", &form.csrf()),
            ],
        )
        .await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
    let csrf = c.get("/portal/login").await.csrf();
    let back = c
        .post(
            "/portal/login",
            &[
                ("email", "lock@tpp.example"),
                ("password", "a brand new passphrase 77"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(back.status, StatusCode::SEE_OTHER);
    server.stop().await;
}
both_stores!(login_never_tells_which_part_was_wrong_and_locks_after_five_failures);

async fn a_strangers_guesses_do_not_lock_the_owners_browser_and_mails_are_limited_per_recipient(
    db: TestDb,
) {
    let server = TestServer::start(db).await;
    developer(&server, "owner@tpp.example").await;
    let mut owner = Browser::new(&server);
    let csrf = owner.get("/portal/login").await.csrf();
    let first = owner
        .post(
            "/portal/login",
            &[
                ("email", "owner@tpp.example"),
                ("password", PASSWORD),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    assert!(
        owner.cookies.contains_key("__Host-ftapi_device"),
        "the browser is remembered"
    );

    let mut stranger = Browser::from_address(&server, "127.0.0.3".parse().unwrap());
    let csrf = stranger.get("/portal/login").await.csrf();
    for _ in 0..6 {
        stranger
            .post(
                "/portal/login",
                &[
                    ("email", "owner@tpp.example"),
                    ("password", "wrong password 1234"),
                    ("csrf", &csrf),
                ],
            )
            .await;
    }
    let locked = stranger
        .post(
            "/portal/login",
            &[
                ("email", "owner@tpp.example"),
                ("password", PASSWORD),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(
        locked.status,
        StatusCode::UNAUTHORIZED,
        "locked for browsers it never opened in"
    );
    owner.cookies.remove("__Host-ftapi_session");
    let csrf = owner.get("/portal/login").await.csrf();
    let again = owner
        .post(
            "/portal/login",
            &[
                ("email", "owner@tpp.example"),
                ("password", PASSWORD),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(
        again.status,
        StatusCode::SEE_OTHER,
        "the owner's browser still gets in: {}",
        again.body
    );

    // Five reset requests for one address: the same answer each time, at most 3 mails an hour.
    let mut c = Browser::new(&server);
    for _ in 0..5 {
        let csrf = c.get("/portal/reset").await.csrf();
        let page = c
            .post(
                "/portal/reset",
                &[("email", "owner@tpp.example"), ("csrf", &csrf)],
            )
            .await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("If an account uses this address"));
    }
    let mails = server
        .db
        .raw_strings("SELECT subject FROM outbox WHERE recipient = 'owner@tpp.example'")
        .await;
    assert_eq!(mails.len(), 3, "{mails:?}");
    server.stop().await;
}
both_stores!(
    a_strangers_guesses_do_not_lock_the_owners_browser_and_mails_are_limited_per_recipient
);

async fn pages_are_served_with_a_strict_policy_and_unknown_pages_are_html(db: TestDb) {
    let server = TestServer::start(db).await;
    let resp = server
        .client()
        .get(server.url("/portal"))
        .send()
        .await
        .unwrap();
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
    let unknown = server
        .client()
        .get(server.url("/portal/no/such/page"))
        .send()
        .await
        .unwrap();
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

async fn two_factor_login_with_totp_asks_for_a_fresh_code_after_the_password(db: TestDb) {
    let clock = Arc::new(fintechapi_domain::ManualClock::new(
        time::macros::datetime!(2026-11-25 10:00:00 UTC),
    ));
    let config = config_for(&db);
    let server = TestServer::start_with_clock(db, config, clock.clone()).await;
    let mut b = developer(&server, "totp@tpp.example").await;

    let page = b.get("/portal/security").await;
    assert!(page.body.contains("<svg"), "a QR code is shown");
    let at = page.body.find(r#"<code id="totp-seed">"#).unwrap() + r#"<code id="totp-seed">"#.len();
    let seed_text = page.body[at..page.body.find("</code>").unwrap()].to_owned();
    let seed = fintechapi_domain::otp::Seed::from_base32(&seed_text).unwrap();
    let code_now = || {
        seed.code_at(fintechapi_domain::Clock::now(&*clock))
            .unwrap()
    };
    let wrong = b
        .post(
            "/portal/security/totp",
            &[
                ("action", "enable"),
                ("seed", &seed_text),
                ("code", "000000"),
                ("csrf", &page.csrf()),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    let on = b
        .post(
            "/portal/security/totp",
            &[
                ("action", "enable"),
                ("seed", &seed_text),
                ("code", &code_now()),
                ("csrf", &page.csrf()),
            ],
        )
        .await;
    assert!(on.body.contains("Two-factor login is on"), "{}", on.body);
    b.post("/portal/logout", &[("csrf", &page.csrf())]).await;

    // Password alone no longer opens a session.
    let mut c = Browser::new(&server);
    let csrf = c.get("/portal/login").await.csrf();
    let step1 = c
        .post(
            "/portal/login",
            &[
                ("email", "totp@tpp.example"),
                ("password", PASSWORD),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(step1.location.as_deref(), Some("/portal/login/code"));
    assert!(
        !c.cookies
            .contains_key(fintechapi_portal::web::SESSION_COOKIE)
    );
    // The code used to turn TOTP on is spent: its replay fails, and ends this login attempt.
    let replay = c
        .post(
            "/portal/login/code",
            &[("code", &code_now()), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert!(
        !c.cookies
            .contains_key(fintechapi_portal::web::SESSION_COOKIE)
    );

    clock.advance(time::Duration::seconds(30));
    let step1 = c
        .post(
            "/portal/login",
            &[
                ("email", "totp@tpp.example"),
                ("password", PASSWORD),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(step1.location.as_deref(), Some("/portal/login/code"));
    let done = c
        .post(
            "/portal/login/code",
            &[("code", &code_now()), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/portal/dashboard"));
    assert!(c.get("/portal/dashboard").await.body.contains("Welcome"));

    // The JSON API asks for the code too.
    clock.advance(time::Duration::seconds(30));
    let http = server.client();
    let url = server.url("/portal/api/v1/sessions");
    let no_code = http
        .post(&url)
        .json(&serde_json::json!({"email": "totp@tpp.example", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_code.status(), StatusCode::UNAUTHORIZED);
    assert!(
        no_code
            .text()
            .await
            .unwrap()
            .contains("second factor required")
    );
    let login = serde_json::json!({"email": "totp@tpp.example", "password": PASSWORD, "totp_code": code_now()});
    let with_code = http.post(&url).json(&login).send().await.unwrap();
    assert_eq!(with_code.status(), StatusCode::CREATED);
    server.stop().await;
}
both_stores!(two_factor_login_with_totp_asks_for_a_fresh_code_after_the_password);

async fn owners_invite_members_by_mail_and_roles_limit_what_members_do(db: TestDb) {
    let server = TestServer::start(db).await;
    let mut owner = developer(&server, "owner@tpp.example").await;
    let csrf = owner.get("/portal/dashboard").await.csrf();
    let org = owner
        .post(
            "/portal/orgs/new",
            &[
                ("legal_name", "Team GmbH"),
                ("country", "DE"),
                ("role_aisp", "on"),
                ("competent_authority", "BaFin"),
                ("authorisation_number", "1"),
                ("csrf", &csrf),
            ],
        )
        .await;
    let org_path = org.location.unwrap();

    let bad = owner
        .post(
            &format!("{org_path}/invitations"),
            &[
                ("email", "not-an-address"),
                ("role", "viewer"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains(r#"id="invite-email-error""#));
    assert!(
        bad.body.contains(r#"value="not-an-address""#),
        "typed value kept"
    );
    let sent = owner
        .post(
            &format!("{org_path}/invitations"),
            &[
                ("email", "viewer@tpp.example"),
                ("role", "viewer"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    let link = link_in_last_mail(&server, "viewer@tpp.example").await;

    // Someone else cannot use it.
    let mut other = developer(&server, "other@tpp.example").await;
    let form = other.get(&link).await;
    let token = link.split("token=").nth(1).unwrap();
    let refused = other
        .post(
            "/portal/invitations/accept",
            &[("token", token), ("csrf", &form.csrf())],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);

    let mut viewer = developer(&server, "viewer@tpp.example").await;
    let form = viewer.get(&link).await;
    assert!(form.body.contains("Accept invitation"));
    let joined = viewer
        .post(
            "/portal/invitations/accept",
            &[("token", token), ("csrf", &form.csrf())],
        )
        .await;
    assert_eq!(joined.status, StatusCode::SEE_OTHER);
    assert_eq!(joined.location.as_deref(), Some(org_path.as_str()));
    assert_eq!(
        viewer
            .post(
                "/portal/invitations/accept",
                &[("token", token), ("csrf", &form.csrf())]
            )
            .await
            .status,
        StatusCode::BAD_REQUEST,
        "used once"
    );
    let page = viewer.get(&org_path).await;
    assert!(page.body.contains("Team GmbH"));
    assert_eq!(
        viewer.get(&format!("{org_path}/apps/new")).await.status,
        StatusCode::FORBIDDEN,
        "viewers do not change apps"
    );

    // The owner removes the viewer; the organisation disappears for them.
    let owner_page = owner.get(&org_path).await;
    assert!(owner_page.body.contains("viewer@tpp.example"));
    let store = server.db.store().await;
    let org_id: fintechapi_domain::ids::OrganisationId =
        org_path.rsplit('/').next().unwrap().parse().unwrap();
    let members = store.members_of(org_id).await.unwrap();
    let viewer_id = members
        .iter()
        .find(|(u, _)| u.email.as_str() == "viewer@tpp.example")
        .unwrap()
        .0
        .id;
    let owner_id = members
        .iter()
        .find(|(u, _)| u.email.as_str() == "owner@tpp.example")
        .unwrap()
        .0
        .id;
    let removed = owner
        .post(
            &format!("{org_path}/members/{viewer_id}/remove"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    assert_eq!(viewer.get(&org_path).await.status, StatusCode::NOT_FOUND);
    let last_owner = owner
        .post(
            &format!("{org_path}/members/{owner_id}/remove"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(
        last_owner.status,
        StatusCode::BAD_REQUEST,
        "the last owner stays"
    );
    server.stop().await;
}
both_stores!(owners_invite_members_by_mail_and_roles_limit_what_members_do);
