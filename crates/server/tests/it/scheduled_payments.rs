//! Future-dated payments and standing orders over HTTPS, on both stores, with
//! an injected clock: initiation and validation, authorisation (ACCP, nothing
//! booked yet), execution on the date by the scheduler, exactly once however
//! many schedulers run at the same time or take over a crashed one's claim.

use std::sync::Arc;

use crate::support::xs2a::{Answer, REDIRECT, Tpp};
use crate::support::{
    Browser, SANDBOX_CODE, TestServer, log_in, open, param, redirect_params, second_factor,
};
use fintechapi_domain::ledger::{Account, LedgerRepository};
use fintechapi_domain::payment::PaymentRepository;
use fintechapi_domain::psu::PsuRepository;
use fintechapi_domain::{Clock, ManualClock, SystemClock};
use fintechapi_ledger::Ledger;
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Where the PSU is, on every call.
const PSU: [(&str, &str); 1] = [("psu-ip-address", "192.0.2.7")];

/// The PSU authorises payment `id` at the bank's pages.
async fn authorise(server: &TestServer, tpp: &Tpp, id: &str, login: &str, password: &str) {
    let location = decide(server, tpp, id, login, password, "approve").await;
    assert!(
        param(&redirect_params(&location, REDIRECT), "code").is_some(),
        "{location}"
    );
}

/// The PSU decides on what `PIS:<id>` names (a payment, or its
/// cancellation); where the bank sends the browser back.
async fn decide(
    server: &TestServer,
    tpp: &Tpp,
    id: &str,
    login: &str,
    password: &str,
    decision: &str,
) -> String {
    let link = tpp.link(&tpp.par_scope(&format!("PIS:{id}")).await);
    let mut psu = Browser::new(server);
    let screen = psu.authorise(&link, login, password).await;
    assert!(screen.body.contains("When"), "{}", screen.body);
    let decided = psu
        .post(
            "/bank/consent",
            &[("decision", decision), ("csrf", &screen.csrf())],
        )
        .await;
    decided.location.expect("back to the TPP")
}

async fn alices_account(server: &TestServer) -> Account {
    let store = server.db.store().await;
    let (alice, _) = store.psu_by_login("alice").await.unwrap().unwrap();
    store.accounts_of_psu(alice.id).await.unwrap().remove(0)
}

fn transfer(debtor: &Account, amount: &str) -> Value {
    json!({
        "instructedAmount": {"currency": "EUR", "amount": amount},
        "debtorAccount": {"iban": debtor.iban.as_ref().unwrap().as_str()},
        "creditorName": "Landlord",
        "creditorAccount": {"iban": "DE02120300000000202051"},
    })
}

async fn postings_of(server: &TestServer, payment: &str) -> Vec<String> {
    server
        .db
        .raw_strings(&format!(
            "SELECT idempotency_key FROM ledger_transactions WHERE idempotency_key LIKE 'payment:{payment}%' ORDER BY idempotency_key"
        ))
        .await
}

async fn a_future_dated_payment_waits_for_its_date_and_executes_once(db: TestDb) {
    let clock = ManualClock::new(SystemClock.now());
    let server = crate::support::demo_server_at(db, &clock).await;
    let tpp = Tpp::new(&server, &server.db, "pis");
    let mut token = tpp.client_token().await;
    let debtor = alices_account(&server).await;
    let today = clock.now().date();
    let in_two_days = today.next_day().unwrap().next_day().unwrap();

    let mut body = transfer(&debtor, "25.00");
    body["requestedExecutionDate"] = json!(in_two_days.to_string());
    let Answer {
        status,
        body: created,
        ..
    } = tpp
        .call(
            reqwest::Method::POST,
            "/v1/payments/sepa-credit-transfers",
            &token,
            &PSU,
            Some(&body),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["paymentId"].as_str().unwrap().to_owned();
    authorise(&server, &tpp, &id, "alice", "alice-demo-2026").await;
    let path = format!("/v1/payments/sepa-credit-transfers/{id}");
    let Answer { body: info, .. } = tpp.get(&path, &token, &PSU).await;
    assert_eq!(
        (
            info["transactionStatus"].as_str(),
            info["requestedExecutionDate"].as_str()
        ),
        (Some("ACCP"), Some(in_two_days.to_string().as_str()))
    );
    assert!(
        postings_of(&server, &id).await.is_empty(),
        "nothing is booked before the date"
    );

    // The date comes: several schedulers race; one posting, ACSC.
    clock.set(in_two_days.midnight().assume_utc() + time::Duration::hours(9));
    let store = server.db.store().await;
    let ledger = Ledger::new(store.clone(), Arc::new(clock.clone()));
    let runs = futures_join(&ledger).await;
    assert!(runs <= 1, "at most one scheduler recorded it, {runs} did");
    token = tpp.client_token().await;
    for _ in 0..50 {
        let Answer { body: status, .. } = tpp.get(&format!("{path}/status"), &token, &PSU).await;
        if status["transactionStatus"] == "ACSC" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let Answer { body: status, .. } = tpp.get(&format!("{path}/status"), &token, &PSU).await;
    assert_eq!(status["transactionStatus"], "ACSC", "{status}");
    assert_eq!(postings_of(&server, &id).await, [format!("payment:{id}")]);
    let moved = store.account(debtor.id).await.unwrap().unwrap();
    assert_eq!(moved.balances.booked, debtor.balances.booked - 2500);
    assert!(store.audit().await.unwrap().is_consistent());
    server.stop().await;
}
both_stores!(a_future_dated_payment_waits_for_its_date_and_executes_once);

/// Four schedulers at once, as four nodes would; how many recorded an execution.
async fn futures_join(ledger: &Ledger<fintechapi_storage::Store>) -> usize {
    let (a, b, c, d) = tokio::join!(
        fintechapi_ledger::schedule::run_due(ledger),
        fintechapi_ledger::schedule::run_due(ledger),
        fintechapi_ledger::schedule::run_due(ledger),
        fintechapi_ledger::schedule::run_due(ledger),
    );
    a.unwrap() + b.unwrap() + c.unwrap() + d.unwrap()
}

async fn a_standing_order_executes_on_each_date_exactly_once_and_then_completes(db: TestDb) {
    let clock = ManualClock::new(SystemClock.now());
    let server = crate::support::demo_server_at(db, &clock).await;
    let tpp = Tpp::new(&server, &server.db, "pis");
    let mut token = tpp.client_token().await;
    let debtor = alices_account(&server).await;
    let today = clock.now().date();
    let start = today.next_day().unwrap();
    let end = start + time::Duration::days(14);

    let mut body = transfer(&debtor, "10.00");
    body["startDate"] = json!(start.to_string());
    body["endDate"] = json!(end.to_string());
    body["frequency"] = json!("Weekly");
    body["executionRule"] = json!("following");
    let Answer {
        status,
        body: created,
        ..
    } = tpp
        .call(
            reqwest::Method::POST,
            "/v1/periodic-payments/sepa-credit-transfers",
            &token,
            &PSU,
            Some(&body),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["paymentId"].as_str().unwrap().to_owned();
    assert_eq!(
        created["_links"]["self"]["href"],
        format!("/v1/periodic-payments/sepa-credit-transfers/{id}")
    );
    // A standing order is not a single payment.
    let Answer { status: wrong, .. } = tpp
        .get(
            &format!("/v1/payments/sepa-credit-transfers/{id}"),
            &token,
            &PSU,
        )
        .await;
    assert_eq!(wrong, StatusCode::FORBIDDEN);
    authorise(&server, &tpp, &id, "alice", "alice-demo-2026").await;
    let path = format!("/v1/periodic-payments/sepa-credit-transfers/{id}");
    let Answer { body: info, .. } = tpp.get(&path, &token, &PSU).await;
    assert_eq!(info["transactionStatus"], "ACCP");
    assert_eq!(
        (
            info["frequency"].as_str(),
            info["startDate"].as_str(),
            info["endDate"].as_str()
        ),
        (
            Some("Weekly"),
            Some(start.to_string().as_str()),
            Some(end.to_string().as_str())
        )
    );

    // Three weeks pass at once (a server that was down): the scheduler
    // catches up date by date; a crashed node's stale claim is taken over.
    let store = server.db.store().await;
    let ledger = Ledger::new(store.clone(), Arc::new(clock.clone()));
    let crashed_at = clock.now() + time::Duration::days(1);
    assert!(
        store
            .claim_execution(
                id.parse().unwrap(),
                start,
                "crashed-node",
                crashed_at,
                crashed_at
            )
            .await
            .unwrap()
    );
    clock.advance(time::Duration::days(21));
    for _ in 0..5 {
        futures_join(&ledger).await;
    }
    let keys: Vec<String> = [start, start + time::Duration::days(7), end]
        .iter()
        .map(|d| format!("payment:{id}:{d}"))
        .collect();
    assert_eq!(
        postings_of(&server, &id).await,
        keys,
        "one posting per date"
    );
    token = tpp.client_token().await;
    let Answer { body: status, .. } = tpp.get(&format!("{path}/status"), &token, &PSU).await;
    assert_eq!(
        status["transactionStatus"], "ACSC",
        "the standing order ran its course"
    );
    let moved = store.account(debtor.id).await.unwrap().unwrap();
    assert_eq!(moved.balances.booked, debtor.balances.booked - 3000);
    assert!(store.audit().await.unwrap().is_consistent());
    server.stop().await;
}
both_stores!(a_standing_order_executes_on_each_date_exactly_once_and_then_completes);

async fn a_standing_order_authorised_late_starts_from_its_next_date(db: TestDb) {
    let clock = ManualClock::new(SystemClock.now());
    let server = crate::support::demo_server_at(db, &clock).await;
    let tpp = Tpp::new(&server, &server.db, "pis");
    let token = tpp.client_token().await;
    let debtor = alices_account(&server).await;
    let mut body = transfer(&debtor, "1.00");
    body["startDate"] = json!(clock.now().date().next_day().unwrap().to_string());
    body["frequency"] = json!("Daily");
    let Answer { body: created, .. } = tpp
        .call(
            reqwest::Method::POST,
            "/v1/periodic-payments/sepa-credit-transfers",
            &token,
            &PSU,
            Some(&body),
        )
        .await;
    let id = created["paymentId"].as_str().unwrap().to_owned();
    // Ten days later the PSU authorises: no burst of the ten missed days.
    clock.advance(time::Duration::days(10));
    authorise(&server, &tpp, &id, "alice", "alice-demo-2026").await;
    let ledger = Ledger::new(server.db.store().await, Arc::new(clock.clone()));
    for _ in 0..3 {
        futures_join(&ledger).await;
    }
    let today = clock.now().date();
    let posted = postings_of(&server, &id).await;
    assert!(posted.len() <= 1, "{posted:?}");
    assert!(
        posted.iter().all(|k| k.ends_with(&today.to_string())),
        "{posted:?}"
    );
    server.stop().await;
}
both_stores!(a_standing_order_authorised_late_starts_from_its_next_date);

async fn scheduled_payments_are_validated(db: TestDb) {
    let clock = ManualClock::new(SystemClock.now());
    let server = crate::support::demo_server_at(db, &clock).await;
    let tpp = Tpp::new(&server, &server.db, "pis");
    let token = tpp.client_token().await;
    let debtor = alices_account(&server).await;
    let today = clock.now().date();
    let tomorrow = today.next_day().unwrap().to_string();
    let periodic = |changes: Value| {
        let mut body = transfer(&debtor, "1.00");
        body["startDate"] = json!(tomorrow);
        body["frequency"] = json!("Monthly");
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    let mut far = transfer(&debtor, "1.00");
    far["requestedExecutionDate"] = json!((today + time::Duration::days(400)).to_string());
    let cases = [
        (
            "/v1/payments/sepa-credit-transfers",
            far,
            "EXECUTION_DATE_INVALID",
            "requestedExecutionDate",
        ),
        (
            "/v1/periodic-payments/sepa-credit-transfers",
            periodic(json!({"startDate": null})),
            "FORMAT_ERROR",
            "startDate",
        ),
        (
            "/v1/periodic-payments/sepa-credit-transfers",
            periodic(json!({"startDate": "2020-01-01"})),
            "EXECUTION_DATE_INVALID",
            "startDate",
        ),
        (
            "/v1/periodic-payments/sepa-credit-transfers",
            periodic(json!({"endDate": today.to_string()})),
            "FORMAT_ERROR",
            "endDate",
        ),
        (
            "/v1/periodic-payments/sepa-credit-transfers",
            periodic(json!({"frequency": "Fortnightly"})),
            "FORMAT_ERROR",
            "frequency",
        ),
        (
            "/v1/periodic-payments/sepa-credit-transfers",
            periodic(json!({"frequency": "MonthlyVariable"})),
            "FORMAT_ERROR",
            "frequency",
        ),
        (
            "/v1/periodic-payments/sepa-credit-transfers",
            periodic(json!({"dayOfExecution": "32"})),
            "FORMAT_ERROR",
            "dayOfExecution",
        ),
        (
            "/v1/periodic-payments/sepa-credit-transfers",
            periodic(json!({"executionRule": "nearest"})),
            "FORMAT_ERROR",
            "executionRule",
        ),
        (
            "/v1/periodic-payments/sepa-credit-transfers",
            periodic(json!({"requestedExecutionDate": tomorrow})),
            "FORMAT_ERROR",
            "requestedExecutionDate",
        ),
        (
            "/v1/periodic-payments/sepa-credit-transfers",
            periodic(
                json!({"dayOfExecution": today.day().to_string(), "endDate": (today + time::Duration::days(2)).to_string()}),
            ),
            "FORMAT_ERROR",
            "endDate",
        ),
        (
            "/v1/payments/sepa-credit-transfers",
            {
                let mut b = transfer(&debtor, "1.00");
                b["creditorName"] = json!("Land\u{0}lord");
                b
            },
            "FORMAT_ERROR",
            "creditorName",
        ),
    ];
    for (path, body, code, at) in cases {
        let Answer {
            status,
            body: answer,
            ..
        } = tpp
            .call(reqwest::Method::POST, path, &token, &PSU, Some(&body))
            .await;
        assert_eq!(
            (
                status,
                answer["tppMessages"][0]["code"].as_str(),
                answer["tppMessages"][0]["path"].as_str()
            ),
            (StatusCode::BAD_REQUEST, Some(code), Some(at)),
            "{answer}"
        );
    }
    assert_eq!(
        server
            .db
            .raw_strings("SELECT CAST(COUNT(*) AS TEXT) FROM payments")
            .await,
        ["0"],
        "nothing half-created"
    );
    server.stop().await;
}
both_stores!(scheduled_payments_are_validated);

async fn an_authorised_standing_order_is_cancelled_only_with_the_psus_authorisation(db: TestDb) {
    let clock = ManualClock::new(SystemClock.now());
    let server = crate::support::demo_server_at(db, &clock).await;
    let tpp = Tpp::new(&server, &server.db, "pis");
    let token = tpp.client_token().await;
    let debtor = alices_account(&server).await;
    let start = clock.now().date() + time::Duration::days(2);
    let mut body = transfer(&debtor, "9.99");
    body["startDate"] = json!(start.to_string());
    body["frequency"] = json!("Monthly");
    let Answer { body: created, .. } = tpp
        .call(
            reqwest::Method::POST,
            "/v1/periodic-payments/instant-sepa-credit-transfers",
            &token,
            &PSU,
            Some(&body),
        )
        .await;
    let id = created["paymentId"].as_str().unwrap().to_owned();
    authorise(&server, &tpp, &id, "alice", "alice-demo-2026").await;
    let path = format!("/v1/periodic-payments/instant-sepa-credit-transfers/{id}");

    // Authorised: the TPP's DELETE asks for the PSU's cancellation authorisation.
    let Answer {
        status,
        body: asked,
        ..
    } = tpp.delete(&path, &token, &PSU).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{asked}");
    assert_eq!(asked["transactionStatus"], "ACCP");
    assert_eq!(
        asked["_links"]["scaOAuth"]["href"],
        format!("{}/.well-known/oauth-authorization-server", server.base_url)
    );
    let Answer { body: listed, .. } = tpp
        .get(&format!("{path}/cancellation-authorisations"), &token, &PSU)
        .await;
    assert_eq!(listed, json!({"authorisationIds": []}));

    // Another customer cannot cancel alice's standing order.
    let request_uri = tpp.par_scope(&format!("PIS:{id}")).await;
    let mut bob = Browser::new(&server);
    // Bob passes both factors, and the payment screen refuses him.
    open(&mut bob, &tpp.key, &request_uri).await;
    log_in(&mut bob, "bob", "bob-demo-2026").await;
    second_factor(&mut bob, SANDBOX_CODE).await;
    let refused = bob.get("/bank/consent").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.body.contains("another customer"));

    // The PSU keeps it: nothing changes.
    let kept = decide(&server, &tpp, &id, "alice", "alice-demo-2026", "deny").await;
    assert_eq!(
        param(&redirect_params(&kept, REDIRECT), "error"),
        Some("access_denied")
    );
    let Answer { body: still, .. } = tpp.get(&format!("{path}/status"), &token, &PSU).await;
    assert_eq!(still["transactionStatus"], "ACCP");

    // The PSU confirms: cancelled, and nothing is paid on its date.
    let confirmed = decide(&server, &tpp, &id, "alice", "alice-demo-2026", "approve").await;
    assert!(
        param(&redirect_params(&confirmed, REDIRECT), "code").is_some(),
        "{confirmed}"
    );
    let Answer { body: status, .. } = tpp.get(&format!("{path}/status"), &token, &PSU).await;
    assert_eq!(status["transactionStatus"], "CANC");
    let Answer { body: listed, .. } = tpp
        .get(&format!("{path}/cancellation-authorisations"), &token, &PSU)
        .await;
    let ids = listed["authorisationIds"].as_array().unwrap();
    assert_eq!(
        ids.len(),
        3,
        "bob's, the kept and the confirmed one: {listed}"
    );
    let Answer { body: sca, .. } = tpp
        .get(
            &format!(
                "{path}/cancellation-authorisations/{}",
                ids[2].as_str().unwrap()
            ),
            &token,
            &PSU,
        )
        .await;
    assert!(sca["scaStatus"].is_string(), "{sca}");
    let Answer { status: again, .. } = tpp.delete(&path, &token, &PSU).await;
    assert_eq!(
        again,
        StatusCode::METHOD_NOT_ALLOWED,
        "a cancelled payment cannot be cancelled again"
    );

    clock.advance(time::Duration::days(40));
    let ledger = Ledger::new(server.db.store().await, Arc::new(clock.clone()));
    futures_join(&ledger).await;
    assert!(
        postings_of(&server, &id).await.is_empty(),
        "nothing paid after the cancellation"
    );
    server.stop().await;
}
both_stores!(an_authorised_standing_order_is_cancelled_only_with_the_psus_authorisation);

async fn iban_of(server: &TestServer, login: &str) -> (Account, String) {
    let store = server.db.store().await;
    let (psu, _) = store.psu_by_login(login).await.unwrap().unwrap();
    let account = store.accounts_of_psu(psu.id).await.unwrap().remove(0);
    let iban = account.iban.as_ref().unwrap().as_str().to_owned();
    (account, iban)
}

fn bulk(debtor: &Account, batch: bool, entries: &[(&str, &str, &str)]) -> Value {
    json!({
        "batchBookingPreferred": batch,
        "debtorAccount": {"iban": debtor.iban.as_ref().unwrap().as_str()},
        "payments": entries.iter().map(|(amount, name, iban)| json!({
            "instructedAmount": {"currency": "EUR", "amount": amount},
            "creditorName": name,
            "creditorAccount": {"iban": iban},
            "remittanceInformationUnstructured": format!("Salary {name}"),
        })).collect::<Vec<_>>(),
    })
}

async fn a_batch_booked_bulk_payment_is_one_debit_of_the_total_all_or_nothing(db: TestDb) {
    let clock = ManualClock::new(SystemClock.now());
    let server = crate::support::demo_server_at(db, &clock).await;
    let tpp = Tpp::new(&server, &server.db, "pis");
    let token = tpp.client_token().await;
    let debtor = alices_account(&server).await;
    let (bobs, bob_iban) = iban_of(&server, "bob").await;
    let store = server.db.store().await;

    let body = bulk(
        &debtor,
        true,
        &[
            ("100.00", "Bob", &bob_iban),
            ("20.50", "Landlord", "DE02120300000000202051"),
            ("3.25", "Shop", "DE89370400440532013000"),
        ],
    );
    let Answer {
        status,
        body: created,
        ..
    } = tpp
        .call(
            reqwest::Method::POST,
            "/v1/bulk-payments/sepa-credit-transfers",
            &token,
            &PSU,
            Some(&body),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["paymentId"].as_str().unwrap().to_owned();
    authorise(&server, &tpp, &id, "alice", "alice-demo-2026").await;
    let path = format!("/v1/bulk-payments/sepa-credit-transfers/{id}");
    let Answer { body: info, .. } = tpp.get(&path, &token, &PSU).await;
    assert_eq!(
        (
            info["transactionStatus"].as_str(),
            info["batchBookingPreferred"].as_bool()
        ),
        (Some("ACSC"), Some(true)),
        "{info}"
    );
    assert_eq!(info["payments"].as_array().unwrap().len(), 3);
    assert!(
        info["payments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["transactionStatus"] == "ACSC")
    );
    // One booking on alice's account; bob is credited from it.
    assert_eq!(
        postings_of(&server, &id).await,
        [format!("payment:{id}"), format!("payment:{id}:0")]
    );
    let alice_after = store.account(debtor.id).await.unwrap().unwrap();
    assert_eq!(alice_after.balances.booked, debtor.balances.booked - 12375);
    assert_eq!(
        store
            .account(bobs.id)
            .await
            .unwrap()
            .unwrap()
            .balances
            .booked,
        bobs.balances.booked + 10000
    );

    // More than alice holds in one batch: nothing is booked at all.
    let limit = alice_after.overdraft_limit.unwrap_or(0);
    let too_much = fintechapi_domain::Money::from_minor(
        alice_after.balances.available() + limit,
        alice_after.currency,
    )
    .to_decimal_string();
    let body = bulk(
        &debtor,
        true,
        &[
            ("1.00", "Bob", &bob_iban),
            (&too_much, "Landlord", "DE02120300000000202051"),
        ],
    );
    let Answer { body: created, .. } = tpp
        .call(
            reqwest::Method::POST,
            "/v1/bulk-payments/sepa-credit-transfers",
            &token,
            &PSU,
            Some(&body),
        )
        .await;
    let refused = created["paymentId"].as_str().unwrap().to_owned();
    authorise(&server, &tpp, &refused, "alice", "alice-demo-2026").await;
    let Answer { body: status, .. } = tpp
        .get(
            &format!("/v1/bulk-payments/sepa-credit-transfers/{refused}/status"),
            &token,
            &PSU,
        )
        .await;
    assert_eq!(status["transactionStatus"], "RJCT", "{status}");
    assert!(postings_of(&server, &refused).await.is_empty());
    assert_eq!(
        store
            .account(debtor.id)
            .await
            .unwrap()
            .unwrap()
            .balances
            .booked,
        alice_after.balances.booked
    );
    assert!(store.audit().await.unwrap().is_consistent());
    server.stop().await;
}
both_stores!(a_batch_booked_bulk_payment_is_one_debit_of_the_total_all_or_nothing);

async fn a_bulk_payment_booked_per_transfer_is_partially_accepted_when_one_fails(db: TestDb) {
    let clock = ManualClock::new(SystemClock.now());
    let server = crate::support::demo_server_at(db, &clock).await;
    let tpp = Tpp::new(&server, &server.db, "pis");
    let token = tpp.client_token().await;
    let debtor = alices_account(&server).await;
    let store = server.db.store().await;
    let limit = debtor.overdraft_limit.unwrap_or(0);
    let too_much = fintechapi_domain::Money::from_minor(
        debtor.balances.available() + limit + 1,
        debtor.currency,
    )
    .to_decimal_string();
    let body = bulk(
        &debtor,
        false,
        &[
            ("1.00", "First", "DE02120300000000202051"),
            (&too_much, "Second", "DE02120300000000202051"),
            ("2.00", "Third", "DE89370400440532013000"),
        ],
    );
    let Answer { body: created, .. } = tpp
        .call(
            reqwest::Method::POST,
            "/v1/bulk-payments/instant-sepa-credit-transfers",
            &token,
            &PSU,
            Some(&body),
        )
        .await;
    let id = created["paymentId"].as_str().unwrap().to_owned();
    authorise(&server, &tpp, &id, "alice", "alice-demo-2026").await;
    let Answer { body: info, .. } = tpp
        .get(
            &format!("/v1/bulk-payments/instant-sepa-credit-transfers/{id}"),
            &token,
            &PSU,
        )
        .await;
    assert_eq!(info["transactionStatus"], "PART", "{info}");
    let states: Vec<&str> = info["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["transactionStatus"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["ACSC", "RJCT", "ACSC"]);
    assert_eq!(
        postings_of(&server, &id).await,
        [format!("payment:{id}:0"), format!("payment:{id}:2")]
    );
    assert_eq!(
        store
            .account(debtor.id)
            .await
            .unwrap()
            .unwrap()
            .balances
            .booked,
        debtor.balances.booked - 300
    );

    // Validation, with the path of the transfer at fault.
    let today = clock.now().date();
    let mut no_name = bulk(
        &debtor,
        false,
        &[
            ("1.00", "A", "DE02120300000000202051"),
            ("1.00", "B", "DE02120300000000202051"),
        ],
    );
    no_name["payments"][1]
        .as_object_mut()
        .unwrap()
        .remove("creditorName");
    let mut late = bulk(&debtor, false, &[("1.00", "A", "DE02120300000000202051")]);
    late["requestedExecutionDate"] = json!((today + time::Duration::days(400)).to_string());
    let mut vague = bulk(&debtor, false, &[("1.00", "A", "DE02120300000000202051")]);
    vague["batchBookingPreferred"] = json!("yes");
    let cases = [
        (bulk(&debtor, true, &[]), "FORMAT_ERROR", "payments"),
        (no_name, "FORMAT_ERROR", "payments[1].creditorName"),
        (
            bulk(&debtor, true, &[("1.00", "A", "DE00123")]),
            "FORMAT_ERROR",
            "payments[0].creditorAccount.iban",
        ),
        (late, "EXECUTION_DATE_INVALID", "requestedExecutionDate"),
        (vague, "FORMAT_ERROR", "batchBookingPreferred"),
    ];
    for (body, code, at) in cases {
        let Answer {
            status,
            body: answer,
            ..
        } = tpp
            .call(
                reqwest::Method::POST,
                "/v1/bulk-payments/sepa-credit-transfers",
                &token,
                &PSU,
                Some(&body),
            )
            .await;
        assert_eq!(
            (
                status,
                answer["tppMessages"][0]["code"].as_str(),
                answer["tppMessages"][0]["path"].as_str()
            ),
            (StatusCode::BAD_REQUEST, Some(code), Some(at)),
            "{answer}"
        );
    }
    server.stop().await;
}
both_stores!(a_bulk_payment_booked_per_transfer_is_partially_accepted_when_one_fails);

async fn a_future_dated_bulk_payment_executes_on_its_date(db: TestDb) {
    let clock = ManualClock::new(SystemClock.now());
    let server = crate::support::demo_server_at(db, &clock).await;
    let tpp = Tpp::new(&server, &server.db, "pis");
    let mut token = tpp.client_token().await;
    let debtor = alices_account(&server).await;
    let date = clock.now().date() + time::Duration::days(2);
    let mut body = bulk(
        &debtor,
        false,
        &[
            ("4.00", "First", "DE02120300000000202051"),
            ("6.00", "Second", "DE89370400440532013000"),
        ],
    );
    body["requestedExecutionDate"] = json!(date.to_string());
    let Answer {
        status,
        body: created,
        ..
    } = tpp
        .call(
            reqwest::Method::POST,
            "/v1/bulk-payments/sepa-credit-transfers",
            &token,
            &PSU,
            Some(&body),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["paymentId"].as_str().unwrap().to_owned();
    authorise(&server, &tpp, &id, "alice", "alice-demo-2026").await;
    let path = format!("/v1/bulk-payments/sepa-credit-transfers/{id}");
    let Answer { body: info, .. } = tpp.get(&format!("{path}/status"), &token, &PSU).await;
    assert_eq!(info["transactionStatus"], "ACCP");
    assert!(
        postings_of(&server, &id).await.is_empty(),
        "nothing before the date"
    );

    clock.set(date.midnight().assume_utc() + time::Duration::hours(8));
    let ledger = Ledger::new(server.db.store().await, Arc::new(clock.clone()));
    futures_join(&ledger).await;
    token = tpp.client_token().await;
    let Answer { body: info, .. } = tpp.get(&path, &token, &PSU).await;
    assert_eq!(info["transactionStatus"], "ACSC", "{info}");
    assert_eq!(
        postings_of(&server, &id).await,
        [format!("payment:{id}:0"), format!("payment:{id}:1")]
    );
    let store = server.db.store().await;
    assert_eq!(
        store
            .account(debtor.id)
            .await
            .unwrap()
            .unwrap()
            .balances
            .booked,
        debtor.balances.booked - 1000
    );
    server.stop().await;
}
both_stores!(a_future_dated_bulk_payment_executes_on_its_date);
