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
//! applications need no operator's approval. Guarded: only `https` (plain-HTTP
//! services such as cloud metadata endpoints are out of reach), no user
//! information, no redirects, size and time caps, and (unless
//! `allow_private_networks`, meant for development) no loopback, private,
//! link-local or otherwise non-public address, checked on the resolved
//! addresses the connection uses, so DNS rebinding does not get around it.
//! Not guarded: any public `https` host and port can be made to receive a GET
//! from this server, and the error description tells the TPP how it failed.
//! No proxy is used, because the address check would then see only the proxy.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use fintechapi_domain::Clock;
use fintechapi_domain::ids::ApplicationId;
use fintechapi_domain::registry::{InvalidJwksUri, JwksUri};
use fintechapi_registry::{JwksProblem, check_public_jwks};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use time::{Duration, OffsetDateTime};

/// The largest JWK Set accepted.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// Connecting, TLS, and reading the answer, all together.
const FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// Two fetches of one client's set are at least this far apart.
pub const REFETCH_INTERVAL: Duration = Duration::seconds(30);
const DEFAULT_TTL: Duration = Duration::minutes(5);
const MIN_TTL: Duration = Duration::seconds(60);
const MAX_TTL: Duration = Duration::hours(1);
/// How long past its freshness a set is served while its `jwks_uri` fails:
/// long enough to ride out an outage, short enough that a key the TPP
/// withdrew stops working within a day.
const MAX_STALE: Duration = Duration::hours(24);

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

/// The fetcher could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("the extra CA certificates are not PEM certificates: {0}")]
    Certificates(reqwest::Error),
    #[error("the extra CA bundle holds no certificate")]
    NoCertificate,
    #[error("cannot build the HTTPS client: {0}")]
    Client(reqwest::Error),
}

#[derive(Debug, Clone, Default)]
pub struct FetchSettings {
    /// PEM bundle of CA certificates trusted in addition to the system's roots.
    pub extra_roots_pem: Option<Vec<u8>>,
    /// Development only: allow loopback and private addresses.
    pub allow_private_networks: bool,
}

/// Fetches and caches clients' JWK Sets. One per authorization server.
pub struct ClientKeys {
    http: reqwest::Client,
    allow_private_networks: bool,
    clock: Arc<dyn Clock>,
    /// One lock per client, held while fetching, so concurrent assertions of a
    /// client wait for one fetch instead of starting several.
    entries: Mutex<HashMap<ApplicationId, Arc<tokio::sync::Mutex<Entry>>>>,
}

impl ClientKeys {
    pub fn new(settings: FetchSettings, clock: Arc<dyn Clock>) -> Result<Self, SetupError> {
        let mut builder = reqwest::Client::builder()
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(FETCH_TIMEOUT)
            .timeout(FETCH_TIMEOUT)
            .user_agent(concat!("fintechapi/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &settings.extra_roots_pem {
            let certificates =
                reqwest::Certificate::from_pem_bundle(pem).map_err(SetupError::Certificates)?;
            if certificates.is_empty() {
                return Err(SetupError::NoCertificate);
            }
            builder = builder.tls_certs_merge(certificates);
        }
        if !settings.allow_private_networks {
            builder = builder.dns_resolver(PublicAddressesOnly);
        }
        Ok(Self {
            http: builder.build().map_err(SetupError::Client)?,
            allow_private_networks: settings.allow_private_networks,
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
        if !self.allow_private_networks
            && let Some(ip) = literal_ip(parsed.url())
            && !is_public(ip)
        {
            return Err(FetchError::NonPublicAddress);
        }
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

/// A set as fetched, before it is cached.
#[derive(Debug)]
struct Fetched {
    jwks: Arc<str>,
    kids: HashSet<String>,
    ttl: Duration,
}

#[derive(Debug)]
struct Cached {
    jwks: Arc<str>,
    kids: HashSet<String>,
    fresh_until: OffsetDateTime,
}

/// What is known about one client's `jwks_uri`.
#[derive(Debug, Default)]
struct Entry {
    /// The URI the set and the failure belong to; a new URI starts afresh.
    uri: String,
    set: Option<Cached>,
    last_fetch: Option<OffsetDateTime>,
    /// Why the last fetch failed, if it did.
    failure: Option<FetchError>,
}

#[derive(Debug, PartialEq, Eq)]
enum Step {
    Serve(Arc<str>),
    Fetch,
    Fail(FetchError),
}

impl Entry {
    fn next_step(&self, uri: &str, kid: Option<&str>, now: OffsetDateTime) -> Step {
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
    fn record(
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
fn ttl_from(cache_control: Option<&str>) -> Duration {
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
    let mut innermost: &dyn std::error::Error = e;
    while let Some(source) = innermost.source() {
        if source.is::<NonPublicAddress>() {
            return FetchError::NonPublicAddress;
        }
        innermost = source;
    }
    FetchError::Unreachable {
        uri: uri.to_owned(),
        reason: innermost.to_string(),
    }
}

fn literal_ip(url: &url::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

/// Addresses on the public internet (what `IpAddr::is_global`, unstable, means).
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || a >= 240
        // Shared address space (RFC 6598) and benchmarking (RFC 2544).
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (18..20).contains(&b)))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let [first, second, ..] = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // Unique local fc00::/7, link-local fe80::/10, documentation 2001:db8::/32.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && second == 0x0db8)
        // Addresses that carry an IPv4 one and reach it through a translator
        // or tunnel: NAT64 64:ff9b::/96 and 64:ff9b:1::/48, 6to4 2002::/16,
        // Teredo 2001::/32, IPv4-compatible ::a.b.c.d. Refused outright.
        || (first == 0x0064 && second == 0xff9b)
        || first == 0x2002
        || (first == 0x2001 && second == 0)
        || ip.segments()[..6].iter().all(|s| *s == 0))
}

#[derive(Debug, thiserror::Error)]
#[error("the host resolves to no public address")]
struct NonPublicAddress;

/// The system resolver, keeping only public addresses.
struct PublicAddressesOnly;

impl Resolve for PublicAddressesOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let public: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if public.is_empty() {
                return Err(NonPublicAddress.into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

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

    #[test]
    fn only_json_content_types_are_accepted() {
        assert!(is_json("application/json"));
        assert!(is_json("application/jwk-set+json; charset=utf-8"));
        assert!(is_json("Application/JSON"));
        assert!(!is_json("text/html"));
        assert!(!is_json(""));
    }

    #[test]
    fn loopback_private_and_link_local_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:5",
            "64:ff9b:1::a00:5",
            "2002:a00:5::1",
            "2001:0:4136:e378::1",
            "::10.0.0.5",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.215.14", "2606:4700::6810:84e5"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
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
