//! Operations endpoints: liveness, readiness and metrics.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use fintechapi_limits::{Backend, Limits};
use serde_json::json;

use crate::app::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The process is up and serving.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
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
