//! Authorization requests: PAR only, code only, PKCE S256, registered HTTPS
//! redirects.

use std::sync::Arc;

use super::{REDIRECT, fapi_client};
use crate::support::xs2a::Answer;
use crate::support::{Browser, SANDBOX_CODE, log_in, open, param, redirect_params, second_factor};
use fintechapi_domain::SystemClock;
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;

async fn fapi2_5_3_2_2_authorization_requests_par_only_code_only_pkce_s256_registered_https_redirects(
    db: TestDb,
) {
    let (server, client) = fapi_client(db, Arc::new(SystemClock)).await;
    let cc = client.client_token().await;
    let consent = client.consent(&cc).await;
    let refused = |a: &Answer, error: &str, what: &str| {
        assert_eq!(
            (a.status, a.body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some(error)),
            "{what}: {}",
            a.body
        );
    };

    // 5.3.2.2-1: response_type code only ("code id_token", "token" refused).
    for rt in ["code id_token", "token"] {
        refused(
            &client
                .par_with(&consent, &[("response_type", Some(rt))])
                .await,
            "invalid_request",
            rt,
        );
    }
    // 5.3.2.2-4: no PAR without client authentication.
    let anonymous = client
        .post(
            "/oauth2/par",
            &[
                ("response_type", "code"),
                ("client_id", &client.id),
                ("redirect_uri", REDIRECT),
                ("scope", "ais"),
            ],
            None,
        )
        .await;
    anonymous.assert_oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    // 5.3.2.2-5: PKCE with S256 only; the verifier is required and must match.
    refused(
        &client.par_with(&consent, &[("code_challenge", None)]).await,
        "invalid_request",
        "no PKCE",
    );
    refused(
        &client
            .par_with(&consent, &[("code_challenge_method", Some("plain"))])
            .await,
        "invalid_request",
        "plain PKCE",
    );
    // 5.3.2.2-6 and -8: redirect_uri required, registered, and never plain http.
    refused(
        &client.par_with(&consent, &[("redirect_uri", None)]).await,
        "invalid_request",
        "no redirect_uri",
    );
    refused(
        &client
            .par_with(
                &consent,
                &[("redirect_uri", Some("http://fapi.example/cb"))],
            )
            .await,
        "invalid_request",
        "http redirect_uri",
    );
    // request_uri is not accepted inside PAR.
    refused(
        &client
            .par_with(
                &consent,
                &[("request_uri", Some("urn:ietf:params:oauth:request_uri:x"))],
            )
            .await,
        "invalid_request",
        "request_uri in PAR",
    );
    // 5.3.2.2-12: request_uri lives less than 600 s.
    let par = client.par_with(&consent, &[]).await;
    assert_eq!(par.status, StatusCode::CREATED);
    assert!(par.body["expires_in"].as_i64().unwrap() < 600);

    // 5.3.2.2-3: an authorization request not sent via PAR is refused (a page, no redirect).
    let mut browser = Browser::new(&server);
    let direct = browser
        .get(&format!(
            "/oauth2/authorize?client_id={}&response_type=code&redirect_uri={}\
             &scope=AIS:{consent}&code_challenge=x&code_challenge_method=S256",
            client.id,
            crate::support::urlencode(REDIRECT)
        ))
        .await;
    assert_eq!(direct.status, StatusCode::BAD_REQUEST);
    assert!(direct.location.is_none());

    // 5.3.2.2-7, -10, -11, -13: the PSU sees who asks; the answer is a 303 carrying iss.
    let request_uri = par.body["request_uri"].as_str().unwrap().to_owned();
    open(&mut browser, &client.id, &request_uri).await;
    let login = browser.get("/bank/login").await;
    assert!(login.body.contains("Fapi App") && login.body.contains("Fapi TPP AG"));
    log_in(&mut browser, "bob", "bob-demo-2026").await;
    second_factor(&mut browser, SANDBOX_CODE).await;
    let screen = browser.get("/bank/consent").await;
    assert!(
        screen.body.contains("Fapi TPP AG") && screen.body.contains("AISP"),
        "client identity and scope shown"
    );
    let answer = browser.decide(&screen, "approve").await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "303, never 307");
    let params = redirect_params(answer.location.as_deref().unwrap(), REDIRECT);
    assert_eq!(param(&params, "iss"), Some(server.base_url.as_str()));
    let code = param(&params, "code").unwrap().to_owned();

    // 5.3.2.2-5: a wrong verifier is refused without spending the code (only a
    // valid redemption uses it); 5.3.2.2-9: a code once used is refused.
    let wrong = client
        .authenticated(
            "/oauth2/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                (
                    "code_verifier",
                    "a-wrong-verifier-that-is-long-enough-to-be-well-formed-000",
                ),
            ],
            Some(client.proof("POST", "/oauth2/token", None)),
        )
        .await;
    refused(&wrong, "invalid_grant", "wrong verifier");
    let redeemed = client
        .exchange(&code, Some(client.proof("POST", "/oauth2/token", None)))
        .await;
    assert_eq!(redeemed.status, StatusCode::OK, "{}", redeemed.body);
    let reused = client
        .exchange(&code, Some(client.proof("POST", "/oauth2/token", None)))
        .await;
    refused(&reused, "invalid_grant", "reused code");
    server.stop().await;
}
both_stores!(
    fapi2_5_3_2_2_authorization_requests_par_only_code_only_pkce_s256_registered_https_redirects
);
