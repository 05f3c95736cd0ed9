//! Payments by Decoupled: approved in online banking with the amount and
//! payee shown and, with an authenticator app, the answer to their own
//! challenge; executed once (the ledger moves once); declined, or approved by
//! a PSU who does not hold the debtor account, rejected with nothing moved.

use crate::support::xs2a::demo_tpp;
use crate::support::{
    Browser, Page, SANDBOX_CODE, accounts_of, booked_balance, challenge_on, enrol_authenticator,
    iban,
};
use fintechapi_domain::ledger::LedgerRepository;
use fintechapi_domain::{Clock, SystemClock};
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{FOR_CAROL, answer, decoupled_status_link, pending, sca, signed_in};

async fn a_payment_by_decoupled_executes_once_and_a_declined_one_moves_nothing(db: TestDb) {
    let (server, tpp, cc) = demo_tpp(db, "pis").await;
    let store = server.db.store().await;
    let debtor = accounts_of(&server, "carol").await.remove(0);
    let before = debtor.balances.booked;
    let headers = [FOR_CAROL[0], FOR_CAROL[1], ("psu-ip-address", "192.0.2.7")];
    let initiate = |amount: &str, creditor: &str| {
        let body = json!({"instructedAmount": {"currency": "EUR", "amount": amount}, "debtorAccount": {"iban": iban(&debtor)}, "creditorName": creditor, "creditorAccount": {"iban": "DE02120300000000202051"}, "remittanceInformationUnstructured": "Invoice 42"});
        let path = "/v1/payments/sepa-credit-transfers";
        let tpp = &tpp;
        let cc = &cc;
        async move {
            tpp.call(Method::POST, path, cc, &headers, Some(&body))
                .await
        }
    };

    let created = initiate("12.34", "Corner Shop").await;
    let sca_status = decoupled_status_link(&created);
    assert_eq!(created.body["transactionStatus"], "RCVD");
    let payment = created.body["paymentId"].as_str().unwrap().to_owned();
    let self_link = format!("/v1/payments/sepa-credit-transfers/{payment}");
    assert!(sca_status.starts_with(&format!("{self_link}/authorisations/")));

    // Dynamic linking: what is paid to whom, in the list and where it is confirmed.
    let mut carol = signed_in(&server, "carol", "carol-demo-2026").await;
    let listed = pending(&mut carol).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["kind"], "Payment");
    let shown = [
        "12.34 EUR",
        "Corner Shop",
        "DE02 1203 0000 0000 2020 51",
        "Invoice 42",
    ];
    let what = listed[0]["what"].to_string();
    assert!(shown.iter().all(|s| what.contains(s)), "{what}");
    let href = listed[0]["href"].as_str().unwrap().to_owned();
    carol.get(&href).await.assert_shows(&shown);
    assert_eq!(sca(&tpp, &cc, &sca_status).await, "started");

    let approved = answer(&mut carol, &href, "approve", SANDBOX_CODE).await;
    approved.assert_redirect("/bank/online/approvals?answered=approved");
    assert_eq!(sca(&tpp, &cc, &sca_status).await, "finalised");
    let status = tpp.get(&format!("{self_link}/status"), &cc, &[]).await;
    assert_eq!(status.body["transactionStatus"], "ACSC", "{}", status.body);
    assert_eq!(booked_balance(&server, debtor.id).await, before - 1234);

    // Answered again (a second post of the same form): nothing moves again.
    let csrf = carol.get("/bank/online/approvals").await.csrf();
    let again = carol
        .submit(
            &href,
            &[("decision", "approve"), ("code", SANDBOX_CODE)],
            &csrf,
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{}", again.body);
    assert_eq!(
        booked_balance(&server, debtor.id).await,
        before - 1234,
        "the ledger moved once"
    );

    // Declined: rejected, its authorisation failed, nothing moves.
    let declined_payment = initiate("50.00", "Other Shop").await;
    let declined_status = decoupled_status_link(&declined_payment);
    let declined_id = declined_payment.body["paymentId"].as_str().unwrap();
    let href = pending(&mut carol).await[0]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    answer(&mut carol, &href, "decline", SANDBOX_CODE)
        .await
        .assert_redirect("/bank/online/approvals?answered=declined");
    assert_eq!(sca(&tpp, &cc, &declined_status).await, "failed");
    let status = tpp
        .get(
            &format!("/v1/payments/sepa-credit-transfers/{declined_id}/status"),
            &cc,
            &[],
        )
        .await;
    assert_eq!(status.body["transactionStatus"], "RJCT", "{}", status.body);
    assert_eq!(booked_balance(&server, debtor.id).await, before - 1234);
    assert!(store.audit().await.unwrap().is_consistent());
    server.stop().await;
}
both_stores!(a_payment_by_decoupled_executes_once_and_a_declined_one_moves_nothing);

/// Approves the request at `href` with `code`.
async fn approve(psu: &mut Browser, href: &str, csrf: &str, code: &str) -> Page {
    psu.submit(href, &[("decision", "approve"), ("code", code)], csrf)
        .await
}

async fn a_payment_by_decoupled_is_confirmed_by_the_answer_to_its_own_challenge(db: TestDb) {
    let (server, tpp, cc) = demo_tpp(db, "pis").await;
    let debtor = accounts_of(&server, "alice").await.remove(0);
    let before = debtor.balances.booked;
    let seed = enrol_authenticator(&server, "alice").await;
    let body = json!({"instructedAmount": {"currency": "EUR", "amount": "12.34"}, "debtorAccount": {"iban": iban(&debtor)}, "creditorName": "Corner Shop", "creditorAccount": {"iban": "DE02120300000000202051"}});
    let headers = [
        ("tpp-decoupled-preferred", "true"),
        ("psu-id", "alice"),
        ("psu-ip-address", "192.0.2.7"),
    ];
    let path = "/v1/payments/sepa-credit-transfers";
    let created = tpp
        .call(Method::POST, path, &cc, &headers, Some(&body))
        .await;
    let sca_status = decoupled_status_link(&created);
    let payment = created.body["paymentId"].as_str().unwrap().to_owned();

    let mut alice = signed_in(&server, "alice", "alice-demo-2026").await;
    let href = pending(&mut alice).await[0]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = alice.get(&href).await;
    page.assert_shows(&["12.34 EUR", "Corner Shop", "DE02 1203 0000 0000 2020 51"]);
    let response = seed.ocra_response(&challenge_on(&page.body)).unwrap();
    let csrf = page.csrf();
    // Neither a TOTP code nor the sandbox code authorises a payment of a PSU
    // whose authenticator can sign its challenge.
    let totp = seed.code_at(SystemClock.now()).unwrap();
    for refused in [totp, SANDBOX_CODE.to_owned()] {
        let answer = approve(&mut alice, &href, &csrf, &refused).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    }
    // The amount changes behind the bank's back: the answer no longer fits.
    let sql = |amount: i64| format!("UPDATE payments SET amount = {amount} WHERE id = '{payment}'");
    server.db.raw_strings(&sql(99900)).await;
    let answer = approve(&mut alice, &href, &csrf, &response).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    server.db.raw_strings(&sql(1234)).await;
    assert_eq!(sca(&tpp, &cc, &sca_status).await, "started");

    approve(&mut alice, &href, &csrf, &response)
        .await
        .assert_redirect("/bank/online/approvals?answered=approved");
    assert_eq!(sca(&tpp, &cc, &sca_status).await, "finalised");
    assert_eq!(booked_balance(&server, debtor.id).await, before - 1234);
    server.stop().await;
}
both_stores!(a_payment_by_decoupled_is_confirmed_by_the_answer_to_its_own_challenge);

async fn a_psu_named_for_another_customers_account_cannot_pay_from_it(db: TestDb) {
    let (server, tpp, cc) = demo_tpp(db, "pis").await;
    let carols = accounts_of(&server, "carol").await.remove(0);
    let before = carols.balances.booked;
    let body = json!({"instructedAmount": {"currency": "EUR", "amount": "12.34"}, "debtorAccount": {"iban": iban(&carols)}, "creditorName": "Corner Shop", "creditorAccount": {"iban": "DE02120300000000202051"}});
    let headers = [
        ("tpp-decoupled-preferred", "true"),
        ("psu-id", "alice"),
        ("psu-ip-address", "192.0.2.7"),
    ];
    let path = "/v1/payments/sepa-credit-transfers";
    let created = tpp
        .call(Method::POST, path, &cc, &headers, Some(&body))
        .await;
    decoupled_status_link(&created);
    let payment = created.body["paymentId"].as_str().unwrap();
    let mut carol = signed_in(&server, "carol", "carol-demo-2026").await;
    assert!(pending(&mut carol).await.is_empty(), "not named, not shown");
    let mut alice = signed_in(&server, "alice", "alice-demo-2026").await;
    let href = pending(&mut alice).await[0]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    answer(&mut alice, &href, "approve", SANDBOX_CODE).await;
    let status = tpp.get(&format!("{path}/{payment}/status"), &cc, &[]).await;
    assert_eq!(status.body["transactionStatus"], "RJCT", "{}", status.body);
    assert_eq!(
        booked_balance(&server, carols.id).await,
        before,
        "nothing moved"
    );
    server.stop().await;
}
both_stores!(a_psu_named_for_another_customers_account_cannot_pay_from_it);
