//! Authorization requests: every bad one refused precisely and never redirected
//! unverified; rich authorization requests that name the consent.

use crate::support::xs2a::{REDIRECT, VERIFIER, demo_tpp, psu_headers};
use crate::support::{
    Browser, SANDBOX_CODE, json_of, log_in, open, param, redirect_params, second_factor, urlencode,
};
use fintechapi_domain::secret::pkce_s256;
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;
use serde_json::json;

type Form<'a> = Vec<(&'a str, &'a str)>;

async fn authorization_requests_are_refused_precisely_and_never_redirect_unverified(db: TestDb) {
    let (server, tpp, cc) = demo_tpp(db, "ais").await;
    let consent = tpp.consent(&cc, json!({"accounts": []}), 4).await;
    let scope = format!("AIS:{consent}");
    let challenge = pkce_s256(VERIFIER);
    let base: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", &scope),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut form = base.clone();
        form.extend_from_slice(extra);
        form
    };
    let cases: Vec<(Form, &str, &str)> = vec![
        (with(&[]), "invalid_request", "PKCE is required"),
        (
            with(&[
                ("code_challenge", "abc"),
                ("code_challenge_method", "plain"),
            ]),
            "invalid_request",
            "plain PKCE",
        ),
        (
            with(&[("code_challenge", "abc")]),
            "invalid_request",
            "plain PKCE",
        ),
    ];
    for (form, error, text) in cases {
        let a = tpp.form("/oauth2/par", &form).await;
        assert_eq!(
            (a.status, a.body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some(error)),
            "{form:?}"
        );
        assert!(
            a.body["error_description"].as_str().unwrap().contains(text),
            "{}",
            a.body
        );
    }
    let unregistered = tpp
        .form(
            "/oauth2/par",
            &[
                ("response_type", "code"),
                ("redirect_uri", "https://evil.example/cb"),
                ("scope", &scope),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    assert_eq!(unregistered.body["error"], "invalid_request");
    unregistered.assert_error_describes("redirect_uri");
    let unknown_consent = tpp
        .form(
            "/oauth2/par",
            &[
                ("response_type", "code"),
                ("redirect_uri", REDIRECT),
                ("scope", "AIS:00000000-0000-4000-8000-000000000000"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    assert_eq!(unknown_consent.body["error"], "invalid_scope");

    // Once opened, a pushed request belongs to that browser: it may reload it
    // until the PSU has authenticated, another browser may not take it over.
    let request_uri = tpp.par(&consent).await;
    let mut psu = Browser::new(&server);
    open(&mut psu, &tpp.key, &request_uri).await;
    let mut second = Browser::new(&server);
    let taken = second
        .get(&format!(
            "/oauth2/authorize?client_id={}&request_uri={}",
            tpp.key,
            urlencode(&request_uri)
        ))
        .await;
    assert_eq!(taken.status, StatusCode::BAD_REQUEST);
    assert!(
        taken.body.contains("opened in another browser"),
        "{}",
        taken.body
    );
    assert!(taken.location.is_none());
    assert_eq!(
        second.get("/bank/login").await.status,
        StatusCode::BAD_REQUEST,
        "the second browser has no session"
    );
    open(&mut psu, &tpp.key, &request_uri).await;
    assert_eq!(
        psu.get("/bank/login").await.status,
        StatusCode::OK,
        "the first browser may reload"
    );
    let wrong_client = Browser::new(&server)
        .get(&format!(
            "/oauth2/authorize?client_id=ck_other&request_uri={}",
            urlencode(&request_uri)
        ))
        .await;
    assert_eq!(wrong_client.status, StatusCode::BAD_REQUEST);
    assert!(wrong_client.location.is_none());
    log_in(&mut psu, "carol", "carol-demo-2026").await;
    let mut other = Browser::new(&server);
    let replay = other
        .get(&format!(
            "/oauth2/authorize?client_id={}&request_uri={}",
            tpp.key,
            urlencode(&request_uri)
        ))
        .await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert!(replay.location.is_none());
    let unpushed = other
        .get(&format!(
            "/oauth2/authorize?client_id={}&response_type=code&redirect_uri={}",
            tpp.key,
            urlencode("https://evil.example/cb")
        ))
        .await;
    assert_eq!(unpushed.status, StatusCode::BAD_REQUEST);
    assert!(unpushed.location.is_none(), "no open redirect");

    // The PSU chooses accounts on a bank-offered consent, but denies: access_denied.
    second_factor(&mut psu, SANDBOX_CODE).await;
    let screen = psu.get("/bank/consent").await;
    assert!(
        screen.body.contains(r#"type="checkbox""#),
        "bank-offered: the PSU chooses"
    );
    let forged = psu
        .post_with(
            "/bank/consent",
            &[("decision", "approve"), ("csrf", "forged")],
            &[],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let cross_site = psu
        .post_with(
            "/bank/consent",
            &[("decision", "approve"), ("csrf", &screen.csrf())],
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
    let denied = psu.decide(&screen, "deny").await;
    let params = redirect_params(denied.location.as_deref().unwrap(), REDIRECT);
    assert_eq!(param(&params, "error"), Some("access_denied"));
    assert_eq!(param(&params, "state"), Some("st-42"));
    assert!(param(&params, "code").is_none());
    assert_eq!(tpp.consent_status(&cc, &consent).await, "rejected");
    server.stop().await;
}
both_stores!(authorization_requests_are_refused_precisely_and_never_redirect_unverified);

async fn rich_authorization_requests_name_the_consent_and_travel_with_the_grant(db: TestDb) {
    let (server, tpp, cc) = demo_tpp(db, "ais").await;
    let consent = tpp.consent(&cc, json!({"allPsd2": "allAccounts"}), 4).await;
    let details = json!([{"type": "account_information", "consentId": consent}]).to_string();
    let challenge = pkce_s256(VERIFIER);
    let base = [
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("state", "st-42"),
    ];
    let par = |extra: Vec<(&'static str, String)>| {
        let mut form: Vec<(&str, String)> =
            base.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        form.extend(extra);
        let tpp = &tpp;
        async move { tpp.form("/oauth2/par", &form).await }
    };
    let both = par(vec![
        ("authorization_details", details.clone()),
        ("scope", format!("AIS:{consent}")),
    ])
    .await;
    assert_eq!(both.body["error"], "invalid_request");
    let funds = par(vec![(
        "authorization_details",
        json!([{"type": "funds_confirmation", "account": {}}]).to_string(),
    )])
    .await;
    assert_eq!(funds.body["error"], "invalid_authorization_details");
    let pushed = par(vec![("authorization_details", details.clone())]).await;
    assert_eq!(pushed.status, StatusCode::CREATED, "{}", pushed.body);

    let code = tpp
        .code(
            &server,
            pushed.body["request_uri"].as_str().unwrap(),
            "alice",
            "alice-demo-2026",
        )
        .await;
    let tokens = tpp.exchange(&code).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    assert_eq!(
        tokens.body["authorization_details"][0]["consentId"],
        consent.as_str()
    );
    let token = tokens.body["access_token"].as_str().unwrap().to_owned();
    let introspected = tpp.form("/oauth2/introspect", &[("token", &token)]).await;
    assert_eq!(
        introspected.body["authorization_details"][0]["type"],
        "account_information"
    );
    let list = tpp
        .get("/v1/accounts", &token, &psu_headers(&consent))
        .await;
    assert_eq!(
        list.status,
        StatusCode::OK,
        "the token is bound to the consent the details named"
    );
    let meta = json_of(tpp.http.get(format!(
        "{}/.well-known/oauth-authorization-server",
        tpp.base
    )))
    .await;
    assert_eq!(
        meta["authorization_details_types_supported"],
        json!([
            "account_information",
            "payment_initiation",
            "funds_confirmation"
        ])
    );
    server.stop().await;
}
both_stores!(rich_authorization_requests_name_the_consent_and_travel_with_the_grant);
