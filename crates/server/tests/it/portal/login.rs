//! Logging in: one answer for every failure, locks that strangers cannot
//! set off for the owner's browser, resets, and a second factor (TOTP).

use std::sync::Arc;

use crate::support::{Browser, Page, TestServer, config_for};
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;

use super::{PASSWORD, developer, link_in_last_mail, log_in, log_in_with, sign_up};

const WRONG: &str = "wrong password 1234";

/// Asks for a password reset mail for `email`: the answer.
async fn ask_for_reset(b: &mut Browser, email: &str) -> Page {
    let csrf = b.get("/portal/reset").await.csrf();
    b.submit("/portal/reset", &[("email", email)], &csrf).await
}

async fn login_never_tells_which_part_was_wrong_and_locks_after_five_failures(db: TestDb) {
    let server = TestServer::start(db).await;
    developer(&server, "lock@tpp.example").await;
    let mut b = Browser::new(&server);
    let csrf = b.get("/portal/login").await.csrf();
    let unknown = log_in_with(&mut b, &csrf, "nobody@tpp.example", PASSWORD).await;
    let wrong = log_in_with(&mut b, &csrf, "lock@tpp.example", WRONG).await;
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
        log_in_with(&mut b, &csrf, "lock@tpp.example", WRONG).await;
    }
    let locked = log_in_with(&mut b, &csrf, "lock@tpp.example", PASSWORD).await;
    assert_eq!(
        locked.status,
        StatusCode::UNAUTHORIZED,
        "the right password does not open a locked account"
    );
    assert_eq!(message(&locked), message(&wrong));

    // Signing up again with a registered address looks the same as a new sign-up.
    let mut c = Browser::new(&server);
    let again = sign_up(&mut c, "lock@tpp.example", "Mallory", PASSWORD).await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(again.body.contains("Check your mail"));

    // A password reset lifts the lock.
    ask_for_reset(&mut c, "lock@tpp.example").await;
    let link = link_in_last_mail(&server, "lock@tpp.example").await;
    let form = c.get(&link).await;
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let reset = c
        .submit(
            "/portal/reset/confirm",
            &[("token", &token), ("password", "a brand new passphrase 77")],
            &form.csrf(),
        )
        .await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
    let back = log_in(&mut c, "lock@tpp.example", "a brand new passphrase 77").await;
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
    let first = log_in(&mut owner, "owner@tpp.example", PASSWORD).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    assert!(
        owner.cookies.contains_key("__Host-ftapi_device"),
        "the browser is remembered"
    );

    let mut stranger = Browser::from_address(&server, "127.0.0.3".parse().unwrap());
    let csrf = stranger.get("/portal/login").await.csrf();
    for _ in 0..6 {
        log_in_with(&mut stranger, &csrf, "owner@tpp.example", WRONG).await;
    }
    let locked = log_in_with(&mut stranger, &csrf, "owner@tpp.example", PASSWORD).await;
    assert_eq!(
        locked.status,
        StatusCode::UNAUTHORIZED,
        "locked for browsers it never opened in"
    );
    owner.cookies.remove("__Host-ftapi_session");
    let again = log_in(&mut owner, "owner@tpp.example", PASSWORD).await;
    assert_eq!(
        again.status,
        StatusCode::SEE_OTHER,
        "the owner's browser still gets in: {}",
        again.body
    );

    // Five reset requests for one address: the same answer each time, at most 3 mails an hour.
    let mut c = Browser::new(&server);
    for _ in 0..5 {
        let page = ask_for_reset(&mut c, "owner@tpp.example").await;
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

/// Posts `code` as the login's second step with `csrf`: the answer.
async fn second_step(b: &mut Browser, csrf: &str, code: &str) -> Page {
    b.submit("/portal/login/code", &[("code", code)], csrf)
        .await
}

/// Posts the TOTP form to turn it on with `seed` and `code`: the answer.
async fn enable_totp(b: &mut Browser, page: &Page, seed: &str, code: &str) -> Page {
    b.submit(
        "/portal/security/totp",
        &[("action", "enable"), ("seed", seed), ("code", code)],
        &page.csrf(),
    )
    .await
}

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
    let wrong = enable_totp(&mut b, &page, &seed_text, "000000").await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    let on = enable_totp(&mut b, &page, &seed_text, &code_now()).await;
    assert!(on.body.contains("Two-factor login is on"), "{}", on.body);
    b.submit("/portal/logout", &[], &page.csrf()).await;

    // Password alone no longer opens a session.
    let mut c = Browser::new(&server);
    let csrf = c.get("/portal/login").await.csrf();
    let step1 = log_in_with(&mut c, &csrf, "totp@tpp.example", PASSWORD).await;
    assert_eq!(step1.location.as_deref(), Some("/portal/login/code"));
    assert!(
        !c.cookies
            .contains_key(fintechapi_portal::web::SESSION_COOKIE)
    );
    // The code used to turn TOTP on is spent: its replay fails, and ends this login attempt.
    let replay = second_step(&mut c, &csrf, &code_now()).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert!(
        !c.cookies
            .contains_key(fintechapi_portal::web::SESSION_COOKIE)
    );

    clock.advance(time::Duration::seconds(30));
    let step1 = log_in_with(&mut c, &csrf, "totp@tpp.example", PASSWORD).await;
    assert_eq!(step1.location.as_deref(), Some("/portal/login/code"));
    let done = second_step(&mut c, &csrf, &code_now()).await;
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
