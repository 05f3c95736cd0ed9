//! Standing orders (periodic payments): one execution per date, a late
//! authorisation, and a cancellation only with the PSU's authorisation.

use fintechapi_domain::Clock;
use fintechapi_domain::ledger::LedgerRepository;
use fintechapi_domain::payment::PaymentRepository;
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::xs2a::REDIRECT;
use crate::support::{SANDBOX_CODE, log_in, param, redirect_params, second_factor};

use super::{PSU, bank, futures_join, transfer};

async fn a_standing_order_executes_on_each_date_exactly_once_and_then_completes(db: TestDb) {
    let mut bank = bank(db).await;
    let today = bank.clock.now().date();
    let start = today.next_day().unwrap();
    let end = start + time::Duration::days(14);

    let mut body = transfer(&bank.debtor, "10.00");
    body["startDate"] = json!(start.to_string());
    body["endDate"] = json!(end.to_string());
    body["frequency"] = json!("Weekly");
    body["executionRule"] = json!("following");
    let created = bank
        .initiate("/v1/periodic-payments/sepa-credit-transfers", &body)
        .await;
    let id = created.created("paymentId");
    let path = format!("/v1/periodic-payments/sepa-credit-transfers/{id}");
    assert_eq!(created.body["_links"]["self"]["href"], path);
    // A standing order is not a single payment.
    let wrong = bank
        .tpp
        .get(
            &format!("/v1/payments/sepa-credit-transfers/{id}"),
            &bank.token,
            &PSU,
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    bank.authorise(&id).await;
    let info = bank.read(&path).await;
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
    let store = bank.store().await;
    let ledger = bank.ledger().await;
    let crashed_at = bank.clock.now() + time::Duration::days(1);
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
    bank.clock.advance(time::Duration::days(21));
    for _ in 0..5 {
        futures_join(&ledger).await;
    }
    let keys: Vec<String> = [start, start + time::Duration::days(7), end]
        .iter()
        .map(|d| format!("payment:{id}:{d}"))
        .collect();
    assert_eq!(bank.postings(&id).await, keys, "one posting per date");
    bank.renew_token().await;
    let status = bank.read(&format!("{path}/status")).await;
    assert_eq!(
        status["transactionStatus"], "ACSC",
        "the standing order ran its course"
    );
    assert_eq!(
        bank.booked(bank.debtor.id).await,
        bank.debtor.balances.booked - 3000
    );
    assert!(store.audit().await.unwrap().is_consistent());
    bank.server.stop().await;
}
both_stores!(a_standing_order_executes_on_each_date_exactly_once_and_then_completes);

async fn a_standing_order_authorised_late_starts_from_its_next_date(db: TestDb) {
    let bank = bank(db).await;
    let mut body = transfer(&bank.debtor, "1.00");
    body["startDate"] = json!(bank.clock.now().date().next_day().unwrap().to_string());
    body["frequency"] = json!("Daily");
    let id = bank
        .initiate("/v1/periodic-payments/sepa-credit-transfers", &body)
        .await
        .created("paymentId");
    // Ten days later the PSU authorises: no burst of the ten missed days.
    bank.clock.advance(time::Duration::days(10));
    bank.authorise(&id).await;
    let ledger = bank.ledger().await;
    for _ in 0..3 {
        futures_join(&ledger).await;
    }
    let today = bank.clock.now().date();
    let posted = bank.postings(&id).await;
    assert!(posted.len() <= 1, "{posted:?}");
    assert!(
        posted.iter().all(|k| k.ends_with(&today.to_string())),
        "{posted:?}"
    );
    bank.server.stop().await;
}
both_stores!(a_standing_order_authorised_late_starts_from_its_next_date);

async fn an_authorised_standing_order_is_cancelled_only_with_the_psus_authorisation(db: TestDb) {
    let bank = bank(db).await;
    let (tpp, token, server) = (&bank.tpp, &bank.token, &bank.server);
    let start = bank.clock.now().date() + time::Duration::days(2);
    let mut body = transfer(&bank.debtor, "9.99");
    body["startDate"] = json!(start.to_string());
    body["frequency"] = json!("Monthly");
    let id = bank
        .authorised("/v1/periodic-payments/instant-sepa-credit-transfers", &body)
        .await;
    let path = format!("/v1/periodic-payments/instant-sepa-credit-transfers/{id}");
    let cancellations = format!("{path}/cancellation-authorisations");

    // Authorised: the TPP's DELETE asks for the PSU's cancellation authorisation.
    let asked = tpp.delete(&path, token, &PSU).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    assert_eq!(asked.body["transactionStatus"], "ACCP");
    assert_eq!(asked.body["_links"]["scaOAuth"]["href"], tpp.metadata_url());
    assert_eq!(
        bank.read(&cancellations).await,
        json!({"authorisationIds": []})
    );

    // Another customer cannot cancel alice's standing order.
    // Bob passes both factors, and the payment screen refuses him.
    let mut bob = tpp.psu_at_login(server, &format!("PIS:{id}")).await;
    log_in(&mut bob, "bob", "bob-demo-2026").await;
    second_factor(&mut bob, SANDBOX_CODE).await;
    let refused = bob.get("/bank/consent").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.body.contains("another customer"));

    // The PSU keeps it: nothing changes.
    let kept = bank.decide(&id, "alice", "deny").await;
    assert_eq!(
        param(&redirect_params(&kept, REDIRECT), "error"),
        Some("access_denied")
    );
    let still = bank.read(&format!("{path}/status")).await;
    assert_eq!(still["transactionStatus"], "ACCP");

    // The PSU confirms: cancelled, and nothing is paid on its date.
    bank.authorise(&id).await;
    let status = bank.read(&format!("{path}/status")).await;
    assert_eq!(status["transactionStatus"], "CANC");
    let listed = bank.read(&cancellations).await;
    let ids = listed["authorisationIds"].as_array().unwrap();
    assert_eq!(
        ids.len(),
        3,
        "bob's, the kept and the confirmed one: {listed}"
    );
    let sca = bank
        .read(&format!("{cancellations}/{}", ids[2].as_str().unwrap()))
        .await;
    assert!(sca["scaStatus"].is_string(), "{sca}");
    let again = tpp.delete(&path, token, &PSU).await;
    assert_eq!(
        again.status,
        StatusCode::METHOD_NOT_ALLOWED,
        "a cancelled payment cannot be cancelled again"
    );

    bank.clock.advance(time::Duration::days(40));
    futures_join(&bank.ledger().await).await;
    assert!(
        bank.postings(&id).await.is_empty(),
        "nothing paid after the cancellation"
    );
    bank.server.stop().await;
}
both_stores!(an_authorised_standing_order_is_cancelled_only_with_the_psus_authorisation);
