//! Operations endpoints: liveness, readiness and metrics.
//!
//! The public listener answers `/healthz` and `/readyz` (status code only).
//! The detail of `/readyz` and `/metrics` are for operators: on the private
//! listener (`metrics.listen`), or on the public one with the bearer token of
//! `metrics.token_file`; without either they are not served at all.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use fintechapi_limits::{Backend, Limits};
use serde_json::json;

use crate::app::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(public_readyz))
        .route("/metrics", get(public_metrics))
}

/// The operators' router of the private listener: everything in full, no credentials.
pub fn private_router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// The process is up and serving.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Whoever may see the detail: the holder of the metrics token.
fn is_operator(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(token) = state.metrics_token() else {
        return false;
    };
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| token.matches(given.trim()))
}

/// Ready or not, and nothing else unless the operator asks.
async fn public_readyz(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if is_operator(&state, &headers) {
        return readyz(State(state)).await;
    }
    let r = state.store().readiness().await;
    let ready = r.reachable && r.migrations_current;
    let (status, text) = if ready {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
    };
    (status, Json(json!({ "status": text }))).into_response()
}

/// The database answers and carries exactly this binary's migrations.
async fn readyz(State(state): State<AppState>) -> Response {
    let r = state.store().readiness().await;
    let ready = r.reachable && r.migrations_current;
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "database": if r.reachable { "up" } else { "down" },
        "migrations": if r.migrations_current { "current" } else { "not_current" },
        // Not a reason to take the node out: it keeps limiting on its own.
        "limits": limits_state(state.meter().limits()),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// Without a configured token the public listener does not serve metrics at
/// all (404); with one, only to its bearer (401 otherwise).
async fn public_metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if state.metrics_token().is_none() {
        return super::not_found(axum::http::Uri::from_static("/metrics")).await;
    }
    if !is_operator(&state, &headers) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\"")],
            Json(json!({ "status": 401, "error": "Unauthorized" })),
        )
            .into_response();
    }
    metrics(State(state)).await
}

/// Where rate limits are kept: `memory`, `redis`, or `degraded` (Redis
/// configured but unavailable: this node limits alone).
fn limits_state(limits: &Limits) -> &'static str {
    match limits.backend() {
        Backend::Memory => "memory",
        Backend::Redis if limits.degraded() => "degraded",
        Backend::Redis => "redis",
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    state
        .metrics()
        .set_limits_degraded(state.meter().limits().degraded());
    let text = state.metrics().render(state.store().pool_stats());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
