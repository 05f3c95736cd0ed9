//! A deadline for the whole request body (`http.body_timeout_millis`).
//!
//! The per-read timeout alone lets a client dribble a body a byte at a time
//! and keep its request slot until the request timeout; here the body must
//! have arrived in full within the deadline, or the request is answered 408
//! in its surface's format. The body is read before the route runs, which
//! costs nothing extra: every handler reads its (size-limited) body in full.

use std::convert::Infallible;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use fintechapi_web::hook::Served;
use http_body_util::LengthLimitError;
use tower::{Layer, Service, ServiceExt};

use super::surface;

#[derive(Clone, Copy)]
pub(super) struct BodyDeadline {
    pub(super) deadline: Duration,
    /// Also enforced by the size-limit layer outside; repeated so that this
    /// read stays bounded whatever the order of the layers.
    pub(super) max_bytes: usize,
}

impl<S> Layer<S> for BodyDeadline {
    type Service = ReadWithinDeadline<S>;

    fn layer(&self, inner: S) -> ReadWithinDeadline<S> {
        ReadWithinDeadline {
            inner,
            limits: *self,
        }
    }
}

#[derive(Clone)]
pub(super) struct ReadWithinDeadline<S> {
    inner: S,
    limits: BodyDeadline,
}

impl<S> Service<Request> for ReadWithinDeadline<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Served<S::Future, ()>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        if req.body().size_hint().exact() == Some(0) {
            return Served::now(self.inner.call(req), ());
        }
        Served::later(read_then_route(self.limits, self.inner.clone(), req))
    }
}

async fn read_then_route<S>(limits: BodyDeadline, route: S, req: Request) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let (parts, body) = req.into_parts();
    let read = axum::body::to_bytes(body, limits.max_bytes);
    let status = match tokio::time::timeout(limits.deadline, read).await {
        Ok(Ok(bytes)) => {
            return match route
                .oneshot(Request::from_parts(parts, Body::from(bytes)))
                .await
            {
                Ok(response) => response,
                Err(never) => match never {},
            };
        }
        Ok(Err(e)) if too_large(&e) => StatusCode::PAYLOAD_TOO_LARGE,
        // The connection failed mid-body.
        Ok(Err(_)) => StatusCode::BAD_REQUEST,
        Err(_) => {
            tracing::info!(path = %parts.uri.path(), "request body not received within the deadline");
            StatusCode::REQUEST_TIMEOUT
        }
    };
    surface::error(parts.uri.path(), status, surface::explain(status))
}

/// Whether reading stopped at a size limit, this read's or a layer's.
fn too_large(error: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if e.is::<LengthLimitError>() {
            return true;
        }
        cause = e.source();
    }
    false
}
