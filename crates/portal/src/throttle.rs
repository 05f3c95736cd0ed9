//! Fixed-window attempt limits per key (a client address, a login name, a
//! mail recipient), in process and on the injected clock. With several nodes
//! each keeps its own windows, so the effective limit scales with them; the
//! blocks after failed logins are shared through the database.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use fintechapi_domain::Clock;
use time::{Duration, OffsetDateTime};

/// Over the limit: try again after this long (the `Retry-After` value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds, at least one.
    pub fn secs(self) -> u64 {
        u64::try_from(self.0.whole_seconds()).unwrap_or(0).max(1)
    }
}

pub struct Throttle<K> {
    limit: u32,
    window: Duration,
    clock: Arc<dyn Clock>,
    seen: Mutex<HashMap<K, (OffsetDateTime, u32)>>,
}

/// Attempts per client address.
pub type AddressThrottle = Throttle<IpAddr>;
/// Attempts per login name or mail recipient (normalised by the caller).
pub type NameThrottle = Throttle<String>;

/// Entries kept before stale windows are swept.
const SWEEP_AT: usize = 10_000;

impl<K: Hash + Eq> Throttle<K> {
    pub fn new(limit: u32, window: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            limit,
            window,
            clock,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt for `key`; refused when the key is over its limit
    /// in the current window.
    pub fn allow(&self, key: K) -> Result<(), RetryAfter> {
        let now = self.clock.now();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= SWEEP_AT {
            seen.retain(|_, (start, _)| now - *start < self.window);
        }
        let entry = seen.entry(key).or_insert((now, 0));
        if now - entry.0 >= self.window || now < entry.0 {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        if entry.1 <= self.limit {
            Ok(())
        } else {
            Err(RetryAfter(entry.0 + self.window - now))
        }
    }
}

#[cfg(test)]
mod tests {
    use fintechapi_domain::ManualClock;

    use super::*;

    #[test]
    fn a_key_is_limited_per_window_and_others_are_not() {
        let clock = ManualClock::new(OffsetDateTime::UNIX_EPOCH);
        let t = Throttle::new(3, Duration::seconds(60), Arc::new(clock.clone()));
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        assert!((0..3).all(|_| t.allow(a).is_ok()));
        clock.advance(Duration::seconds(20));
        assert_eq!(t.allow(a), Err(RetryAfter(Duration::seconds(40))));
        assert!(t.allow(b).is_ok());
        clock.advance(Duration::seconds(41));
        assert!(t.allow(a).is_ok());
    }
}
