//! The HTTP surface: router assembly and the middleware every request passes.
//!
//! Outer to inner: request id (the client's `X-Request-ID`, or a new UUID
//! kept only as an extension: never written into the request's headers, where
//! the XS2A API must see only the TPP's own) → tracing span carrying it →
//! panic guard → security headers →
//! bodies in the surface's format for bare errors → metrics → load shedding →
//! request timeout → per-read body timeout and size limit → whole-body
//! deadline → the route.

mod body;
mod ops;
mod shed;
mod surface;

pub use ops::private_router;

use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::RequestId;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::app::AppState;

pub fn router(state: AppState) -> Router {
    let http = &state.config().http;
    let max_body = http.max_body_bytes;
    let request_timeout = Duration::from_secs(http.request_timeout_secs);
    let body_timeout = Duration::from_secs(http.body_read_timeout_secs);
    let body_deadline = body::BodyDeadline(Duration::from_millis(http.body_timeout_millis));
    let shedder = shed::Shedder::new(
        http.max_in_flight_requests,
        Duration::from_millis(http.queue_timeout_millis),
        state.metrics().shed_counter(),
    );

    Router::new()
        .merge(ops::routes())
        .with_state(state.clone())
        .merge(fintechapi_site::router(state.site().clone()))
        .merge(fintechapi_portal::web::router(state.portal().clone()))
        .merge(fintechapi_oauth::router(state.oauth().clone()))
        .merge(fintechapi_bank::routes(state.bank().clone()))
        .merge(fintechapi_xs2a::router(state.xs2a().clone()))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            body_deadline,
            body::read_within_deadline,
        ))
        .layer(
            ServiceBuilder::new()
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::SERVICE_UNAVAILABLE,
                    request_timeout,
                ))
                .layer(RequestBodyTimeoutLayer::new(body_timeout))
                .layer(RequestBodyLimitLayer::new(max_body))
                .layer(DefaultBodyLimit::max(max_body)),
        )
        .layer(middleware::from_fn_with_state(shedder, shed::shed))
        .layer(middleware::from_fn_with_state(state.clone(), track_metrics))
        .layer(
            ServiceBuilder::new()
                .layer(SetSensitiveRequestHeadersLayer::new([
                    header::AUTHORIZATION,
                    header::COOKIE,
                ]))
                .layer(middleware::from_fn(request_id))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
                )
                .layer(CatchPanicLayer::custom(panic_response))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::STRICT_TRANSPORT_SECURITY,
                    HeaderValue::from_static(if http.hsts_include_subdomains {
                        "max-age=31536000; includeSubDomains"
                    } else {
                        "max-age=31536000"
                    }),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("no-store"),
                ))
                .layer(middleware::from_fn(json_error_bodies)),
        )
        // The fallback's and the layers' page errors, under the bank's name.
        .layer(middleware::map_response_with_state(
            state.portal().clone(),
            fintechapi_portal::web::error_pages::<fintechapi_storage::Store>,
        ))
}

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The client's `X-Request-ID`, or a new UUID, as the request's `RequestId`
/// for the logs, and on the answer unless a handler set one. A generated id
/// stays out of the request's headers: the XS2A API requires the TPP's own
/// (400 `FORMAT_ERROR` without it) and must not find one made up here.
async fn request_id(mut req: Request, next: Next) -> Response {
    let id = match req.headers().get(&X_REQUEST_ID) {
        Some(given) => given.clone(),
        None => HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("-")),
    };
    req.extensions_mut().insert(RequestId::new(id.clone()));
    let mut response = next.run(req).await;
    response.headers_mut().entry(X_REQUEST_ID).or_insert(id);
    response
}

fn request_span(req: &Request) -> tracing::Span {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %req.method(),
        path = %req.uri().path(),
    )
}

async fn track_metrics(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // The route template, not the path: ids in paths must not explode label cardinality.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = crate::metrics::method_label(req.method());
    let metrics = state.metrics();
    metrics.request_started();
    let started = Instant::now();
    let response = next.run(req).await;
    metrics.request_finished(
        method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Tower layers answer 408/413/503 with an empty or plain-text body; give every
/// bodiless error, and those plain-text ones, a body in the format of the
/// request's surface instead.
async fn json_error_bodies(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let response = next.run(req).await;
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
    let mut rebuilt = surface::error(&path, status, surface::explain(status));
    for (name, value) in parts.headers.drain().filter_map(|(n, v)| n.map(|n| (n, v))) {
        rebuilt.headers_mut().entry(name).or_insert(value);
    }
    rebuilt
}

fn error_body(status: StatusCode) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "status": status.as_u16(),
        "error": status.canonical_reason().unwrap_or("error"),
    }))
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("request handler panicked");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        error_body(StatusCode::INTERNAL_SERVER_ERROR),
    )
        .into_response()
}

/// No route: 404 in the format of the path's surface (`tppMessages` under `/v1`).
async fn not_found(uri: axum::http::Uri) -> Response {
    let path = uri.path();
    if !path.starts_with("/portal/api")
        && (path.starts_with("/portal") || path.starts_with("/admin"))
    {
        return fintechapi_portal::web::PageError::not_found().into_response();
    }
    surface::error(path, StatusCode::NOT_FOUND, "no such resource")
}
