//! Throttling of attempts per key (a client address, a login): `limit`
//! attempts at once, then one per `window / limit`. Kept in [`Limits`], so
//! with Redis configured every node counts against the same limit; the
//! per-account lockout in [`crate::accounts`] is shared through the database.

use std::fmt::Display;
use std::sync::Arc;
use std::time::Duration;

use fintechapi_domain::SystemClock;
use fintechapi_limits::{Limits, Rate};

pub struct LoginThrottle {
    limits: Limits,
    scope: String,
    /// None for a zero window: nothing to spread attempts over.
    rate: Option<Rate>,
}

impl LoginThrottle {
    /// A throttle of this process alone.
    pub fn new(limit: u32, window: Duration) -> Self {
        Self::shared(
            Limits::in_memory(Arc::new(SystemClock)),
            "login",
            limit,
            window,
        )
    }

    /// A throttle kept in `limits` under keys starting with `scope`, so
    /// throttles sharing a backend stay apart. Keys are stored as given:
    /// pass a keyed hash rather than personal data.
    pub fn shared(limits: Limits, scope: &str, limit: u32, window: Duration) -> Self {
        let limit = limit.max(1);
        Self {
            limits,
            scope: scope.to_owned(),
            rate: Rate::new(limit, window, limit),
        }
    }

    /// Counts an attempt under `key`; false when the key is over its limit.
    pub async fn allow(&self, key: impl Display) -> bool {
        let Some(rate) = self.rate else {
            return true;
        };
        self.limits
            .admit(&format!("{}:{key}", self.scope), rate)
            .await
            .allowed
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    #[tokio::test]
    async fn a_key_is_limited_and_others_are_not() {
        let t = LoginThrottle::new(3, Duration::from_millis(600));
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..3 {
            assert!(t.allow(a).await);
        }
        assert!(!t.allow(a).await);
        assert!(t.allow(b).await);
        assert!(
            t.allow("alice").await,
            "any displayable key, such as a login"
        );
        // One attempt comes back every 200 ms.
        tokio::time::sleep(Duration::from_millis(220)).await;
        assert!(t.allow(a).await);
        assert!(!t.allow(a).await);
    }

    #[tokio::test]
    async fn throttles_sharing_a_backend_keep_their_own_counts() {
        let limits = Limits::in_memory(Arc::new(SystemClock));
        let portal =
            LoginThrottle::shared(limits.clone(), "portal-login", 1, Duration::from_secs(60));
        let bank = LoginThrottle::shared(limits, "bank-login", 1, Duration::from_secs(60));
        assert!(portal.allow("10.0.0.1").await);
        assert!(bank.allow("10.0.0.1").await);
        assert!(!portal.allow("10.0.0.1").await);
    }
}
