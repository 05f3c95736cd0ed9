//! The PSU's online banking: withdrawing consents, enrolling an authenticator
//! app, and a session renewed at each privilege step.

use super::{has_app, online_banking, set_up_app};
use crate::support::xs2a::{demo_tpp, psu_headers};
use crate::support::{
    Browser, SANDBOX_CODE, accounts_of, demo_server, iban, log_in, open, second_factor,
};
use fintechapi_domain::{Clock, SystemClock};
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;
use serde_json::json;

async fn a_psu_withdraws_a_consent_in_online_banking_and_the_next_call_fails(db: TestDb) {
    let (server, tpp, cc) = demo_tpp(db, "ais").await;
    let consent = tpp.consent(&cc, json!({"allPsd2": "allAccounts"}), 4).await;
    let tokens = tpp
        .tokens(&server, &consent, "alice", "alice-demo-2026")
        .await;
    let token = tokens.body["access_token"].as_str().unwrap().to_owned();
    let with_psu = psu_headers(&consent);
    assert_eq!(
        tpp.get("/v1/accounts", &token, &with_psu).await.status,
        StatusCode::OK
    );

    let introspected = tpp.form("/oauth2/introspect", &[("token", &token)]).await;
    assert_eq!(introspected.body["active"], true, "{}", introspected.body);

    // Another customer sees nothing of it and cannot withdraw it.
    let mut bob = online_banking(&server, "bob", "bob-demo-2026").await;
    let bobs = bob.get("/bank/online/consents").await;
    assert!(!bobs.body.contains("Budget App"));
    let stranger = bob.withdraw_consent(&consent, &bobs).await;
    assert_eq!(stranger.status, StatusCode::NOT_FOUND);

    let mut alice = online_banking(&server, "alice", "alice-demo-2026").await;
    let list = alice.get("/bank/online/consents").await;
    list.assert_shows(&["Budget App", "Acme TPP GmbH", "valid"]);
    // Each consent says what it opens and since when; withdrawing asks first.
    let alices_iban = iban(&accounts_of(&server, "alice").await[0]);
    list.assert_shows(&[&alices_iban, "balances, transactions"]);
    assert!(
        list.body
            .contains(&format!("href=\"/bank/online/consents/{consent}/revoke\""))
    );
    let ask = alice
        .get(&format!("/bank/online/consents/{consent}/revoke"))
        .await;
    assert_eq!(ask.status, StatusCode::OK);
    ask.assert_shows(&["Withdraw the access of Budget App?", &alices_iban]);
    let strangers_ask = bob
        .get(&format!("/bank/online/consents/{consent}/revoke"))
        .await;
    assert_eq!(strangers_ask.status, StatusCode::NOT_FOUND);
    let forged = alice
        .post(
            &format!("/bank/online/consents/{consent}/revoke"),
            &[("csrf", "forged")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let withdrawn = alice.withdraw_consent(&consent, &list).await;
    assert_eq!(withdrawn.status, StatusCode::OK);
    assert!(withdrawn.body.contains("Access withdrawn"));
    assert!(withdrawn.body.contains("revokedByPsu"));

    // The TPP's very next call fails; its refresh token is worthless.
    let next = tpp.get("/v1/accounts", &token, &with_psu).await;
    next.assert_tpp_message(StatusCode::UNAUTHORIZED, "CONSENT_INVALID");
    assert_eq!(tpp.consent_status(&cc, &consent).await, "revokedByPsu");
    // Introspection agrees with the API: the token is no longer active.
    let introspected = tpp.form("/oauth2/introspect", &[("token", &token)]).await;
    assert_eq!(
        introspected.body,
        json!({"active": false}),
        "{}",
        introspected.body
    );
    let renewed = tpp
        .refresh(tokens.body["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(renewed.body["error"], "invalid_grant");

    // Logging out ends the session.
    let page = alice.get("/bank/online/consents").await;
    alice.submit("/bank/online/logout", &[], &page.csrf()).await;
    assert_eq!(
        alice.get("/bank/online/consents").await.status,
        StatusCode::BAD_REQUEST
    );
    server.stop().await;
}
both_stores!(a_psu_withdraws_a_consent_in_online_banking_and_the_next_call_fails);

async fn a_psu_enrols_an_authenticator_app_on_the_security_page(db: TestDb) {
    let server = demo_server(db).await;
    let mut carol = online_banking(&server, "carol", "carol-demo-2026").await;
    let page = carol.get("/bank/online/security").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<svg"), "a QR code");
    let at = page.body.find(r#"id="totp-secret">"#).unwrap() + r#"id="totp-secret">"#.len();
    let secret = page.body[at..at + page.body[at..].find('<').unwrap()].to_owned();
    let seed = fintechapi_domain::otp::Seed::from_base32(&secret).unwrap();
    let wrong = set_up_app(&mut carol, &page, &secret, "000000").await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    let code = seed.code_at(SystemClock.now()).unwrap();
    let done = set_up_app(&mut carol, &page, &secret, &code).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("is set up"));
    assert!(has_app(&server, "carol").await);
    // The enrolment code is used up: it does not log in again.
    let mut again = Browser::new(&server);
    again.online_login("carol", "carol-demo-2026").await;
    let sca = again.get("/bank/online/sca").await;
    assert!(sca.body.contains("authenticator app"));
    let replay = again
        .submit("/bank/online/sca", &[("code", &code)], &sca.csrf())
        .await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    server.stop().await;
}
both_stores!(a_psu_enrols_an_authenticator_app_on_the_security_page);

async fn each_privilege_step_renews_the_bank_session_so_a_known_id_is_dead_after_it(db: TestDb) {
    let (server, tpp, cc) = demo_tpp(db, "ais").await;
    let consent = tpp.consent(&cc, json!({"allPsd2": "allAccounts"}), 4).await;
    let mut psu = Browser::new(&server);
    open(&mut psu, &tpp.key, &tpp.par(&consent).await).await;
    // An attacker who knows (or planted) the session id before login.
    let mut attacker = Browser::new(&server);
    attacker.cookies = psu.cookies.clone();
    let before_login = psu.cookies["__Host-ftapi_psu"].clone();
    let ok = log_in(&mut psu, "carol", "carol-demo-2026").await;
    ok.assert_location("/bank/sca");
    let after_login = psu.cookies["__Host-ftapi_psu"].clone();
    assert_ne!(
        before_login, after_login,
        "a new session id once the password is accepted"
    );
    assert_eq!(
        attacker.get("/bank/sca").await.status,
        StatusCode::BAD_REQUEST,
        "the old id is dead"
    );
    attacker.cookies = psu.cookies.clone();
    let ok = second_factor(&mut psu, SANDBOX_CODE).await;
    ok.assert_location("/bank/consent");
    assert_ne!(
        psu.cookies["__Host-ftapi_psu"], after_login,
        "a new session id once the second factor is accepted"
    );
    assert_eq!(
        attacker.get("/bank/consent").await.status,
        StatusCode::BAD_REQUEST,
        "the old id is dead"
    );
    assert_eq!(psu.get("/bank/consent").await.status, StatusCode::OK);

    // Online banking renews the same way.
    let mut alice = Browser::new(&server);
    let start = alice.get("/bank/online").await;
    let mut attacker = Browser::new(&server);
    attacker.cookies = alice.cookies.clone();
    alice
        .submit(
            "/bank/online/login",
            &[("login", "alice"), ("password", "alice-demo-2026")],
            &start.csrf(),
        )
        .await;
    assert_ne!(
        alice.cookies["__Host-ftapi_bank"],
        attacker.cookies["__Host-ftapi_bank"]
    );
    assert_eq!(
        attacker.get("/bank/online/sca").await.status,
        StatusCode::BAD_REQUEST,
        "the old id is dead"
    );
    attacker.cookies = alice.cookies.clone();
    let done = alice.online_second_factor(SANDBOX_CODE).await;
    done.assert_location("/bank/online/consents");
    assert_eq!(
        attacker.get("/bank/online/consents").await.status,
        StatusCode::BAD_REQUEST,
        "the old id is dead"
    );
    assert_eq!(
        alice.get("/bank/online/consents").await.status,
        StatusCode::OK
    );
    server.stop().await;
}
both_stores!(each_privilege_step_renews_the_bank_session_so_a_known_id_is_dead_after_it);
