//! API metering on the request path: every call an application makes to the
//! OAuth server or an API product is counted (by day, API, endpoint and status
//! class, with its latency) and admitted or throttled by its plan.
//!
//! Counting is in memory and flushed to the [`UsageRepository`] every second
//! and at shutdown; the database adds counters, so several server nodes share
//! the cells. Per-second limits are per node (GCRA); per-day quotas read the
//! shared totals, refreshed every 30 s, plus this node's unflushed calls.

mod middleware;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use fintechapi_domain::ids::ApplicationId;
use fintechapi_domain::registry::Plan;
use fintechapi_domain::usage::{MeteredApi, UsageCounts, UsageKey, UsageRepository};
use fintechapi_domain::{Clock, StoreError};
use governor::{DefaultDirectRateLimiter, Quota};
use time::{Date, OffsetDateTime};

pub use middleware::{Metered, record_usage};

/// How long a shared daily total is trusted before it is read again.
const DAILY_REFRESH: Duration = Duration::from_secs(30);

/// Whether a call may proceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    /// Over the plan's limit; the client may retry after this long.
    Throttled {
        retry_after: Duration,
    },
}

struct Limiter {
    per_second: u32,
    gcra: DefaultDirectRateLimiter,
}

struct DailyCount {
    day: Date,
    /// Admitted calls of all nodes as last read, plus this node's since.
    count: u64,
    read_at: tokio::time::Instant,
}

/// The meter of one server node. Share it behind an `Arc`.
pub struct Meter<R> {
    repo: R,
    clock: Arc<dyn Clock>,
    pending: Mutex<HashMap<UsageKey, UsageCounts>>,
    limiters: Mutex<HashMap<(ApplicationId, MeteredApi), Arc<Limiter>>>,
    daily: Mutex<HashMap<(ApplicationId, MeteredApi), DailyCount>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves plain counters behind: keep going.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<R: UsageRepository> Meter<R> {
    pub fn new(repo: R, clock: Arc<dyn Clock>) -> Self {
        Self {
            repo,
            clock,
            pending: Mutex::default(),
            limiters: Mutex::default(),
            daily: Mutex::default(),
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Admits a call of `application` to `api` under `plan`, or tells how long to wait.
    pub async fn admit(
        &self,
        application: ApplicationId,
        api: MeteredApi,
        plan: Plan,
    ) -> Result<Admission, StoreError> {
        let (per_second, per_day) = plan.limits();
        let limiter = self.limiter(application, api, per_second);
        if let Err(not_until) = limiter.gcra.check() {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            return Ok(Admission::Throttled {
                retry_after: wait.max(Duration::from_millis(1)),
            });
        }
        let now = self.clock.now();
        let today = now.date();
        let stale = lock(&self.daily)
            .get(&(application, api))
            .is_none_or(|d| d.day != today || d.read_at.elapsed() >= DAILY_REFRESH);
        if stale {
            // Read without holding the lock: other applications are not kept waiting.
            let flushed = self.repo.calls_on(application, api, today).await?;
            let unflushed = self.unflushed_admitted(application, api, today);
            lock(&self.daily).insert(
                (application, api),
                DailyCount {
                    day: today,
                    count: flushed + unflushed,
                    read_at: tokio::time::Instant::now(),
                },
            );
        }
        let mut daily = lock(&self.daily);
        let Some(count) = daily.get_mut(&(application, api)) else {
            return Ok(Admission::Admitted);
        };
        if count.count >= u64::from(per_day) {
            let midnight = today.next_day().map_or(now, |d| d.midnight().assume_utc());
            let wait = (midnight - now)
                .try_into()
                .unwrap_or(Duration::from_secs(1));
            return Ok(Admission::Throttled { retry_after: wait });
        }
        count.count += 1;
        Ok(Admission::Admitted)
    }

    fn limiter(
        &self,
        application: ApplicationId,
        api: MeteredApi,
        per_second: u32,
    ) -> Arc<Limiter> {
        let mut limiters = lock(&self.limiters);
        let entry = limiters.entry((application, api));
        let fresh = || {
            let rate = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
            Arc::new(Limiter {
                per_second,
                gcra: governor::RateLimiter::direct(Quota::per_second(rate)),
            })
        };
        let limiter = entry.or_insert_with(fresh);
        // A plan change takes effect on the next call.
        if limiter.per_second != per_second {
            *limiter = fresh();
        }
        limiter.clone()
    }

    fn unflushed_admitted(&self, application: ApplicationId, api: MeteredApi, day: Date) -> u64 {
        lock(&self.pending)
            .iter()
            .filter(|(k, _)| k.application_id == application && k.api == api && k.day == day)
            .map(|(_, c)| c.calls - c.throttled)
            .sum()
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
    pub async fn flush(&self) -> Result<(), StoreError> {
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
    use fintechapi_domain::ManualClock;

    struct NoStore;
    impl UsageRepository for NoStore {
        async fn add_usage(&self, _: Vec<(UsageKey, UsageCounts)>) -> Result<(), StoreError> {
            Err(StoreError::corrupt("down"))
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

    fn meter() -> Meter<NoStore> {
        let clock = ManualClock::new(time::macros::datetime!(2026-11-25 12:00 UTC));
        Meter::new(NoStore, Arc::new(clock))
    }

    #[tokio::test]
    async fn per_second_burst_is_the_plan_rate() {
        let meter = meter();
        let app = ApplicationId::random();
        let mut admitted = 0;
        for _ in 0..20 {
            if meter
                .admit(app, MeteredApi::Oauth, Plan::Standard)
                .await
                .unwrap()
                == Admission::Admitted
            {
                admitted += 1;
            }
        }
        // Standard allows 50/s, but the shared daily total (9 995 of 500 000) is far off.
        assert_eq!(admitted, 20);
        let sandbox_app = ApplicationId::random();
        let mut outcomes = vec![];
        for _ in 0..12 {
            outcomes.push(
                meter
                    .admit(sandbox_app, MeteredApi::Ais, Plan::Sandbox)
                    .await
                    .unwrap(),
            );
        }
        // Sandbox: 10 000 a day, 9 995 already used by all nodes: 5 more today.
        assert_eq!(
            outcomes
                .iter()
                .filter(|a| **a == Admission::Admitted)
                .count(),
            5
        );
        assert!(
            matches!(outcomes[5], Admission::Throttled { retry_after } if retry_after.as_secs() == 12 * 3600)
        );
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
}
