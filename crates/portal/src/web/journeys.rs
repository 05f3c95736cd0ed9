//! The docs' journeys: one page per PSD2 journey, numbered steps with a curl
//! block each and the whole journey as a Python and a Node.js program, all
//! run as written by the server's `journeys` tests. A journey is one entry
//! of [`JOURNEYS`], its steps one template under `templates/journeys/`
//! (`token.html` and `pkce.html` are steps they share).

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use fintechapi_web::asset;

use super::docs::base_url;
use super::session::Visitor;
use super::{Nav, PageError, Portal, PortalStore};

/// A journey: where its page is, what the docs' index says of it, and its programs.
pub struct Journey {
    /// The page is `/portal/docs/journeys/<slug>`, the programs
    /// `/portal/docs/examples/<slug>.py` and `.mjs`.
    pub slug: &'static str,
    pub title: &'static str,
    pub summary: &'static str,
    pub python: &'static str,
    pub javascript: &'static str,
}

macro_rules! journey {
    ($slug:literal, $title:literal, $summary:literal) => {
        Journey {
            slug: $slug,
            title: $title,
            summary: $summary,
            python: include_str!(concat!("../../static/examples/", $slug, ".py")),
            javascript: include_str!(concat!("../../static/examples/", $slug, ".mjs")),
        }
    };
}

/// Every journey, in the order the docs list them. Its steps are
/// `templates/journeys/<slug>.html`, included by `journey.html`.
pub const JOURNEYS: &[Journey] = &[
    journey!(
        "ais-redirect",
        "Read accounts with the Redirect approach",
        "The customer approves at the bank and comes back without a code; you read with your own token and the consent's id."
    ),
    journey!(
        "payment",
        "A payment with dynamic linking",
        "A SEPA credit transfer the customer approves on a screen showing its amount and payee; executed at once."
    ),
    journey!(
        "standing-order",
        "A standing order, and its cancellation",
        "A monthly transfer from a start date, authorised by the customer, then cancelled with the customer's confirmation."
    ),
    journey!(
        "bulk-payment",
        "A bulk payment",
        "Several transfers from one account, booked as one debit, authorised once."
    ),
];

fn find(slug: &str) -> Option<&'static Journey> {
    JOURNEYS.iter().find(|j| j.slug == slug)
}

#[derive(Template, WebTemplate)]
#[template(path = "journey.html")]
struct JourneyPage {
    nav: Nav,
    base: String,
    journey: &'static Journey,
}

pub async fn page<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Result<Response, PageError> {
    let journey = find(&slug).ok_or_else(PageError::not_found)?;
    let visitor = Visitor::load(&portal, &headers).await?;
    Ok(JourneyPage {
        nav: visitor.nav(),
        base: base_url(&portal, &headers, &uri),
        journey,
    }
    .into_response())
}

/// `<slug>.py` or `<slug>.mjs`: a journey's program, to download.
pub async fn example(Path(file): Path<String>) -> Result<Response, PageError> {
    let program = |slug: &str| find(slug).ok_or_else(PageError::not_found);
    if let Some(slug) = file.strip_suffix(".py") {
        Ok(asset(
            "text/x-python; charset=utf-8",
            3600,
            program(slug)?.python,
        ))
    } else if let Some(slug) = file.strip_suffix(".mjs") {
        Ok(asset(
            "text/javascript; charset=utf-8",
            3600,
            program(slug)?.javascript,
        ))
    } else {
        Err(PageError::not_found())
    }
}
