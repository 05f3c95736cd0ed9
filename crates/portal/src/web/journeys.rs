//! Journey pages of the docs: one task from registration to the answer a
//! TPP wants, each step a command run as written by the server's tests, and
//! the whole journey as a Python and a Node.js program, shown and downloadable.
//! A journey is one entry of `JOURNEYS` and its steps one template under
//! `templates/journeys/`, included by `journey.html`.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use fintechapi_web::asset;

use super::docs::base_url;
use super::session::Visitor;
use super::{Nav, PageError, Portal, PortalStore};

/// A downloadable file of a journey.
struct Example {
    name: &'static str,
    media_type: &'static str,
    text: &'static str,
}

/// A journey: its page at `/portal/docs/journeys/<slug>` and its files at
/// `/portal/docs/examples/<name>`; the first file is the Python program, the
/// second the Node.js one.
pub struct Journey {
    slug: &'static str,
    title: &'static str,
    files: &'static [Example],
}

macro_rules! example {
    ($name:expr, $media_type:expr) => {
        Example {
            name: $name,
            media_type: $media_type,
            text: include_str!(concat!("../../static/examples/", $name)),
        }
    };
}

/// A journey whose files are its two programs, `<slug>.py` and `<slug>.mjs`.
macro_rules! journey {
    ($slug:literal, $title:literal) => {
        Journey {
            slug: $slug,
            title: $title,
            files: &[
                example!(concat!($slug, ".py"), PYTHON),
                example!(concat!($slug, ".mjs"), JAVASCRIPT),
            ],
        }
    };
}

const PYTHON: &str = "text/x-python; charset=utf-8";
const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

const JOURNEYS: [Journey; 8] = [
    journey!("ais-redirect", "Read accounts with the Redirect approach"),
    journey!(
        "ais-decoupled",
        "Read accounts with the Decoupled approach: the customer approves in the bank's app"
    ),
    journey!("payment", "A payment with dynamic linking"),
    journey!("standing-order", "A standing order, and its cancellation"),
    journey!("bulk-payment", "A bulk payment"),
    journey!(
        "funds-confirmation",
        "Confirm funds under the holder's consent (PIIS)"
    ),
    Journey {
        slug: "fapi2-dpop",
        title: "FAPI 2.0: private_key_jwt and DPoP-bound tokens",
        files: &[
            example!("fapi2-dpop.py", PYTHON),
            example!("fapi2-dpop.mjs", JAVASCRIPT),
            example!("jose.mjs", JAVASCRIPT),
        ],
    },
    journey!("mtls", "FAPI 2.0: mutual TLS and certificate-bound tokens"),
];

#[derive(Template, WebTemplate)]
#[template(path = "journey.html")]
struct JourneyPage {
    nav: Nav,
    base: String,
    journey: &'static Journey,
}

impl Journey {
    fn python(&self) -> &Example {
        &self.files[0]
    }

    fn javascript(&self) -> &Example {
        &self.files[1]
    }
}

async fn page<R: PortalStore>(
    portal: Arc<Portal<R>>,
    headers: HeaderMap,
    uri: Uri,
    journey: &'static Journey,
) -> Result<Response, PageError> {
    let visitor = Visitor::load(&portal, &headers).await?;
    Ok(JourneyPage {
        nav: visitor.nav(),
        base: base_url(&portal, &headers, &uri),
        journey,
    }
    .into_response())
}

/// Every journey's page and files.
pub(super) fn routes<R: PortalStore>() -> Router<Arc<Portal<R>>> {
    let mut router = Router::new();
    for journey in &JOURNEYS {
        router = router.route(
            &format!("/portal/docs/journeys/{}", journey.slug),
            get(
                move |State(portal): State<Arc<Portal<R>>>, headers: HeaderMap, uri: Uri| {
                    page(portal, headers, uri, journey)
                },
            ),
        );
        for file in journey.files {
            router = router.route(
                &format!("/portal/docs/examples/{}", file.name),
                get(move || async move { asset(file.media_type, 3600, file.text) }),
            );
        }
    }
    router
}
