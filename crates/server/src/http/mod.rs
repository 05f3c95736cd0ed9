//! The HTTP surface: router assembly and the middleware every request passes.
//!
//! Outer to inner: request id (the client's `X-Request-ID`, or a new UUID
//! kept only as an extension: never written into the request's headers, where
//! the XS2A API must see only the TPP's own) → tracing span carrying it →
//! panic guard → security headers, bodies in the surface's format for bare
//! errors and metrics (`edge.rs`) → load shedding → request timeout →
//! per-read body timeout and size limit → whole-body deadline → the route.
//! Our own layers are hooks or services with plain futures, not `from_fn`,
//! whose per-request boxing took 12 % of the token endpoint's CPU.

mod body;
mod edge;
mod ops;
mod shed;
mod surface;

pub use ops::private_router;

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use fintechapi_web::hook::HookLayer;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::RequestId;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::app::AppState;

pub fn router(state: AppState) -> Router {
    let http = &state.config().http;
    let max_body = http.max_body_bytes;
    let request_timeout = Duration::from_secs(http.request_timeout_secs);
    let body_timeout = Duration::from_secs(http.body_read_timeout_secs);
    let body_deadline = body::BodyDeadline {
        deadline: Duration::from_millis(http.body_timeout_millis),
        max_bytes: max_body,
    };
    let shedder = shed::Shedder::new(
        http.max_in_flight_requests,
        Duration::from_millis(http.queue_timeout_millis),
        state.metrics().shed_counter(),
    );
    let answers = edge::Answers {
        metrics: state.metrics().http(),
        hsts: HeaderValue::from_static(if http.hsts_include_subdomains {
            "max-age=31536000; includeSubDomains"
        } else {
            "max-age=31536000"
        }),
    };

    Router::new()
        .merge(ops::routes())
        .with_state(state.clone())
        .merge(fintechapi_site::router(state.site().clone()))
        .merge(fintechapi_portal::web::router(state.portal().clone()))
        .merge(fintechapi_oauth::router(state.oauth().clone()))
        .merge(fintechapi_bank::routes(state.bank().clone()))
        .merge(fintechapi_xs2a::router(state.xs2a().clone()))
        .fallback(not_found)
        .layer(body_deadline)
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
        .layer(shedder)
        .layer(
            ServiceBuilder::new()
                .layer(SetSensitiveRequestHeadersLayer::new([
                    header::AUTHORIZATION,
                    header::COOKIE,
                ]))
                .layer(HookLayer(edge::RequestIds))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
                )
                .layer(CatchPanicLayer::custom(panic_response))
                .layer(HookLayer(answers)),
        )
        // The fallback's and the layers' page errors, under the bank's name.
        .layer(fintechapi_portal::web::error_pages(state.portal().clone()))
}

fn request_span(req: &axum::extract::Request) -> tracing::Span {
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
