//! Bulk payments: one batch booking all or nothing, one booking per
//! transfer with partial acceptance, and a future-dated bulk.

use fintechapi_domain::Clock;
use fintechapi_domain::ledger::{Account, LedgerRepository};
use fintechapi_testkit::{TestDb, both_stores};
use serde_json::{Value, json};

use super::{bank, futures_join, iban_of};

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

/// More than `account` can pay (available balance and overdraft) by `extra` minor units.
fn more_than_held(account: &Account, extra: i64) -> String {
    let limit = account.overdraft_limit.unwrap_or(0);
    fintechapi_domain::Money::from_minor(
        account.balances.available() + limit + extra,
        account.currency,
    )
    .to_decimal_string()
}

async fn a_batch_booked_bulk_payment_is_one_debit_of_the_total_all_or_nothing(db: TestDb) {
    let bank = bank(db).await;
    let debtor = &bank.debtor;
    let (bobs, bob_iban) = iban_of(&bank.server, "bob").await;
    let store = bank.store().await;

    let body = bulk(
        debtor,
        true,
        &[
            ("100.00", "Bob", &bob_iban),
            ("20.50", "Landlord", "DE02120300000000202051"),
            ("3.25", "Shop", "DE89370400440532013000"),
        ],
    );
    let id = bank
        .authorised("/v1/bulk-payments/sepa-credit-transfers", &body)
        .await;
    let info = bank
        .read(&format!("/v1/bulk-payments/sepa-credit-transfers/{id}"))
        .await;
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
        bank.postings(&id).await,
        [format!("payment:{id}"), format!("payment:{id}:0")]
    );
    let alice_after = store.account(debtor.id).await.unwrap().unwrap();
    assert_eq!(alice_after.balances.booked, debtor.balances.booked - 12375);
    assert_eq!(bank.booked(bobs.id).await, bobs.balances.booked + 10000);

    // More than alice holds in one batch: nothing is booked at all.
    let too_much = more_than_held(&alice_after, 0);
    let body = bulk(
        debtor,
        true,
        &[
            ("1.00", "Bob", &bob_iban),
            (&too_much, "Landlord", "DE02120300000000202051"),
        ],
    );
    let refused = bank
        .authorised("/v1/bulk-payments/sepa-credit-transfers", &body)
        .await;
    let status = bank
        .read(&format!(
            "/v1/bulk-payments/sepa-credit-transfers/{refused}/status"
        ))
        .await;
    assert_eq!(status["transactionStatus"], "RJCT", "{status}");
    assert!(bank.postings(&refused).await.is_empty());
    assert_eq!(bank.booked(debtor.id).await, alice_after.balances.booked);
    assert!(store.audit().await.unwrap().is_consistent());
    bank.server.stop().await;
}
both_stores!(a_batch_booked_bulk_payment_is_one_debit_of_the_total_all_or_nothing);

async fn a_bulk_payment_booked_per_transfer_is_partially_accepted_when_one_fails(db: TestDb) {
    let bank = bank(db).await;
    let debtor = &bank.debtor;
    let too_much = more_than_held(debtor, 1);
    let body = bulk(
        debtor,
        false,
        &[
            ("1.00", "First", "DE02120300000000202051"),
            (&too_much, "Second", "DE02120300000000202051"),
            ("2.00", "Third", "DE89370400440532013000"),
        ],
    );
    let id = bank
        .authorised("/v1/bulk-payments/instant-sepa-credit-transfers", &body)
        .await;
    let info = bank
        .read(&format!(
            "/v1/bulk-payments/instant-sepa-credit-transfers/{id}"
        ))
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
        bank.postings(&id).await,
        [format!("payment:{id}:0"), format!("payment:{id}:2")]
    );
    assert_eq!(bank.booked(debtor.id).await, debtor.balances.booked - 300);

    // Validation, with the path of the transfer at fault.
    let today = bank.clock.now().date();
    let mut no_name = bulk(
        debtor,
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
    let mut late = bulk(debtor, false, &[("1.00", "A", "DE02120300000000202051")]);
    late["requestedExecutionDate"] = json!((today + time::Duration::days(400)).to_string());
    let mut vague = bulk(debtor, false, &[("1.00", "A", "DE02120300000000202051")]);
    vague["batchBookingPreferred"] = json!("yes");
    let cases = [
        (bulk(debtor, true, &[]), "FORMAT_ERROR", "payments"),
        (no_name, "FORMAT_ERROR", "payments[1].creditorName"),
        (
            bulk(debtor, true, &[("1.00", "A", "DE00123")]),
            "FORMAT_ERROR",
            "payments[0].creditorAccount.iban",
        ),
        (late, "EXECUTION_DATE_INVALID", "requestedExecutionDate"),
        (vague, "FORMAT_ERROR", "batchBookingPreferred"),
    ];
    for (body, code, at) in cases {
        bank.assert_refused("/v1/bulk-payments/sepa-credit-transfers", &body, code, at)
            .await;
    }
    bank.server.stop().await;
}
both_stores!(a_bulk_payment_booked_per_transfer_is_partially_accepted_when_one_fails);

async fn a_future_dated_bulk_payment_executes_on_its_date(db: TestDb) {
    let mut bank = bank(db).await;
    let date = bank.clock.now().date() + time::Duration::days(2);
    let mut body = bulk(
        &bank.debtor,
        false,
        &[
            ("4.00", "First", "DE02120300000000202051"),
            ("6.00", "Second", "DE89370400440532013000"),
        ],
    );
    body["requestedExecutionDate"] = json!(date.to_string());
    let id = bank
        .authorised("/v1/bulk-payments/sepa-credit-transfers", &body)
        .await;
    let path = format!("/v1/bulk-payments/sepa-credit-transfers/{id}");
    let info = bank.read(&format!("{path}/status")).await;
    assert_eq!(info["transactionStatus"], "ACCP");
    assert!(
        bank.postings(&id).await.is_empty(),
        "nothing before the date"
    );

    bank.clock
        .set(date.midnight().assume_utc() + time::Duration::hours(8));
    futures_join(&bank.ledger().await).await;
    bank.renew_token().await;
    let info = bank.read(&path).await;
    assert_eq!(info["transactionStatus"], "ACSC", "{info}");
    assert_eq!(
        bank.postings(&id).await,
        [format!("payment:{id}:0"), format!("payment:{id}:1")]
    );
    assert_eq!(
        bank.booked(bank.debtor.id).await,
        bank.debtor.balances.booked - 1000
    );
    bank.server.stop().await;
}
both_stores!(a_future_dated_bulk_payment_executes_on_its_date);
