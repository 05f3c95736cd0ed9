//! Funds confirmation under the holder's PIIS consent.

use super::online_banking;
use crate::support::Browser;
use crate::support::accounts_of;
use crate::support::xs2a::{REDIRECT, VERIFIER, demo_tpp};
use fintechapi_domain::secret::pkce_s256;
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn funds_confirmation_needs_the_holders_piis_consent_and_answers_yes_or_no(db: TestDb) {
    let (server, tpp, cc) = demo_tpp(db, "ais,piis").await;
    let account = accounts_of(&server, "bob").await.remove(0);
    let iban = crate::support::iban(&account);
    let available =
        fintechapi_domain::Money::from_minor(account.balances.available(), account.currency)
            .to_decimal_string();
    let ask = |iban: &str, amount: &str| json!({"account": {"iban": iban}, "instructedAmount": {"currency": "EUR", "amount": amount}});

    // Without the holder's consent the bank answers nothing about the account.
    let unasked = tpp
        .post("/v1/funds-confirmations", &cc, &[], &ask(&iban, "1.00"))
        .await;
    unasked.assert_tpp_message(StatusCode::BAD_REQUEST, "NO_PIIS_ACTIVATION");

    // RFC 9396: the pushed request asks for a funds-confirmation consent on bob's account.
    let challenge = pkce_s256(VERIFIER);
    let par = |details: Value| {
        let form = vec![
            ("response_type", "code".to_owned()),
            ("redirect_uri", REDIRECT.to_owned()),
            ("code_challenge", challenge.clone()),
            ("code_challenge_method", "S256".to_owned()),
            ("authorization_details", details.to_string()),
        ];
        let tpp = &tpp;
        async move { tpp.form("/oauth2/par", &form).await }
    };
    let past = par(json!([{"type": "funds_confirmation", "account": {"iban": iban}, "validUntil": "2020-01-01"}])).await;
    assert_eq!(past.body["error"], "invalid_authorization_details");
    let pushed = par(json!([{"type": "funds_confirmation", "account": {"iban": iban}}])).await;
    assert_eq!(pushed.status, StatusCode::CREATED, "{}", pushed.body);
    let mut psu = Browser::new(&server);
    let screen = psu
        .authorise(
            &tpp.link(pushed.body["request_uri"].as_str().unwrap()),
            "bob",
            "bob-demo-2026",
        )
        .await;
    screen.assert_shows(&["check your available funds", "never your balance"]);
    let tokens = tpp.approve_for_tokens(&mut psu, &screen).await;
    let consent = tokens.body["authorization_details"][0]["consentId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(tokens.body["scope"], format!("PIIS:{consent}"));
    let token = tokens.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(tpp.consent_status(&cc, &consent).await, "valid");

    // The bound token, or the client's token with Consent-ID: yes or no, nothing more.
    let yes = tpp
        .post(
            "/v1/funds-confirmations",
            &token,
            &[],
            &ask(&iban, &available),
        )
        .await;
    assert_eq!(
        (yes.status, &yes.body),
        (StatusCode::OK, &json!({"fundsAvailable": true}))
    );
    let no = tpp
        .post(
            "/v1/funds-confirmations",
            &cc,
            &[("consent-id", consent.as_str())],
            &ask(&iban, "99999999.00"),
        )
        .await;
    assert_eq!(no.body, json!({"fundsAvailable": false}), "{}", no.body);
    let other = accounts_of(&server, "bob").await.remove(1);
    let elsewhere = tpp
        .post(
            "/v1/funds-confirmations",
            &token,
            &[],
            &ask(other.iban.as_ref().unwrap().as_str(), "1.00"),
        )
        .await;
    assert_eq!(
        (elsewhere.status, elsewhere.tpp_message().1),
        (StatusCode::BAD_REQUEST, Some("account.iban")),
        "another account of bob's is not covered"
    );
    let unknown = tpp
        .post(
            "/v1/funds-confirmations",
            &cc,
            &[("consent-id", "00000000-0000-4000-8000-000000000001")],
            &ask(&iban, "1.00"),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.tpp_message().0),
        (StatusCode::BAD_REQUEST, Some("CONSENT_UNKNOWN")),
        "an unknown Consent-ID header"
    );
    let forged = tpp
        .post(
            "/v1/funds-confirmations",
            &token,
            &[("consent-id", "00000000-0000-4000-8000-000000000001")],
            &ask(&iban, "1.00"),
        )
        .await;
    forged.assert_tpp_message(StatusCode::UNAUTHORIZED, "CONSENT_INVALID");
    // A funds-confirmation grant reads no accounts, and cannot be made an
    // account-information one by a Redirect authorisation of the consent.
    let refused = tpp
        .get("/v1/accounts", &token, &[("consent-id", consent.as_str())])
        .await;
    refused.assert_tpp_message(StatusCode::UNAUTHORIZED, "CONSENT_INVALID");
    let redirect = [
        ("tpp-redirect-preferred", "true"),
        ("tpp-redirect-uri", REDIRECT),
    ];
    let start = tpp
        .post(
            &format!("/v1/consents/{consent}/authorisations"),
            &cc,
            &redirect,
            &json!({}),
        )
        .await;
    start.assert_tpp_message(StatusCode::FORBIDDEN, "CONSENT_UNKNOWN");
    let introspected = tpp.form("/oauth2/introspect", &[("token", &token)]).await;
    assert_eq!(
        introspected.body["authorization_details"][0]["type"],
        "funds_confirmation"
    );

    // Bob withdraws it in online banking: the very next question is refused.
    let mut online = online_banking(&server, "bob", "bob-demo-2026").await;
    let list = online.get("/bank/online/consents").await;
    let withdrawn = online.withdraw_consent(&consent, &list).await;
    assert!(
        withdrawn.body.contains("Access withdrawn"),
        "{}",
        withdrawn.body
    );
    let after = tpp
        .post("/v1/funds-confirmations", &token, &[], &ask(&iban, "1.00"))
        .await;
    after.assert_tpp_message(StatusCode::UNAUTHORIZED, "CONSENT_INVALID");

    // An account that is not the PSU's cannot be granted.
    let foreign =
        par(json!([{"type": "funds_confirmation", "account": {"iban": "DE02120300000000202051"}}]))
            .await;
    let mut psu = Browser::new(&server);
    let screen = psu
        .authorise(
            &tpp.link(foreign.body["request_uri"].as_str().unwrap()),
            "bob",
            "bob-demo-2026",
        )
        .await;
    assert!(screen.body.contains("not one of yours"), "{}", screen.body);

    // A funds-confirmation consent is authorised with its pushed request only.
    let headers = [
        ("psu-ip-address", "192.0.2.7"),
        ("tpp-redirect-preferred", "true"),
        ("tpp-redirect-uri", REDIRECT),
    ];
    let basket = json!({"consentIds": [consent]});
    let basket = tpp
        .post("/v1/signing-baskets", &cc, &headers, &basket)
        .await;
    basket.assert_refusal(
        StatusCode::CONFLICT,
        "REFERENCE_MIX_INVALID",
        "consentIds[0]",
    );
    server.stop().await;
}
both_stores!(funds_confirmation_needs_the_holders_piis_consent_and_answers_yes_or_no);
