//! Failed client authentications on `/oauth2/token`, `/par`, `/introspect`
//! and `/revoke`, counted per client address and per `client_id` in the
//! shared [`Throttle`] (Redis when configured). Only failures are counted, so
//! a client that authenticates pays no round trip for it. A key found over
//! its limit is remembered on this node until its hold ends, and requests
//! under it are refused before the client is authenticated: no secret
//! lookup, assertion check or JWKS fetch. Another node learns of a hold at
//! its own first failure for that key, which the shared count refuses.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use fintechapi_domain::Clock;
use fintechapi_limits::throttle::{RetryAfter, Throttle};
use time::OffsetDateTime;

use crate::error::{ErrorCode, OAuthError};
use crate::jose::unverified_issuer;
use crate::server::PresentedClient;

/// Holds remembered at most; past it, expired ones are swept first and a new
/// hold still refuses through the shared count at the key's next failure.
const MAX_HELD: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Address(IpAddr),
    /// The claimed client_id's hash: a held key costs 8 bytes whatever its length.
    Client(u64),
}

pub struct ClientAuthThrottle {
    per_address: Throttle,
    per_client: Throttle,
    clock: Arc<dyn Clock>,
    client_ids: RandomState,
    /// Keys over their limit, until when.
    held: Mutex<HashMap<Key, OffsetDateTime>>,
}

/// The `client_id` a request claims, before anything is verified: named in
/// the form or the Basic header, or the issuer of its client assertion.
pub fn claimed_client_id(presented: &PresentedClient) -> Option<String> {
    match presented {
        PresentedClient::Secret { client_id, .. }
        | PresentedClient::Certificate { client_id, .. } => Some(client_id.clone()),
        PresentedClient::Assertion {
            client_id,
            assertion,
        } => client_id.clone().or_else(|| unverified_issuer(assertion)),
    }
}

impl ClientAuthThrottle {
    pub fn new(per_address: Throttle, per_client: Throttle, clock: Arc<dyn Clock>) -> Self {
        Self {
            per_address,
            per_client,
            clock,
            client_ids: RandomState::new(),
            held: Mutex::new(HashMap::new()),
        }
    }

    /// Refused when this address or client_id is held on this node; no
    /// round trip to the shared store.
    pub fn check(&self, address: IpAddr, client_id: Option<&str>) -> Result<(), OAuthError> {
        let now = self.clock.now();
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let until = |key: &Key| held.get(key).copied().filter(|until| *until > now);
        if let Some(until) = until(&Key::Address(address)) {
            return Err(refusal(Key::Address(address), RetryAfter(until - now)));
        }
        if let Some(id) = client_id {
            let key = self.client_key(id);
            if let Some(until) = until(&key) {
                return Err(refusal(key, RetryAfter(until - now)));
            }
        }
        Ok(())
    }

    /// Counts a failed authentication against the address and the
    /// client_id; the refusal to answer when either is now over its limit.
    pub async fn failed(&self, address: IpAddr, client_id: Option<&str>) -> Result<(), OAuthError> {
        let (by_address, by_client) = tokio::join!(self.per_address.allow(address), async {
            match client_id {
                Some(id) => self.per_client.allow(id).await,
                None => Ok(()),
            }
        });
        let over = match (by_address, by_client) {
            (Err(wait), _) => (Key::Address(address), wait),
            (Ok(()), Err(wait)) => (self.client_key(client_id.unwrap_or_default()), wait),
            (Ok(()), Ok(())) => return Ok(()),
        };
        self.hold(over.0.clone(), over.1);
        Err(refusal(over.0, over.1))
    }

    fn client_key(&self, id: &str) -> Key {
        Key::Client(self.client_ids.hash_one(id))
    }

    fn hold(&self, key: Key, wait: RetryAfter) {
        let now = self.clock.now();
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if held.len() >= MAX_HELD {
            held.retain(|_, until| *until > now);
        }
        if held.len() < MAX_HELD || held.contains_key(&key) {
            held.insert(key, now + wait.0);
        }
    }
}

/// 429 `slow_down` with `Retry-After`, saying what is held and that it ends.
fn refusal(key: Key, wait: RetryAfter) -> OAuthError {
    let what = match key {
        Key::Address(_) => "from this address",
        Key::Client(_) => "for this client_id",
    };
    // Rounded up, as `Retry-After` is: a client waiting that long gets its turn.
    let secs = wait.secs() + u64::from(wait.0.subsec_nanoseconds() > 0);
    OAuthError {
        retry_after: Some(std::time::Duration::from_secs(secs)),
        ..OAuthError::new(
            ErrorCode::SlowDown,
            format!(
                "too many failed client authentications {what}; client authentication is \
                 paused temporarily, try again in {secs} s"
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use fintechapi_domain::ManualClock;
    use time::Duration;

    use super::*;

    fn throttle(clock: &ManualClock) -> ClientAuthThrottle {
        let clock: Arc<dyn Clock> = Arc::new(clock.clone());
        ClientAuthThrottle::new(
            Throttle::new(4, Duration::minutes(1), clock.clone()),
            Throttle::new(2, Duration::minutes(1), clock.clone()),
            clock,
        )
    }

    #[tokio::test]
    async fn a_client_id_over_its_limit_is_held_until_its_turn_comes_back() {
        let clock = ManualClock::new(OffsetDateTime::UNIX_EPOCH);
        let t = throttle(&clock);
        let (here, there): (IpAddr, IpAddr) =
            ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        assert!(t.failed(here, Some("app")).await.is_ok());
        assert!(t.failed(here, Some("app")).await.is_ok());
        assert!(t.check(there, Some("app")).is_ok());
        let e = t.failed(here, Some("app")).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::SlowDown);
        assert!(e.description.contains("for this client_id"), "{e}");
        // Held everywhere for that client, not for others nor the address.
        let e = t.check(there, Some("app")).unwrap_err();
        assert_eq!(e.retry_after, Some(std::time::Duration::from_secs(30)));
        assert!(t.check(here, Some("other")).is_ok());
        // GCRA gives one attempt back every 30 s.
        clock.advance(Duration::seconds(31));
        assert!(t.check(there, Some("app")).is_ok());
    }

    #[tokio::test]
    async fn an_address_over_its_limit_is_held_for_every_client() {
        let clock = ManualClock::new(OffsetDateTime::UNIX_EPOCH);
        let t = throttle(&clock);
        let (here, there): (IpAddr, IpAddr) =
            ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for i in 0..4 {
            assert!(t.failed(here, Some(&format!("c{i}"))).await.is_ok());
        }
        let e = t.failed(here, None).await.unwrap_err();
        assert!(e.description.contains("from this address"), "{e}");
        assert!(t.check(here, Some("good")).is_err());
        assert!(t.check(there, Some("good")).is_ok());
    }
}
