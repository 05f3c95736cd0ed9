//! API metering on the request path: every call an application makes to the
//! OAuth server or an API product is counted (by day, API, endpoint and status
//! class, with its latency) and admitted or throttled by its plan.
//!
//! Counting is in memory and flushed to the [`UsageRepository`] every second
//! and at shutdown; the database adds counters, so several server nodes share
//! the cells. Admission goes through [`Limits`]: a plan's per-second rate
//! (GCRA) and per-day quota, shared by every node when Redis is configured.

mod middleware;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use fintechapi_domain::date::format_iso_date;
use fintechapi_domain::ids::ApplicationId;
use fintechapi_domain::plan::{PlanCatalog, RatePlan};
use fintechapi_domain::usage::{MeteredApi, UsageCounts, UsageKey, UsageRepository};
use fintechapi_domain::{Clock, StoreError};
use fintechapi_limits::{Decision, Limits, Quota, Rate, Verdict};
use time::{Date, OffsetDateTime};

pub use middleware::{Metered, record_usage};

/// Whether a call may proceed, under which plan, and what is left of it.
#[derive(Debug, Clone)]
pub struct Admission {
    pub plan: Arc<RatePlan>,
    verdict: Verdict,
}

impl Admission {
    pub fn admitted(&self) -> bool {
        self.verdict.allowed()
    }

    /// When refused: how long until a call would be admitted.
    pub fn retry_after(&self) -> Duration {
        self.verdict.retry_after()
    }

    /// `RateLimit-Policy` and `RateLimit` (IETF draft httpapi-ratelimit-headers)
    /// for the plan's rate ("default") and day ("daily"), and `Retry-After` when refused.
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        // On every metered answer: pushed, not formatted.
        let (mut policies, mut states) = (String::new(), String::new());
        let mut number = itoa::Buffer::new();
        let mut add = |name: &str, quota: u64, window: u64, d: &Decision| {
            let wait = if d.allowed { d.reset } else { d.retry_after };
            if !policies.is_empty() {
                policies.push_str(", ");
                states.push_str(", ");
            }
            for (text, pairs) in [
                (&mut policies, [("q", quota), ("w", window)]),
                (&mut states, [("r", d.remaining), ("t", ceil_secs(wait))]),
            ] {
                text.push('"');
                text.push_str(name);
                text.push('"');
                for (key, value) in pairs {
                    text.push(';');
                    text.push_str(key);
                    text.push('=');
                    text.push_str(number.format(value));
                }
            }
        };
        if let (Some(per_second), Some(d)) = (self.plan.per_second, &self.verdict.rate) {
            add("default", u64::from(per_second), 1, d);
        }
        if let (Some(per_day), Some(d)) = (self.plan.per_day, &self.verdict.quota) {
            add("daily", per_day, 86_400, d);
        }
        for (name, values) in [("ratelimit-policy", policies), ("ratelimit", states)] {
            if !values.is_empty()
                && let Ok(value) = HeaderValue::try_from(values)
            {
                headers.insert(name, value);
            }
        }
        if !self.admitted() {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(ceil_secs(self.retry_after()).max(1)),
            );
        }
    }
}

/// `{kind}{application}:{api}:{tail}`, the limits' key (also in Redis, so
/// its form never changes), built without the formatter on every call.
fn limit_key(kind: &str, application: ApplicationId, api: MeteredApi, tail: &str) -> String {
    let mut key = String::with_capacity(kind.len() + 36 + 8 + tail.len());
    key.push_str(kind);
    application.push_to(&mut key);
    key.push(':');
    key.push_str(api.as_str());
    key.push(':');
    key.push_str(tail);
    key
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// The meter of one server node. Share it behind an `Arc`.
pub struct Meter<R> {
    repo: R,
    clock: Arc<dyn Clock>,
    limits: Limits,
    plans: Arc<PlanCatalog>,
    pending: Mutex<HashMap<UsageKey, UsageCounts>>,
    /// One flush at a time (see [`Meter::flush`]).
    flushing: tokio::sync::Mutex<()>,
    /// Per application and API: today's calls as the usage statistics had
    /// them when first admitted today, the floor of the shared day count.
    known_today: Mutex<HashMap<(ApplicationId, MeteredApi), (Date, u64)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves plain counters behind: keep going.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<R: UsageRepository> Meter<R> {
    pub fn new(repo: R, clock: Arc<dyn Clock>, limits: Limits, plans: Arc<PlanCatalog>) -> Self {
        Self {
            repo,
            clock,
            limits,
            plans,
            pending: Mutex::default(),
            flushing: tokio::sync::Mutex::default(),
            known_today: Mutex::default(),
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// The configured plans.
    pub fn plans(&self) -> &PlanCatalog {
        &self.plans
    }

    /// Where rate limits and quotas are kept, and whether that works.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Admits a call of `application` to `api` under `plan`, or tells how long to wait.
    pub async fn admit(
        &self,
        application: ApplicationId,
        api: MeteredApi,
        plan: Arc<RatePlan>,
    ) -> Result<Admission, StoreError> {
        let rate = plan
            .per_second
            .and_then(|n| Rate::per_second(n, plan.burst));
        let today = self.clock.now().date();
        let quota = match plan.per_day {
            Some(per_day) => Some(Quota {
                per_day,
                day: today,
                at_least: self.known_today(application, api, today).await?,
            }),
            None => None,
        };
        // Per plan: a new plan starts with its full burst. The day's count goes on.
        let rate_key = limit_key("rate:", application, api, &plan.name);
        let quota_key = limit_key("quota:", application, api, &format_iso_date(today));
        let verdict = self
            .limits
            .check(
                rate.map(|r| (rate_key.as_str(), r)),
                quota.as_ref().map(|q| (quota_key.as_str(), q)),
            )
            .await;
        Ok(Admission { plan, verdict })
    }

    /// Today's admitted calls in the usage statistics, read once a day per
    /// node: after a restart (in memory) or a lost Redis the count goes on from there.
    async fn known_today(
        &self,
        application: ApplicationId,
        api: MeteredApi,
        today: Date,
    ) -> Result<u64, StoreError> {
        if let Some((day, calls)) = lock(&self.known_today).get(&(application, api))
            && *day == today
        {
            return Ok(*calls);
        }
        // Read without holding the lock: other applications are not kept waiting.
        let calls = self.repo.calls_on(application, api, today).await?;
        let mut known = lock(&self.known_today);
        // Yesterday's entries go with the first read of a new day.
        known.retain(|_, (day, _)| *day == today);
        known.insert((application, api), (today, calls));
        Ok(calls)
    }

    /// Counts one finished call.
    pub fn record(&self, key: UsageKey, latency: Duration, throttled: bool) {
        let mut pending = lock(&self.pending);
        let cell = pending.entry(key).or_default();
        cell.calls += 1;
        cell.throttled += u64::from(throttled);
        cell.latency
            .record(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
    }

    /// Writes the counted calls to the store; on failure they stay pending.
    /// A flush that finds another under way waits for it: once it returns,
    /// every call counted before it is written, which a usage report that
    /// flushes first relies on.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let _one_at_a_time = self.flushing.lock().await;
        let cells: Vec<_> = std::mem::take(&mut *lock(&self.pending))
            .into_iter()
            .collect();
        if cells.is_empty() {
            return Ok(());
        }
        match self.repo.add_usage(cells.clone()).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let mut pending = lock(&self.pending);
                for (key, counts) in cells {
                    pending.entry(key).or_default().merge(&counts);
                }
                Err(e)
            }
        }
    }
}

impl<R: UsageRepository + 'static> Meter<R> {
    /// Flushes every `interval` until `stop` turns true, then once more.
    pub fn spawn_flusher(
        self: Arc<Self>,
        interval: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let stopping = tokio::select! {
                    _ = stop.changed() => true,
                    () = tokio::time::sleep(interval) => false,
                };
                if let Err(e) = self.flush().await {
                    tracing::warn!(error = %e, "writing API usage failed; kept for the next flush");
                }
                if stopping {
                    return;
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn limit_keys_read_as_they_always_did() {
        let application = ApplicationId::random();
        let plan = "gold";
        assert_eq!(
            limit_key("rate:", application, MeteredApi::Ais, plan),
            format!("rate:{application}:{}:{plan}", MeteredApi::Ais)
        );
        let today = time::macros::date!(2026 - 12 - 06);
        assert_eq!(
            limit_key(
                "quota:",
                application,
                MeteredApi::Ais,
                &format_iso_date(today)
            ),
            format!("quota:{application}:{}:{today}", MeteredApi::Ais)
        );
    }
    use fintechapi_domain::ManualClock;

    /// Writes once the test opens its gate, and counts what it wrote; with
    /// the gate closed it is down. Reports 9,995 calls already made today.
    #[derive(Clone)]
    struct TestStore {
        gate: Arc<tokio::sync::Semaphore>,
        written: Arc<Mutex<u64>>,
    }

    impl TestStore {
        fn gated() -> Self {
            Self {
                gate: Arc::new(tokio::sync::Semaphore::new(0)),
                written: Arc::default(),
            }
        }

        fn down() -> Self {
            let store = Self::gated();
            store.gate.close();
            store
        }
    }

    impl UsageRepository for TestStore {
        async fn add_usage(&self, cells: Vec<(UsageKey, UsageCounts)>) -> Result<(), StoreError> {
            let _permit = self
                .gate
                .acquire()
                .await
                .map_err(|_| StoreError::corrupt("down"))?;
            *lock(&self.written) += cells.iter().map(|(_, c)| c.calls).sum::<u64>();
            Ok(())
        }
        async fn usage(
            &self,
            _: ApplicationId,
            _: Date,
            _: Date,
        ) -> Result<Vec<fintechapi_domain::usage::UsageRow>, StoreError> {
            Ok(vec![])
        }
        async fn calls_on(
            &self,
            _: ApplicationId,
            _: MeteredApi,
            _: Date,
        ) -> Result<u64, StoreError> {
            Ok(9_995)
        }
    }

    fn meter_on(store: TestStore) -> Meter<TestStore> {
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(
            time::macros::datetime!(2026-11-25 12:00 UTC),
        ));
        let limits = Limits::in_memory(clock.clone());
        Meter::new(store, clock, limits, Arc::new(PlanCatalog::builtin()))
    }

    fn meter() -> Meter<TestStore> {
        meter_on(TestStore::down())
    }

    fn plan(meter: &Meter<TestStore>, name: &str) -> Arc<RatePlan> {
        meter.plans().get(name).unwrap()
    }

    #[tokio::test]
    async fn the_plan_rate_and_the_shared_daily_total_decide() {
        let meter = meter();
        let app = ApplicationId::random();
        let mut admitted = 0;
        for _ in 0..60 {
            let a = meter
                .admit(app, MeteredApi::Oauth, plan(&meter, "standard"))
                .await
                .unwrap();
            admitted += u32::from(a.admitted());
        }
        // Standard allows bursts of 50; the daily total (9 995 of 500 000) is far off.
        assert_eq!(admitted, 50);
        let sandbox_app = ApplicationId::random();
        let mut outcomes = vec![];
        for _ in 0..12 {
            outcomes.push(
                meter
                    .admit(sandbox_app, MeteredApi::Ais, plan(&meter, "sandbox"))
                    .await
                    .unwrap(),
            );
        }
        // Sandbox: 10 000 a day, 9 995 already used by all nodes: 5 more today.
        assert_eq!(outcomes.iter().filter(|a| a.admitted()).count(), 5);
        assert_eq!(outcomes[5].retry_after(), Duration::from_secs(12 * 3600));
        let mut headers = HeaderMap::new();
        outcomes[5].write_headers(&mut headers);
        assert_eq!(
            headers["ratelimit-policy"],
            "\"default\";q=25;w=1, \"daily\";q=10000;w=86400"
        );
        assert_eq!(
            headers["ratelimit"],
            "\"default\";r=20;t=1, \"daily\";r=0;t=43200"
        );
        assert_eq!(headers[header::RETRY_AFTER], "43200");
        let mut headers = HeaderMap::new();
        outcomes[0].write_headers(&mut headers);
        assert_eq!(
            headers["ratelimit"],
            "\"default\";r=24;t=1, \"daily\";r=4;t=43200"
        );
        assert!(headers.get(header::RETRY_AFTER).is_none());
    }

    #[tokio::test]
    async fn the_unlimited_plan_admits_everything_and_sends_no_limits() {
        let meter = meter();
        let app = ApplicationId::random();
        for _ in 0..20_000 {
            let a = meter
                .admit(app, MeteredApi::Ais, plan(&meter, "unlimited"))
                .await
                .unwrap();
            assert!(a.admitted());
        }
        let a = meter
            .admit(app, MeteredApi::Ais, plan(&meter, "unlimited"))
            .await
            .unwrap();
        let mut headers = HeaderMap::new();
        a.write_headers(&mut headers);
        assert!(headers.is_empty());
    }

    #[tokio::test]
    async fn a_failed_flush_keeps_the_counts() {
        let meter = meter();
        let key = UsageKey {
            application_id: ApplicationId::random(),
            day: time::macros::date!(2026 - 11 - 25),
            api: MeteredApi::Ais,
            endpoint: "GET /v1/accounts".into(),
            status_class: 2,
        };
        meter.record(key.clone(), Duration::from_millis(3), false);
        assert!(meter.flush().await.is_err());
        meter.record(key.clone(), Duration::from_millis(3), true);
        let pending = lock(&meter.pending);
        assert_eq!(pending[&key].calls, 2);
        assert_eq!(pending[&key].throttled, 1);
        assert_eq!(pending[&key].latency.count(), 2);
    }

    /// The portal flushes before its usage report while the background
    /// flusher may be writing the same calls: its flush returns only once
    /// they are written.
    #[tokio::test]
    async fn a_flush_waits_for_the_one_under_way() {
        let store = TestStore::gated();
        let meter = Arc::new(meter_on(store.clone()));
        let key = UsageKey {
            application_id: ApplicationId::random(),
            day: time::macros::date!(2026 - 11 - 25),
            api: MeteredApi::Ais,
            endpoint: "POST /oauth2/token".into(),
            status_class: 2,
        };
        meter.record(key, Duration::from_millis(3), false);
        let background = tokio::spawn({
            let meter = meter.clone();
            async move { meter.flush().await }
        });
        // The background flush has taken the call and waits to write it.
        while !lock(&meter.pending).is_empty() {
            tokio::task::yield_now().await;
        }
        let report = tokio::time::timeout(Duration::from_millis(50), meter.flush()).await;
        assert!(report.is_err(), "returned before the call was written");
        store.gate.add_permits(2);
        background.await.unwrap().unwrap();
        meter.flush().await.unwrap();
        assert_eq!(*lock(&store.written), 1);
    }
}
