//! CR/LF and control characters in every header-reaching value.

use std::time::Duration;

use super::{crlf, healthy};
use crate::support::xs2a::{REDIRECT, Tpp};
use crate::support::{Browser, TestServer, config_for, urlencode};
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A raw HTTP/1.1 exchange over TLS: the response head and body as text.
async fn raw(server: &TestServer, request: &[u8]) -> String {
    let mut tls = crate::support::tls_connect(server).await;
    tls.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

/// The header lines of a raw response.
fn head(response: &str) -> Vec<String> {
    response
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .lines()
        .map(|l| l.to_ascii_lowercase())
        .collect()
}

fn nothing_injected(headers: &[String], what: &str) {
    assert!(
        !headers.iter().any(|h| h.starts_with("set-cookie: injected")
            || h.contains("injected=1")
            || h.starts_with("location: https://evil")),
        "{what}: injected header in {headers:?}"
    );
}

async fn crlf_and_control_characters_in_raw_headers_get_a_clean_400_and_inject_nothing(db: TestDb) {
    let server = TestServer::start(db).await;
    for payload in crlf() {
        for header in [
            "X-Request-ID",
            "TPP-Redirect-URI",
            "PSU-IP-Address",
            "Consent-ID",
            "TPP-Nok-Redirect-URI",
            "DPoP",
        ] {
            for path in ["/v1/consents", "/oauth2/token", "/portal/login"] {
                let request = format!(
                    "POST {path} HTTP/1.1\r\nHost: localhost\r\n{header}: {payload}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let response = raw(&server, request.as_bytes()).await;
                let lines = head(&response);
                nothing_injected(&lines, &format!("{header} on {path}"));
                // A header the parser refuses is a 400; a value it takes is the
                // endpoint's own client error (never 2xx for this garbage, never 5xx).
                let status = lines.first().cloned().unwrap_or_default();
                assert!(
                    status.starts_with("http/1.1 4") || response.is_empty(),
                    "{header} {payload:?} on {path}: {status}"
                );
            }
        }
    }
    healthy(&server).await;
    server.stop().await;
}
both_stores!(crlf_and_control_characters_in_raw_headers_get_a_clean_400_and_inject_nothing);

async fn crlf_in_header_reaching_parameters_is_refused_in_each_surfaces_format(db: TestDb) {
    // Every payload is also a failed client authentication from one address:
    // room for them all, so each gets its own answer rather than the hold.
    let mut config = config_for(&db);
    config.oauth.client_auth_failures_per_address_per_minute = 1000;
    let server = TestServer::start_with(db, config).await;
    let tpp = Tpp::new(&server, &server.db, "ais,pis");
    let token = tpp.client_token().await;
    let http = fintechapi_testkit::https_client(&server.ca)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for payload in crlf() {
        let p = urlencode(&payload);
        // Pages: the authorization endpoint and the Redirect link show a page, never redirect.
        for path in [
            format!("/oauth2/authorize?client_id={}&request_uri={p}", tpp.key),
            format!("/oauth2/authorize?client_id={p}&request_uri={p}"),
            format!("/bank/redirect?token={p}"),
        ] {
            let resp = http.get(server.url(&path)).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{path} {payload:?}");
            assert!(
                resp.headers().get("location").is_none(),
                "{path} redirected"
            );
            assert!(
                resp.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/html"),
                "{path}"
            );
            assert!(
                !resp
                    .headers()
                    .get_all("set-cookie")
                    .iter()
                    .any(|c| c.to_str().unwrap().contains("injected"))
            );
        }
        // OAuth: redirect_uri and state in a pushed request; RFC 6749 errors.
        let injected_redirect = format!("{REDIRECT}{payload}");
        for form in [
            vec![
                ("response_type", "code"),
                ("redirect_uri", injected_redirect.as_str()),
                ("scope", "ais"),
                ("state", "s"),
            ],
            vec![
                ("response_type", "code"),
                ("redirect_uri", REDIRECT),
                ("scope", "ais"),
                ("state", payload.as_str()),
            ],
        ] {
            let resp = http
                .post(server.url("/oauth2/par"))
                .basic_auth(&tpp.key, Some(&tpp.secret))
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["error"], "invalid_request", "{body}");
        }
        // A client id with the payload, in the body and in the Basic header: invalid_client.
        for path in [
            "/oauth2/token",
            "/oauth2/par",
            "/oauth2/introspect",
            "/oauth2/revoke",
        ] {
            let in_body = http
                .post(server.url(path))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", &payload),
                    ("client_secret", "x"),
                    ("token", "t"),
                ])
                .send()
                .await
                .unwrap();
            let in_basic = http
                .post(server.url(path))
                .basic_auth(&payload, Some(&payload))
                .form(&[("grant_type", "client_credentials"), ("token", "t")])
                .send()
                .await
                .unwrap();
            for resp in [in_body, in_basic] {
                assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{path}");
                let body: Value = resp.json().await.unwrap();
                assert_eq!(body["error"], "invalid_client", "{path}: {body}");
            }
        }
        // Logins with the payload: the bank's and online banking's pages.
        let mut psu = Browser::new(&server);
        let csrf = psu.get("/bank/online").await.csrf();
        let page = psu
            .submit(
                "/bank/online/login",
                &[("login", &payload), ("password", &payload)],
                &csrf,
            )
            .await;
        assert!(
            page.status.is_client_error(),
            "online-banking login with {payload:?}: {}",
            page.status
        );
        // XS2A: header values a response or a redirect could carry; tppMessages.
        let consent = json!({"access": {"allPsd2": "allAccounts"}, "recurringIndicator": true, "validUntil": "2099-12-31", "frequencyPerDay": 4, "combinedServiceIndicator": false});
        let printable: String = payload
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let redirect_header = format!("{REDIRECT}?{}", urlencode(&payload));
        for (header, value) in [
            ("x-request-id", printable.clone()),
            ("tpp-redirect-uri", redirect_header),
            ("consent-id", printable.clone()),
        ] {
            let mut request = http
                .post(server.url("/v1/consents"))
                .bearer_auth(&token)
                .json(&consent)
                .header("tpp-redirect-preferred", "true")
                .header(header, &value);
            if header != "x-request-id" {
                request = request.header("x-request-id", uuid::Uuid::new_v4().to_string());
            }
            let resp = request.send().await.unwrap();
            let status = resp.status();
            assert!(resp.headers().get("location").is_none());
            let body: Value = resp.json().await.unwrap();
            assert!(
                status.is_client_error(),
                "{header}: {value:?}: {status} {body}"
            );
            assert!(body["tppMessages"][0]["code"].is_string(), "{body}");
        }
    }
    healthy(&server).await;
    server.stop().await;
}
both_stores!(crlf_in_header_reaching_parameters_is_refused_in_each_surfaces_format);

// ---------------------------------------------------------------- CSRF
