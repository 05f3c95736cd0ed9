//! A deadline for the whole request body (`http.body_timeout_millis`).
//!
//! The per-read timeout alone lets a client dribble a body a byte at a time
//! and keep its request slot until the request timeout; here the body must
//! have arrived in full within the deadline, or the request is answered 408
//! in its surface's format. The body is read before the route runs, which
//! costs nothing extra: every handler reads its (size-limited) body in full.

use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use super::surface;

#[derive(Clone, Copy)]
pub(super) struct BodyDeadline(pub(super) Duration);

pub(super) async fn read_within_deadline(
    State(BodyDeadline(deadline)): State<BodyDeadline>,
    req: Request,
    next: Next,
) -> Response {
    if req.body().size_hint().exact() == Some(0) {
        return next.run(req).await;
    }
    let path = req.uri().path().to_owned();
    let (parts, body) = req.into_parts();
    let read = Bytes::from_request(Request::from_parts(parts.clone(), body), &());
    match tokio::time::timeout(deadline, read).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        // Too large (413) or the connection failed mid-body (400).
        Ok(Err(rejection)) => {
            let status = rejection.status();
            surface::error(&path, status, surface::explain(status))
        }
        Err(_) => {
            tracing::info!(path = %path, "request body not received within the deadline");
            surface::error(
                &path,
                StatusCode::REQUEST_TIMEOUT,
                surface::explain(StatusCode::REQUEST_TIMEOUT),
            )
        }
    }
}
