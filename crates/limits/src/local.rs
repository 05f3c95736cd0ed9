//! The in-memory backend: the same GCRA and daily counts as the Redis script,
//! on this process's clocks.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Instant;

use fintechapi_domain::Clock;

use crate::{Quota, Rate, Raw};

/// Keys held before expired ones are swept; the next sweep waits until the
/// map has doubled, so sweeping stays linear in the number of calls.
const SWEEP_AT: usize = 10_000;

pub(crate) struct Local {
    /// Tells the day's end apart; GCRA runs on the monotonic clock, moved
    /// on by the injected clock where that runs ahead (a test's manual clock).
    clock: Arc<dyn Clock>,
    epoch: Instant,
    started: time::OffsetDateTime,
    state: Mutex<State>,
}

struct State {
    /// Per rate key: the theoretical arrival time, in µs since `epoch`.
    tats: HashMap<String, u64>,
    /// Per quota key: the end of its day (Unix s) and the calls counted.
    counts: HashMap<String, (i64, u64)>,
    sweep_at: usize,
}

impl Local {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            started: clock.now(),
            clock,
            epoch: Instant::now(),
            state: Mutex::new(State {
                tats: HashMap::new(),
                counts: HashMap::new(),
                sweep_at: SWEEP_AT,
            }),
        }
    }

    pub(crate) fn check(&self, rate: Option<(&str, Rate)>, quota: Option<(&str, &Quota)>) -> Raw {
        let now = self.clock.now();
        let monotonic = u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
        let injected = u64::try_from((now - self.started).whole_microseconds()).unwrap_or_default();
        let now_us = monotonic.max(injected);
        let now_s = now.unix_timestamp();
        self.check_at(now_us, now_s, rate, quota)
    }

    pub(crate) fn check_at(
        &self,
        now_us: u64,
        now_s: i64,
        rate: Option<(&str, Rate)>,
        quota: Option<(&str, &Quota)>,
    ) -> Raw {
        // A panic while holding the lock leaves plain numbers behind: keep going.
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.sweep(now_us, now_s);
        let mut raw = Raw::default();

        let mut used = 0;
        let mut quota_ok = true;
        if let Some((key, q)) = quota {
            let day_end = q.day_end();
            used = state
                .counts
                .get(key)
                .filter(|(end, _)| *end == day_end)
                .map_or(0, |(_, n)| *n)
                .max(q.at_least);
            quota_ok = used < q.per_day;
            raw.quota_used = used;
            raw.quota_reset_s = u64::try_from(day_end.saturating_sub(now_s)).unwrap_or(0);
        }

        let mut new_tat = None;
        if let Some((key, r)) = rate {
            let interval = r.interval_us();
            let span = interval.saturating_mul(u64::from(r.burst));
            // How far the key's arrival time runs ahead of now.
            let ahead = state
                .tats
                .get(key)
                .map_or(0, |tat| tat.saturating_sub(now_us));
            let next = now_us.saturating_add(ahead).saturating_add(interval);
            if ahead + interval > span {
                raw.refused_by = 1;
                raw.retry_us = ahead + interval - span;
                raw.rate_reset_us = ahead;
            } else {
                raw.rate_remaining = (span - ahead - interval) / interval;
                raw.rate_reset_us = ahead + interval;
                if !quota_ok {
                    // Not counted: the quota refuses the call.
                    raw.rate_remaining += 1;
                    raw.rate_reset_us = ahead;
                }
                new_tat = Some((key, next));
            }
        }

        if !quota_ok {
            raw.refused_by = 2;
            raw.retry_us = raw.quota_reset_s.saturating_mul(1_000_000);
            return raw;
        }
        if raw.refused_by != 0 {
            return raw;
        }
        if let Some((key, next)) = new_tat {
            state.tats.insert(key.to_owned(), next);
        }
        if let Some((key, q)) = quota {
            raw.quota_used = used + 1;
            state.counts.insert(key.to_owned(), (q.day_end(), used + 1));
        }
        raw
    }
}

impl State {
    fn sweep(&mut self, now_us: u64, now_s: i64) {
        if self.tats.len() + self.counts.len() < self.sweep_at {
            return;
        }
        // A key whose arrival time has passed is as good as absent.
        self.tats.retain(|_, tat| *tat > now_us);
        self.counts.retain(|_, (end, _)| *end > now_s);
        self.sweep_at = ((self.tats.len() + self.counts.len()) * 2).max(SWEEP_AT);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const SECOND: u64 = 1_000_000;
    const NOW_S: i64 = 1_795_608_000; // 2026-11-25 12:00 UTC

    fn local() -> Local {
        Local::new(Arc::new(fintechapi_domain::SystemClock))
    }

    fn rate(n: u32, burst: u32) -> Rate {
        Rate::per_second(n, burst).unwrap()
    }

    #[test]
    fn a_burst_is_admitted_then_calls_at_the_sustained_rate() {
        let l = local();
        let r = rate(10, 5);
        let t0 = 50 * SECOND;
        let burst: Vec<_> = (0..7)
            .map(|_| l.check_at(t0, NOW_S, Some(("k", r)), None))
            .collect();
        assert!(burst[..5].iter().all(|raw| raw.refused_by == 0));
        assert_eq!(
            burst[..5]
                .iter()
                .map(|r| r.rate_remaining)
                .collect::<Vec<_>>(),
            [4, 3, 2, 1, 0]
        );
        assert_eq!(burst[5].refused_by, 1);
        // One call every 100 ms is the sustained rate: the next one in 100 ms.
        assert_eq!(burst[5].retry_us, SECOND / 10);
        assert_eq!(
            l.check_at(t0 + SECOND / 10 - 1, NOW_S, Some(("k", r)), None)
                .refused_by,
            1
        );
        assert_eq!(
            l.check_at(t0 + SECOND / 10, NOW_S, Some(("k", r)), None)
                .refused_by,
            0
        );
        // After a quiet half-second the whole burst is back.
        let later = t0 + SECOND / 10 + SECOND / 2;
        let admitted = (0..6)
            .filter(|_| l.check_at(later, NOW_S, Some(("k", r)), None).refused_by == 0)
            .count();
        assert_eq!(admitted, 5);
    }

    #[test]
    fn keys_are_limited_independently() {
        let l = local();
        let r = rate(1, 1);
        assert_eq!(
            l.check_at(SECOND, NOW_S, Some(("a", r)), None).refused_by,
            0
        );
        assert_eq!(
            l.check_at(SECOND, NOW_S, Some(("a", r)), None).refused_by,
            1
        );
        assert_eq!(
            l.check_at(SECOND, NOW_S, Some(("b", r)), None).refused_by,
            0
        );
    }

    #[test]
    fn a_daily_quota_counts_exactly_and_resets_with_the_day() {
        let l = local();
        let day = time::macros::date!(2026 - 11 - 25);
        let q = Quota {
            per_day: 3,
            day,
            at_least: 1,
        };
        let outcomes: Vec<_> = (0..4)
            .map(|_| l.check_at(SECOND, NOW_S, None, Some(("q", &q))))
            .collect();
        // One call already made elsewhere today: two more.
        assert_eq!(outcomes.iter().filter(|r| r.refused_by == 0).count(), 2);
        let refused = outcomes[2];
        assert_eq!(refused.refused_by, 2);
        assert_eq!(refused.quota_reset_s, 12 * 3600);
        let tomorrow = Quota {
            day: day.next_day().unwrap(),
            at_least: 0,
            ..q
        };
        assert_eq!(
            l.check_at(SECOND, NOW_S + 12 * 3600, None, Some(("q", &tomorrow)))
                .refused_by,
            0
        );
    }

    #[test]
    fn a_call_the_quota_refuses_does_not_spend_the_rate_and_vice_versa() {
        let l = local();
        let r = rate(1, 1);
        let q = Quota {
            per_day: 2,
            day: time::macros::date!(2026 - 11 - 25),
            at_least: 0,
        };
        let both = |t| l.check_at(t, NOW_S, Some(("r", r)), Some(("q", &q)));
        assert_eq!(both(SECOND).refused_by, 0);
        // Refused by the rate: the quota's count stays at one, so one more is allowed.
        assert_eq!(both(SECOND).refused_by, 1);
        assert_eq!(both(3 * SECOND).refused_by, 0);
        assert_eq!(both(5 * SECOND).refused_by, 2);
        // Refused by the quota: the rate is still free.
        assert_eq!(
            l.check_at(5 * SECOND, NOW_S, Some(("r", r)), None)
                .refused_by,
            0
        );
    }

    #[test]
    fn expired_keys_are_swept() {
        let l = local();
        let r = rate(1000, 1);
        for i in 0..SWEEP_AT {
            l.check_at(SECOND, NOW_S, Some((&format!("k{i}"), r)), None);
        }
        // A second later every one of them is fully replenished and swept.
        l.check_at(2 * SECOND, NOW_S, Some(("fresh", r)), None);
        let state = l.state.lock().unwrap();
        assert_eq!(state.tats.len(), 1);
    }
}
