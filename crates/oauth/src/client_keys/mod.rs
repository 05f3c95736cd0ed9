//! A `private_key_jwt` client's JWK Set, fetched from its registered
//! `jwks_uri` and cached per client.
//!
//! Fetching: `https` only (checked again here, not only at registration), the
//! system's trusted roots plus the configured extra CAs, no redirects, no
//! proxy, 5 s for the whole exchange, at most 64 KiB, a JSON `Content-Type`,
//! and the same checks as a registered document (public keys only, no `kid`
//! twice).
//!
//! Caching: a set stays fresh for the response's `Cache-Control: max-age`
//! within 60 s … 1 h (5 min without one). An assertion naming a `kid` the
//! set lacks (the TPP rotated its key) triggers a fetch before the set goes
//! stale, but fetches of one client are at least 30 s apart, so assertions
//! with made-up kids cannot make the server hammer a TPP. When a refresh fails
//! the stale set is served for up to a day.
//!
//! Server-side request forgery: the URI is chosen by the TPP, and sandbox
//! applications need no operator's approval. Guarded by the `outbound`
//! crate's client (only `https`, no redirects, no proxy, a time cap, and
//! unless `allow_private_networks` no non-public address, checked on the
//! resolved addresses), plus no user information and a size cap here.
//! Not guarded: any public `https` host and port can be made to receive a GET
//! from this server, and the error description tells the TPP how it failed.
//!
//! `cache.rs` holds the caching policy.

mod cache;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use fintechapi_domain::Clock;
use fintechapi_domain::ids::ApplicationId;
use fintechapi_domain::registry::{InvalidJwksUri, JwksUri};
use fintechapi_registry::{JwksProblem, check_public_jwks};
use time::Duration;

use cache::{Entry, Fetched, Step, ttl_from};

/// The largest JWK Set accepted.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// Connecting, TLS, and reading the answer, all together.
const FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// Two fetches of one client's set are at least this far apart.
pub const REFETCH_INTERVAL: Duration = Duration::seconds(30);
/// Why a client's keys could not be obtained from its `jwks_uri`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("the client's jwks_uri {0}")]
    InvalidUri(InvalidJwksUri),
    #[error("the client's jwks_uri points to a loopback, private or otherwise non-public address")]
    NonPublicAddress,
    #[error("cannot fetch the client's JWKS from {uri}: {reason}")]
    Unreachable { uri: String, reason: String },
    #[error("the client's JWKS at {uri} did not arrive within {} s", FETCH_TIMEOUT.as_secs())]
    TimedOut { uri: String },
    #[error(
        "the client's jwks_uri {uri} answered with a redirect (HTTP {status}), which is not followed"
    )]
    Redirect { uri: String, status: u16 },
    #[error("the client's jwks_uri {uri} answered HTTP {status}")]
    Status { uri: String, status: u16 },
    #[error(
        "the client's JWKS at {uri} has Content-Type {found:?}; expected application/json or application/jwk-set+json"
    )]
    ContentType { uri: String, found: String },
    #[error("the client's JWKS at {uri} is larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge { uri: String },
    #[error("the client's JWKS at {uri} {problem}")]
    Invalid { uri: String, problem: JwksProblem },
}

pub use fintechapi_outbound::{OutboundSettings as FetchSettings, SetupError};

/// Fetches and caches clients' JWK Sets. One per authorization server.
pub struct ClientKeys {
    http: reqwest::Client,
    settings: FetchSettings,
    clock: Arc<dyn Clock>,
    /// One lock per client, held while fetching, so concurrent assertions of a
    /// client wait for one fetch instead of starting several.
    entries: Mutex<HashMap<ApplicationId, Arc<tokio::sync::Mutex<Entry>>>>,
}

impl ClientKeys {
    pub fn new(settings: FetchSettings, clock: Arc<dyn Clock>) -> Result<Self, SetupError> {
        Ok(Self {
            http: fintechapi_outbound::client(&settings, FETCH_TIMEOUT)?,
            settings,
            clock,
            entries: Mutex::new(HashMap::new()),
        })
    }

    /// The JWK Set of `application`, published at `uri`, fit to verify an
    /// assertion signed with `kid`: cached, or fetched as the policy allows.
    pub async fn jwks(
        &self,
        application: ApplicationId,
        uri: &str,
        kid: Option<&str>,
    ) -> Result<Arc<str>, FetchError> {
        let entry = {
            let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            entries.entry(application).or_default().clone()
        };
        let mut entry = entry.lock().await;
        let now = self.clock.now();
        match entry.next_step(uri, kid, now) {
            Step::Serve(jwks) => return Ok(jwks),
            Step::Fail(e) => return Err(e),
            Step::Fetch => {}
        }
        let fetched = self.fetch(uri).await;
        entry.record(uri, fetched, now)
    }

    async fn fetch(&self, uri: &str) -> Result<Fetched, FetchError> {
        let parsed = JwksUri::parse(uri).map_err(FetchError::InvalidUri)?;
        fintechapi_outbound::check_address(parsed.url(), &self.settings)
            .map_err(|_| FetchError::NonPublicAddress)?;
        let uri = parsed.as_str().to_owned();
        let mut response = self
            .http
            .get(parsed.url().clone())
            .header(
                reqwest::header::ACCEPT,
                "application/jwk-set+json, application/json",
            )
            .send()
            .await
            .map_err(|e| transport_error(&uri, &e))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(FetchError::Redirect {
                uri,
                status: status.as_u16(),
            });
        }
        if status != reqwest::StatusCode::OK {
            return Err(FetchError::Status {
                uri,
                status: status.as_u16(),
            });
        }
        let found = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        if !is_json(&found) {
            return Err(FetchError::ContentType { uri, found });
        }
        let ttl = ttl_from(
            response
                .headers()
                .get(reqwest::header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok()),
        );
        // Counted as it arrives, whatever Content-Length says.
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| transport_error(&uri, &e))?
        {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(FetchError::TooLarge { uri });
            }
            body.extend_from_slice(&chunk);
        }
        let invalid = |problem| FetchError::Invalid {
            uri: uri.clone(),
            problem,
        };
        let text = String::from_utf8(body).map_err(|_| invalid(JwksProblem::NotJwks))?;
        check_public_jwks(&text).map_err(invalid)?;
        let kids = kids_of(&text);
        Ok(Fetched {
            jwks: text.into(),
            kids,
            ttl,
        })
    }
}

/// `application/json` or `application/jwk-set+json`, with any parameters.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence == "application/jwk-set+json"
}

fn kids_of(jwks: &str) -> HashSet<String> {
    serde_json::from_str::<serde_json::Value>(jwks)
        .ok()
        .and_then(|doc| {
            doc["keys"].as_array().map(|keys| {
                keys.iter()
                    .filter_map(|k| k["kid"].as_str().map(str::to_owned))
                    .collect()
            })
        })
        .unwrap_or_default()
}

fn transport_error(uri: &str, e: &reqwest::Error) -> FetchError {
    if e.is_timeout() {
        return FetchError::TimedOut {
            uri: uri.to_owned(),
        };
    }
    if fintechapi_outbound::is_non_public(e) {
        return FetchError::NonPublicAddress;
    }
    FetchError::Unreachable {
        uri: uri.to_owned(),
        reason: fintechapi_outbound::innermost_cause(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_content_types_are_accepted() {
        assert!(is_json("application/json"));
        assert!(is_json("application/jwk-set+json; charset=utf-8"));
        assert!(is_json("Application/JSON"));
        assert!(!is_json("text/html"));
        assert!(!is_json(""));
    }

    fn keys(allow_private_networks: bool) -> ClientKeys {
        let settings = FetchSettings {
            extra_roots_pem: None,
            allow_private_networks,
        };
        ClientKeys::new(settings, Arc::new(fintechapi_domain::SystemClock)).unwrap()
    }

    #[tokio::test]
    async fn plain_http_and_other_schemes_are_refused_before_connecting() {
        let keys = keys(true);
        let app = ApplicationId::random();
        for uri in ["http://127.0.0.1:9/jwks", "ftp://tpp.example/jwks"] {
            assert_eq!(
                keys.jwks(app, uri, None).await,
                Err(FetchError::InvalidUri(InvalidJwksUri::NotHttps)),
                "{uri}"
            );
        }
    }

    #[tokio::test]
    async fn loopback_targets_are_refused_unless_allowed() {
        let keys = keys(false);
        for uri in [
            "https://127.0.0.1:9/jwks",
            "https://[::1]:9/jwks",
            "https://localhost:9/jwks",
        ] {
            assert_eq!(
                keys.jwks(ApplicationId::random(), uri, None).await,
                Err(FetchError::NonPublicAddress),
                "{uri}"
            );
        }
    }
}
