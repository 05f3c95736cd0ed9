//! The public site at `/`: what the platform does for a bank and for TPPs,
//! how it keeps customers' data safe, the PSD2 glossary, an API overview and
//! the "request a demo" form, whose requests operators follow up in the
//! admin console. Server-rendered, no JavaScript, the portal's strict CSP.
//!
//! - [`pages`]: the informational pages.
//! - [`glossary`]: the PSD2 terms the pages and docs use.
//! - [`demo`]: the demo-request form.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fintechapi_domain::Clock;
use fintechapi_domain::lead::LeadRepository;
use fintechapi_domain::portal::PortalRepository;
use fintechapi_limits::throttle::Throttle;
use fintechapi_web::{Brand, asset};

pub mod demo;
pub mod glossary;
pub mod pages;

/// The storage the site needs: demo requests, and the mail outbox.
pub trait SiteStore: LeadRepository + PortalRepository + Send + Sync + 'static {}

impl<T: LeadRepository + PortalRepository + Send + Sync + 'static> SiteStore for T {}

pub struct Site<R> {
    pub repo: R,
    pub clock: Arc<dyn Clock>,
    pub brand: Brand,
    /// Base URL for links in mails.
    pub public_url: String,
    /// Demo requests per client address.
    pub requests_per_address: Throttle,
    /// Demo requests per e-mail address: each one sends a mail there.
    pub requests_per_email: Throttle,
}

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// A demo request is five short fields and a message of at most 2,000
/// characters; 64 KiB leaves room for percent-encoding and no more.
const FORM_LIMIT: usize = 64 * 1024;

pub fn router<R: SiteStore>(site: Arc<Site<R>>) -> Router {
    let routes = Router::new()
        .route("/", get(pages::home::<R>))
        .route("/security", get(pages::security::<R>))
        .route("/glossary", get(pages::glossary::<R>))
        .route("/api", get(pages::api::<R>))
        .route(
            "/demo",
            get(demo::form::<R>)
                .post(demo::submit::<R>)
                .layer(DefaultBodyLimit::max(FORM_LIMIT)),
        )
        .route("/demo/thanks", get(demo::thanks::<R>))
        .route("/site/site.css", get(stylesheet))
        .route("/site/brand.css", get(brand_stylesheet::<R>));
    fintechapi_web::with_security_headers(routes, CSP).with_state(site)
}

async fn stylesheet() -> Response {
    asset(
        "text/css; charset=utf-8",
        3600,
        include_str!("../assets/site.css"),
    )
}

async fn brand_stylesheet<R: SiteStore>(State(site): State<Arc<Site<R>>>) -> Response {
    asset("text/css; charset=utf-8", 300, site.brand.stylesheet())
}

/// Which page of the top navigation is open (for `aria-current`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Home,
    Security,
    Glossary,
    Api,
    Demo,
}

impl Section {
    /// For templates: whether this is the section named `name`.
    pub fn is(&self, name: &str) -> bool {
        let own = match self {
            Section::Home => "home",
            Section::Security => "security",
            Section::Glossary => "glossary",
            Section::Api => "api",
            Section::Demo => "demo",
        };
        own == name
    }
}

/// A short page that says what went wrong and what to do.
#[derive(Template, WebTemplate)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    brand: &'a Brand,
    section: Section,
    title: &'a str,
    message: &'a str,
}

pub(crate) fn message_page(
    brand: &Brand,
    status: StatusCode,
    title: &str,
    message: &str,
) -> Response {
    let page = MessagePage {
        brand,
        section: Section::Demo,
        title,
        message,
    };
    (status, page).into_response()
}
