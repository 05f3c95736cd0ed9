//! Load shedding: at most `http.max_in_flight_requests` requests are served at
//! once; a request that cannot start within `http.queue_timeout_millis` is
//! answered 503 with `Retry-After` at once, so the requests admitted keep
//! their latency instead of every request slowing down together.
//! `/healthz` is never held back: a busy node is still alive. Each shed
//! request counts in `fintechapi_http_requests_shed_total`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::metrics::counter::Counter;
use tokio::sync::Semaphore;

use super::surface;

#[derive(Clone)]
pub(super) struct Shedder {
    permits: Arc<Semaphore>,
    queue_timeout: Duration,
    shed: Counter,
}

impl Shedder {
    pub(super) fn new(max_in_flight: usize, queue_timeout: Duration, shed: Counter) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_in_flight)),
            queue_timeout,
            shed,
        }
    }
}

pub(super) async fn shed(State(shedder): State<Shedder>, req: Request, next: Next) -> Response {
    if req.uri().path() == "/healthz" {
        return next.run(req).await;
    }
    let waited = tokio::time::timeout(
        shedder.queue_timeout,
        shedder.permits.clone().acquire_owned(),
    )
    .await;
    match waited {
        Ok(Ok(_permit)) => next.run(req).await,
        // Timed out waiting, or (never, the semaphore is not closed) closed.
        _ => {
            shedder.shed.inc();
            tracing::warn!(path = %req.uri().path(), "overloaded: request shed");
            surface::overloaded(req.uri().path(), Duration::from_secs(1))
        }
    }
}
