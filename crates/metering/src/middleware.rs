//! The axum middleware that counts each metered call once it is answered.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use fintechapi_domain::ids::ApplicationId;
use fintechapi_domain::usage::{MeteredApi, UsageKey, UsageRepository};

use crate::Meter;

/// Put on a response by the handler that identified the calling application;
/// calls without it (unauthenticated clients) are not attributed to anyone.
#[derive(Debug, Clone, Copy)]
pub struct Metered {
    pub application_id: ApplicationId,
    pub api: MeteredApi,
    pub throttled: bool,
}

/// Records the call's endpoint template, status class and latency for the
/// application the handler named.
pub async fn record_usage<R: UsageRepository + 'static>(
    State(meter): State<Arc<Meter<R>>>,
    req: Request,
    next: Next,
) -> Response {
    let endpoint = req.extensions().get::<MatchedPath>().map_or_else(
        || format!("{} (unmatched)", req.method()),
        |p| format!("{} {}", req.method(), p.as_str()),
    );
    let started = Instant::now();
    let response = next.run(req).await;
    if let Some(metered) = response.extensions().get::<Metered>() {
        let key = UsageKey {
            application_id: metered.application_id,
            day: meter.now().date(),
            api: metered.api,
            endpoint,
            status_class: u8::try_from(response.status().as_u16() / 100).unwrap_or(5),
        };
        meter.record(key, started.elapsed(), metered.throttled);
    }
    response
}
