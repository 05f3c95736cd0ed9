//! Middleware as two plain functions, one before the route and one after it.
//!
//! `axum::middleware::from_fn` boxes a clone of the inner service and a future
//! for every request, on every layer; on the token endpoint the server's seven
//! such layers took 12 % of its CPU. A [`Hook`]'s service calls
//! the inner service directly and its future is a plain enum, so a layer that
//! needs no waiting of its own costs nothing beyond its two functions.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

/// A layer's work around the route: `before` may amend the request or answer
/// it at once (then the route and `after` do not run); `after` sees, and may
/// replace, the route's answer.
pub trait Hook: Clone + Send + Sync + 'static {
    /// What `before` hands on to `after`. Dropped without `after` when the
    /// client goes away first.
    type Carry: Send + 'static;

    #[allow(
        clippy::result_large_err,
        reason = "the refusal is the answer, moved once to the client"
    )]
    fn before(&self, request: &mut Request) -> Result<Self::Carry, Response>;

    fn after(carry: Self::Carry, response: Response) -> Response;
}

/// A layer that answers a request at once with the refusal `check` returns, if any.
pub fn check<F>(check: F) -> HookLayer<Check<F>>
where
    F: Fn(&Request) -> Option<Response> + Clone + Send + Sync + 'static,
{
    HookLayer(Check(check))
}

#[derive(Clone)]
pub struct Check<F>(F);

impl<F> Hook for Check<F>
where
    F: Fn(&Request) -> Option<Response> + Clone + Send + Sync + 'static,
{
    type Carry = ();

    fn before(&self, request: &mut Request) -> Result<(), Response> {
        (self.0)(request).map_or(Ok(()), Err)
    }

    fn after((): (), response: Response) -> Response {
        response
    }
}

#[derive(Clone)]
pub struct HookLayer<H>(pub H);

impl<S, H: Hook> Layer<S> for HookLayer<H> {
    type Service = Hooked<S, H>;

    fn layer(&self, inner: S) -> Self::Service {
        Hooked {
            inner,
            hook: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Hooked<S, H> {
    inner: S,
    hook: H,
}

impl<S, H> Service<Request> for Hooked<S, H>
where
    S: Service<Request, Error = Infallible>,
    S::Response: IntoResponse,
    H: Hook,
{
    type Response = Response;
    type Error = Infallible;
    type Future = HookFuture<S::Future, H>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        match self.hook.before(&mut request) {
            Ok(carry) => HookFuture::Running {
                route: self.inner.call(request),
                carry: Some(carry),
            },
            Err(answer) => HookFuture::Answered {
                answer: Some(answer),
            },
        }
    }
}

pin_project! {
    #[project = HookFutureProj]
    pub enum HookFuture<F, H: Hook> {
        Running { #[pin] route: F, carry: Option<H::Carry> },
        Answered { answer: Option<Response> },
    }
}

impl<F, T, H> Future for HookFuture<F, H>
where
    F: Future<Output = Result<T, Infallible>>,
    T: IntoResponse,
    H: Hook,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // `take` leaves `None` only after `Ready`, which a caller never polls again.
        Poll::Ready(Ok(match self.project() {
            HookFutureProj::Running { route, carry } => {
                let response = ready!(route.poll(cx))?.into_response();
                match carry.take() {
                    Some(carry) => H::after(carry, response),
                    None => response,
                }
            }
            HookFutureProj::Answered { answer } => answer.take().unwrap_or_default(),
        }))
    }
}

pin_project! {
    /// The future of a layer that usually calls the route at once (`Now`,
    /// holding `held` until the route has answered) and sometimes must wait
    /// first (`Later`: it then owns a clone of the route, boxed with its
    /// waiting, which only that rarer path pays for).
    #[project = ServedProj]
    pub enum Served<F, T> {
        Now { #[pin] route: F, held: Option<T> },
        Later { waiting: Pin<Box<dyn Future<Output = Response> + Send>> },
    }
}

impl<F, T> Served<F, T> {
    pub fn now(route: F, held: T) -> Self {
        Served::Now {
            route,
            held: Some(held),
        }
    }

    pub fn later(waiting: impl Future<Output = Response> + Send + 'static) -> Self {
        Served::Later {
            waiting: Box::pin(waiting),
        }
    }
}

impl<F, T> Future for Served<F, T>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            ServedProj::Now { route, held } => {
                let response = ready!(route.poll(cx));
                held.take();
                Poll::Ready(response)
            }
            ServedProj::Later { waiting } => waiting.as_mut().poll(cx).map(Ok),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::http::{HeaderValue, StatusCode};
    use axum::routing::get;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts the requests that reached `after`, and tags the answer.
    #[derive(Clone, Default)]
    struct Tagging(Arc<AtomicUsize>);

    impl Hook for Tagging {
        type Carry = (Arc<AtomicUsize>, HeaderValue);

        fn before(&self, request: &mut Request) -> Result<Self::Carry, Response> {
            let tag = request.headers().get("x-tag").cloned();
            let tag = tag.ok_or_else(|| (StatusCode::BAD_REQUEST, "no tag").into_response())?;
            Ok((self.0.clone(), tag))
        }

        fn after((seen, tag): Self::Carry, mut response: Response) -> Response {
            seen.fetch_add(1, Ordering::SeqCst);
            response.headers_mut().insert("x-tag", tag);
            response
        }
    }

    async fn send(router: &Router, tag: Option<&str>) -> Response {
        let mut request = Request::get("/").body(Body::empty()).unwrap();
        if let Some(tag) = tag {
            request.headers_mut().insert("x-tag", tag.parse().unwrap());
        }
        tower::ServiceExt::oneshot(router.clone(), request)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn after_sees_the_routes_answer_and_a_refusal_skips_the_route() {
        let hook = Tagging::default();
        let router = Router::new()
            .route("/", get(|| async { "routed" }))
            .layer(HookLayer(hook.clone()));

        let answered = send(&router, Some("a")).await;
        assert_eq!(answered.status(), StatusCode::OK);
        assert_eq!(answered.headers()["x-tag"], "a");
        assert_eq!(hook.0.load(Ordering::SeqCst), 1);

        let refused = send(&router, None).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert_eq!(hook.0.load(Ordering::SeqCst), 1, "after ran for a refusal");
    }

    #[tokio::test]
    async fn a_check_refuses_without_running_the_route() {
        let routed = Arc::new(AtomicUsize::new(0));
        let counter = routed.clone();
        let router = Router::new()
            .route(
                "/",
                get(move || async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    "routed"
                }),
            )
            .layer(check(|request: &Request| {
                (!request.headers().contains_key("x-tag"))
                    .then(|| StatusCode::FORBIDDEN.into_response())
            }));
        assert_eq!(send(&router, None).await.status(), StatusCode::FORBIDDEN);
        assert_eq!(routed.load(Ordering::SeqCst), 0);
        assert_eq!(send(&router, Some("x")).await.status(), StatusCode::OK);
        assert_eq!(routed.load(Ordering::SeqCst), 1);
    }
}
