//! A payment by Redirect: executed once, and the ledger moves once.

use crate::support::xs2a::REDIRECT;
use crate::support::{Browser, SANDBOX_CODE, accounts_of, iban, log_in, second_factor};
use fintechapi_domain::ledger::LedgerRepository;
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::acme;

async fn a_payment_by_redirect_executes_once_and_the_ledger_moves_once(db: TestDb) {
    let (server, tpp, cc) = acme(db, "pis").await;
    let store = server.db.store().await;
    let debtor = accounts_of(&server, "carol").await.remove(0);
    let before = debtor.balances.booked;

    let body = json!({"instructedAmount": {"currency": "EUR", "amount": "12.34"}, "debtorAccount": {"iban": iban(&debtor)}, "creditorName": "Corner Shop", "creditorAccount": {"iban": "DE02120300000000202051"}, "remittanceInformationUnstructured": "Invoice 42"});
    let request_id = uuid::Uuid::new_v4().to_string();
    let headers = [
        ("psu-ip-address", "192.0.2.7"),
        ("tpp-redirect-preferred", "true"),
        ("tpp-redirect-uri", REDIRECT),
    ];
    let initiate = || {
        let path = "/v1/payments/sepa-credit-transfers";
        tpp.call_as(&request_id, Method::POST, path, &cc, &headers, Some(&body))
    };
    let created = initiate().await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.headers["aspsp-sca-approach"], "REDIRECT");
    assert_eq!(
        (
            created.body["transactionStatus"].as_str(),
            created.body["scaStatus"].as_str()
        ),
        (Some("RCVD"), Some("received"))
    );
    let payment = created.body["paymentId"].as_str().unwrap().to_owned();
    let self_link = format!("/v1/payments/sepa-credit-transfers/{payment}");
    assert_eq!(created.body["_links"]["self"]["href"], self_link);
    let sca_status = created.body["_links"]["scaStatus"]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        sca_status.starts_with(&format!("{self_link}/authorisations/")),
        "{sca_status}"
    );
    let link = tpp.sca_link(&created);

    // Dynamic linking: the second-factor page shows what is paid to whom.
    let mut psu = Browser::new(&server);
    assert_eq!(
        psu.get(&link).await.location.as_deref(),
        Some("/bank/login")
    );
    log_in(&mut psu, "carol", "carol-demo-2026").await;
    let sca = psu.get("/bank/sca").await;
    sca.assert_shows(&["12.34 EUR", "Corner Shop", "DE02 1203 0000 0000 2020 51"]);
    second_factor(&mut psu, SANDBOX_CODE).await;
    let screen = psu.get("/bank/consent").await;
    screen.assert_shows(&["Approve this payment?", "Invoice 42"]);
    let approved = psu.decide(&screen, "approve").await;
    approved.assert_redirect(REDIRECT);

    // The client's token reads status and payment as in the OAuth approach.
    let status = tpp.get(&format!("{self_link}/status"), &cc, &[]).await;
    assert_eq!(status.body["transactionStatus"], "ACSC", "{}", status.body);
    let read = tpp.get(&self_link, &cc, &[]).await;
    assert_eq!(
        (
            read.body["transactionStatus"].as_str(),
            read.body["creditorName"].as_str()
        ),
        (Some("ACSC"), Some("Corner Shop"))
    );
    assert_eq!(
        tpp.get(&sca_status, &cc, &[]).await.body["scaStatus"],
        "finalised"
    );
    let moved = store.account(debtor.id).await.unwrap().unwrap();
    assert_eq!(
        moved.balances.booked,
        before - 1234,
        "the ledger moved once"
    );

    // The same initiation again: the same payment, nothing new to authorise, nothing moves.
    let replay = initiate().await;
    assert_eq!(
        (
            replay.status,
            replay.body["paymentId"].as_str(),
            replay.body["transactionStatus"].as_str()
        ),
        (StatusCode::CREATED, Some(payment.as_str()), Some("ACSC"))
    );
    assert!(
        replay.body["_links"].get("scaRedirect").is_none(),
        "{}",
        replay.body
    );
    assert_eq!(
        Browser::new(&server).get(&link).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        crate::support::booked_balance(&server, debtor.id).await,
        before - 1234
    );
    assert!(store.audit().await.unwrap().is_consistent());
    let cancel = tpp.delete(&self_link, &cc, &[]).await;
    assert_eq!(cancel.refusal().1, Some("CANCELLATION_INVALID"));
    server.stop().await;
}
both_stores!(a_payment_by_redirect_executes_once_and_the_ledger_moves_once);
