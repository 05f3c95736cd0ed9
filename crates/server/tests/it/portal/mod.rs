//! The Developer Portal through its forms, over HTTPS, on both stores:
//! sign-up → verify → login → organisation → application → key and secret.

mod brand;
mod login;
mod organisations;
mod signup;

use crate::support::{Browser, Page, TestServer};
use fintechapi_domain::portal::{Email, PortalRepository};
use reqwest::StatusCode;

const PASSWORD: &str = "correct horse battery staple 42";

async fn link_in_last_mail(server: &TestServer, to: &str) -> String {
    let store = server.db.store().await;
    let mails = store.mails_to(&to.parse::<Email>().unwrap()).await.unwrap();
    let text = &mails.last().expect("a mail").body_text;
    let start = text.find("https://").unwrap();
    let link = text[start..].split_whitespace().next().unwrap();
    link.split_once("/portal")
        .map(|(_, path)| format!("/portal{path}"))
        .unwrap()
}

/// The sign-up form filled in with a fresh token: the answer.
async fn sign_up(b: &mut Browser, email: &str, display_name: &str, password: &str) -> Page {
    let csrf = b.get("/portal/signup").await.csrf();
    b.submit(
        "/portal/signup",
        &[
            ("email", email),
            ("display_name", display_name),
            ("password", password),
        ],
        &csrf,
    )
    .await
}

/// The login form posted with `csrf`: the answer.
async fn log_in_with(b: &mut Browser, csrf: &str, email: &str, password: &str) -> Page {
    b.submit(
        "/portal/login",
        &[("email", email), ("password", password)],
        csrf,
    )
    .await
}

/// The login form filled in with a fresh token: the answer.
async fn log_in(b: &mut Browser, email: &str, password: &str) -> Page {
    let csrf = b.get("/portal/login").await.csrf();
    log_in_with(b, &csrf, email, password).await
}

/// Signs up, verifies and logs in; returns the logged-in browser.
async fn developer(server: &TestServer, email: &str) -> Browser {
    let mut b = Browser::new(server);
    let done = sign_up(&mut b, email, "Dana Developer", PASSWORD).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let verify = link_in_last_mail(server, email).await;
    assert_eq!(b.get(&verify).await.status, StatusCode::OK);
    let logged_in = log_in(&mut b, email, PASSWORD).await;
    assert_eq!(
        logged_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        logged_in.body
    );
    assert_eq!(logged_in.location.as_deref(), Some("/portal/dashboard"));
    b
}

/// An organisation's form fields for `name`, an AISP in Germany.
fn organisation(name: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("legal_name", name),
        ("country", "DE"),
        ("role_aisp", "on"),
        ("competent_authority", "BaFin"),
        ("authorisation_number", "1"),
    ]
}
