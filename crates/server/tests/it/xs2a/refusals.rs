//! Refusals in the spec's error model: `PSU-IP-Address`, one-off consents,
//! bounds of amounts and bodies, tokens, and formats not produced (406).

use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;
use serde_json::json;

use super::{PSU_PRESENT, account_of, authorised, consent_body, iban, payment_body, reader, text};
use crate::support::xs2a::demo_tpp;

async fn psu_ip_address_is_checked_before_it_lifts_the_daily_limit_and_a_one_off_consent_serves_one_read(
    db: TestDb,
) {
    let (server, tpp, cc) = demo_tpp(db, "ais").await;
    let once = json!({"access": {"allPsd2": "allAccounts"}, "recurringIndicator": false, "validUntil": "2099-12-31", "frequencyPerDay": 1, "combinedServiceIndicator": false});
    let mut more = once.clone();
    more["frequencyPerDay"] = json!(4);
    let refused = tpp.post("/v1/consents", &cc, &[], &more).await;
    refused.assert_refusal(StatusCode::BAD_REQUEST, "FORMAT_ERROR", "frequencyPerDay");

    // A recurring consent with one access a day without the PSU.
    let mut daily = once.clone();
    daily["recurringIndicator"] = json!(true);
    let (consent, token) = authorised(&server, &tpp, "alice", &daily).await;
    let read = |ip: Option<&'static str>| {
        let (tpp, token, consent) = (&tpp, token.clone(), consent.clone());
        async move {
            let mut headers = vec![("consent-id", consent.as_str())];
            headers.extend(ip.map(|ip| ("psu-ip-address", ip)));
            tpp.get("/v1/accounts", &token, &headers).await
        }
    };
    for bad in ["not-an-ip", "192.0.2.300", "192.0.2.7, 10.0.0.1", ""] {
        let refused = read(Some(bad)).await;
        refused.assert_refusal(StatusCode::BAD_REQUEST, "FORMAT_ERROR", "PSU-IP-Address");
    }
    assert_eq!(
        read(None).await.status,
        StatusCode::OK,
        "the one access without the PSU; the refusals above counted none"
    );
    assert_eq!(read(None).await.tpp_message().0, Some("ACCESS_EXCEEDED"));
    assert_eq!(read(Some(PSU_PRESENT)).await.status, StatusCode::OK);
    assert_eq!(
        read(Some("2001:db8::7")).await.status,
        StatusCode::OK,
        "an IPv6 PSU"
    );

    // A one-off consent: its first read is its one access, PSU present or not.
    let (consent, token) = authorised(&server, &tpp, "bob", &once).await;
    let headers = [
        ("consent-id", consent.as_str()),
        ("psu-ip-address", PSU_PRESENT),
    ];
    let first = tpp.get("/v1/accounts", &token, &headers).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let account = first.body["accounts"][0]["resourceId"]
        .as_str()
        .unwrap()
        .to_owned();
    for path in [
        "/v1/accounts".to_owned(),
        format!("/v1/accounts/{account}/balances"),
    ] {
        let used = tpp.get(&path, &token, &headers).await;
        used.assert_tpp_message(StatusCode::UNAUTHORIZED, "CONSENT_EXPIRED");
        assert!(text(&used).contains("one-off"), "{}", used.body);
    }
    assert_eq!(tpp.consent_status(&cc, &consent).await, "expired");
    server.stop().await;
}
both_stores!(
    psu_ip_address_is_checked_before_it_lifts_the_daily_limit_and_a_one_off_consent_serves_one_read
);

async fn refusals_follow_the_spec_error_model(db: TestDb) {
    let (server, tpp, cc) = demo_tpp(db, "ais,pis").await;
    let debtor = account_of(&server.db.store().await, "bob").await;
    let payments = "/v1/payments/sepa-credit-transfers";
    let psu = [("psu-ip-address", PSU_PRESENT)];

    // Amounts: the spec's pattern has at most 14 integer digits; a text quoting input stays within 500 characters.
    let most = tpp
        .post(
            payments,
            &cc,
            &psu,
            &payment_body(&debtor, "99999999999999.99"),
        )
        .await;
    assert_eq!(most.status, StatusCode::CREATED, "{}", most.body);
    for amount in ["100000000000000", "123456789012345.00"] {
        let refused = tpp
            .post(payments, &cc, &psu, &payment_body(&debtor, amount))
            .await;
        refused.assert_refusal(
            StatusCode::BAD_REQUEST,
            "FORMAT_ERROR",
            "instructedAmount.amount",
        );
    }
    let long = format!("1.{}", "5".repeat(2000));
    let refused = tpp
        .post(payments, &cc, &psu, &payment_body(&debtor, &long))
        .await;
    assert_eq!(
        refused.tpp_message(),
        (Some("FORMAT_ERROR"), Some("instructedAmount.amount"))
    );
    assert_eq!(text(&refused).chars().count(), 500, "{}", text(&refused));

    // A cancelled payment cannot be cancelled again: 405.
    let id = most.body["paymentId"].as_str().unwrap();
    let cancel = tpp.delete(&format!("{payments}/{id}"), &cc, &[]).await;
    assert_eq!(cancel.status, StatusCode::NO_CONTENT);
    let again = tpp.delete(&format!("{payments}/{id}"), &cc, &[]).await;
    again.assert_tpp_message(StatusCode::METHOD_NOT_ALLOWED, "CANCELLATION_INVALID");

    // combinedServiceIndicator is required.
    let mut body = consent_body(json!({"allPsd2": "allAccounts"}));
    body.as_object_mut()
        .unwrap()
        .remove("combinedServiceIndicator");
    let refused = tpp.post("/v1/consents", &cc, &[], &body).await;
    refused.assert_refusal(
        StatusCode::BAD_REQUEST,
        "FORMAT_ERROR",
        "combinedServiceIndicator",
    );

    // Account reads: a client token without Consent-ID is a malformed request;
    // with one it did not authorise by Redirect, the consent is invalid and
    // the 401 says how to authenticate.
    let consent = tpp.consent(&cc, json!({"allPsd2": "allAccounts"}), 4).await;
    let missing = tpp.get("/v1/accounts", &cc, &[]).await;
    missing.assert_refusal(StatusCode::BAD_REQUEST, "FORMAT_ERROR", "Consent-ID");
    let invalid = tpp
        .get("/v1/accounts", &cc, &[("consent-id", &consent)])
        .await;
    invalid.assert_tpp_message(StatusCode::UNAUTHORIZED, "CONSENT_INVALID");
    let challenge = invalid.headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\""),
        "{challenge}"
    );

    // RFC 6750 §3.1: no token, no error code in the challenge; a bad token, invalid_token.
    let no_token = tpp
        .http
        .get(format!("{}/v1/accounts", tpp.base))
        .header("x-request-id", uuid::Uuid::new_v4().to_string())
        .header("consent-id", &consent)
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);
    let challenge = no_token.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer") && !challenge.contains("error"),
        "{challenge}"
    );
    let bad = tpp
        .get("/v1/accounts", "no-such-token", &[("consent-id", &consent)])
        .await;
    bad.assert_tpp_message(StatusCode::UNAUTHORIZED, "TOKEN_INVALID");

    // The router's own refusals under /v1 are tppMessages too.
    let unknown = tpp.get("/v1/no-such-service", &cc, &[]).await;
    unknown.assert_tpp_message(StatusCode::NOT_FOUND, "RESOURCE_UNKNOWN");
    let method = tpp.delete("/v1/accounts", &cc, &[]).await;
    assert_eq!(method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(method.tpp_message().0.is_some(), "{}", method.body);
    let big = json!({"access": {"allPsd2": "x".repeat(2 * 1024 * 1024)}});
    let too_large = tpp.post("/v1/consents", &cc, &[], &big).await;
    too_large.assert_tpp_message(StatusCode::PAYLOAD_TOO_LARGE, "FORMAT_ERROR");
    server.stop().await;
}
both_stores!(refusals_follow_the_spec_error_model);

async fn formats_not_produced_are_refused_with_406(db: TestDb) {
    let (server, tpp, cc) = demo_tpp(db, "ais,pis").await;
    let debtor = account_of(&server.db.store().await, "bob").await;
    let payments = "/v1/payments/sepa-credit-transfers";
    let created = tpp
        .post(
            payments,
            &cc,
            &[("psu-ip-address", PSU_PRESENT)],
            &payment_body(&debtor, "5.00"),
        )
        .await;
    let status = format!(
        "{payments}/{}/status",
        created.body["paymentId"].as_str().unwrap()
    );
    // A status is JSON or a pain.002 report (`application/xml`), nothing else.
    for accept in [
        "text/plain",
        "text/html, image/*",
        "application/json;q=0, application/xml;q=0, */*",
    ] {
        let refused = tpp.get(&status, &cc, &[("accept", accept)]).await;
        refused.assert_refusal(
            StatusCode::NOT_ACCEPTABLE,
            "REQUESTED_FORMATS_INVALID",
            "Accept",
        );
    }
    for accept in [
        "*/*",
        "application/json",
        "application/xml;q=0.9, application/json",
        "application/*",
    ] {
        let served = tpp.get(&status, &cc, &[("accept", accept)]).await;
        assert_eq!(
            (served.status, served.body["transactionStatus"].as_str()),
            (StatusCode::OK, Some("RCVD")),
            "{accept}"
        );
    }

    let account = account_of(&server.db.store().await, "alice").await;
    let alice = reader(
        &server,
        &tpp,
        "alice",
        json!({"transactions": [{"iban": iban(&account)}]}),
    )
    .await;
    let transactions = format!(
        "/v1/accounts/{}/transactions?bookingStatus=booked",
        account.id
    );
    let headers = [
        ("consent-id", alice.consent.as_str()),
        ("psu-ip-address", PSU_PRESENT),
    ];
    // A transaction report is JSON, camt (`application/xml`) or MT940 (`text/plain`).
    for accept in [
        "text/html",
        "application/pdf",
        "application/json;q=0, image/*",
    ] {
        let refused = tpp
            .get(
                &transactions,
                &alice.token,
                &[headers[0], headers[1], ("accept", accept)],
            )
            .await;
        refused.assert_tpp_message(StatusCode::NOT_ACCEPTABLE, "REQUESTED_FORMATS_INVALID");
    }
    let served = tpp
        .get(
            &transactions,
            &alice.token,
            &[headers[0], headers[1], ("accept", "application/json")],
        )
        .await;
    assert_eq!(served.status, StatusCode::OK, "{}", served.body);
    server.stop().await;
}
both_stores!(formats_not_produced_are_refused_with_406);
