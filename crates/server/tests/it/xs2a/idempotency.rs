//! The 24-hour idempotency of `X-Request-ID` on consents and payments, also
//! under concurrent duplicates, and the header required as a UUID.

use fintechapi_domain::{Clock, ManualClock, SystemClock};
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{PSU_PRESENT, account_of, authorised, consent_body, payment_body, stored};
use crate::support::xs2a::{Answer, Tpp, demo_tpp};

async fn an_x_request_id_names_one_consent_and_one_payment_for_24_hours(db: TestDb) {
    let clock = ManualClock::new(SystemClock.now());
    let server = crate::support::demo_server_at(db, &clock).await;
    let tpp = Tpp::new(&server, &server.db, "ais,pis");
    let debtor = account_of(&server.db.store().await, "bob").await;
    let request_id = uuid::Uuid::new_v4().to_string();
    let consent = consent_body(json!({"allPsd2": "allAccounts"}));
    let other_consent = consent_body(json!({"availableAccounts": "allAccounts"}));
    let payment = payment_body(&debtor, "10.00");
    let other_payment = payment_body(&debtor, "11.00");
    let payments = "/v1/payments/sepa-credit-transfers";
    // Both resources with the one X-Request-ID; the ids created, or the refusal.
    let post = |body: &Value, path: &'static str| {
        let (tpp, request_id, body) = (&tpp, request_id.clone(), body.clone());
        async move {
            let token = tpp.client_token().await;
            tpp.call_as(
                &request_id,
                Method::POST,
                path,
                &token,
                &[("psu-ip-address", PSU_PRESENT)],
                Some(&body),
            )
            .await
        }
    };
    let created = |a: &Answer, key: &str| {
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        a.body[key].as_str().unwrap().to_owned()
    };

    let first_consent = created(&post(&consent, "/v1/consents").await, "consentId");
    let first_payment = created(&post(&payment, payments).await, "paymentId");

    // A second before the day is over: the first answer again, another body refused.
    clock.advance(time::Duration::hours(24) - time::Duration::seconds(1));
    assert_eq!(
        created(&post(&consent, "/v1/consents").await, "consentId"),
        first_consent
    );
    assert_eq!(
        created(&post(&payment, payments).await, "paymentId"),
        first_payment
    );
    for (body, path) in [(&other_consent, "/v1/consents"), (&other_payment, payments)] {
        let refused = post(body, path).await;
        refused.assert_refusal(StatusCode::BAD_REQUEST, "FORMAT_ERROR", "X-Request-ID");
        assert!(
            refused.body["tppMessages"][0]["text"]
                .as_str()
                .unwrap()
                .contains("24 hours")
        );
    }
    assert_eq!(stored(&server).await, (1, 1));

    // 24 hours after the first use the X-Request-ID creates anew, and names the new ones.
    clock.advance(time::Duration::seconds(1));
    let second_consent = created(&post(&consent, "/v1/consents").await, "consentId");
    let second_payment = created(&post(&payment, payments).await, "paymentId");
    assert_ne!(second_consent, first_consent);
    assert_ne!(second_payment, first_payment);
    clock.advance(time::Duration::hours(1));
    assert_eq!(
        created(&post(&consent, "/v1/consents").await, "consentId"),
        second_consent
    );
    assert_eq!(
        created(&post(&payment, payments).await, "paymentId"),
        second_payment
    );
    assert_eq!(
        post(&other_consent, "/v1/consents").await.tpp_message(),
        (Some("FORMAT_ERROR"), Some("X-Request-ID"))
    );
    assert_eq!(stored(&server).await, (2, 2));

    // The first ones are still there, unchanged.
    let cc = tpp.client_token().await;
    let read = tpp
        .get(&format!("/v1/consents/{first_consent}"), &cc, &[])
        .await;
    assert_eq!(
        (read.status, read.body["consentStatus"].as_str()),
        (StatusCode::OK, Some("received"))
    );
    let status = tpp
        .get(&format!("{payments}/{first_payment}/status"), &cc, &[])
        .await;
    assert_eq!(
        (status.status, status.body["transactionStatus"].as_str()),
        (StatusCode::OK, Some("RCVD"))
    );
    server.stop().await;
}
both_stores!(an_x_request_id_names_one_consent_and_one_payment_for_24_hours);

async fn concurrent_duplicates_of_one_request_create_one_consent_and_one_payment(db: TestDb) {
    let (server, tpp, cc) = demo_tpp(db, "ais,pis").await;
    let debtor = account_of(&server.db.store().await, "bob").await;
    for (path, body, key) in [
        (
            "/v1/consents",
            consent_body(json!({"allPsd2": "allAccounts"})),
            "consentId",
        ),
        (
            "/v1/payments/sepa-credit-transfers",
            payment_body(&debtor, "3.00"),
            "paymentId",
        ),
    ] {
        let request_id = uuid::Uuid::new_v4().to_string();
        let send = || {
            tpp.call_as(
                &request_id,
                Method::POST,
                path,
                &cc,
                &[("psu-ip-address", PSU_PRESENT)],
                Some(&body),
            )
        };
        let (a, b, c, d, e, f) = tokio::join!(send(), send(), send(), send(), send(), send());
        let ids: Vec<String> = [a, b, c, d, e, f]
            .iter()
            .map(|r| {
                assert_eq!(r.status, StatusCode::CREATED, "{path}: {}", r.body);
                r.body[key].as_str().unwrap().to_owned()
            })
            .collect();
        assert!(
            ids.iter().all(|id| *id == ids[0]),
            "{path}: one resource for all: {ids:?}"
        );
    }
    assert_eq!(stored(&server).await, (1, 1));
    server.stop().await;
}
both_stores!(concurrent_duplicates_of_one_request_create_one_consent_and_one_payment);

async fn every_xs2a_call_needs_the_tpps_own_x_request_id_as_a_uuid(db: TestDb) {
    let (server, tpp, cc) = demo_tpp(db, "ais,pis").await;
    let (consent, psu_token) = authorised(
        &server,
        &tpp,
        "alice",
        &consent_body(json!({"allPsd2": "allAccounts"})),
    )
    .await;
    let send =
        |method: Method, path: &str, token: &str, request_id: Option<&str>, body: Option<Value>| {
            let mut req = tpp
                .http
                .request(method, format!("{}{path}", tpp.base))
                .bearer_auth(token)
                .header("consent-id", &consent)
                .header("psu-ip-address", PSU_PRESENT);
            if let Some(id) = request_id {
                req = req.header("x-request-id", id);
            }
            if let Some(body) = body {
                req = req.json(&body);
            }
            async move { Answer::of(req.send().await.unwrap()).await }
        };
    // Without it, or with anything but a UUID: 400 before anything happens,
    // also on the routes that refuse every request.
    let calls = [
        (
            Method::GET,
            "/v1/accounts".to_owned(),
            psu_token.as_str(),
            None,
        ),
        (
            Method::POST,
            "/v1/consents".to_owned(),
            cc.as_str(),
            Some(consent_body(json!({"allPsd2": "allAccounts"}))),
        ),
        (
            Method::GET,
            format!("/v1/consents/{consent}"),
            cc.as_str(),
            None,
        ),
        (
            Method::PUT,
            format!("/v1/consents/{consent}/authorisations/x"),
            cc.as_str(),
            Some(json!({})),
        ),
        (
            Method::POST,
            "/v1/signing-baskets".to_owned(),
            cc.as_str(),
            Some(json!({})),
        ),
    ];
    for (method, path, token, body) in calls {
        for request_id in [None, Some("not-a-uuid"), Some("12345")] {
            let refused = send(method.clone(), &path, token, request_id, body.clone()).await;
            refused.assert_refusal(StatusCode::BAD_REQUEST, "FORMAT_ERROR", "X-Request-ID");
        }
    }
    assert_eq!(
        server.db.count_rows("consents").await,
        1,
        "no consent made without an X-Request-ID"
    );
    let id = uuid::Uuid::new_v4().to_string();
    let read = send(Method::GET, "/v1/accounts", &psu_token, Some(&id), None).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    server.stop().await;
}
both_stores!(every_xs2a_call_needs_the_tpps_own_x_request_id_as_a_uuid);
