//! Second factors other than the sandbox code: an authenticator app, a passkey,
//! and changing the factor.

use super::{add_passkey, has_app, online_banking, set_up_app};
use crate::support::xs2a::{Tpp, approved_code, demo_tpp};
use crate::support::{Browser, SANDBOX_CODE, demo_server, log_in, open};
use fintechapi_domain::ledger::LedgerRepository;
use fintechapi_domain::payment::PaymentRepository;
use fintechapi_domain::psu::PsuRepository;
use fintechapi_domain::{Clock, ManualClock, SystemClock};
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;
use serde_json::json;

async fn a_psu_with_an_authenticator_app_confirms_with_totp_and_each_code_works_once(db: TestDb) {
    let (server, tpp, cc) = demo_tpp(db, "ais").await;

    // An operator enrols bob's authenticator app; the key is shown once.
    let mut ops = crate::support::operator(&server).await;
    let store = server.db.store().await;
    let (bob, _) = store.psu_by_login("bob").await.unwrap().unwrap();
    let csrf = ops.get("/admin/psus").await.csrf();
    let enrolled = ops
        .submit(&format!("/admin/psus/{}/totp", bob.id), &[], &csrf)
        .await;
    assert_eq!(enrolled.status, StatusCode::OK, "{}", enrolled.body);
    assert!(enrolled.body.contains("<svg"), "a QR code");
    let at = enrolled.body.find(r#"id="totp-secret">"#).unwrap() + r#"id="totp-secret">"#.len();
    let secret = &enrolled.body[at..at + enrolled.body[at..].find('<').unwrap()];
    let seed = fintechapi_domain::otp::Seed::from_base32(secret).unwrap();
    assert!(
        !ops.get("/admin/psus").await.body.contains(secret),
        "shown only once"
    );
    assert!(
        server
            .db
            .raw_strings("SELECT totp_secret FROM psus WHERE login = 'bob'")
            .await[0]
            != secret,
        "stored sealed"
    );

    let consent = tpp.consent(&cc, json!({"allPsd2": "allAccounts"}), 4).await;
    let mut psu = Browser::new(&server);
    open(&mut psu, &tpp.key, &tpp.par(&consent).await).await;
    log_in(&mut psu, "bob", "bob-demo-2026").await;
    let page = psu.get("/bank/sca").await;
    assert!(page.body.contains("authenticator app"));
    let code = seed.code_at(SystemClock.now()).unwrap();
    let wrong = psu
        .submit("/bank/sca", &[("code", "000000")], &page.csrf())
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let ok = psu
        .submit("/bank/sca", &[("code", &code)], &page.csrf())
        .await;
    ok.assert_redirect("/bank/consent");

    // The same code again, in a second authorization: refused.
    let consent = tpp.consent(&cc, json!({"allPsd2": "allAccounts"}), 4).await;
    let mut again = Browser::new(&server);
    open(&mut again, &tpp.key, &tpp.par(&consent).await).await;
    log_in(&mut again, "bob", "bob-demo-2026").await;
    let page = again.get("/bank/sca").await;
    let replay = again
        .submit("/bank/sca", &[("code", &code)], &page.csrf())
        .await;
    assert_eq!(
        replay.status,
        StatusCode::UNAUTHORIZED,
        "a TOTP code works once"
    );
    server.stop().await;
}
both_stores!(a_psu_with_an_authenticator_app_confirms_with_totp_and_each_code_works_once);

async fn a_passkey_confirms_sign_in_and_signs_exactly_the_payment(db: TestDb) {
    let server = demo_server(db).await;
    let store = server.db.store().await;
    let mut phone = crate::support::passkey::SoftPasskey::new(&server.base_url);

    // Alice adds a passkey on her security page; the options exclude nothing yet.
    let mut alice = online_banking(&server, "alice", "alice-demo-2026").await;
    let page = alice.get("/bank/online/security").await;
    let options = crate::support::passkey::options_on(&page.body);
    assert_eq!(options["publicKey"]["rp"]["id"], "localhost");
    assert_eq!(
        options["publicKey"]["authenticatorSelection"]["userVerification"],
        "required"
    );
    let created = phone.create(&options);
    let nameless = add_passkey(&mut alice, &page, " ", &created).await;
    assert_eq!(nameless.status, StatusCode::BAD_REQUEST);
    let page = alice.get("/bank/online/security").await;
    let created = phone.create(&crate::support::passkey::options_on(&page.body));
    let added = add_passkey(&mut alice, &page, "Alice's phone", &created).await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    assert!(
        added
            .body
            .contains("Passkey &#34;Alice&#39;s phone&#34; added"),
        "{}",
        added.body
    );
    // The challenge it answered was used up: the same answer again is refused.
    let replayed = add_passkey(&mut alice, &page, "Again", &created).await;
    assert_eq!(replayed.status, StatusCode::BAD_REQUEST);
    assert!(
        replayed.body.contains("could not be registered"),
        "{}",
        replayed.body
    );
    let (psu, _) = store.psu_by_login("alice").await.unwrap().unwrap();
    assert_eq!(store.psu_passkeys(psu.id).await.unwrap().len(), 1);
    // Her only second factor cannot be removed.
    let id = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        &phone.credential_id,
    );
    let page = alice.get("/bank/online/security").await;
    let removal = alice
        .submit(
            &format!("/bank/online/passkeys/{id}/remove"),
            &[],
            &page.csrf(),
        )
        .await;
    assert_eq!(removal.status, StatusCode::BAD_REQUEST);
    assert!(removal.body.contains("only way to confirm"));

    // Online banking: the passkey is the second factor; an assertion works once.
    let mut b = Browser::new(&server);
    b.online_login("alice", "alice-demo-2026").await;
    let sca = b.get("/bank/online/sca").await;
    let assertion = phone.get(&crate::support::passkey::options_on(&sca.body));
    let signed_in = b
        .submit(
            "/bank/online/sca",
            &[("credential", &assertion)],
            &sca.csrf(),
        )
        .await;
    signed_in.assert_location("/bank/online/consents");
    let mut other = Browser::new(&server);
    other.online_login("alice", "alice-demo-2026").await;
    let sca = other.get("/bank/online/sca").await;
    let replay = other
        .submit(
            "/bank/online/sca",
            &[("credential", &assertion)],
            &sca.csrf(),
        )
        .await;
    assert_eq!(
        replay.status,
        StatusCode::UNAUTHORIZED,
        "an assertion for another session's challenge"
    );
    assert!(
        store.psu_passkeys(psu.id).await.unwrap()[0]
            .last_used_at
            .is_some()
    );

    // A payment: the challenge carries its digest; the sandbox code no longer does.
    let tpp = Tpp::new(&server, &server.db, "ais,pis");
    let cc = tpp.client_token().await;
    let debtor = store.accounts_of_psu(psu.id).await.unwrap().remove(0);
    let before = debtor.balances.booked;
    let body = json!({"instructedAmount": {"currency": "EUR", "amount": "7.50"}, "debtorAccount": {"iban": debtor.iban.as_ref().unwrap().as_str()}, "creditorName": "Bakery", "creditorAccount": {"iban": "DE02120300000000202051"}});
    let created = tpp
        .post(
            "/v1/payments/instant-sepa-credit-transfers",
            &cc,
            &[("psu-ip-address", "192.0.2.7")],
            &body,
        )
        .await;
    let payment = created.body["paymentId"].as_str().unwrap().to_owned();
    let mut psu_browser = tpp.psu_at_login(&server, &format!("PIS:{payment}")).await;
    log_in(&mut psu_browser, "alice", "alice-demo-2026").await;
    let page = psu_browser.get("/bank/sca").await;
    let options = crate::support::passkey::options_on(&page.body);
    let stored = store
        .payment(payment.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let challenge = crate::support::passkey::challenge(&options);
    assert_eq!(challenge.len(), 48);
    assert_eq!(
        challenge[..32],
        fintechapi_bank::passkey::payment_digest(&stored)[..],
        "the payment's digest is what the passkey signs"
    );
    let sandbox = psu_browser
        .submit("/bank/sca", &[("code", SANDBOX_CODE)], &page.csrf())
        .await;
    assert_eq!(
        sandbox.status,
        StatusCode::UNAUTHORIZED,
        "a PSU with a passkey signs payments with it"
    );
    // The amount changes after the challenge: the signed assertion is void.
    let page = psu_browser.get("/bank/sca").await;
    let assertion = phone.get(&crate::support::passkey::options_on(&page.body));
    server
        .db
        .raw_strings(&format!(
            "UPDATE payments SET amount = 75000 WHERE id = '{payment}'"
        ))
        .await;
    let changed = psu_browser
        .submit("/bank/sca", &[("credential", &assertion)], &page.csrf())
        .await;
    assert_eq!(changed.status, StatusCode::UNAUTHORIZED);
    server
        .db
        .raw_strings(&format!(
            "UPDATE payments SET amount = 750 WHERE id = '{payment}'"
        ))
        .await;
    let page = psu_browser.get("/bank/sca").await;
    let assertion = phone.get(&crate::support::passkey::options_on(&page.body));
    let ok = psu_browser
        .submit("/bank/sca", &[("credential", &assertion)], &page.csrf())
        .await;
    ok.assert_redirect("/bank/consent");
    let screen = psu_browser.get("/bank/consent").await;
    let approved = psu_browser.decide(&screen, "approve").await;
    let code = approved_code(&approved);
    let token = tpp.exchange(&code).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let status = tpp
        .get(
            &format!("/v1/payments/instant-sepa-credit-transfers/{payment}/status"),
            &token,
            &[],
        )
        .await;
    assert_eq!(status.body["transactionStatus"], "ACSC", "{}", status.body);
    assert_eq!(
        crate::support::booked_balance(&server, debtor.id).await,
        before - 750
    );
    let failures = store.psu(psu.id).await.unwrap().unwrap().failed_logins;
    assert_eq!(failures, 0, "a success clears the failures");
    server.stop().await;
}
both_stores!(a_passkey_confirms_sign_in_and_signs_exactly_the_payment);

async fn changing_the_second_factor_needs_it_passed_within_five_minutes(db: TestDb) {
    let clock = ManualClock::new(fintechapi_domain::SystemClock.now());
    let server = crate::support::demo_server_at(db, &clock).await;
    let mut carol = online_banking(&server, "carol", "carol-demo-2026").await;
    assert!(
        carol
            .get("/bank/online/security")
            .await
            .body
            .contains("totp-secret"),
        "fresh after login"
    );
    // Still signed in (active every 4 minutes), but the factor is 8 minutes old.
    for _ in 0..2 {
        clock.advance(time::Duration::minutes(4));
        assert_eq!(
            carol.get("/bank/online/consents").await.status,
            StatusCode::OK
        );
    }
    let page = carol.get("/bank/online/security").await;
    assert!(
        !page.body.contains("totp-secret") && page.body.contains("Confirm it is you"),
        "{}",
        page.body
    );
    let seed = fintechapi_domain::otp::Seed::generate().unwrap();
    let secret = seed.to_base32();
    let code = seed.code_at(clock.now()).unwrap();
    let replaced = set_up_app(&mut carol, &page, &secret, &code).await;
    assert_eq!(replaced.status, StatusCode::FORBIDDEN, "{}", replaced.body);
    assert!(!has_app(&server, "carol").await, "the app was not replaced");
    let added = add_passkey(&mut carol, &page, "Phone", "{}").await;
    assert_eq!(added.status, StatusCode::FORBIDDEN);
    let removed = carol
        .submit("/bank/online/passkeys/some-id/remove", &[], &page.csrf())
        .await;
    assert_eq!(removed.status, StatusCode::FORBIDDEN);

    // Passing the second factor again opens the changes for five minutes.
    let confirm = carol
        .submit("/bank/online/confirm", &[], &page.csrf())
        .await;
    confirm.assert_location("/bank/online/sca");
    let done = carol.online_second_factor(SANDBOX_CODE).await;
    done.assert_location("/bank/online/security");
    let page = carol.get("/bank/online/security").await;
    assert!(page.body.contains("totp-secret"), "{}", page.body);
    let replaced = set_up_app(&mut carol, &page, &secret, &code).await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    assert!(has_app(&server, "carol").await);
    server.stop().await;
}
both_stores!(changing_the_second_factor_needs_it_passed_within_five_minutes);
