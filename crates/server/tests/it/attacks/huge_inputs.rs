//! Huge inputs: long states, many form names, deep JSON, big arrays and files.

use std::time::{Duration, Instant};

use super::healthy;
use crate::support::TestServer;
use crate::support::xs2a::{REDIRECT, Tpp, demo_tpp};
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A too-large XS2A input is refused with a tppMessage, and the server stays healthy.
async fn refused_and_still_healthy(server: &TestServer, status: StatusCode, body: &Value) {
    assert!(
        matches!(
            status,
            StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE
        ),
        "{status} {body}"
    );
    assert!(body["tppMessages"][0]["code"].is_string(), "{body}");
    healthy(server).await;
}

/// One pushed authorization request for `consent`, with `extra` parameters.
async fn push(tpp: &Tpp, consent: &str, extra: &[(&str, &str)]) -> (StatusCode, Value) {
    let challenge =
        fintechapi_domain::secret::pkce_s256("a-pkce-code-verifier-of-fifty-characters-0123456789");
    let scope = format!("AIS:{consent}");
    let mut form = vec![
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", scope.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    form.extend_from_slice(extra);
    let pushed = tpp.form("/oauth2/par", &form).await;
    (pushed.status, pushed.body)
}

async fn par_takes_a_state_over_a_thousand_characters_and_never_drops_a_request_object(db: TestDb) {
    let (server, tpp, token) = demo_tpp(db, "ais").await;
    let consent = tpp
        .consent(&token, json!({"allPsd2": "allAccounts"}), 4)
        .await;

    // FAPI 2.0: clients may send a state of more than 1,000 characters.
    let long_state = "s".repeat(1500);
    let (status, body) = push(&tpp, &consent, &[("state", &long_state)]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let too_long = "s".repeat(4097);
    let (status, body) = push(&tpp, &consent, &[("state", &too_long)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request", "{body}");

    // A request object is processed, never dropped with what it carries: beside
    // form parameters it is refused, and alone this client (no keys) cannot sign one.
    let object = ("request", "eyJhbGciOiJFUzI1NiJ9.e30.c2ln");
    let (status, body) = push(&tpp, &consent, &[object]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request", "{body}");
    let alone = tpp.form("/oauth2/par", &[object]).await;
    alone.assert_oauth_error(StatusCode::BAD_REQUEST, "invalid_request_object");
    let meta: Value = server
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(meta["request_parameter_supported"], true);
    healthy(&server).await;
    server.stop().await;
}
both_stores!(par_takes_a_state_over_a_thousand_characters_and_never_drops_a_request_object);

// ---------------------------------------------------------------- slow clients

/// A form of `count` distinct, empty parameters (`a=&b=&…`).
fn many_names(count: usize) -> String {
    let mut body = String::with_capacity(count * 6);
    for i in 0..count {
        if i > 0 {
            body.push('&');
        }
        let mut n = i;
        loop {
            body.push(char::from(b'a' + (n % 26) as u8));
            n /= 26;
            if n == 0 {
                break;
            }
        }
        body.push('=');
    }
    body
}

async fn a_form_of_125000_names_gets_an_oauth_error_within_a_second_on_every_endpoint(db: TestDb) {
    let server = TestServer::start(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let body = many_names(125_000);
    for path in [
        "/oauth2/token",
        "/oauth2/par",
        "/oauth2/introspect",
        "/oauth2/revoke",
    ] {
        let started = Instant::now();
        let health = tokio::spawn({
            let client = server.client();
            let url = server.url("/healthz");
            async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let started = Instant::now();
                let answered = client
                    .get(url)
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
                assert!(
                    answered.is_ok(),
                    "/healthz did not answer within 10 s: {answered:?}"
                );
                started.elapsed()
            }
        });
        let resp = server
            .client()
            .post(server.url(path))
            .basic_auth(&tpp.key, Some(&tpp.secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: no answer within 10 s: {e}"));
        let status = resp.status();
        let answer: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(
            matches!(
                status,
                StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE
            ),
            "{path}: {status}"
        );
        assert_eq!(answer["error"], "invalid_request", "{path}: {answer}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{path} took {:?}",
            started.elapsed()
        );
        let health = health.await.unwrap();
        assert!(
            health < Duration::from_secs(1),
            "/healthz took {health:?} meanwhile"
        );
    }
    healthy(&server).await;
    server.stop().await;
}
both_stores!(a_form_of_125000_names_gets_an_oauth_error_within_a_second_on_every_endpoint);

/// `value` nested `depth` times in arrays.
fn nested(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

async fn deeply_nested_json_gets_a_format_error_quickly_and_stores_nothing(db: TestDb) {
    let server = TestServer::start(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais,pis");
    let token = tpp.client_token().await;
    let deep = nested(100_000);
    for (path, body) in [
        (
            "/v1/consents",
            format!(
                r#"{{"access": {deep}, "recurringIndicator": true, "validUntil": "2099-12-31", "frequencyPerDay": 4, "combinedServiceIndicator": false}}"#
            ),
        ),
        (
            "/v1/payments/sepa-credit-transfers",
            format!(r#"{{"instructedAmount": {deep}}}"#),
        ),
        (
            "/v1/bulk-payments/sepa-credit-transfers",
            format!(r#"{{"payments": {deep}}}"#),
        ),
    ] {
        let answer = timed_xs2a(&server, &token, path, body).await;
        assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{path}: {}", answer.1);
        assert_eq!(
            answer.1["tppMessages"][0]["code"], "FORMAT_ERROR",
            "{path}: {}",
            answer.1
        );
        healthy(&server).await;
    }
    nothing_stored(&server).await;
    server.stop().await;
}
both_stores!(deeply_nested_json_gets_a_format_error_quickly_and_stores_nothing);

/// A JSON XS2A call answered within a second: status and body.
async fn timed_xs2a(
    server: &TestServer,
    token: &str,
    path: &str,
    body: String,
) -> (StatusCode, Value) {
    let started = Instant::now();
    let resp = server
        .client()
        .post(server.url(path))
        .bearer_auth(token)
        .header("x-request-id", uuid::Uuid::new_v4().to_string())
        .header("psu-ip-address", "192.0.2.1")
        .header("content-type", "application/json")
        .body(body)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path}: no answer within 10 s: {e}"));
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{path} took {:?}",
        started.elapsed()
    );
    (status, body)
}

/// No consent and no payment was created by the attacks.
async fn nothing_stored(server: &TestServer) {
    for table in ["consents", "payments", "payment_entries"] {
        let count = server.db.count_rows(table).await;
        assert_eq!(count, 0, "the attacks stored {table}");
    }
}

async fn huge_arrays_in_consents_and_bulk_payments_get_a_clear_error_within_a_second(db: TestDb) {
    let server = TestServer::start(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais,pis");
    let token = tpp.client_token().await;
    // Distinct IBANs (valid check digits), as many as fit in the body limit.
    let ibans: Vec<String> = (0..20_000_u64)
        .map(|i| {
            fintechapi_domain::Iban::from_bban(
                "DE",
                &format!("{:018}", 370_400_440_000_000_000 + i),
            )
            .unwrap()
            .to_string()
        })
        .collect();
    let refs: Vec<Value> = ibans.iter().map(|iban| json!({"iban": iban})).collect();
    let consent = json!({"access": {"accounts": refs, "balances": [], "transactions": []}, "recurringIndicator": true, "validUntil": "2099-12-31", "frequencyPerDay": 4, "combinedServiceIndicator": false});
    let (status, body) = timed_xs2a(&server, &token, "/v1/consents", consent.to_string()).await;
    refused_and_still_healthy(&server, status, &body).await;

    let transfer = json!({"instructedAmount": {"currency": "EUR", "amount": "1.00"}, "creditorAccount": {"iban": "DE89370400440532013000"}, "creditorName": "Payee"});
    let bulk = json!({"debtorAccount": {"iban": "DE89370400440532013000"}, "payments": vec![transfer; 8_000]});
    let (status, body) = timed_xs2a(
        &server,
        &token,
        "/v1/bulk-payments/sepa-credit-transfers",
        bulk.to_string(),
    )
    .await;
    refused_and_still_healthy(&server, status, &body).await;
    nothing_stored(&server).await;
    server.stop().await;
}
both_stores!(huge_arrays_in_consents_and_bulk_payments_get_a_clear_error_within_a_second);

async fn a_pain001_with_thousands_of_transactions_is_refused_within_a_second(db: TestDb) {
    let server = TestServer::start(db).await;
    let tpp = Tpp::new(&server, &server.db, "pis");
    let token = tpp.client_token().await;
    let transaction = r#"<CdtTrfTxInf><PmtId><EndToEndId>E2E</EndToEndId></PmtId><Amt><InstdAmt Ccy="EUR">1.00</InstdAmt></Amt><Cdtr><Nm>Payee</Nm></Cdtr><CdtrAcct><Id><IBAN>DE89370400440532013000</IBAN></Id></CdtrAcct></CdtTrfTxInf>"#;
    let count = 4_000;
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"><CstmrCdtTrfInitn><GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-11-25T10:00:00</CreDtTm><NbOfTxs>{count}</NbOfTxs><InitgPty><Nm>TPP</Nm></InitgPty></GrpHdr><PmtInf><PmtInfId>P1</PmtInfId><PmtMtd>TRF</PmtMtd><NbOfTxs>{count}</NbOfTxs><ReqdExctnDt>2026-11-25</ReqdExctnDt><Dbtr><Nm>Debtor</Nm></Dbtr><DbtrAcct><Id><IBAN>DE89370400440532013000</IBAN></Id></DbtrAcct><DbtrAgt><FinInstnId><BIC>COBADEFFXXX</BIC></FinInstnId></DbtrAgt>{}</PmtInf></CstmrCdtTrfInitn></Document>"#,
        transaction.repeat(count)
    );
    let started = Instant::now();
    let resp = server
        .client()
        .post(server.url("/v1/bulk-payments/pain.001-sepa-credit-transfers"))
        .bearer_auth(&token)
        .header("x-request-id", uuid::Uuid::new_v4().to_string())
        .header("psu-ip-address", "192.0.2.1")
        .header("content-type", "application/xml")
        .body(document)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    refused_and_still_healthy(&server, status, &body).await;
    nothing_stored(&server).await;
    server.stop().await;
}
both_stores!(a_pain001_with_thousands_of_transactions_is_refused_within_a_second);
