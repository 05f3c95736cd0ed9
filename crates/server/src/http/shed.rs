//! Load shedding: at most `http.max_in_flight_requests` requests are served at
//! once; a request that cannot start within `http.queue_timeout_millis` is
//! answered 503 with `Retry-After` at once, so the requests admitted keep
//! their latency instead of every request slowing down together.
//! `/healthz` is never held back: a busy node is still alive. Each shed
//! request counts in `fintechapi_http_requests_shed_total`.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::response::Response;
use fintechapi_web::hook::Served;
use prometheus_client::metrics::counter::Counter;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::{Layer, Service, ServiceExt};

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

impl<S> Layer<S> for Shedder {
    type Service = Shed<S>;

    fn layer(&self, inner: S) -> Shed<S> {
        Shed {
            inner,
            shedder: self.clone(),
        }
    }
}

#[derive(Clone)]
pub(super) struct Shed<S> {
    inner: S,
    shedder: Shedder,
}

impl<S> Service<Request> for Shed<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Served<S::Future, Option<OwnedSemaphorePermit>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        if req.uri().path() == "/healthz" {
            return Served::now(self.inner.call(req), None);
        }
        // A free permit is never owed to a waiter (tokio hands released
        // permits to the queue first), so taking it here jumps no queue.
        match self.shedder.permits.clone().try_acquire_owned() {
            Ok(permit) => Served::now(self.inner.call(req), Some(permit)),
            Err(_) => Served::later(wait_for_turn(self.shedder.clone(), self.inner.clone(), req)),
        }
    }
}

async fn wait_for_turn<S>(shedder: Shedder, route: S, req: Request) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let waited = tokio::time::timeout(
        shedder.queue_timeout,
        shedder.permits.clone().acquire_owned(),
    )
    .await;
    match waited {
        Ok(Ok(_permit)) => match route.oneshot(req).await {
            Ok(response) => response,
            Err(never) => match never {},
        },
        // Timed out waiting, or (never, the semaphore is not closed) closed.
        _ => {
            shedder.shed.inc();
            tracing::warn!(path = %req.uri().path(), "overloaded: request shed");
            surface::overloaded(req.uri().path(), Duration::from_secs(1))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::body::Body;
    use axum::http::StatusCode;

    fn route() -> impl Service<Request, Response = Response, Error = Infallible, Future: Send>
    + Clone
    + Send
    + 'static {
        tower::service_fn(|_: Request| async { Ok(Response::new(Body::from("routed"))) })
    }

    fn request(path: &str) -> Request {
        Request::get(path).body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn a_queued_request_is_served_when_a_turn_frees_in_time_and_shed_otherwise() {
        let shed = Counter::default();
        let shedder = Shedder::new(1, Duration::from_millis(300), shed.clone());
        let mut service = shedder.layer(route());
        let busy = shedder.permits.clone().acquire_owned().await.unwrap();

        // The only turn is taken: shed after the queue timeout, and counted.
        let refused = service.call(request("/v1/accounts")).await.unwrap();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.headers()["retry-after"], "1");
        assert_eq!(shed.get(), 1);

        // Health never waits.
        let health = service.call(request("/healthz")).await.unwrap();
        assert_eq!(health.status(), StatusCode::OK);

        // Queued, then the turn frees within the timeout: the route answers.
        let queued = tokio::spawn(service.call(request("/v1/accounts")));
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(busy);
        let served = queued.await.unwrap().unwrap();
        assert_eq!(served.status(), StatusCode::OK);
        assert_eq!(shed.get(), 1);
        // Its turn was given back once it was answered.
        assert_eq!(shedder.permits.available_permits(), 1);
    }
}
