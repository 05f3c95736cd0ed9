//! XSS payloads in every text input and reflected parameter, escaped.

use super::{crlf, escaped, healthy, xss};
use crate::support::{Browser, TestServer, demo_server, operator, urlencode};
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;

async fn xss_payloads_in_every_text_input_and_reflected_parameter_are_escaped(db: TestDb) {
    let server = TestServer::start(db).await;
    let payloads = xss();
    let joined = payloads.join(" ");
    let mut b = Browser::new(&server);

    // Sign-up: a display name made of payloads, shown on the dashboard.
    let csrf = b.get("/portal/signup").await.csrf();
    let signed = b
        .submit(
            "/portal/signup",
            &[
                ("email", "xss@tpp.example"),
                ("display_name", &joined[..joined.len().min(100)]),
                ("password", crate::support::PASSWORD),
            ],
            &csrf,
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
            .submit(
                "/portal/orgs/new",
                &[
                    ("legal_name", name.as_str()),
                    ("country", "DE"),
                    ("role_aisp", "on"),
                    ("competent_authority", payload),
                    ("authorisation_number", payload),
                ],
                &csrf,
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
            .submit(
                "/portal/orgs/new",
                &[
                    ("legal_name", payload.as_str()),
                    ("country", "DE"),
                    ("role_aisp", "on"),
                    ("competent_authority", &payload),
                    ("authorisation_number", &payload),
                ],
                &csrf,
            )
            .await;
        assert!(
            org.status.as_u16() < 500,
            "organisation with {payload:?}: {}",
            org.status
        );
        let csrf = b.get(&format!("{org_path}/apps/new")).await.csrf();
        let app = b
            .submit(
                &format!("{org_path}/apps/new"),
                &[
                    ("name", payload.as_str()),
                    ("description", &payload),
                    ("redirect_uris", &format!("https://app.example/cb{payload}")),
                    ("security_profile", "basic"),
                    ("environment", "sandbox"),
                    ("product_ais", "on"),
                ],
                &csrf,
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
                .submit(
                    &format!("{org_path}/apps/new"),
                    &[
                        ("name", payload.as_str()),
                        ("description", payload),
                        ("redirect_uris", redirect_uris),
                        ("security_profile", "basic"),
                        ("environment", "sandbox"),
                        ("product_ais", "on"),
                    ],
                    &csrf,
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
                .submit(
                    "/portal/login",
                    &[("email", payload), ("password", payload)],
                    &csrf,
                )
                .await,
            &payloads,
            "portal login",
        );
        let csrf = anon.get("/portal/signup").await.csrf();
        escaped(
            &anon
                .submit(
                    "/portal/signup",
                    &[
                        ("email", payload),
                        ("display_name", payload),
                        ("password", "x"),
                    ],
                    &csrf,
                )
                .await,
            &payloads,
            "sign-up errors",
        );
        let csrf = anon.get("/portal/reset").await.csrf();
        escaped(
            &anon
                .submit("/portal/reset", &[("email", payload)], &csrf)
                .await,
            &payloads,
            "reset",
        );
        let csrf = anon.get("/admin/login").await.csrf();
        escaped(
            &anon
                .submit(
                    "/admin/login",
                    &[("email", payload), ("password", payload)],
                    &csrf,
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
            .submit(
                "/bank/online/login",
                &[("login", payload), ("password", payload)],
                &csrf,
            )
            .await;
        escaped(&login, &payloads, "online-banking login");
        // The bank's login page without an authorization in progress.
        let page = psu
            .submit(
                "/bank/login",
                &[("login", payload), ("password", payload)],
                payload,
            )
            .await;
        escaped(&page, &payloads, "bank login");
    }
    healthy(&server).await;
    server.stop().await;
}
both_stores!(xss_payloads_on_the_bank_pages_are_escaped);

// ---------------------------------------------------------------- CR/LF
