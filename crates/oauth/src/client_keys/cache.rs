//! The cache of one client's JWK Set: when to serve it, when to fetch again,
//! and how long a set stays fresh or, while its `jwks_uri` fails, stale.

use std::collections::HashSet;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use super::{FetchError, REFETCH_INTERVAL};

const DEFAULT_TTL: Duration = Duration::minutes(5);
const MIN_TTL: Duration = Duration::seconds(60);
const MAX_TTL: Duration = Duration::hours(1);
/// How long past its freshness a set is served while its `jwks_uri` fails:
/// long enough to ride out an outage, short enough that a key the TPP
/// withdrew stops working within a day.
const MAX_STALE: Duration = Duration::hours(24);

/// A set as fetched, before it is cached.
#[derive(Debug)]
pub(super) struct Fetched {
    pub(super) jwks: Arc<str>,
    pub(super) kids: HashSet<String>,
    pub(super) ttl: Duration,
}

#[derive(Debug)]
struct Cached {
    jwks: Arc<str>,
    kids: HashSet<String>,
    fresh_until: OffsetDateTime,
}

/// What is known about one client's `jwks_uri`.
#[derive(Debug, Default)]
pub(super) struct Entry {
    /// The URI the set and the failure belong to; a new URI starts afresh.
    uri: String,
    set: Option<Cached>,
    last_fetch: Option<OffsetDateTime>,
    /// Why the last fetch failed, if it did.
    failure: Option<FetchError>,
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step {
    Serve(Arc<str>),
    Fetch,
    Fail(FetchError),
}

impl Entry {
    pub(super) fn next_step(&self, uri: &str, kid: Option<&str>, now: OffsetDateTime) -> Step {
        if self.uri != uri {
            return Step::Fetch;
        }
        if let Some(set) = &self.set
            && now < set.fresh_until
            && kid.is_none_or(|k| set.kids.contains(k))
        {
            return Step::Serve(set.jwks.clone());
        }
        let recently = self
            .last_fetch
            .is_some_and(|at| now - at < REFETCH_INTERVAL);
        if !recently {
            return Step::Fetch;
        }
        // Too soon to fetch again: the set there is (the verifier then names
        // the missing kid), or the reason the last fetch failed.
        match (&self.set, &self.failure) {
            (Some(set), _) if now < set.fresh_until + MAX_STALE => Step::Serve(set.jwks.clone()),
            (_, Some(failure)) => Step::Fail(failure.clone()),
            _ => Step::Fetch,
        }
    }

    /// Remembers a fetch started at `at` and answers with what to verify against.
    pub(super) fn record(
        &mut self,
        uri: &str,
        fetched: Result<Fetched, FetchError>,
        at: OffsetDateTime,
    ) -> Result<Arc<str>, FetchError> {
        if self.uri != uri {
            *self = Entry {
                uri: uri.to_owned(),
                ..Entry::default()
            };
        }
        self.last_fetch = Some(at);
        match fetched {
            Ok(fetched) => {
                self.failure = None;
                self.set = Some(Cached {
                    jwks: fetched.jwks.clone(),
                    kids: fetched.kids,
                    fresh_until: at + fetched.ttl,
                });
                Ok(fetched.jwks)
            }
            Err(e) => {
                self.failure = Some(e.clone());
                match &self.set {
                    Some(set) if at < set.fresh_until + MAX_STALE => {
                        tracing::warn!(error = %e, "refreshing a client's JWKS failed; serving the cached one");
                        Ok(set.jwks.clone())
                    }
                    _ => Err(e),
                }
            }
        }
    }
}

/// `Cache-Control: max-age` within [`MIN_TTL`] … [`MAX_TTL`]; `no-cache` and
/// `no-store` get the minimum; [`DEFAULT_TTL`] without a usable value.
pub(super) fn ttl_from(cache_control: Option<&str>) -> Duration {
    let Some(value) = cache_control else {
        return DEFAULT_TTL;
    };
    let mut ttl = None;
    for directive in value.split(',').map(|d| d.trim().to_ascii_lowercase()) {
        if directive == "no-cache" || directive == "no-store" {
            return MIN_TTL;
        }
        if let Some(secs) = directive.strip_prefix("max-age=")
            && let Ok(secs) = secs.trim_matches('"').parse::<i64>()
        {
            ttl = Some(Duration::seconds(secs));
        }
    }
    ttl.map_or(DEFAULT_TTL, |t| t.clamp(MIN_TTL, MAX_TTL))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const URI: &str = "https://tpp.example/jwks";
    const T0: OffsetDateTime = datetime!(2026-11-02 10:00 UTC);

    fn fetched(kids: &[&str], ttl: Duration) -> Result<Fetched, FetchError> {
        Ok(Fetched {
            jwks: format!("{kids:?}").into(),
            kids: kids.iter().map(|k| k.to_string()).collect(),
            ttl,
        })
    }

    fn down() -> FetchError {
        FetchError::Status {
            uri: URI.into(),
            status: 503,
        }
    }

    fn served(step: Step) -> String {
        match step {
            Step::Serve(jwks) => jwks.to_string(),
            other => panic!("expected the cached set, got {other:?}"),
        }
    }

    #[test]
    fn a_fresh_set_is_served_until_its_ttl_without_fetching() {
        let mut entry = Entry::default();
        assert_eq!(entry.next_step(URI, Some("k1"), T0), Step::Fetch);
        entry
            .record(URI, fetched(&["k1"], DEFAULT_TTL), T0)
            .unwrap();
        let later = T0 + Duration::seconds(299);
        assert_eq!(served(entry.next_step(URI, Some("k1"), later)), "[\"k1\"]");
        assert_eq!(served(entry.next_step(URI, None, later)), "[\"k1\"]");
        assert_eq!(
            entry.next_step(URI, Some("k1"), T0 + DEFAULT_TTL),
            Step::Fetch
        );
    }

    #[test]
    fn an_unknown_kid_fetches_again_but_at_most_every_30_seconds() {
        let mut entry = Entry::default();
        entry
            .record(URI, fetched(&["k1"], DEFAULT_TTL), T0)
            .unwrap();
        // Within 30 s of the last fetch: no new fetch; the verifier will miss the kid.
        let soon = T0 + Duration::seconds(29);
        assert_eq!(served(entry.next_step(URI, Some("k2"), soon)), "[\"k1\"]");
        let after = T0 + REFETCH_INTERVAL;
        assert_eq!(entry.next_step(URI, Some("k2"), after), Step::Fetch);
        entry
            .record(URI, fetched(&["k2"], DEFAULT_TTL), after)
            .unwrap();
        assert_eq!(served(entry.next_step(URI, Some("k2"), after)), "[\"k2\"]");
        // A made-up kid right after is answered from the cache.
        assert_eq!(
            served(entry.next_step(URI, Some("made-up"), after + Duration::seconds(1))),
            "[\"k2\"]"
        );
    }

    #[test]
    fn a_failed_refresh_serves_the_stale_set_for_at_most_a_day() {
        let mut entry = Entry::default();
        entry.record(URI, fetched(&["k1"], MIN_TTL), T0).unwrap();
        let stale = T0 + MIN_TTL;
        assert_eq!(entry.next_step(URI, Some("k1"), stale), Step::Fetch);
        assert_eq!(
            entry.record(URI, Err(down()), stale).unwrap().as_ref(),
            "[\"k1\"]"
        );
        // The failure is not retried at once; the stale set stands in.
        assert_eq!(
            served(entry.next_step(URI, Some("k1"), stale + Duration::seconds(10))),
            "[\"k1\"]"
        );
        let too_old = T0 + MIN_TTL + MAX_STALE;
        assert_eq!(entry.next_step(URI, Some("k1"), too_old), Step::Fetch);
        assert_eq!(entry.record(URI, Err(down()), too_old), Err(down()));
        assert_eq!(
            entry.next_step(URI, Some("k1"), too_old + Duration::seconds(1)),
            Step::Fail(down())
        );
    }

    #[test]
    fn without_a_set_a_failure_is_repeated_for_30_seconds_then_retried() {
        let mut entry = Entry::default();
        assert_eq!(entry.record(URI, Err(down()), T0), Err(down()));
        assert_eq!(
            entry.next_step(URI, None, T0 + Duration::seconds(29)),
            Step::Fail(down())
        );
        assert_eq!(
            entry.next_step(URI, None, T0 + REFETCH_INTERVAL),
            Step::Fetch
        );
    }

    #[test]
    fn a_new_jwks_uri_is_fetched_at_once() {
        let mut entry = Entry::default();
        entry
            .record(URI, fetched(&["k1"], DEFAULT_TTL), T0)
            .unwrap();
        let other = "https://tpp.example/v2/jwks";
        assert_eq!(entry.next_step(other, Some("k1"), T0), Step::Fetch);
        assert_eq!(entry.record(other, Err(down()), T0), Err(down()));
        assert!(
            entry.set.is_none(),
            "the old URI's set is not served for the new one"
        );
    }

    #[test]
    fn cache_control_max_age_is_honoured_within_a_minute_and_an_hour() {
        assert_eq!(ttl_from(None), DEFAULT_TTL);
        assert_eq!(ttl_from(Some("public, max-age=600")), Duration::minutes(10));
        assert_eq!(ttl_from(Some("max-age=5")), MIN_TTL);
        assert_eq!(ttl_from(Some("Max-Age=86400")), MAX_TTL);
        assert_eq!(ttl_from(Some("no-store")), MIN_TTL);
        assert_eq!(ttl_from(Some("max-age=soon")), DEFAULT_TTL);
        assert_eq!(ttl_from(Some("max-age=-1")), MIN_TTL);
    }
}
