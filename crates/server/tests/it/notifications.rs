//! Resource status notifications (`TPP-Notification-URI`) end to end on both
//! stores: the TPP's own HTTPS receiver (its CA trusted by the server,
//! private networks allowed by configuration) gets each status change of a
//! consent authorised through the bank's pages, in order; a failing receiver
//! gets the notification again until it answers; a URI outside the
//! application's registered hosts is refused; and without the private-network
//! flag a loopback receiver is never called.

use std::sync::Arc;
use std::time::Duration;

use crate::support::tpp_host::{Document, TppHost};
use crate::support::xs2a::{Answer, REDIRECT, Tpp, cli_app_of};
use crate::support::{
    Browser, SANDBOX_CODE, TestServer, accounts_of, config_for, iban, log_in, second_factor,
};
use fintechapi_domain::notification::NotificationRepository;
use fintechapi_domain::{Clock, ManualClock, SystemClock};
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PATH: &str = "/notify";

/// The demo bank, trusting `host`'s CA for notifications and retrying every
/// 200 ms at first; `private` allows delivering to loopback addresses.
async fn bank(db: TestDb, host: &TppHost, private: bool) -> TestServer {
    bank_at(db, host, private, Arc::new(SystemClock)).await
}

/// [`bank`] on `clock`.
async fn bank_at(db: TestDb, host: &TppHost, private: bool, clock: Arc<dyn Clock>) -> TestServer {
    let ca = db.data_dir().join("tpp-notify-ca.pem");
    std::fs::write(&ca, &host.ca_pem).unwrap();
    let mut config = config_for(&db);
    config.demo.seed = Some(true);
    config.notifications.ca_file = Some(ca);
    config.notifications.allow_private_networks = private;
    config.notifications.retry_base_millis = 200;
    config.notifications.poll_millis = 50;
    TestServer::start_with_clock(db, config, clock).await
}

/// Acme's app with the receiver's origin registered as a redirect URI too,
/// and a client token of it.
async fn acme(server: &TestServer, host: &TppHost) -> (Tpp, String) {
    let own = format!("{}/cb", host.https);
    let (_, key, secret) = cli_app_of(&server.db, "Acme TPP GmbH", &[REDIRECT, &own], "ais");
    let tpp = Tpp::with_credentials(server, key, secret);
    let cc = tpp.client_token().await;
    (tpp, cc)
}

/// A consent by Redirect with `extra` headers.
async fn consent(tpp: &Tpp, cc: &str, extra: &[(&str, &str)]) -> Answer {
    let mut headers = vec![
        ("tpp-redirect-preferred", "true"),
        ("tpp-redirect-uri", REDIRECT),
    ];
    headers.extend_from_slice(extra);
    tpp.consent_with(cc, json!({"allPsd2": "allAccounts"}), 2, &headers)
        .await
}

/// Carol approves the consent `created` links to on the bank's pages.
async fn approve(server: &TestServer, tpp: &Tpp, created: &Answer) {
    let mut psu = Browser::new(server);
    let screen = psu
        .authorise(&tpp.sca_link(created), "carol", "carol-demo-2026")
        .await;
    let approved = psu.decide(&screen, "approve").await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER, "{}", approved.body);
}

/// The bodies posted to the receiver once `count` have arrived (10 s at most).
async fn received(host: &TppHost, count: usize) -> Vec<Value> {
    for _ in 0..200 {
        if host.posted(PATH).len() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    host.posted(PATH)
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect()
}

/// `(attribute, status)` of each notification.
fn changes(bodies: &[Value]) -> Vec<(String, String)> {
    bodies
        .iter()
        .map(|b| {
            let attribute = ["scaStatus", "consentStatus", "transactionStatus"]
                .into_iter()
                .find(|a| b.get(a).is_some())
                .unwrap_or_else(|| panic!("a status attribute: {b}"));
            (
                attribute.to_owned(),
                b[attribute].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn the_receiver_gets_each_status_change_of_an_approved_consent_in_order(db: TestDb) {
    let host = TppHost::start().await;
    host.serve(PATH, Document::status(StatusCode::NO_CONTENT));
    let server = bank(db, &host, true).await;
    let (tpp, cc) = acme(&server, &host).await;
    let uri = format!("{}{PATH}", host.https);

    let created = consent(&tpp, &cc, &[("tpp-notification-uri", &uri)]).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.headers["aspsp-notification-support"], "true");
    assert_eq!(
        created.headers["aspsp-notification-content"],
        "status=SCA,PROCESS"
    );
    let consent_id = created.body["consentId"].as_str().unwrap().to_owned();
    let authorisation = tpp
        .authorisation_ids(&format!("/v1/consents/{consent_id}"), &cc)
        .await[0]
        .clone();
    assert!(host.posted(PATH).is_empty(), "nothing changed yet");

    approve(&server, &tpp, &created).await;
    let bodies = received(&host, 5).await;
    assert_eq!(
        changes(&bodies),
        [
            ("scaStatus", "started"),
            ("scaStatus", "psuIdentified"),
            ("scaStatus", "psuAuthenticated"),
            ("consentStatus", "valid"),
            ("scaStatus", "finalised"),
        ]
        .map(|(a, s)| (a.to_owned(), s.to_owned())),
        "{bodies:?}"
    );
    for body in &bodies {
        assert_eq!(body["resourceType"], "consent");
        assert_eq!(body["resourceId"], consent_id.as_str());
        assert!(
            body["time"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{body}"
        );
        if body.get("scaStatus").is_some() {
            assert_eq!(body["authorisationId"], authorisation.as_str());
        }
        let carol = body.to_string().to_lowercase();
        assert!(!carol.contains("carol"), "no personal data: {body}");
    }
    assert_eq!(tpp.consent_status(&cc, &consent_id).await, "valid");

    // Each was delivered once: nothing more arrives.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(host.posted(PATH).len(), 5);
    server.stop().await;
}
both_stores!(the_receiver_gets_each_status_change_of_an_approved_consent_in_order);

async fn a_receiver_that_fails_twice_gets_the_notification_on_the_third_try(db: TestDb) {
    let host = TppHost::start().await;
    host.serve(PATH, Document::status(StatusCode::OK));
    host.fail_next(PATH, 2);
    let server = bank(db, &host, true).await;
    let (tpp, cc) = acme(&server, &host).await;
    let uri = format!("{}{PATH}", host.https);

    let created = consent(
        &tpp,
        &cc,
        &[
            ("tpp-notification-uri", &uri),
            ("tpp-notification-content-preferred", "status=PROCESS"),
        ],
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        created.headers["aspsp-notification-content"],
        "status=PROCESS"
    );
    approve(&server, &tpp, &created).await;

    let bodies = received(&host, 3).await;
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    assert!(
        bodies.iter().all(|b| *b == bodies[0]),
        "the same notification: {bodies:?}"
    );
    assert_eq!(
        changes(&bodies[..1]),
        [("consentStatus".to_owned(), "valid".to_owned())]
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        host.hits(PATH),
        3,
        "delivered on the third try, then no more"
    );
    assert_eq!(
        server
            .db
            .raw_strings(
                "SELECT CAST(attempts AS TEXT) FROM notifications WHERE delivered_at IS NOT NULL"
            )
            .await,
        ["3"]
    );
    // Housekeeping deletes what was delivered before the cut-off, not after.
    let store = server.db.store().await;
    let cut = SystemClock.now();
    assert_eq!(
        store
            .prune_notifications(cut - time::Duration::days(1), 10)
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.prune_notifications(cut, 10).await.unwrap(), 1);
    assert_eq!(server.db.count_rows("notifications").await, 0);
    server.stop().await;
}
both_stores!(a_receiver_that_fails_twice_gets_the_notification_on_the_third_try);

async fn a_notification_uri_outside_the_registered_hosts_is_refused(db: TestDb) {
    let host = TppHost::start().await;
    let server = bank(db, &host, true).await;
    let (tpp, cc) = acme(&server, &host).await;

    for uri in [
        "https://evil.example/notify".to_owned(),
        "https://acme.example.evil.example/notify".to_owned(),
        format!("{}{PATH}", host.http),
        format!("https://localhost:1/{}", "a".repeat(1000)),
    ] {
        let refused = consent(&tpp, &cc, &[("tpp-notification-uri", &uri)]).await;
        assert_eq!(
            refused.refusal(),
            (
                StatusCode::BAD_REQUEST,
                Some("FORMAT_ERROR"),
                Some("TPP-Notification-URI")
            ),
            "{uri}: {}",
            refused.body
        );
    }
    // A subdomain of a registered redirect URI's host is the TPP's.
    let sub = consent(
        &tpp,
        &cc,
        &[("tpp-notification-uri", "https://hooks.acme.example/notify")],
    )
    .await;
    assert_eq!(sub.status, StatusCode::CREATED, "{}", sub.body);
    assert_eq!(sub.headers["aspsp-notification-support"], "true");
    // Preferences this ASPSP does not offer: created, without notifications.
    let unsupported = consent(
        &tpp,
        &cc,
        &[
            ("tpp-notification-uri", "https://acme.example/notify"),
            ("tpp-notification-content-preferred", "status=EVERYTHING"),
        ],
    )
    .await;
    assert_eq!(
        unsupported.status,
        StatusCode::CREATED,
        "{}",
        unsupported.body
    );
    assert_eq!(unsupported.headers["aspsp-notification-support"], "false");
    assert!(
        unsupported
            .headers
            .get("aspsp-notification-content")
            .is_none()
    );
    // Without the header, the answer says nothing about notifications.
    let plain = consent(&tpp, &cc, &[]).await;
    assert!(plain.headers.get("aspsp-notification-support").is_none());
    server.stop().await;
}
both_stores!(a_notification_uri_outside_the_registered_hosts_is_refused);

async fn without_the_private_network_flag_a_loopback_receiver_is_never_called(db: TestDb) {
    let host = TppHost::start().await;
    host.serve(PATH, Document::status(StatusCode::NO_CONTENT));
    let server = bank(db, &host, false).await;
    let (tpp, cc) = acme(&server, &host).await;
    let uri = format!("{}{PATH}", host.https);

    // The URI is the TPP's (a registered host); where it resolves is checked on delivery.
    let created = consent(&tpp, &cc, &[("tpp-notification-uri", &uri)]).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.headers["aspsp-notification-support"], "true");
    approve(&server, &tpp, &created).await;
    let consent_id = created.body["consentId"].as_str().unwrap();
    assert_eq!(tpp.consent_status(&cc, consent_id).await, "valid");

    // Each notification is given up at its first attempt, and recorded.
    let given_up = "SELECT last_error FROM notifications WHERE given_up_at IS NOT NULL ORDER BY id";
    let mut errors = Vec::new();
    for _ in 0..200 {
        errors = server.db.raw_strings(given_up).await;
        if errors.len() == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(errors.len(), 5, "{errors:?}");
    assert!(
        errors.iter().all(|e| e.contains("no public address")),
        "{errors:?}"
    );
    assert_eq!(
        server
            .db
            .raw_strings("SELECT CAST(MAX(attempts) AS TEXT) FROM notifications")
            .await,
        ["1"]
    );
    assert_eq!(host.hits(PATH), 0, "localhost resolves to loopback only");
    server.stop().await;
}
both_stores!(without_the_private_network_flag_a_loopback_receiver_is_never_called);

async fn a_payments_transaction_status_changes_are_notified_to_the_last(db: TestDb) {
    let host = TppHost::start().await;
    host.serve(PATH, Document::status(StatusCode::NO_CONTENT));
    let server = bank(db, &host, true).await;
    let own = format!("{}/cb", host.https);
    let (_, key, secret) = cli_app_of(&server.db, "Acme TPP GmbH", &[REDIRECT, &own], "pis");
    let tpp = Tpp::with_credentials(&server, key, secret);
    let cc = tpp.client_token().await;
    let debtor = accounts_of(&server, "carol").await.remove(0);
    let uri = format!("{}{PATH}", host.https);

    let body = json!({"instructedAmount": {"currency": "EUR", "amount": "12.34"},
        "debtorAccount": {"iban": iban(&debtor)}, "creditorName": "Corner Shop",
        "creditorAccount": {"iban": "DE02120300000000202051"}});
    let headers = [
        ("psu-ip-address", "192.0.2.7"),
        ("tpp-redirect-preferred", "true"),
        ("tpp-redirect-uri", REDIRECT),
        ("tpp-notification-uri", uri.as_str()),
        ("tpp-notification-content-preferred", "status=PROCESS"),
    ];
    let path = "/v1/payments/sepa-credit-transfers";
    let created = tpp
        .call(Method::POST, path, &cc, &headers, Some(&body))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.headers["aspsp-notification-support"], "true");
    let payment = created.body["paymentId"].as_str().unwrap().to_owned();

    let mut psu = Browser::new(&server);
    psu.get(&tpp.sca_link(&created)).await;
    log_in(&mut psu, "carol", "carol-demo-2026").await;
    second_factor(&mut psu, SANDBOX_CODE).await;
    let screen = psu.get("/bank/consent").await;
    psu.decide(&screen, "approve")
        .await
        .assert_redirect(REDIRECT);
    let status = tpp.get(&format!("{path}/{payment}/status"), &cc, &[]).await;
    assert_eq!(status.body["transactionStatus"], "ACSC", "{}", status.body);

    let bodies = received(&host, 2).await;
    let statuses: Vec<(String, String)> = changes(&bodies);
    assert_eq!(
        statuses.last(),
        Some(&("transactionStatus".to_owned(), "ACSC".to_owned())),
        "{bodies:?}"
    );
    assert!(
        statuses.iter().all(|(a, _)| a == "transactionStatus"),
        "PROCESS only: {statuses:?}"
    );
    assert!(
        bodies
            .iter()
            .all(|b| b["resourceType"] == "payment" && b["resourceId"] == payment.as_str())
    );
    server.stop().await;
}
both_stores!(a_payments_transaction_status_changes_are_notified_to_the_last);

/// A Decoupled authorisation started explicitly, with the notification
/// headers on the start (the consent had none): the start is answered
/// `ASPSP-Notification-Support: true`; its `scaStatus` carries the message
/// for the PSU while it waits, and when the PSU lets it lapse the receiver
/// gets its `failed` without the TPP polling, and the status says why.
async fn a_lapsed_decoupled_authorisation_is_notified_as_failed(db: TestDb) {
    let host = TppHost::start().await;
    host.serve(PATH, Document::status(StatusCode::NO_CONTENT));
    let clock = ManualClock::new(SystemClock.now());
    let server = bank_at(db, &host, true, Arc::new(clock.clone())).await;
    let (tpp, cc) = acme(&server, &host).await;
    let uri = format!("{}{PATH}", host.https);
    let decoupled = [("tpp-decoupled-preferred", "true"), ("psu-id", "carol")];
    let explicit = [
        decoupled[0],
        decoupled[1],
        ("tpp-explicit-authorisation-preferred", "true"),
    ];
    let created = tpp
        .consent_with(&cc, json!({"allPsd2": "allAccounts"}), 2, &explicit)
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert!(created.headers.get("aspsp-notification-support").is_none());
    let consent_id = created.body["consentId"].as_str().unwrap().to_owned();
    let start = format!("/v1/consents/{consent_id}/authorisations");

    let outside = [
        decoupled[0],
        decoupled[1],
        ("tpp-notification-uri", "https://elsewhere.example/n"),
    ];
    let refused = tpp
        .call(Method::POST, &start, &cc, &outside, Some(&json!({})))
        .await;
    refused.assert_refusal(
        StatusCode::BAD_REQUEST,
        "FORMAT_ERROR",
        "TPP-Notification-URI",
    );
    let with_uri = [
        decoupled[0],
        decoupled[1],
        ("tpp-notification-uri", uri.as_str()),
    ];
    let started = tpp
        .call(Method::POST, &start, &cc, &with_uri, Some(&json!({})))
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.body);
    assert_eq!(started.headers["aspsp-notification-support"], "true");
    let status_link = started.body["_links"]["scaStatus"]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    let waiting = tpp.get(&status_link, &cc, &[]).await;
    assert_eq!(waiting.body["scaStatus"], "received", "{}", waiting.body);
    assert_eq!(waiting.body["psuMessage"], started.body["psuMessage"]);

    clock.advance(time::Duration::minutes(11));
    let bodies = received(&host, 1).await;
    assert_eq!(
        changes(&bodies),
        [("scaStatus".to_owned(), "failed".to_owned())],
        "{bodies:?}"
    );
    assert_eq!(
        bodies[0]["authorisationId"],
        started.body["authorisationId"]
    );
    let cc = tpp.client_token().await;
    let lapsed = tpp.get(&status_link, &cc, &[]).await;
    assert_eq!(lapsed.body["scaStatus"], "failed", "{}", lapsed.body);
    let message = lapsed.body["psuMessage"].as_str().unwrap_or_default();
    assert!(message.contains("lapsed"), "{}", lapsed.body);
    assert_eq!(tpp.consent_status(&cc, &consent_id).await, "received");
    server.stop().await;
}
both_stores!(a_lapsed_decoupled_authorisation_is_notified_as_failed);
