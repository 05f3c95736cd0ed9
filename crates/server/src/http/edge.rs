//! The two hooks around every request: its id on the way in, and on the way
//! out the metrics, a body in the surface's format for bare errors, and the
//! security headers.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use fintechapi_web::hook::Hook;
use tower_http::request_id::RequestId;

use super::surface::{self, Surface};
use crate::metrics::{HttpMetrics, InFlight, Route, method_label};

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The client's `X-Request-ID`, or a new UUID, as the request's `RequestId`
/// for the logs, and on the answer unless a handler set one. A generated id
/// stays out of the request's headers: the XS2A API requires the TPP's own
/// (400 `FORMAT_ERROR` without it) and must not find one made up here.
#[derive(Clone)]
pub(super) struct RequestIds;

impl Hook for RequestIds {
    type Carry = HeaderValue;

    fn before(&self, req: &mut Request) -> Result<HeaderValue, Response> {
        let id = match req.headers().get(&X_REQUEST_ID) {
            Some(given) => given.clone(),
            None => {
                let mut text = uuid::Uuid::encode_buffer();
                let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
                HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("-"))
            }
        };
        req.extensions_mut().insert(RequestId::new(id.clone()));
        Ok(id)
    }

    fn after(id: HeaderValue, mut response: Response) -> Response {
        response.headers_mut().entry(X_REQUEST_ID).or_insert(id);
        response
    }
}

/// Counts each request by route and status, gives bare errors a body and
/// sets the security headers a handler did not set.
#[derive(Clone)]
pub(super) struct Answers {
    pub(super) metrics: Arc<HttpMetrics>,
    pub(super) hsts: HeaderValue,
}

pub(super) struct Answering {
    in_flight: InFlight,
    surface: Surface,
    hsts: HeaderValue,
}

impl Hook for Answers {
    type Carry = Answering;

    fn before(&self, req: &mut Request) -> Result<Answering, Response> {
        // The route template, not the path: ids in paths must not explode label cardinality.
        let route = Route::of(req.extensions().get::<MatchedPath>());
        Ok(Answering {
            in_flight: self.metrics.start(method_label(req.method()), route),
            surface: Surface::of(req.uri().path()),
            hsts: self.hsts.clone(),
        })
    }

    fn after(answering: Answering, response: Response) -> Response {
        answering.in_flight.finish(response.status().as_u16());
        let mut response = with_error_body(answering.surface, response);
        let headers = response.headers_mut();
        headers
            .entry(header::STRICT_TRANSPORT_SECURITY)
            .or_insert(answering.hsts);
        headers
            .entry(header::X_CONTENT_TYPE_OPTIONS)
            .or_insert(HeaderValue::from_static("nosniff"));
        headers
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
        response
    }
}

/// Tower layers answer 408/413/503 with an empty or plain-text body; give every
/// bodiless error, and those plain-text ones, a body in the format of the
/// request's surface instead.
fn with_error_body(surface: Surface, response: Response) -> Response {
    let status = response.status();
    let plain_text = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/plain"));
    let from_a_layer = matches!(
        status,
        StatusCode::REQUEST_TIMEOUT | StatusCode::PAYLOAD_TOO_LARGE
    ) && plain_text;
    if !(status.is_client_error() || status.is_server_error())
        || (response.headers().contains_key(header::CONTENT_TYPE) && !from_a_layer)
    {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    let mut rebuilt = surface::error_in(surface, status, surface::explain(status));
    for (name, value) in parts.headers.drain().filter_map(|(n, v)| n.map(|n| (n, v))) {
        rebuilt.headers_mut().entry(name).or_insert(value);
    }
    rebuilt
}
