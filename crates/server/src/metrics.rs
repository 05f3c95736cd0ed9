//! Prometheus metrics: requests by route and status, latency histograms,
//! in-flight requests and the database pool. One registry per server, held in
//! application state (several servers can run in one test process).
//!
//! Every label comes from a closed set, so no request can grow the exposition:
//! the method is a standard one or `other`, the route a template of the router
//! or `unmatched`, the status one the server itself answered with.

use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::MatchedPath;
use fintechapi_limits::CpuPool;
use fintechapi_storage::PoolStats;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: &'static str,
    pub route: Route,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: &'static str,
    pub route: Route,
}

/// The route template a request matched, or `unmatched`: the router's own
/// shared string, so labelling a request allocates nothing.
#[derive(Clone, Debug)]
pub struct Route(Option<MatchedPath>);

impl Route {
    pub fn of(matched: Option<&MatchedPath>) -> Self {
        Self(matched.cloned())
    }

    fn as_str(&self) -> &str {
        self.0.as_ref().map_or("unmatched", MatchedPath::as_str)
    }
}

impl PartialEq for Route {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Route {}

impl Hash for Route {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl EncodeLabelValue for Route {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> std::fmt::Result {
        encoder.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WorkLabels {
    pub work: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    pub state: &'static str,
}

/// The method as a label: one of the standard methods, or `other` for
/// anything a client invents.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// The bearer token that opens `/metrics` and the detail of `/readyz` on the
/// public listener (`metrics.token_file`). Never printed.
pub struct MetricsToken(String);

impl MetricsToken {
    /// The token in `path`: its first line, at least 32 characters.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        use anyhow::Context;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("metrics.token_file: cannot read {}", path.display()))?;
        let token = text.lines().next().unwrap_or_default().trim().to_owned();
        anyhow::ensure!(
            token.len() >= 32,
            "metrics.token_file: {} must hold a token of at least 32 characters",
            path.display()
        );
        Ok(Self(token))
    }

    pub fn matches(&self, given: &str) -> bool {
        fintechapi_domain::secret::constant_time_eq(&self.0, given)
    }
}

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsToken(***)")
    }
}

/// Requests by route and status, their latency, and those in flight.
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
}

impl HttpMetrics {
    /// Counts a request in flight until the returned guard is finished or dropped.
    pub fn start(self: &Arc<Self>, method: &'static str, route: Route) -> InFlight {
        self.in_flight.inc();
        InFlight {
            metrics: self.clone(),
            method,
            route,
            started: Instant::now(),
        }
    }
}

/// A request being served. Dropped unfinished (the client went away), it
/// leaves the in-flight count without being counted as answered.
pub struct InFlight {
    metrics: Arc<HttpMetrics>,
    method: &'static str,
    route: Route,
    started: Instant,
}

impl InFlight {
    pub fn finish(self, status: u16) {
        let elapsed = self.started.elapsed();
        let route = RouteLabels {
            method: self.method,
            route: self.route.clone(),
        };
        self.metrics
            .requests
            .get_or_create(&RequestLabels {
                method: self.method,
                route: self.route.clone(),
                status,
            })
            .inc();
        self.metrics
            .latency
            .get_or_create(&route)
            .observe(elapsed.as_secs_f64());
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.metrics.in_flight.dec();
    }
}

fn latency_histogram() -> Histogram {
    // 1 ms … ~16 s
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

pub struct Metrics {
    registry: Registry,
    http: Arc<HttpMetrics>,
    pool_connections: Family<PoolLabels, Gauge>,
    pool_max: Gauge,
    limits_degraded: Gauge,
    shed: Counter,
    cpu_refused: Family<WorkLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("fintechapi");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let in_flight = Gauge::default();
        let pool_connections = Family::<PoolLabels, Gauge>::default();
        let pool_max = Gauge::default();
        let limits_degraded = Gauge::default();
        let shed = Counter::default();
        let cpu_refused = Family::<WorkLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register(
            "http_requests_in_flight",
            "HTTP requests being served",
            in_flight.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Database pool connections by state",
            pool_connections.clone(),
        );
        registry.register(
            "db_pool_max_connections",
            "Database pool size limit",
            pool_max.clone(),
        );
        registry.register(
            "limits_backend_degraded",
            "1 while Redis is configured but unavailable and this node enforces rate limits alone",
            limits_degraded.clone(),
        );
        registry.register(
            "http_requests_shed",
            "Requests answered 503 at once because the node was at its in-flight limit",
            shed.clone(),
        );
        registry.register(
            "cpu_jobs_refused",
            "Password and signature checks refused because their pool stayed full",
            cpu_refused.clone(),
        );
        Self {
            registry,
            http: Arc::new(HttpMetrics {
                requests,
                latency,
                in_flight,
            }),
            pool_connections,
            pool_max,
            limits_degraded,
            shed,
            cpu_refused,
        }
    }

    /// `pool`, counting its refusals under its kind of work.
    pub fn counted(&self, pool: CpuPool, work: &'static str) -> CpuPool {
        let refused = self.cpu_refused.get_or_create(&WorkLabels { work }).clone();
        pool.counting_refusals(move || {
            refused.inc();
        })
    }

    /// The counter of shed requests, for the load shedder to increment.
    pub fn shed_counter(&self) -> Counter {
        self.shed.clone()
    }

    /// The request counters, for the HTTP middleware to hold.
    pub fn http(&self) -> Arc<HttpMetrics> {
        self.http.clone()
    }

    /// Whether the rate limits fell back to this node alone, read at scrape time.
    pub fn set_limits_degraded(&self, degraded: bool) {
        self.limits_degraded.set(i64::from(degraded));
    }

    /// The exposition text, with pool gauges read at scrape time.
    pub fn render(&self, pool: PoolStats) -> String {
        let idle = i64::from(pool.idle);
        let size = i64::from(pool.size);
        self.pool_connections
            .get_or_create(&PoolLabels { state: "idle" })
            .set(idle);
        self.pool_connections
            .get_or_create(&PoolLabels { state: "in_use" })
            .set(size - idle);
        self.pool_max.set(i64::from(pool.max));
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::time::Duration;

    #[test]
    fn finished_requests_are_counted_by_route_and_status() {
        let m = Metrics::new();
        let http = m.http();
        let answered = http.start("GET", Route::of(None));
        let abandoned = http.start("POST", Route::of(None));
        let busy = m.render(PoolStats {
            size: 2,
            idle: 1,
            max: 10,
        });
        assert!(
            busy.contains("fintechapi_http_requests_in_flight 2"),
            "{busy}"
        );
        answered.finish(404);
        // The client went away: no longer in flight, and not counted as answered.
        drop(abandoned);
        let text = m.render(PoolStats {
            size: 2,
            idle: 1,
            max: 10,
        });
        assert!(
            text.contains(
                r#"fintechapi_http_requests_total{method="GET",route="unmatched",status="404"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains("fintechapi_http_request_duration_seconds_bucket"),
            "{text}"
        );
        assert!(
            text.contains(r#"fintechapi_db_pool_connections{state="in_use"} 1"#),
            "{text}"
        );
        assert!(
            text.contains("fintechapi_http_requests_in_flight 0"),
            "{text}"
        );
        assert!(!text.contains(r#"method="POST""#), "{text}");
    }

    #[test]
    fn the_metrics_token_is_read_from_its_file_and_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "short\n").unwrap();
        assert!(MetricsToken::load(&path).is_err());
        let secret = "s3cr3t-metrics-token-0123456789abcdef";
        std::fs::write(&path, format!("{secret}\n")).unwrap();
        let token = MetricsToken::load(&path).unwrap();
        assert!(token.matches(secret));
        assert!(!token.matches("s3cr3t"));
        assert!(!format!("{token:?}").contains(secret));
    }

    #[tokio::test]
    async fn refusals_of_a_full_cpu_pool_are_counted_under_its_work() {
        let m = Metrics::new();
        let pool = m.counted(
            CpuPool::new("signature checks", 1, Duration::from_millis(10)),
            "signatures",
        );
        let idle = m.render(PoolStats {
            size: 0,
            idle: 0,
            max: 1,
        });
        assert!(
            idle.contains(r#"fintechapi_cpu_jobs_refused_total{work="signatures"} 0"#),
            "{idle}"
        );
        let (hold, held) = tokio::sync::oneshot::channel::<()>();
        let (running, started) = tokio::sync::oneshot::channel::<()>();
        let busy = pool.run(move || {
            let _ = running.send(());
            let _ = held.blocking_recv();
        });
        let refused = async {
            let _ = started.await;
            let refused = pool.run(|| ()).await;
            let _ = hold.send(());
            refused
        };
        let (done, refused) = tokio::join!(busy, refused);
        assert!(done.is_ok());
        assert!(refused.is_err());
        let text = m.render(PoolStats {
            size: 0,
            idle: 0,
            max: 1,
        });
        assert!(
            text.contains(r#"fintechapi_cpu_jobs_refused_total{work="signatures"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn invented_methods_share_one_label() {
        let invented = axum::http::Method::from_bytes(b"FOOBAR").unwrap();
        assert_eq!(method_label(&invented), "other");
        assert_eq!(method_label(&axum::http::Method::PATCH), "PATCH");
    }
}
