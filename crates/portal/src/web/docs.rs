//! API documentation pages: a getting-started guide, the Berlin Group XS2A
//! reference rendered from the shipped OpenAPI file (the operations this bank
//! offers), and the raw files.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use fintechapi_web::{asset, request_host};

use super::session::Visitor;
use super::{Nav, PageError, Portal, PortalStore};
use crate::docs::{OfferedGroup, Reference, SPEC_YAML, reference};

#[derive(Template, WebTemplate)]
#[template(path = "docs.html")]
struct GuidePage {
    nav: Nav,
    base: String,
    python: &'static str,
    javascript: &'static str,
}

/// Step 6 of the guide as programs a TPP developer copies, run as written by
/// the guide's test.
const PYTHON_EXAMPLE: &str = include_str!("../../static/examples/ais.py");
const JAVASCRIPT_EXAMPLE: &str = include_str!("../../static/examples/ais.mjs");

pub async fn guide<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Result<Response, PageError> {
    let visitor = Visitor::load(&portal, &headers).await?;
    Ok(GuidePage {
        nav: visitor.nav(),
        base: base_url(&portal, &headers, &uri),
        python: PYTHON_EXAMPLE,
        javascript: JAVASCRIPT_EXAMPLE,
    }
    .into_response())
}

/// The address the reader reached this installation at, for the `BASE=` line
/// of the commands.
pub(super) fn base_url<R: PortalStore>(
    portal: &Portal<R>,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
) -> String {
    match request_host(headers, uri) {
        Some(host) => format!("https://{host}"),
        None => portal.public_url.clone(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "xs2a.html")]
struct ReferencePage {
    nav: Nav,
    reference: &'static Reference,
    groups: Vec<OfferedGroup<'static>>,
    operations: usize,
}

pub async fn xs2a<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let visitor = Visitor::load(&portal, &headers).await?;
    let reference = tokio::task::spawn_blocking(reference)
        .await
        .map_err(PageError::internal)?
        .map_err(PageError::internal)?;
    let groups = reference.offered(&portal.refused_operations);
    Ok(ReferencePage {
        nav: visitor.nav(),
        reference,
        operations: groups.iter().map(|g| g.operations.len()).sum(),
        groups,
    }
    .into_response())
}

pub async fn spec_yaml() -> Response {
    asset("application/yaml; charset=utf-8", 3600, SPEC_YAML)
}

pub async fn python_example() -> Response {
    asset("text/x-python; charset=utf-8", 3600, PYTHON_EXAMPLE)
}

pub async fn javascript_example() -> Response {
    asset("text/javascript; charset=utf-8", 3600, JAVASCRIPT_EXAMPLE)
}
