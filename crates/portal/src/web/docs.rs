//! API documentation pages: a getting-started guide, the Berlin Group XS2A
//! reference rendered from the shipped OpenAPI file (the operations this bank
//! offers), and the raw files.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use fintechapi_web::{asset, request_host};

use super::session::Visitor;
use super::{Nav, PageError, Portal, PortalStore};
use crate::docs::examples::{Shown, examples, shown};
use crate::docs::{Downloads, OfferedGroup, Reference, SPEC_YAML, reference};

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
    examples: &'static HashMap<String, Shown>,
}

pub async fn xs2a<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let visitor = Visitor::load(&portal, &headers).await?;
    let (reference, examples) =
        tokio::task::spawn_blocking(|| Ok::<_, &str>((reference()?, shown()?)))
            .await
            .map_err(PageError::internal)?
            .map_err(PageError::internal)?;
    let groups = reference.offered(&portal.refused_operations);
    Ok(ReferencePage {
        nav: visitor.nav(),
        reference,
        operations: groups.iter().map(|g| g.operations.len()).sum(),
        groups,
        examples,
    }
    .into_response())
}

/// The reference's downloads for this deployment, built on first request.
pub struct DownloadFiles {
    base: String,
    refused: Vec<&'static str>,
    built: OnceLock<Result<Downloads, String>>,
}

impl DownloadFiles {
    pub fn new(base: String, refused: Vec<&'static str>) -> Self {
        Self {
            base,
            refused,
            built: OnceLock::new(),
        }
    }

    fn get(&self) -> Result<&Downloads, &str> {
        self.built
            .get_or_init(|| Downloads::build(reference()?, &self.refused, examples()?, &self.base))
            .as_ref()
            .map_err(String::as_str)
    }
}

/// One of the downloads, picked by `file`, built off the async workers.
async fn download(
    files: Arc<DownloadFiles>,
    file: fn(&Downloads) -> &Bytes,
) -> Result<Response, PageError> {
    let body = tokio::task::spawn_blocking(move || {
        files.get().map(|d| file(d).clone()).map_err(str::to_owned)
    })
    .await
    .map_err(PageError::internal)?
    .map_err(PageError::internal)?;
    Ok(asset("application/json", 3600, body))
}

pub async fn openapi_subset(files: Arc<DownloadFiles>) -> Result<Response, PageError> {
    download(files, |d| &d.openapi).await
}

pub async fn postman_collection(files: Arc<DownloadFiles>) -> Result<Response, PageError> {
    download(files, |d| &d.postman).await
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
