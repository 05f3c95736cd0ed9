//! Rate limits and daily quotas for the request path, free of HTTP.
//!
//! A rate is enforced with GCRA (the generic cell rate algorithm: one stored
//! "theoretical arrival time" per key); a quota is an exact count per UTC day.
//! [`Limits`] keeps them in memory (one node) or, when Redis is configured, in
//! Redis, so every node of an installation enforces one limit: one Lua script
//! per check, on Redis time, in one round trip. When Redis fails or is slow the
//! node falls back to its in-memory limiter, says so through
//! [`Limits::degraded`], and goes back to Redis once it answers again.

pub mod cpu;
mod local;
mod shared;
pub mod throttle;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use fintechapi_domain::Clock;
use time::Date;

pub use cpu::{CpuPool, CpuPoolError};
pub use shared::RedisSettings;
pub use throttle::{AddressThrottle, NameThrottle, RetryAfter, Throttle};

/// `count` calls per `per`, with up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    count: u32,
    per: Duration,
    burst: u32,
}

impl Rate {
    /// None when any part is zero: no limit is not a rate.
    pub fn new(count: u32, per: Duration, burst: u32) -> Option<Self> {
        (count > 0 && burst > 0 && !per.is_zero()).then_some(Self { count, per, burst })
    }

    pub fn per_second(count: u32, burst: u32) -> Option<Self> {
        Self::new(count, Duration::from_secs(1), burst)
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    pub fn per(&self) -> Duration {
        self.per
    }

    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// The spacing of calls at the sustained rate, in microseconds.
    fn interval_us(&self) -> u64 {
        let per = u64::try_from(self.per.as_micros()).unwrap_or(u64::MAX);
        (per / u64::from(self.count)).max(1)
    }
}

/// At most `per_day` calls on `day` (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub per_day: u64,
    pub day: Date,
    /// Calls already known to have been made today (e.g. from usage
    /// statistics), should the counter be younger than the day.
    pub at_least: u64,
}

impl Quota {
    /// The end of the day in Unix seconds.
    fn day_end(&self) -> i64 {
        self.day
            .next_day()
            .map_or(i64::MAX, |d| d.midnight().assume_utc().unix_timestamp())
    }
}

/// The answer for one limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// When refused: how long until a call would be allowed.
    pub retry_after: Duration,
    /// Calls still allowed right away.
    pub remaining: u64,
    /// How long until the limit is fully available again.
    pub reset: Duration,
}

/// The answer for a rate and a quota checked together: a call is counted
/// against both or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Verdict {
    pub rate: Option<Decision>,
    pub quota: Option<Decision>,
}

impl Verdict {
    pub fn allowed(&self) -> bool {
        self.rate.is_none_or(|d| d.allowed) && self.quota.is_none_or(|d| d.allowed)
    }

    /// The longest wait any refusing limit asks for.
    pub fn retry_after(&self) -> Duration {
        [self.rate, self.quota]
            .into_iter()
            .flatten()
            .filter(|d| !d.allowed)
            .map(|d| d.retry_after)
            .max()
            .unwrap_or_default()
    }
}

/// What one check found, in the units the Lua script answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Raw {
    /// 0 admitted, 1 refused by the rate, 2 refused by the quota.
    refused_by: u8,
    retry_us: u64,
    rate_remaining: u64,
    rate_reset_us: u64,
    quota_used: u64,
    quota_reset_s: u64,
}

impl Raw {
    fn verdict(&self, rate: Option<Rate>, quota: Option<&Quota>) -> Verdict {
        Verdict {
            rate: rate.map(|_| Decision {
                allowed: self.refused_by != 1,
                retry_after: if self.refused_by == 1 {
                    Duration::from_micros(self.retry_us)
                } else {
                    Duration::ZERO
                },
                remaining: self.rate_remaining,
                reset: Duration::from_micros(self.rate_reset_us),
            }),
            quota: quota.map(|q| {
                let reset = Duration::from_secs(self.quota_reset_s.max(1));
                Decision {
                    allowed: self.refused_by != 2,
                    retry_after: if self.refused_by == 2 {
                        reset
                    } else {
                        Duration::ZERO
                    },
                    remaining: q.per_day.saturating_sub(self.quota_used),
                    reset,
                }
            }),
        }
    }
}

/// Which store holds the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    Redis,
}

/// The limiter of one node. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct Limits {
    inner: Arc<Inner>,
}

struct Inner {
    local: local::Local,
    shared: Option<shared::Shared>,
    degraded: AtomicBool,
}

impl Limits {
    /// Limits kept by this node alone; `clock` tells when a quota's day ends.
    pub fn in_memory(clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::new(Inner {
                local: local::Local::new(clock),
                shared: None,
                degraded: AtomicBool::new(false),
            }),
        }
    }

    /// Limits shared through Redis. Fails only on an invalid URL: an
    /// unreachable server starts the node degraded, and a background task
    /// brings it back once the server answers.
    pub async fn with_redis(
        settings: &RedisSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, LimitsError> {
        let shared = shared::Shared::new(settings)?;
        let reachable = shared.ping().await;
        let limits = Self {
            inner: Arc::new(Inner {
                local: local::Local::new(clock),
                shared: Some(shared),
                degraded: AtomicBool::new(false),
            }),
        };
        if let Err(e) = reachable {
            limits.inner.mark_degraded(&e);
        }
        tokio::spawn(recover(Arc::downgrade(&limits.inner)));
        Ok(limits)
    }

    pub fn backend(&self) -> Backend {
        if self.inner.shared.is_some() {
            Backend::Redis
        } else {
            Backend::Memory
        }
    }

    /// True while Redis is configured but this node limits on its own.
    pub fn degraded(&self) -> bool {
        self.inner.degraded.load(Ordering::Relaxed)
    }

    /// Counts a call against `rate` under `key`.
    pub async fn admit(&self, key: &str, rate: Rate) -> Decision {
        let verdict = self.check(Some((key, rate)), None).await;
        verdict.rate.unwrap_or(Decision {
            allowed: true,
            retry_after: Duration::ZERO,
            remaining: 0,
            reset: Duration::ZERO,
        })
    }

    /// Counts a call against the daily quota under `key`.
    pub async fn consume_quota(&self, key: &str, per_day: u64, day: Date) -> Decision {
        let quota = Quota {
            per_day,
            day,
            at_least: 0,
        };
        let verdict = self.check(None, Some((key, &quota))).await;
        verdict.quota.unwrap_or(Decision {
            allowed: true,
            retry_after: Duration::ZERO,
            remaining: 0,
            reset: Duration::ZERO,
        })
    }

    /// Counts a call against a rate and a quota together: both or neither.
    pub async fn check(
        &self,
        rate: Option<(&str, Rate)>,
        quota: Option<(&str, &Quota)>,
    ) -> Verdict {
        let inner = &self.inner;
        if let Some(shared) = &inner.shared
            && !self.degraded()
        {
            match shared.check(rate, quota).await {
                Ok(raw) => return raw.verdict(rate.map(|r| r.1), quota.map(|q| q.1)),
                Err(e) => inner.mark_degraded(&e),
            }
        }
        inner
            .local
            .check(rate, quota)
            .verdict(rate.map(|r| r.1), quota.map(|q| q.1))
    }
}

impl Inner {
    fn mark_degraded(&self, error: &LimitsError) {
        // Logged on the change only: a Redis outage must not flood the log.
        if !self.degraded.swap(true, Ordering::Relaxed) {
            tracing::warn!(error = %error, "Redis unavailable: rate limits and quotas are enforced by this node alone until it answers again");
        }
    }
}

/// How often a degraded node asks Redis whether it is back.
const RECOVERY_PROBE: Duration = Duration::from_secs(1);

/// Probes Redis while degraded, until the limits are dropped.
async fn recover(inner: Weak<Inner>) {
    loop {
        tokio::time::sleep(RECOVERY_PROBE).await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        if !inner.degraded.load(Ordering::Relaxed) {
            continue;
        }
        if let Some(shared) = &inner.shared
            && shared.ping().await.is_ok()
        {
            inner.degraded.store(false, Ordering::Relaxed);
            tracing::info!("Redis answers again: rate limits and quotas are shared again");
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LimitsError {
    #[error("invalid redis.url: {0}")]
    Url(String),
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("Redis answered unexpectedly: {0}")]
    Answer(String),
}
