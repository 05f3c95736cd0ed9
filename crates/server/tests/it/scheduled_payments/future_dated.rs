//! Single payments with a `requestedExecutionDate`, and what the initiation
//! of any scheduled payment refuses.

use fintechapi_domain::Clock;
use fintechapi_domain::ledger::LedgerRepository;
use fintechapi_testkit::{TestDb, both_stores};
use serde_json::{Value, json};

use super::{bank, futures_join, transfer};

async fn a_future_dated_payment_waits_for_its_date_and_executes_once(db: TestDb) {
    let mut bank = bank(db).await;
    let today = bank.clock.now().date();
    let in_two_days = today.next_day().unwrap().next_day().unwrap();

    let mut body = transfer(&bank.debtor, "25.00");
    body["requestedExecutionDate"] = json!(in_two_days.to_string());
    let id = bank
        .authorised("/v1/payments/sepa-credit-transfers", &body)
        .await;
    let path = format!("/v1/payments/sepa-credit-transfers/{id}");
    let info = bank.read(&path).await;
    assert_eq!(
        (
            info["transactionStatus"].as_str(),
            info["requestedExecutionDate"].as_str()
        ),
        (Some("ACCP"), Some(in_two_days.to_string().as_str()))
    );
    assert!(
        bank.postings(&id).await.is_empty(),
        "nothing is booked before the date"
    );

    // The date comes: several schedulers race; one posting, ACSC.
    bank.clock
        .set(in_two_days.midnight().assume_utc() + time::Duration::hours(9));
    let runs = futures_join(&bank.ledger().await).await;
    assert!(runs <= 1, "at most one scheduler recorded it, {runs} did");
    bank.renew_token().await;
    for _ in 0..50 {
        if bank.read(&format!("{path}/status")).await["transactionStatus"] == "ACSC" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let status = bank.read(&format!("{path}/status")).await;
    assert_eq!(status["transactionStatus"], "ACSC", "{status}");
    assert_eq!(bank.postings(&id).await, [format!("payment:{id}")]);
    assert_eq!(
        bank.booked(bank.debtor.id).await,
        bank.debtor.balances.booked - 2500
    );
    assert!(bank.store().await.audit().await.unwrap().is_consistent());
    bank.server.stop().await;
}
both_stores!(a_future_dated_payment_waits_for_its_date_and_executes_once);

async fn scheduled_payments_are_validated(db: TestDb) {
    let bank = bank(db).await;
    let debtor = &bank.debtor;
    let today = bank.clock.now().date();
    let tomorrow = today.next_day().unwrap().to_string();
    let periodic = |changes: Value| {
        let mut body = transfer(debtor, "1.00");
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
    let mut far = transfer(debtor, "1.00");
    far["requestedExecutionDate"] = json!((today + time::Duration::days(400)).to_string());
    let mut unprintable = transfer(debtor, "1.00");
    unprintable["creditorName"] = json!("Land\u{0}lord");
    let single = "/v1/payments/sepa-credit-transfers";
    bank.assert_refused(
        single,
        &far,
        "EXECUTION_DATE_INVALID",
        "requestedExecutionDate",
    )
    .await;
    bank.assert_refused(single, &unprintable, "FORMAT_ERROR", "creditorName")
        .await;
    let cases = [
        (json!({"startDate": null}), "FORMAT_ERROR", "startDate"),
        (
            json!({"startDate": "2020-01-01"}),
            "EXECUTION_DATE_INVALID",
            "startDate",
        ),
        (
            json!({"endDate": today.to_string()}),
            "FORMAT_ERROR",
            "endDate",
        ),
        (
            json!({"frequency": "Fortnightly"}),
            "FORMAT_ERROR",
            "frequency",
        ),
        (
            json!({"frequency": "MonthlyVariable"}),
            "FORMAT_ERROR",
            "frequency",
        ),
        (
            json!({"dayOfExecution": "32"}),
            "FORMAT_ERROR",
            "dayOfExecution",
        ),
        (
            json!({"executionRule": "nearest"}),
            "FORMAT_ERROR",
            "executionRule",
        ),
        (
            json!({"requestedExecutionDate": tomorrow}),
            "FORMAT_ERROR",
            "requestedExecutionDate",
        ),
        (
            json!({"dayOfExecution": today.day().to_string(), "endDate": (today + time::Duration::days(2)).to_string()}),
            "FORMAT_ERROR",
            "endDate",
        ),
    ];
    for (changes, code, at) in cases {
        let body = periodic(changes);
        bank.assert_refused(
            "/v1/periodic-payments/sepa-credit-transfers",
            &body,
            code,
            at,
        )
        .await;
    }
    assert_eq!(
        bank.server.db.count_rows("payments").await,
        0,
        "nothing half-created"
    );
    bank.server.stop().await;
}
both_stores!(scheduled_payments_are_validated);
