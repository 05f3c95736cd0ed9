//! SEPA payments authorised with dynamic linking, validated, rejected and
//! cancelled.

use crate::support::xs2a::{Answer, REDIRECT, VERIFIER, demo_tpp};
use crate::support::{Browser, TestServer, challenge_on, enrol_authenticator, log_in};
use fintechapi_domain::ledger::LedgerRepository;
use fintechapi_domain::psu::PsuRepository;
use fintechapi_domain::secret::pkce_s256;
use fintechapi_domain::{Clock, SystemClock};
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Changes what payment `id` is for behind the bank's back, in minor units.
async fn set_amount(server: &TestServer, id: &str, amount: i64) {
    let sql = format!("UPDATE payments SET amount = {amount} WHERE id = '{id}'");
    server.db.raw_strings(&sql).await;
}

async fn a_sepa_payment_is_authorised_with_dynamic_linking_and_executes_exactly_once(db: TestDb) {
    let (server, tpp, cc) = demo_tpp(db, "ais,pis").await;
    let store = server.db.store().await;
    let (alice, _) = store.psu_by_login("alice").await.unwrap().unwrap();
    let debtor = store.accounts_of_psu(alice.id).await.unwrap().remove(0);
    let before = debtor.balances.booked;
    let seed = enrol_authenticator(&server, "alice").await;

    // Initiation is idempotent by X-Request-ID: the same body gives the same payment.
    let body = json!({"instructedAmount": {"currency": "EUR", "amount": "12.34"}, "debtorAccount": {"iban": debtor.iban.as_ref().unwrap().as_str()}, "creditorName": "Corner Shop <b>", "creditorAccount": {"iban": "DE02120300000000202051"}, "remittanceInformationUnstructured": "Invoice 42"});
    let request_id = uuid::Uuid::new_v4().to_string();
    let initiate = |body: Value| {
        let (tpp, cc, request_id) = (&tpp, &cc, &request_id);
        async move {
            let path = "/v1/payments/sepa-credit-transfers";
            let psu = [("psu-ip-address", "192.0.2.7")];
            tpp.call_as(request_id, Method::POST, path, cc, &psu, Some(&body))
                .await
        }
    };
    let first = initiate(body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["transactionStatus"], "RCVD");
    assert_eq!(first.headers["aspsp-sca-approach"], "REDIRECT");
    let payment = first.body["paymentId"].as_str().unwrap().to_owned();
    assert_eq!(
        first.headers["location"],
        format!("/v1/payments/sepa-credit-transfers/{payment}")
    );
    let again = initiate(body.clone()).await;
    assert_eq!(
        (again.status, again.body["paymentId"].as_str()),
        (StatusCode::CREATED, Some(payment.as_str()))
    );
    let mut changed = body.clone();
    changed["instructedAmount"]["amount"] = json!("99.00");
    let conflict = initiate(changed).await;
    conflict.assert_tpp_message(StatusCode::BAD_REQUEST, "FORMAT_ERROR");
    assert_eq!(server.db.count_rows("payments").await, 1, "one payment");

    // The PSU sees amount and payee with a challenge derived from them.
    let mut psu = tpp.psu_at_login(&server, &format!("PIS:{payment}")).await;
    log_in(&mut psu, "alice", "alice-demo-2026").await;
    let page = psu.get("/bank/sca").await;
    page.assert_shows(&[
        "12.34 EUR",
        "Corner Shop &#60;b&#62;",
        "DE02 1203 0000 0000 2020 51",
    ]);
    let challenge = challenge_on(&page.body);
    let response = seed.ocra_response(&challenge).unwrap();
    // TOTP alone does not authorise a payment.
    let totp = seed.code_at(SystemClock.now()).unwrap();
    assert_eq!(
        psu.submit("/bank/sca", &[("code", &totp)], &page.csrf())
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // The amount changes after the challenge: the answer no longer fits.
    set_amount(&server, &payment, 99900).await;
    assert_eq!(
        psu.submit("/bank/sca", &[("code", &response)], &page.csrf())
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    set_amount(&server, &payment, 1234).await;
    let ok = psu
        .submit("/bank/sca", &[("code", &response)], &page.csrf())
        .await;
    ok.assert_redirect("/bank/consent");
    let screen = psu.get("/bank/consent").await;
    assert!(screen.body.contains("Approve this payment?") && screen.body.contains("Invoice 42"));
    let tokens = tpp.approve_for_tokens(&mut psu, &screen).await;
    assert!(
        tokens.body.get("refresh_token").is_none(),
        "a payment authorization has no refresh token"
    );
    let token = tokens.body["access_token"].as_str().unwrap().to_owned();

    let status = tpp
        .get(
            &format!("/v1/payments/sepa-credit-transfers/{payment}/status"),
            &token,
            &[],
        )
        .await;
    assert_eq!(status.body["transactionStatus"], "ACSC", "{}", status.body);
    let resource = format!("/v1/payments/sepa-credit-transfers/{payment}");
    assert_eq!(tpp.first_sca_status(&resource, &cc).await, "finalised");
    let cancellations = tpp
        .get(
            &format!("/v1/payments/sepa-credit-transfers/{payment}/cancellation-authorisations"),
            &cc,
            &[],
        )
        .await;
    assert_eq!(cancellations.body, json!({"authorisationIds": []}));
    let moved = store.account(debtor.id).await.unwrap().unwrap();
    assert_eq!(
        moved.balances.booked,
        before - 1234,
        "the ledger moved once"
    );
    assert!(store.audit().await.unwrap().is_consistent());
    let cancel = tpp
        .delete(
            &format!("/v1/payments/sepa-credit-transfers/{payment}"),
            &cc,
            &[],
        )
        .await;
    cancel.assert_tpp_message(StatusCode::METHOD_NOT_ALLOWED, "CANCELLATION_INVALID");
    server.stop().await;
}
both_stores!(a_sepa_payment_is_authorised_with_dynamic_linking_and_executes_exactly_once);

async fn payments_are_validated_rejected_without_funds_and_cancelled_before_authorisation(
    db: TestDb,
) {
    let (server, tpp, cc) = demo_tpp(db, "ais,pis").await;
    let store = server.db.store().await;
    let (carol, _) = store.psu_by_login("carol").await.unwrap().unwrap();
    let debtor = store.accounts_of_psu(carol.id).await.unwrap().remove(0);
    let debtor_iban = debtor.iban.as_ref().unwrap().as_str().to_owned();
    let payment = |amount: &str| json!({"instructedAmount": {"currency": "EUR", "amount": amount}, "debtorAccount": {"iban": debtor_iban}, "creditorName": "Landlord", "creditorAccount": {"iban": "DE02120300000000202051"}});
    let post = |path: &str, body: Value, extra: Vec<(&'static str, &'static str)>| {
        let mut req = tpp
            .http
            .post(format!("{}{path}", tpp.base))
            .bearer_auth(&cc)
            .header("x-request-id", uuid::Uuid::new_v4().to_string())
            .json(&body);
        for (k, v) in extra {
            req = req.header(k, v);
        }
        async move { Answer::of(req.send().await.unwrap()).await }
    };
    let ip = || vec![("psu-ip-address", "192.0.2.7")];
    let mut bad_iban = payment("1.00");
    bad_iban["creditorAccount"]["iban"] = json!("DE00123");
    let mut usd = payment("1.00");
    usd["instructedAmount"]["currency"] = json!("USD");
    let mut past = payment("1.00");
    past["requestedExecutionDate"] = json!("2020-01-01");
    let cases = [
        (
            "/v1/payments/sepa-credit-transfers",
            payment("1.00"),
            vec![],
            StatusCode::BAD_REQUEST,
            "FORMAT_ERROR",
            "PSU-IP-Address",
        ),
        (
            "/v1/payments/sepa-credit-transfers",
            bad_iban,
            ip(),
            StatusCode::BAD_REQUEST,
            "FORMAT_ERROR",
            "creditorAccount.iban",
        ),
        (
            "/v1/payments/sepa-credit-transfers",
            usd,
            ip(),
            StatusCode::BAD_REQUEST,
            "FORMAT_ERROR",
            "instructedAmount.currency",
        ),
        (
            "/v1/payments/sepa-credit-transfers",
            past,
            ip(),
            StatusCode::BAD_REQUEST,
            "EXECUTION_DATE_INVALID",
            "requestedExecutionDate",
        ),
        (
            "/v1/payments/sepa-credit-transfers",
            payment("1.001"),
            ip(),
            StatusCode::BAD_REQUEST,
            "FORMAT_ERROR",
            "instructedAmount.amount",
        ),
        (
            "/v1/payments/sepa-credit-transfers",
            payment("0.00"),
            ip(),
            StatusCode::BAD_REQUEST,
            "FORMAT_ERROR",
            "instructedAmount.amount",
        ),
        (
            "/v1/payments/sepa-express",
            payment("1.00"),
            ip(),
            StatusCode::NOT_FOUND,
            "PRODUCT_UNKNOWN",
            "payment-product",
        ),
        (
            "/v1/bulk-payments/sepa-credit-transfers",
            payment("1.00"),
            ip(),
            StatusCode::BAD_REQUEST,
            "FORMAT_ERROR",
            "payments",
        ),
    ];
    for (path, body, extra, status, code, at) in cases {
        let a = post(path, body, extra).await;
        assert_eq!(
            (
                a.status,
                a.body["tppMessages"][0]["code"].as_str(),
                a.body["tppMessages"][0]["path"].as_str()
            ),
            (status, Some(code), Some(at)),
            "{path}: {}",
            a.body
        );
    }
    let malformed = tpp
        .http
        .post(format!("{}/v1/payments/sepa-credit-transfers", tpp.base))
        .bearer_auth(&cc)
        .header("x-request-id", uuid::Uuid::new_v4().to_string())
        .header("psu-ip-address", "192.0.2.7")
        .header("content-type", "application/json")
        .body("{\"instructedAmount\":")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);

    // Cancelled before authorisation: 204, CANC, and no authorization for it any more.
    let created = post(
        "/v1/payments/instant-sepa-credit-transfers",
        payment("5.00"),
        ip(),
    )
    .await;
    let id = created.body["paymentId"].as_str().unwrap().to_owned();
    let cancel = tpp
        .delete(
            &format!("/v1/payments/instant-sepa-credit-transfers/{id}"),
            &cc,
            &[],
        )
        .await;
    assert_eq!(cancel.status, StatusCode::NO_CONTENT);
    let status = tpp
        .get(
            &format!("/v1/payments/instant-sepa-credit-transfers/{id}/status"),
            &cc,
            &[],
        )
        .await;
    assert_eq!(status.body["transactionStatus"], "CANC");
    let par = tpp
        .form(
            "/oauth2/par",
            &[
                ("response_type", "code"),
                ("redirect_uri", REDIRECT),
                ("scope", &format!("PIS:{id}")),
                ("code_challenge", &pkce_s256(VERIFIER)),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    assert_eq!(par.body["error"], "invalid_scope");

    // More than the account holds: RJCT with AM04, and the ledger unchanged.
    let created = post(
        "/v1/payments/sepa-credit-transfers",
        payment("99999999.00"),
        ip(),
    )
    .await;
    let id = created.body["paymentId"].as_str().unwrap().to_owned();
    let mut psu = Browser::new(&server);
    let screen = psu
        .authorise(
            &tpp.link(&tpp.par_scope(&format!("PIS:{id}")).await),
            "carol",
            "carol-demo-2026",
        )
        .await;
    let approved = psu.decide(&screen, "approve").await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER);
    let status = tpp
        .get(
            &format!("/v1/payments/sepa-credit-transfers/{id}/status"),
            &cc,
            &[],
        )
        .await;
    assert_eq!(status.body["transactionStatus"], "RJCT");
    assert!(status.body["psuMessage"].as_str().unwrap().contains("AM04"));
    assert_eq!(
        crate::support::booked_balance(&server, debtor.id).await,
        debtor.balances.booked
    );
    server.stop().await;
}
both_stores!(payments_are_validated_rejected_without_funds_and_cancelled_before_authorisation);
