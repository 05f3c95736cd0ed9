//! The attack corpus, against the real server over TLS, on both stores: XSS
//! in every text input and reflected parameter, CR/LF and control characters
//! in every header-reaching value, cross-origin and token-less form posts,
//! slow clients, and huge inputs. After each: the right error, no 500,
//! nothing stored, the server healthy. Payloads live in `attacks/` beside this file.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::xs2a::{REDIRECT, Tpp};
use crate::support::{Browser, Page, TestServer, config_for, demo_server, operator, urlencode};
use fintechapi_domain::portal::PortalRepository;
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The lines of a payload file, comments and blank lines left out.
fn payloads(text: &'static str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            l.replace("\\r", "\r")
                .replace("\\n", "\n")
                .replace("\\t", "\t")
                .replace("\\0", "\0")
                .replace("\\x0b", "\x0b")
                .replace("\\x7f", "\x7f")
        })
        .collect()
}

fn xss() -> Vec<String> {
    payloads(include_str!("attacks/xss.txt"))
}

fn crlf() -> Vec<String> {
    payloads(include_str!("attacks/crlf.txt"))
}

/// Fails if any payload appears as sent in `page`.
fn escaped(page: &Page, payloads: &[String], what: &str) {
    assert!(
        page.status.as_u16() < 500,
        "{what}: {} {}",
        page.status,
        page.body
    );
    for payload in payloads {
        assert!(
            !page.body.contains(payload.as_str()),
            "{what} shows {payload:?} unescaped: {}",
            page.body
        );
    }
}

/// `/healthz` answers, and quickly: the server survived.
async fn healthy(server: &TestServer) {
    let started = Instant::now();
    let resp = server
        .client()
        .get(server.url("/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "/healthz took {:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------- XSS

async fn xss_payloads_in_every_text_input_and_reflected_parameter_are_escaped(db: TestDb) {
    let server = TestServer::start(db).await;
    let payloads = xss();
    let joined = payloads.join(" ");
    let mut b = Browser::new(&server);

    // Sign-up: a display name made of payloads, shown on the dashboard.
    let csrf = b.get("/portal/signup").await.csrf();
    let signed = b
        .post(
            "/portal/signup",
            &[
                ("email", "xss@tpp.example"),
                ("display_name", &joined[..joined.len().min(100)]),
                ("password", crate::support::PASSWORD),
                ("csrf", &csrf),
            ],
        )
        .await;
    escaped(&signed, &payloads, "sign-up");
    let token = crate::support::token_from_mail(&server, "xss@tpp.example").await;
    escaped(
        &b.get(&format!("/portal/verify?token={}", urlencode(&token)))
            .await,
        &payloads,
        "verification",
    );
    b.log_in("xss@tpp.example", crate::support::PASSWORD).await;
    let dashboard = b.get("/portal/dashboard").await;
    escaped(&dashboard, &payloads, "dashboard");

    // Every field of an organisation and an application.
    let mut org_path = None;
    for (i, payload) in payloads.iter().enumerate() {
        let csrf = b.get("/portal/orgs/new").await.csrf();
        let name = format!("Org {i} {payload}");
        let org = b
            .post(
                "/portal/orgs/new",
                &[
                    ("legal_name", name.as_str()),
                    ("country", "DE"),
                    ("role_aisp", "on"),
                    ("competent_authority", payload),
                    ("authorisation_number", payload),
                    ("csrf", &csrf),
                ],
            )
            .await;
        escaped(&org, &payloads, "organisation form");
        if org.status == StatusCode::SEE_OTHER {
            org_path = org.location;
        }
    }
    let org_path =
        org_path.expect("an organisation with payloads in its name is created (escaped)");
    // Control characters in the same fields: refused or kept, never a server error.
    for payload in crlf() {
        let csrf = b.get("/portal/orgs/new").await.csrf();
        let org = b
            .post(
                "/portal/orgs/new",
                &[
                    ("legal_name", payload.as_str()),
                    ("country", "DE"),
                    ("role_aisp", "on"),
                    ("competent_authority", &payload),
                    ("authorisation_number", &payload),
                    ("csrf", &csrf),
                ],
            )
            .await;
        assert!(
            org.status.as_u16() < 500,
            "organisation with {payload:?}: {}",
            org.status
        );
        let csrf = b.get(&format!("{org_path}/apps/new")).await.csrf();
        let app = b
            .post(
                &format!("{org_path}/apps/new"),
                &[
                    ("name", payload.as_str()),
                    ("description", &payload),
                    ("redirect_uris", &format!("https://app.example/cb{payload}")),
                    ("security_profile", "basic"),
                    ("environment", "sandbox"),
                    ("product_ais", "on"),
                    ("csrf", &csrf),
                ],
            )
            .await;
        assert!(
            app.status.as_u16() < 500,
            "application with {payload:?}: {}",
            app.status
        );
    }
    escaped(&b.get(&org_path).await, &payloads, "organisation page");
    let mut app_pages = Vec::new();
    for payload in &payloads {
        let csrf = b.get(&format!("{org_path}/apps/new")).await.csrf();
        let redirect = format!("https://app.example/cb?x={}", urlencode(payload));
        let raw_redirect = format!("https://app.example/cb?x={payload}");
        for redirect_uris in [redirect.as_str(), raw_redirect.as_str()] {
            let created = b
                .post(
                    &format!("{org_path}/apps/new"),
                    &[
                        ("name", payload.as_str()),
                        ("description", payload),
                        ("redirect_uris", redirect_uris),
                        ("security_profile", "basic"),
                        ("environment", "sandbox"),
                        ("product_ais", "on"),
                        ("csrf", &csrf),
                    ],
                )
                .await;
            escaped(&created, &payloads, "application form");
            if let Some(at) = created.body.find("/portal/apps/") {
                let rest = &created.body[at..];
                app_pages.push(rest[..rest.find('"').unwrap()].to_owned());
            }
        }
    }
    assert!(!app_pages.is_empty(), "no application page linked");
    for path in &app_pages {
        escaped(&b.get(path).await, &payloads, "application page");
    }
    escaped(
        &b.get("/portal/dashboard").await,
        &payloads,
        "dashboard with organisations",
    );

    // The operator's console lists them all.
    let mut ops = operator(&server).await;
    for path in ["/admin", "/admin/audit", "/admin/psus"] {
        escaped(&ops.get(path).await, &payloads, path);
    }

    // Reflected parameters: query strings and paths echoed by pages.
    let mut anon = Browser::new(&server);
    for payload in &payloads {
        let p = urlencode(payload);
        for path in [
            format!("/portal/verify?token={p}"),
            format!("/portal/reset/confirm?token={p}"),
            format!("/portal/invitations/accept?token={p}"),
            format!("/portal/login?next={p}"),
            format!("/portal/apps/{p}"),
            format!("/portal/no/such/{p}"),
            format!("/oauth2/authorize?client_id={p}&request_uri={p}"),
            format!(
                "/oauth2/authorize?client_id={p}&request_uri=urn:ietf:params:oauth:request_uri:{p}"
            ),
            format!("/bank/redirect?token={p}"),
            format!("/bank/login?error={p}"),
            format!("/bank/online?x={p}"),
            format!("/v1/consents/{p}"),
        ] {
            escaped(&anon.get(&path).await, &payloads, &path);
        }
        // Values typed into forms that come back with an error.
        let csrf = anon.get("/portal/login").await.csrf();
        escaped(
            &anon
                .post(
                    "/portal/login",
                    &[("email", payload), ("password", payload), ("csrf", &csrf)],
                )
                .await,
            &payloads,
            "portal login",
        );
        let csrf = anon.get("/portal/signup").await.csrf();
        escaped(
            &anon
                .post(
                    "/portal/signup",
                    &[
                        ("email", payload),
                        ("display_name", payload),
                        ("password", "x"),
                        ("csrf", &csrf),
                    ],
                )
                .await,
            &payloads,
            "sign-up errors",
        );
        let csrf = anon.get("/portal/reset").await.csrf();
        escaped(
            &anon
                .post("/portal/reset", &[("email", payload), ("csrf", &csrf)])
                .await,
            &payloads,
            "reset",
        );
        let csrf = anon.get("/admin/login").await.csrf();
        escaped(
            &anon
                .post(
                    "/admin/login",
                    &[("email", payload), ("password", payload), ("csrf", &csrf)],
                )
                .await,
            &payloads,
            "admin login",
        );
    }
    healthy(&server).await;
    server.stop().await;
}
both_stores!(xss_payloads_in_every_text_input_and_reflected_parameter_are_escaped);

async fn xss_payloads_on_the_bank_pages_are_escaped(db: TestDb) {
    let server = demo_server(db).await;
    let payloads = xss();
    for payload in &payloads {
        let mut psu = Browser::new(&server);
        let start = psu.get("/bank/online").await;
        escaped(&start, &payloads, "online banking");
        let csrf = start.csrf();
        let login = psu
            .post(
                "/bank/online/login",
                &[("login", payload), ("password", payload), ("csrf", &csrf)],
            )
            .await;
        escaped(&login, &payloads, "online-banking login");
        // The bank's login page without an authorization in progress.
        let page = psu
            .post(
                "/bank/login",
                &[("login", payload), ("password", payload), ("csrf", payload)],
            )
            .await;
        escaped(&page, &payloads, "bank login");
    }
    healthy(&server).await;
    server.stop().await;
}
both_stores!(xss_payloads_on_the_bank_pages_are_escaped);

// ---------------------------------------------------------------- CR/LF

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
            .post(
                "/bank/online/login",
                &[("login", &payload), ("password", &payload), ("csrf", &csrf)],
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

/// Posts `form` without a token, with a wrong one, and with the right one
/// from another site: all refused with a page.
async fn refused_without_token_or_from_elsewhere(
    b: &mut Browser,
    path: &str,
    form: &[(&str, &str)],
    csrf: &str,
) {
    let mut wrong = form.to_vec();
    wrong.push(("csrf", "not-the-token"));
    let mut right = form.to_vec();
    right.push(("csrf", csrf));
    let attempts = [
        (form.to_vec(), vec![]),
        (wrong, vec![]),
        (right.clone(), vec![("origin", "https://evil.example")]),
        (right.clone(), vec![("sec-fetch-site", "cross-site")]),
        (right, vec![("origin", "null")]),
    ];
    for (form, headers) in attempts {
        let page = b.post_with(path, &form, &headers).await;
        assert!(
            matches!(page.status, StatusCode::FORBIDDEN | StatusCode::BAD_REQUEST),
            "{path} with {headers:?} and {:?}: {} {}",
            form.iter().find(|(k, _)| *k == "csrf"),
            page.status,
            page.body
        );
        assert!(
            page.location.is_none(),
            "{path} went on to {:?}",
            page.location
        );
    }
}

async fn cross_origin_and_tokenless_posts_on_portal_and_admin_forms_change_nothing(db: TestDb) {
    let server = TestServer::start(db).await;
    let store = server.db.store().await;

    // Before login: sign-up, login, reset and admin login.
    let mut anon = Browser::new(&server);
    let csrf = anon.get("/portal/signup").await.csrf();
    refused_without_token_or_from_elsewhere(
        &mut anon,
        "/portal/signup",
        &[
            ("email", "csrf@tpp.example"),
            ("display_name", "C"),
            ("password", crate::support::PASSWORD),
        ],
        &csrf,
    )
    .await;
    assert!(
        store
            .user_by_email(&"csrf@tpp.example".parse().unwrap())
            .await
            .unwrap()
            .is_none(),
        "a refused sign-up created a user"
    );
    let csrf = anon.get("/portal/reset").await.csrf();
    refused_without_token_or_from_elsewhere(
        &mut anon,
        "/portal/reset",
        &[("email", "csrf@tpp.example")],
        &csrf,
    )
    .await;
    let mut ops = operator(&server).await;
    let csrf = anon.get("/admin/login").await.csrf();
    refused_without_token_or_from_elsewhere(
        &mut anon,
        "/admin/login",
        &[
            ("email", "ops@bank.example"),
            ("password", crate::support::OPERATOR_PASSWORD),
        ],
        &csrf,
    )
    .await;
    assert_eq!(
        anon.get("/admin").await.location.as_deref(),
        Some("/admin/login"),
        "a refused login logged in"
    );

    // A developer's forms.
    let api = crate::support::Api::developer(&server, "dev@tpp.example").await;
    let (app_id, key, secret) = api.sandbox_app(&["AISP"], &["ais"]).await;
    let mut dev = Browser::new(&server);
    dev.log_in("dev@tpp.example", crate::support::PASSWORD)
        .await;
    let csrf = dev.get("/portal/dashboard").await.csrf();
    refused_without_token_or_from_elsewhere(
        &mut dev,
        "/portal/orgs/new",
        &[
            ("legal_name", "Forged GmbH"),
            ("country", "DE"),
            ("role_aisp", "on"),
            ("competent_authority", "BaFin"),
            ("authorisation_number", "1"),
        ],
        &csrf,
    )
    .await;
    assert!(
        store
            .organisation_by_name("Forged GmbH")
            .await
            .unwrap()
            .is_none()
    );
    refused_without_token_or_from_elsewhere(
        &mut dev,
        &format!("/portal/apps/{app_id}/rotate"),
        &[],
        &csrf,
    )
    .await;
    let registry = fintechapi_server::app::registry(
        &config_for(&server.db),
        store.clone(),
        Arc::new(fintechapi_domain::SystemClock),
    )
    .unwrap();
    let client = registry
        .authenticate(&key, &secret)
        .await
        .unwrap()
        .expect("the secret still works");
    assert_eq!(client.application.id.to_string(), app_id);
    refused_without_token_or_from_elsewhere(
        &mut dev,
        "/portal/security/totp",
        &[
            ("action", "enable"),
            ("seed", "JBSWY3DPEHPK3PXP"),
            ("code", "000000"),
        ],
        &csrf,
    )
    .await;
    refused_without_token_or_from_elsewhere(&mut dev, "/portal/logout", &[], &csrf).await;
    assert_eq!(
        dev.get("/portal/dashboard").await.status,
        StatusCode::OK,
        "a refused logout ended the session"
    );

    // The operator's forms.
    let csrf = ops.get("/admin").await.csrf();
    refused_without_token_or_from_elsewhere(
        &mut ops,
        &format!("/admin/apps/{app_id}/status"),
        &[("status", "suspended")],
        &csrf,
    )
    .await;
    assert!(
        registry
            .authenticate(&key, &secret)
            .await
            .unwrap()
            .is_some(),
        "a refused post suspended the application"
    );
    refused_without_token_or_from_elsewhere(
        &mut ops,
        "/admin/psus",
        &[
            ("login", "forged"),
            ("name", "Forged"),
            ("password", "forged password 2026"),
        ],
        &csrf,
    )
    .await;
    refused_without_token_or_from_elsewhere(&mut ops, "/admin/logout", &[], &csrf).await;
    assert_eq!(
        ops.get("/admin").await.status,
        StatusCode::OK,
        "a refused logout ended the operator's session"
    );
    healthy(&server).await;
    server.stop().await;
}
both_stores!(cross_origin_and_tokenless_posts_on_portal_and_admin_forms_change_nothing);

async fn cross_origin_and_tokenless_posts_on_bank_and_online_banking_forms_change_nothing(
    db: TestDb,
) {
    let server = demo_server(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let token = tpp.client_token().await;
    let consent = tpp
        .consent(&token, json!({"allPsd2": "allAccounts"}), 4)
        .await;

    // The bank's pages in an authorization: login, then the consent screen.
    let (mut psu, screen) = tpp
        .at_bank(&server, &consent, "alice", "alice-demo-2026")
        .await;
    refused_without_token_or_from_elsewhere(
        &mut psu,
        "/bank/consent",
        &[("decision", "approve")],
        &screen.csrf(),
    )
    .await;
    let status = tpp
        .call(
            Method::GET,
            &format!("/v1/consents/{consent}/status"),
            &token,
            &[],
            None,
        )
        .await;
    assert_eq!(
        status.body["consentStatus"], "received",
        "a refused approval changed the consent"
    );

    let mut other = Browser::new(&server);
    let par = server
        .client()
        .post(server.url("/oauth2/par"))
        .basic_auth(&tpp.key, Some(&tpp.secret))
        .form(&[
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", &format!("AIS:{consent}")),
            (
                "code_challenge",
                &fintechapi_domain::secret::pkce_s256(
                    "a-pkce-code-verifier-of-fifty-characters-0123456789",
                ),
            ),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(par.status(), StatusCode::CREATED);
    let par: Value = par.json().await.unwrap();
    crate::support::open(&mut other, &tpp.key, par["request_uri"].as_str().unwrap()).await;
    let csrf = other.get("/bank/login").await.csrf();
    refused_without_token_or_from_elsewhere(
        &mut other,
        "/bank/login",
        &[("login", "bob"), ("password", "bob-demo-2026")],
        &csrf,
    )
    .await;
    assert!(
        !other.get("/bank/sca").await.status.is_success(),
        "a refused login went on to the second factor"
    );

    // Online banking.
    let mut online = Browser::new(&server);
    let csrf = online.get("/bank/online").await.csrf();
    refused_without_token_or_from_elsewhere(
        &mut online,
        "/bank/online/login",
        &[("login", "carol"), ("password", "carol-demo-2026")],
        &csrf,
    )
    .await;
    assert!(
        !online.get("/bank/online/sca").await.status.is_success(),
        "a refused login went on"
    );
    healthy(&server).await;
    server.stop().await;
}
both_stores!(cross_origin_and_tokenless_posts_on_bank_and_online_banking_forms_change_nothing);

/// One pushed authorization request for `consent`, with `extra` parameters.
async fn push(
    server: &TestServer,
    tpp: &Tpp,
    consent: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, Value) {
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
    let resp = server
        .client()
        .post(server.url("/oauth2/par"))
        .basic_auth(&tpp.key, Some(&tpp.secret))
        .form(&form)
        .send()
        .await
        .unwrap();
    (resp.status(), resp.json().await.unwrap_or(Value::Null))
}

async fn par_takes_a_state_over_a_thousand_characters_and_refuses_request_objects(db: TestDb) {
    let server = demo_server(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let token = tpp.client_token().await;
    let consent = tpp
        .consent(&token, json!({"allPsd2": "allAccounts"}), 4)
        .await;

    // FAPI 2.0: clients may send a state of more than 1,000 characters.
    let long_state = "s".repeat(1500);
    let (status, body) = push(&server, &tpp, &consent, &[("state", &long_state)]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let too_long = "s".repeat(4097);
    let (status, body) = push(&server, &tpp, &consent, &[("state", &too_long)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request", "{body}");

    // A request object is refused, not dropped with what it carries.
    let (status, body) = push(
        &server,
        &tpp,
        &consent,
        &[("request", "eyJhbGciOiJFUzI1NiJ9.e30.c2ln")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "request_not_supported", "{body}");
    let meta: Value = server
        .client()
        .get(server.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["request_parameter_supported"], false);
    healthy(&server).await;
    server.stop().await;
}
both_stores!(par_takes_a_state_over_a_thousand_characters_and_refuses_request_objects);

// ---------------------------------------------------------------- slow clients

async fn slow_header_and_slow_body_clients_do_not_keep_a_normal_client_waiting(db: TestDb) {
    let mut config = config_for(&db);
    config.http.header_read_timeout_secs = 2;
    config.http.body_read_timeout_secs = 2;
    // The body timeout is per read, so a dribbled body is bounded by the request timeout.
    config.http.request_timeout_secs = 3;
    let server = TestServer::start_with(db, config).await;
    let mut slow = Vec::new();
    for i in 0..60 {
        let mut tls = crate::support::tls_connect(&server).await;
        let start: &[u8] = if i % 2 == 0 {
            b"GET /healthz HTTP/1.1\r\nHost: local"
        } else {
            b"POST /oauth2/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\ngrant_type="
        };
        tls.write_all(start).await.unwrap();
        slow.push(tokio::spawn(async move {
            let opened = Instant::now();
            // One byte every 300 ms until the server cuts the connection off.
            while opened.elapsed() < Duration::from_secs(15) {
                if tls.write_all(b"x").await.is_err() || tls.flush().await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            let mut rest = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(1), tls.read_to_end(&mut rest)).await;
            (
                i % 2 == 0,
                opened.elapsed(),
                String::from_utf8_lossy(&rest)
                    .lines()
                    .next()
                    .map(str::to_owned),
            )
        }));
    }
    let client = server.client();
    for _ in 0..20 {
        let started = Instant::now();
        let resp = client
            .get(server.url("/healthz"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "a normal request took {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for connection in slow {
        let (headers, held, answer) = connection.await.unwrap();
        let kind = if headers { "slow-header" } else { "slow-body" };
        assert!(
            held < Duration::from_secs(6),
            "a {kind} client was held {held:?}; answer {answer:?}"
        );
        assert!(
            !answer
                .as_deref()
                .unwrap_or_default()
                .starts_with("HTTP/1.1 500"),
            "{kind}: {answer:?}"
        );
    }
    healthy(&server).await;
    server.stop().await;
}
both_stores!(slow_header_and_slow_body_clients_do_not_keep_a_normal_client_waiting);

async fn a_dribbled_body_is_cut_off_at_the_body_deadline_in_each_surfaces_format(db: TestDb) {
    let mut config = config_for(&db);
    config.http.body_timeout_millis = 1500;
    // Long enough that only the whole-body deadline can end these requests.
    config.http.body_read_timeout_secs = 20;
    config.http.request_timeout_secs = 30;
    let server = TestServer::start_with(db, config).await;
    let mut dribblers = Vec::new();
    for (path, content_type) in [
        ("/oauth2/token", "application/x-www-form-urlencoded"),
        ("/v1/payments/sepa-credit-transfers", "application/json"),
    ] {
        let mut tls = crate::support::tls_connect(&server).await;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\nContent-Length: 1000\r\n\r\n"
        );
        tls.write_all(head.as_bytes()).await.unwrap();
        dribblers.push(tokio::spawn(async move {
            let opened = Instant::now();
            // One byte every 200 ms, far from the 1000 announced.
            let mut answer = Vec::new();
            loop {
                let mut buf = [0u8; 4096];
                tokio::select! {
                    read = tls.read(&mut buf) => match read {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            answer.extend_from_slice(&buf[..n]);
                            if answer.windows(4).any(|w| w == b"\r\n\r\n") { break; }
                        }
                    },
                    () = tokio::time::sleep(Duration::from_millis(200)) => {
                        if opened.elapsed() > Duration::from_secs(15) { break; }
                        if tls.write_all(b"x").await.is_err() || tls.flush().await.is_err() { break; }
                    }
                }
            }
            // The rest of the error body.
            let mut rest = [0u8; 4096];
            if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(500), tls.read(&mut rest)).await {
                answer.extend_from_slice(&rest[..n]);
            }
            (opened.elapsed(), String::from_utf8_lossy(&answer).into_owned())
        }));
    }
    // Meanwhile the server answers its health check at once.
    let client = server.client();
    for _ in 0..5 {
        let started = Instant::now();
        let resp = client.get(server.url("/healthz")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "healthz took {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (held, oauth) = dribblers.remove(0).await.unwrap();
    assert!(
        held >= Duration::from_millis(1400) && held < Duration::from_secs(4),
        "held {held:?}: {oauth}"
    );
    assert!(oauth.starts_with("HTTP/1.1 408"), "{oauth}");
    assert!(oauth.contains(r#""error":"invalid_request""#), "{oauth}");
    let (held, xs2a) = dribblers.remove(0).await.unwrap();
    assert!(held < Duration::from_secs(4), "held {held:?}: {xs2a}");
    assert!(xs2a.starts_with("HTTP/1.1 408"), "{xs2a}");
    assert!(xs2a.contains("tppMessages"), "{xs2a}");
    healthy(&server).await;
    server.stop().await;
}
both_stores!(a_dribbled_body_is_cut_off_at_the_body_deadline_in_each_surfaces_format);

// ---------------------------------------------------------------- huge inputs

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
        let count = server
            .db
            .raw_strings(&format!("SELECT CAST(COUNT(*) AS TEXT) FROM {table}"))
            .await;
        assert_eq!(count, ["0"], "the attacks stored {table}");
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
    assert!(
        matches!(
            status,
            StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE
        ),
        "{status} {body}"
    );
    assert!(body["tppMessages"][0]["code"].is_string(), "{body}");
    healthy(&server).await;

    let transfer = json!({"instructedAmount": {"currency": "EUR", "amount": "1.00"}, "creditorAccount": {"iban": "DE89370400440532013000"}, "creditorName": "Payee"});
    let bulk = json!({"debtorAccount": {"iban": "DE89370400440532013000"}, "payments": vec![transfer; 8_000]});
    let (status, body) = timed_xs2a(
        &server,
        &token,
        "/v1/bulk-payments/sepa-credit-transfers",
        bulk.to_string(),
    )
    .await;
    assert!(
        matches!(
            status,
            StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE
        ),
        "{status} {body}"
    );
    assert!(body["tppMessages"][0]["code"].is_string(), "{body}");
    healthy(&server).await;
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
    assert!(
        matches!(
            status,
            StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE
        ),
        "{status} {body}"
    );
    assert!(body["tppMessages"][0]["code"].is_string(), "{body}");
    healthy(&server).await;
    nothing_stored(&server).await;
    server.stop().await;
}
both_stores!(a_pain001_with_thousands_of_transactions_is_refused_within_a_second);
