//! Wrong passwords: pauses, blocks, idle sessions and parallel guessing.

use super::online_banking;
use crate::support::xs2a::{REDIRECT, Tpp};
use crate::support::{
    Browser, SANDBOX_CODE, demo_server, log_in, open, param, redirect_params, second_factor,
};
use fintechapi_domain::psu::PsuRepository;
use fintechapi_domain::{Clock, ManualClock, SystemClock};
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;
use serde_json::json;

async fn five_failures_block_the_psu_and_five_idle_minutes_end_the_session(db: TestDb) {
    let clock = ManualClock::new(fintechapi_domain::SystemClock.now());
    let server = crate::support::demo_server_at(db, &clock).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let cc = tpp.client_token().await;

    let consent = tpp.consent(&cc, json!({"allPsd2": "allAccounts"}), 4).await;
    let mut psu = Browser::new(&server);
    open(&mut psu, &tpp.key, &tpp.par(&consent).await).await;
    for _ in 0..5 {
        assert_eq!(
            log_in(&mut psu, "alice", "wrong password").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let sixth = log_in(&mut psu, "alice", "alice-demo-2026").await;
    assert_eq!(sixth.status, StatusCode::UNAUTHORIZED);
    assert!(
        sixth.body.contains("paused after too many failed attempts"),
        "{}",
        sixth.body
    );
    let store = server.db.store().await;
    assert!(
        store
            .psu_by_login("alice")
            .await
            .unwrap()
            .unwrap()
            .0
            .is_blocked(clock.now())
    );

    // Idle for more than five minutes: the session is over.
    let consent = tpp.consent(&cc, json!({"allPsd2": "allAccounts"}), 4).await;
    let mut psu = Browser::new(&server);
    open(&mut psu, &tpp.key, &tpp.par(&consent).await).await;
    assert_eq!(
        log_in(&mut psu, "bob", "bob-demo-2026").await.status,
        StatusCode::SEE_OTHER
    );
    clock.advance(time::Duration::minutes(5) + time::Duration::seconds(1));
    let late = psu.get("/bank/sca").await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
    assert!(late.body.contains("5 minutes without activity"));
    server.stop().await;
}
both_stores!(five_failures_block_the_psu_and_five_idle_minutes_end_the_session);

async fn a_strangers_wrong_passwords_pause_alice_who_is_alerted_and_signs_in_from_elsewhere_later(
    db: TestDb,
) {
    // Whole seconds: PostgreSQL keeps microseconds.
    let clock = ManualClock::new(SystemClock.now().replace_nanosecond(0).unwrap());
    let server = crate::support::demo_server_at(db, &clock).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let cc = tpp.client_token().await;
    let consent = tpp.consent(&cc, json!({"allPsd2": "allAccounts"}), 4).await;

    // A stranger tries 20 passwords for alice from one address.
    let mut stranger = Browser::from_address(&server, "127.0.0.1".parse().unwrap());
    open(&mut stranger, &tpp.key, &tpp.par(&consent).await).await;
    let mut statuses = Vec::new();
    for n in 0..20 {
        let page = log_in(&mut stranger, "alice", &format!("guess {n}")).await;
        if page.status == StatusCode::UNAUTHORIZED {
            assert!(
                page.body.contains("paused after too many failed attempts"),
                "one answer for every failure: {}",
                page.body
            );
        }
        statuses.push(page.status);
    }
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(
        refused, 10,
        "10 attempts a minute per login, then 429: {statuses:?}"
    );
    let store = server.db.store().await;
    let (alice, _) = store.psu_by_login("alice").await.unwrap().unwrap();
    assert!(
        alice.is_blocked(clock.now()) && !alice.is_blocked_for_good(),
        "paused, not blocked for good"
    );
    assert_eq!(
        alice.blocked_until,
        Some(clock.now() + time::Duration::minutes(15))
    );
    assert_eq!(
        alice.blocks_in_row, 1,
        "attempts during the pause do not count"
    );
    let notices = store.psu_notices(alice.id, 10).await.unwrap();
    assert_eq!(notices.len(), 1);
    assert!(
        notices[0].message.contains("paused until"),
        "{}",
        notices[0].message
    );
    let mailed: Vec<String> = server.db.raw_strings("SELECT recipient FROM outbox").await;
    assert_eq!(
        mailed,
        ["alice@demo-psu.example.com"],
        "the alert is mailed too"
    );

    // While paused even the right password gets the same answer.
    let mut alice_browser = Browser::from_address(&server, "127.0.0.2".parse().unwrap());
    open(&mut alice_browser, &tpp.key, &tpp.par(&consent).await).await;
    clock.advance(time::Duration::minutes(2));
    let paused = log_in(&mut alice_browser, "alice", "alice-demo-2026").await;
    assert_eq!(paused.status, StatusCode::UNAUTHORIZED);
    assert!(
        paused
            .body
            .contains("paused after too many failed attempts")
    );

    // After the pause alice authorises from her own address.
    clock.advance(time::Duration::minutes(14));
    let mut alice_browser = Browser::from_address(&server, "127.0.0.2".parse().unwrap());
    open(&mut alice_browser, &tpp.key, &tpp.par(&consent).await).await;
    let signed = log_in(&mut alice_browser, "alice", "alice-demo-2026").await;
    signed.assert_redirect("/bank/sca");
    let sca = second_factor(&mut alice_browser, SANDBOX_CODE).await;
    sca.assert_location("/bank/consent");
    let screen = alice_browser.get("/bank/consent").await;
    let approved = alice_browser.decide(&screen, "approve").await;
    assert!(
        param(
            &redirect_params(approved.location.as_deref().unwrap(), REDIRECT),
            "code"
        )
        .is_some()
    );
    let (alice, _) = store.psu_by_login("alice").await.unwrap().unwrap();
    assert_eq!(
        (alice.failed_logins, alice.blocks_in_row),
        (0, 0),
        "a complete authentication clears the record"
    );

    // She sees the alert in online banking.
    let mut own = online_banking(&server, "alice", "alice-demo-2026").await;
    let page = own.get("/bank/online/consents").await;
    page.assert_shows(&["Messages from your bank", "paused until"]);
    server.stop().await;
}
both_stores!(
    a_strangers_wrong_passwords_pause_alice_who_is_alerted_and_signs_in_from_elsewhere_later
);

async fn repeated_pauses_grow_then_block_for_good_after_a_warning_and_an_operator_unblocks(
    db: TestDb,
) {
    // Whole seconds: PostgreSQL keeps microseconds.
    let clock = ManualClock::new(SystemClock.now().replace_nanosecond(0).unwrap());
    let server = crate::support::demo_server_at(db, &clock).await;
    let store = server.db.store().await;
    let series = |n: usize| {
        let server = &server;
        async move {
            let mut b = Browser::new(server);
            for k in 0..5 {
                let page = b.online_login("bob", &format!("wrong {n} {k}")).await;
                assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{}", page.body);
            }
        }
    };
    for (n, pause) in [(0, 15), (1, 60), (2, 240)] {
        series(n).await;
        let (bob, _) = store.psu_by_login("bob").await.unwrap().unwrap();
        assert_eq!(
            bob.blocked_until,
            Some(clock.now() + time::Duration::minutes(pause)),
            "block {n}"
        );
        clock.advance(time::Duration::minutes(pause) + time::Duration::seconds(1));
    }
    let notices = store
        .psu_notices(store.psu_by_login("bob").await.unwrap().unwrap().0.id, 10)
        .await
        .unwrap();
    assert_eq!(notices.len(), 3);
    assert!(
        notices[0]
            .message
            .contains("stays blocked until you contact"),
        "warned before the permanent block: {}",
        notices[0].message
    );
    assert!(!notices[1].message.contains("stays blocked"));

    series(3).await;
    let (bob, _) = store.psu_by_login("bob").await.unwrap().unwrap();
    assert!(bob.is_blocked_for_good());
    assert!(
        store.psu_notices(bob.id, 1).await.unwrap()[0]
            .message
            .contains("Contact your bank")
    );
    clock.advance(time::Duration::days(2));
    let mut b = Browser::new(&server);
    let still = b.online_login("bob", "bob-demo-2026").await;
    assert_eq!(still.status, StatusCode::UNAUTHORIZED, "blocked for good");

    let mut ops = crate::support::operator(&server).await;
    let csrf = ops.get("/admin/psus").await.csrf();
    let unblocked = ops
        .submit(&format!("/admin/psus/{}/unblock", bob.id), &[], &csrf)
        .await;
    assert_eq!(unblocked.status, StatusCode::OK, "{}", unblocked.body);
    online_banking(&server, "bob", "bob-demo-2026").await;
    server.stop().await;
}
both_stores!(repeated_pauses_grow_then_block_for_good_after_a_warning_and_an_operator_unblocks);

async fn parallel_wrong_guesses_check_at_most_five_passwords(db: TestDb) {
    let server = demo_server(db).await;
    let store = server.db.store().await;
    let mut guesses = tokio::task::JoinSet::new();
    for n in 0..10 {
        let mut b = Browser::from_address(&server, format!("127.0.1.{n}").parse().unwrap());
        let csrf = b.get("/bank/online").await.csrf();
        guesses.spawn(async move {
            b.submit(
                "/bank/online/login",
                &[("login", "carol"), ("password", &format!("wrong {n}"))],
                &csrf,
            )
            .await
            .status
        });
    }
    let statuses = guesses.join_all().await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    let (carol, _) = store.psu_by_login("carol").await.unwrap().unwrap();
    assert_eq!(
        (carol.blocks_in_row, carol.failed_logins),
        (1, 0),
        "five counted, one block, the rest refused uncounted"
    );

    // At the port: of 20 checks at once, exactly 5 may run.
    store.reset_psu_login_failures(carol.id).await.unwrap();
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let store = store.clone();
        attempts.spawn(async move {
            store
                .begin_psu_attempt(carol.id, SystemClock.now())
                .await
                .unwrap()
                .is_some()
        });
    }
    let admitted = attempts.join_all().await.into_iter().filter(|a| *a).count();
    assert_eq!(admitted, 5);
    server.stop().await;
}
both_stores!(parallel_wrong_guesses_check_at_most_five_passwords);
