//! Attempt limits per key (a client address, a login name, a mail recipient):
//! `limit` attempts at once, then one per `window / limit` (GCRA). Kept in
//! [`Limits`], so with Redis configured every node counts against the same
//! limit; the blocks after failed logins are shared through the database.

use std::fmt::Display;
use std::sync::Arc;

use crate::{Limits, Rate};
use fintechapi_domain::Clock;
use fintechapi_domain::secret::sha256;
use time::Duration;

/// Over the limit: try again after this long (the `Retry-After` value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds, at least one.
    pub fn secs(self) -> u64 {
        u64::try_from(self.0.whole_seconds()).unwrap_or(0).max(1)
    }
}

pub struct Throttle {
    limits: Limits,
    scope: String,
    /// None for a zero window: nothing to spread attempts over.
    rate: Option<Rate>,
}

/// Attempts per client address.
pub type AddressThrottle = Throttle;
/// Attempts per login name or mail recipient (normalised by the caller).
pub type NameThrottle = Throttle;

impl Throttle {
    /// A throttle of this process alone, on `clock`.
    pub fn new(limit: u32, window: Duration, clock: Arc<dyn Clock>) -> Self {
        Self::shared(Limits::in_memory(clock), "local", limit, window)
    }

    /// A throttle kept in `limits` under keys starting with `scope`, so
    /// throttles sharing a backend stay apart.
    pub fn shared(limits: Limits, scope: &str, limit: u32, window: Duration) -> Self {
        let limit = limit.max(1);
        let window = std::time::Duration::try_from(window).unwrap_or_default();
        Self {
            limits,
            scope: scope.to_owned(),
            rate: Rate::new(limit, window, limit),
        }
    }

    /// Counts an attempt for `key`; refused when the key is over its limit.
    pub async fn allow(&self, key: impl Display) -> Result<(), RetryAfter> {
        let Some(rate) = self.rate else {
            return Ok(());
        };
        let decision = self
            .limits
            .admit(&format!("{}:{}", self.scope, digest(&key)), rate)
            .await;
        if decision.allowed {
            Ok(())
        } else {
            let wait = Duration::try_from(decision.retry_after).unwrap_or(Duration::SECOND);
            Err(RetryAfter(wait))
        }
    }
}

/// Keys name people (addresses, logins, mail recipients): the shared store
/// sees a digest of them, not the values.
fn digest(key: &impl Display) -> String {
    sha256(key.to_string().as_bytes())
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use fintechapi_domain::ManualClock;
    use time::OffsetDateTime;

    use super::*;

    #[tokio::test]
    async fn a_key_is_limited_and_others_are_not() {
        let clock = ManualClock::new(OffsetDateTime::UNIX_EPOCH);
        let t = Throttle::new(3, Duration::seconds(60), Arc::new(clock.clone()));
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..3 {
            assert!(t.allow(a).await.is_ok());
        }
        let refused = t.allow(a).await.unwrap_err();
        assert!(refused.secs() >= 1 && refused.secs() <= 20, "{refused:?}");
        assert!(t.allow(b).await.is_ok());
        // One attempt comes back every 20 s.
        clock.advance(Duration::seconds(21));
        assert!(t.allow(a).await.is_ok());
        assert!(t.allow(a).await.is_err());
    }

    #[tokio::test]
    async fn throttles_sharing_a_backend_keep_their_own_counts() {
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(OffsetDateTime::UNIX_EPOCH));
        let limits = Limits::in_memory(clock);
        let portal = Throttle::shared(limits.clone(), "portal-login", 1, Duration::minutes(1));
        let bank = Throttle::shared(limits, "bank-login", 1, Duration::minutes(1));
        assert!(portal.allow("10.0.0.1").await.is_ok());
        assert!(bank.allow("10.0.0.1").await.is_ok());
        assert!(portal.allow("10.0.0.1").await.is_err());
    }
}
