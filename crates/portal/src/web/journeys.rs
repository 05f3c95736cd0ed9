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
    ($name:literal, $media_type:expr) => {
        Example {
            name: $name,
            media_type: $media_type,
            text: include_str!(concat!("../../static/examples/", $name)),
        }
    };
}

const PYTHON: &str = "text/x-python; charset=utf-8";
const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

const JOURNEYS: [Journey; 7] = [
    Journey {
        slug: "ais-redirect",
        title: "Read accounts with the Redirect approach",
        files: &[
            example!("ais-redirect.py", PYTHON),
            example!("ais-redirect.mjs", JAVASCRIPT),
        ],
    },
    Journey {
        slug: "payment",
        title: "A payment with dynamic linking",
        files: &[
            example!("payment.py", PYTHON),
            example!("payment.mjs", JAVASCRIPT),
        ],
    },
    Journey {
        slug: "standing-order",
        title: "A standing order, and its cancellation",
        files: &[
            example!("standing-order.py", PYTHON),
            example!("standing-order.mjs", JAVASCRIPT),
        ],
    },
    Journey {
        slug: "bulk-payment",
        title: "A bulk payment",
        files: &[
            example!("bulk-payment.py", PYTHON),
            example!("bulk-payment.mjs", JAVASCRIPT),
        ],
    },
    Journey {
        slug: "funds-confirmation",
        title: "Confirm funds under the holder's consent (PIIS)",
        files: &[
            example!("funds-confirmation.py", PYTHON),
            example!("funds-confirmation.mjs", JAVASCRIPT),
        ],
    },
    Journey {
        slug: "fapi2-dpop",
        title: "FAPI 2.0: private_key_jwt and DPoP-bound tokens",
        files: &[
            example!("fapi2-dpop.py", PYTHON),
            example!("fapi2-dpop.mjs", JAVASCRIPT),
            example!("jose.mjs", JAVASCRIPT),
        ],
    },
    Journey {
        slug: "mtls",
        title: "FAPI 2.0: mutual TLS and certificate-bound tokens",
        files: &[
            example!("mtls.py", PYTHON),
            example!("mtls.mjs", JAVASCRIPT),
        ],
    },
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
