//! The bank's name (`[brand] name`) on the Developer Portal, the admin
//! console and every mail the portal and the site send.

use std::sync::Arc;

use crate::support::{Browser, TestServer, config_for, live_app, operator};
use fintechapi_domain::SystemClock;
use fintechapi_domain::portal::{Email, Mail, PortalRepository};
use fintechapi_domain::registry::ApiProduct;
use fintechapi_registry::Actor;
use fintechapi_server::config::BrandConfig;
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;

use super::{developer, organisation};

const BANK: &str = "Musterbank AG";

/// The one mail to `to` whose subject contains `subject`.
async fn mail(server: &TestServer, to: &str, subject: &str) -> Mail {
    let store = server.db.store().await;
    let mut mails = store.mails_to(&to.parse::<Email>().unwrap()).await.unwrap();
    mails.retain(|m| m.subject.contains(subject));
    assert_eq!(mails.len(), 1, "one mail \"{subject}\" to {to}");
    mails.remove(0)
}

/// The mail names the bank in its subject and body, and `signature` signs it off.
fn assert_signed(mail: &Mail, signature: &str) {
    assert!(mail.subject.contains(BANK), "{}", mail.subject);
    let text = mail.body_text.trim_end();
    assert!(
        text.ends_with(&format!("-- \n{signature}")),
        "signed by {signature}: {text}"
    );
    let body = text.split("\n-- \n").next().unwrap();
    assert!(body.contains(BANK), "the text names the bank: {body}");
    assert!(
        mail.body_html.contains(&format!(">{signature}</p>")),
        "{}",
        mail.body_html
    );
    assert!(!mail.body_text.contains("FinTechAPI"), "{}", mail.body_text);
}

async fn the_portal_the_console_and_their_mails_carry_the_banks_name(db: TestDb) {
    let mut config = config_for(&db);
    config.brand = BrandConfig {
        name: BANK.into(),
        accent: "#7a1f5c".into(),
    };
    let server = TestServer::start_with(db, config.clone()).await;
    let portal = format!("{BANK} Developer Portal");

    // A page before login, an error page and, after login, the dashboard.
    let mut visitor = Browser::new(&server);
    let login = visitor.get("/portal/login").await;
    login.assert_shows(&[
        &format!(r#"<a class="brand" href="/portal">{BANK} <span>Developer Portal</span></a>"#),
        &format!("<title>Log in — {portal}</title>"),
    ]);
    let bad_link = server
        .client()
        .get(server.url("/portal/verify?token=nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_link.status(), StatusCode::BAD_REQUEST);
    let csp = &bad_link.headers()["content-security-policy"];
    assert!(
        csp.to_str().unwrap().starts_with("default-src 'none'"),
        "the error page keeps the portal's headers"
    );
    let body = bad_link.text().await.unwrap();
    assert!(
        body.contains(&format!("<title>Bad Request — {portal}</title>"))
            && body.contains("This link is invalid"),
        "{body}"
    );
    let unknown = server.get("/admin/no/such/page").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let body = unknown.text().await.unwrap();
    assert!(
        body.contains(&format!("<title>Not Found — {portal}</title>")),
        "the server's own page errors too: {body}"
    );

    // Verification: the owner signs up.
    let mut owner = developer(&server, "owner@tpp.example").await;
    let dashboard = owner.get("/portal/dashboard").await;
    dashboard.assert_shows(&[&format!("<title>Dashboard — {portal}</title>")]);
    assert_signed(
        &mail(&server, "owner@tpp.example", "Confirm your").await,
        &portal,
    );

    // Reset.
    let mut forgetful = Browser::new(&server);
    let csrf = forgetful.get("/portal/reset").await.csrf();
    let asked = forgetful
        .submit("/portal/reset", &[("email", "owner@tpp.example")], &csrf)
        .await;
    assert_eq!(asked.status, StatusCode::OK);
    assert_signed(
        &mail(&server, "owner@tpp.example", "Reset your").await,
        &portal,
    );

    // Invitation.
    let csrf = dashboard.csrf();
    let mut org_form = organisation("Brand TPP GmbH");
    org_form.push(("csrf", &csrf));
    let created = owner.post("/portal/orgs/new", &org_form).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let org_path = created.location.unwrap();
    let invited = owner
        .submit(
            &format!("{org_path}/invitations"),
            &[("email", "member@tpp.example"), ("role", "viewer")],
            &csrf,
        )
        .await;
    assert_eq!(invited.status, StatusCode::SEE_OTHER, "{}", invited.body);
    assert_signed(
        &mail(&server, "member@tpp.example", "invited").await,
        &portal,
    );

    // A subscription decision, taken in the console.
    let store = server.db.store().await;
    let org = store
        .organisation_by_name("Brand TPP GmbH")
        .await
        .unwrap()
        .unwrap();
    let registry =
        fintechapi_server::app::registry(&config, store.clone(), Arc::new(SystemClock)).unwrap();
    let owner_actor = Actor("owner@tpp.example".into());
    let (app, _) = live_app(&registry, &owner_actor, &org, vec![ApiProduct::Ais]).await;
    let subscription = store.subscriptions_of(app.id).await.unwrap()[0].id;
    let mut ops = operator(&server).await;
    let overview = ops.get("/admin").await;
    overview.assert_shows(&[
        &format!(r#"<a class="brand" href="/admin">{BANK} <span>Admin console</span></a>"#),
        &format!("<title>Overview — {BANK} Admin console</title>"),
    ]);
    let decided = ops
        .submit(
            &format!("/admin/subscriptions/{subscription}/decision"),
            &[("decision", "approve")],
            &overview.csrf(),
        )
        .await;
    assert_eq!(decided.status, StatusCode::SEE_OTHER, "{}", decided.body);
    assert_signed(
        &mail(&server, "owner@tpp.example", "Subscription approved").await,
        &portal,
    );

    // A demo request's confirmation comes from the bank itself.
    let csrf = visitor.get("/demo").await.csrf();
    let sent = visitor
        .post(
            "/demo",
            &[
                ("csrf", &csrf),
                ("name", "Ada Lovelace"),
                ("organisation", "Analytical Bank"),
                ("role", "CTO"),
                ("email", "ada@analytical.example"),
                ("message", ""),
            ],
        )
        .await;
    sent.assert_redirect("/demo/thanks");
    assert_signed(
        &mail(&server, "ada@analytical.example", "demo request").await,
        BANK,
    );
    server.stop().await;
}
both_stores!(the_portal_the_console_and_their_mails_carry_the_banks_name);
