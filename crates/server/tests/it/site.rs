//! The public site over HTTPS, on both stores: its pages under the bank's
//! brand, and a demo request from the form to the operators' list and the
//! visitor's inbox.

use crate::support::{Browser, TestServer, config_for, operator};
use fintechapi_domain::lead::{LeadRepository, LeadStatus};
use fintechapi_domain::portal::{Email, PortalRepository};
use fintechapi_server::config::BrandConfig;
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;

async fn the_public_pages_carry_the_banks_brand_and_the_glossary_every_psd2_term(db: TestDb) {
    let mut config = config_for(&db);
    config.brand = BrandConfig {
        name: "Musterbank AG".into(),
        accent: "#7a1f5c".into(),
    };
    let server = TestServer::start_with(db, config).await;
    let client = server.client();
    for path in ["/", "/security", "/glossary", "/api", "/demo"] {
        let resp = client.get(server.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let csp = resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.starts_with("default-src 'none'"), "{path}: {csp}");
        let body = resp.text().await.unwrap();
        assert!(body.contains("Musterbank AG"), "{path}");
        assert!(
            !body.contains("<script"),
            "{path}: no script on the public site"
        );
    }
    let brand = server.get_text("/site/brand.css").await;
    assert!(brand.contains("--accent: #7a1f5c"), "{brand}");
    // The portal's and the bank's pages take the same accent; the bank's
    // own pages carry its name, where its customers sign in.
    for path in ["/portal/login", "/bank/online"] {
        let page = server.get_text(path).await;
        assert!(
            page.contains(r#"<link rel="stylesheet" href="/site/brand.css">"#),
            "{path}: {page}"
        );
    }
    let bank = server.get_text("/bank/online").await;
    assert!(
        bank.contains(r#"<span class="brand">Musterbank AG <span>Secure sign-in</span>"#),
        "{bank}"
    );
    assert!(
        bank.contains("<title>Sign in — Musterbank AG</title>"),
        "{bank}"
    );

    let glossary = server.get_text("/glossary").await;
    for id in [
        "aisp", "api", "aspsp", "eba", "ec", "eu", "fi", "ifr", "oj", "pisp", "psd", "psd2", "psp",
        "psu", "rts", "sca", "sepa", "tpp", "xs2a",
    ] {
        assert!(
            glossary.contains(&format!("id=\"{id}\"")),
            "glossary term {id}"
        );
    }
    // Every claim's link on the security page leads somewhere real.
    let security = server.get_text("/security").await;
    for link in security
        .split("href=\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
    {
        if let Some(anchor) = link.strip_prefix("/glossary#") {
            assert!(glossary.contains(&format!("id=\"{anchor}\"")), "{link}");
        } else if !link.starts_with('#') {
            let status = client.get(server.url(link)).send().await.unwrap().status();
            assert_eq!(status, StatusCode::OK, "{link}");
        }
    }
    server.stop().await;
}
both_stores!(the_public_pages_carry_the_banks_brand_and_the_glossary_every_psd2_term);

async fn a_demo_request_is_stored_for_the_operators_and_confirmed_without_the_visitors_words(
    db: TestDb,
) {
    let server = TestServer::start(db).await;
    let mut visitor = Browser::new(&server);
    let form = visitor.get("/demo").await;
    let csrf = form.csrf();

    // Wrong fields come back named, with what was typed kept.
    let wrong = visitor
        .post(
            "/demo",
            &[
                ("csrf", &csrf),
                ("name", "Ada Lovelace"),
                ("organisation", ""),
                ("role", "CTO"),
                ("email", "not-an-address"),
                ("message", ""),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    wrong.assert_shows(&[
        "Organisation: required",
        "E-mail: not a valid e-mail address",
    ]);
    assert!(wrong.body.contains("value=\"Ada Lovelace\""));

    // Without the form's token, or from another site: refused, nothing stored.
    let forged = visitor
        .post(
            "/demo",
            &[
                ("csrf", "forged"),
                ("name", "Eve"),
                ("organisation", "Evil"),
                ("role", "x"),
                ("email", "victim@bank.example"),
                ("message", ""),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let cross_site = visitor
        .post_with(
            "/demo",
            &[
                ("csrf", &csrf),
                ("name", "Eve"),
                ("organisation", "Evil"),
                ("role", "x"),
                ("email", "victim@bank.example"),
                ("message", ""),
            ],
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);

    let message = "Show us <b>AIS</b> with the redirect approach";
    let sent = visitor
        .post(
            "/demo",
            &[
                ("csrf", &csrf),
                ("name", "Ada\r\nLovelace"),
                ("organisation", "Analytical Bank"),
                ("role", "CTO"),
                ("email", "Ada@Analytical.example"),
                ("message", message),
            ],
        )
        .await;
    sent.assert_redirect("/demo/thanks");
    assert_eq!(visitor.get("/demo/thanks").await.status, StatusCode::OK);

    let store = server.db.store().await;
    let leads = store.leads(None, 10).await.unwrap();
    assert_eq!(leads.len(), 1, "only the valid request is stored");
    let lead = &leads[0];
    assert_eq!(
        (
            lead.name.as_str(),
            lead.organisation.as_str(),
            lead.email.as_str(),
            lead.message.as_str()
        ),
        (
            "Ada Lovelace",
            "Analytical Bank",
            "ada@analytical.example",
            message
        )
    );
    assert_eq!(lead.status, LeadStatus::New);

    let mails = store
        .mails_to(&"ada@analytical.example".parse::<Email>().unwrap())
        .await
        .unwrap();
    assert_eq!(mails.len(), 1);
    assert_eq!(
        mails[0].subject,
        "FinTechAPI Demo Bank received your demo request"
    );
    for words in ["Ada", "Analytical Bank", "AIS"] {
        assert!(
            !mails[0].body_text.contains(words) && !mails[0].body_html.contains(words),
            "the mail carries none of the visitor's words: {words}"
        );
    }
    assert!(
        store
            .mails_to(&"victim@bank.example".parse::<Email>().unwrap())
            .await
            .unwrap()
            .is_empty()
    );

    // A filled hidden field looks accepted but stores nothing.
    let bot = visitor
        .post(
            "/demo",
            &[
                ("csrf", &csrf),
                ("name", "Bot"),
                ("organisation", "Bots"),
                ("role", "x"),
                ("email", "bot@bots.example"),
                ("message", ""),
                ("website", "https://spam.example"),
            ],
        )
        .await;
    assert_eq!(bot.status, StatusCode::SEE_OTHER);
    assert_eq!(store.leads(None, 10).await.unwrap().len(), 1);

    // The operators see it in the admin console, follow it up and export it; nobody else does.
    assert_eq!(
        visitor.get("/admin/leads").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        visitor.get("/admin/leads.csv").await.status,
        StatusCode::SEE_OTHER
    );
    let mut ops = operator(&server).await;
    let list = ops.get("/admin/leads").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.body.contains("Analytical Bank")
            && list.body.contains("Show us &#60;b&#62;AIS&#60;/b&#62;"),
        "escaped: {}",
        list.body
    );
    let forged = ops
        .post(
            &format!("/admin/leads/{}", lead.id),
            &[("csrf", "forged"), ("status", "contacted"), ("notes", "")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let saved = ops
        .post(
            &format!("/admin/leads/{}", lead.id),
            &[
                ("csrf", &list.csrf()),
                ("status", "contacted"),
                ("notes", "=call back on Monday"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let contacted = store.lead(lead.id).await.unwrap().unwrap();
    assert_eq!(
        (contacted.status, contacted.notes.as_str()),
        (LeadStatus::Contacted, "=call back on Monday")
    );
    assert!(
        ops.get("/admin/leads?status=new")
            .await
            .body
            .contains("No demo requests with status new")
    );
    assert!(
        ops.get("/admin/leads?status=contacted")
            .await
            .body
            .contains("Analytical Bank")
    );
    let csv = ops.get("/admin/leads.csv").await.body;
    assert!(csv.starts_with("received_utc,name,organisation"), "{csv}");
    assert!(
        csv.contains("\"Ada Lovelace\",\"Analytical Bank\",\"CTO\",\"ada@analytical.example\""),
        "{csv}"
    );
    assert!(
        csv.contains("\"contacted\",\"'=call back on Monday\""),
        "a note never runs as a formula: {csv}"
    );
    let trail = store.audit_trail(10).await.unwrap();
    assert!(
        trail
            .iter()
            .any(|l| l.entry.action == "lead.update" && l.entry.target == lead.id.to_string())
    );
    server.stop().await;
}
both_stores!(a_demo_request_is_stored_for_the_operators_and_confirmed_without_the_visitors_words);

async fn demo_requests_are_throttled_per_address_and_per_recipient(db: TestDb) {
    let server = TestServer::start(db).await;
    let mut visitor = Browser::new(&server);
    let csrf = visitor.get("/demo").await.csrf();
    let mut statuses = Vec::new();
    for i in 0..4 {
        let page = visitor
            .post(
                "/demo",
                &[
                    ("csrf", &csrf),
                    ("name", &format!("Visitor {i}")),
                    ("organisation", "Bank"),
                    ("role", "CTO"),
                    ("email", "same@bank.example"),
                    ("message", ""),
                ],
            )
            .await;
        statuses.push(page.status);
    }
    // Three confirmations to one recipient a day, then no more.
    assert_eq!(
        statuses,
        [
            StatusCode::SEE_OTHER,
            StatusCode::SEE_OTHER,
            StatusCode::SEE_OTHER,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    let page = visitor
        .post(
            "/demo",
            &[
                ("csrf", &csrf),
                ("name", "Visitor 5"),
                ("organisation", "Bank"),
                ("role", "CTO"),
                ("email", "other@bank.example"),
                ("message", ""),
            ],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::SEE_OTHER,
        "another recipient, fifth request from this address"
    );
    let page = visitor
        .post(
            "/demo",
            &[
                ("csrf", &csrf),
                ("name", "Visitor 6"),
                ("organisation", "Bank"),
                ("role", "CTO"),
                ("email", "third@bank.example"),
                ("message", ""),
            ],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::TOO_MANY_REQUESTS,
        "five requests an hour from one address"
    );
    let store = server.db.store().await;
    assert_eq!(store.leads(None, 10).await.unwrap().len(), 4);
    assert_eq!(
        store.leads(Some(LeadStatus::New), 10).await.unwrap().len(),
        4
    );
    server.stop().await;
}
both_stores!(demo_requests_are_throttled_per_address_and_per_recipient);
