//! The layer that counts each metered call once it is answered.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::response::Response;
use fintechapi_domain::ids::ApplicationId;
use fintechapi_domain::usage::{MeteredApi, UsageKey, UsageRepository};
use fintechapi_web::hook::{Hook, HookLayer};

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
pub fn record_usage<R: UsageRepository + 'static>(
    meter: Arc<Meter<R>>,
) -> HookLayer<RecordUsage<R>> {
    HookLayer(RecordUsage(meter))
}

pub struct RecordUsage<R>(Arc<Meter<R>>);

impl<R> Clone for RecordUsage<R> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

pub struct Call<R> {
    meter: Arc<Meter<R>>,
    method: Method,
    route: Option<MatchedPath>,
    started: Instant,
}

impl<R: UsageRepository + 'static> Hook for RecordUsage<R> {
    type Carry = Call<R>;

    fn before(&self, req: &mut Request) -> Result<Call<R>, Response> {
        Ok(Call {
            meter: self.0.clone(),
            method: req.method().clone(),
            route: req.extensions().get::<MatchedPath>().cloned(),
            started: Instant::now(),
        })
    }

    fn after(call: Call<R>, response: Response) -> Response {
        if let Some(metered) = response.extensions().get::<Metered>() {
            let route = call
                .route
                .as_ref()
                .map_or("(unmatched)", MatchedPath::as_str);
            let mut endpoint = String::with_capacity(call.method.as_str().len() + 1 + route.len());
            endpoint.push_str(call.method.as_str());
            endpoint.push(' ');
            endpoint.push_str(route);
            let key = UsageKey {
                application_id: metered.application_id,
                day: call.meter.now().date(),
                api: metered.api,
                endpoint,
                status_class: u8::try_from(response.status().as_u16() / 100).unwrap_or(5),
            };
            call.meter
                .record(key, call.started.elapsed(), metered.throttled);
        }
        response
    }
}
