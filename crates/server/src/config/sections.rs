//! The configuration's sections (`[http]`, `[tls]`, `[oauth]`, …) and their defaults.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use fintechapi_web::{Brand, Colour};

use super::{ConfigError, LogFormat};

/// The bank's name and accent colour on its public site and pages.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct BrandConfig {
    pub name: String,
    /// `#rrggbb`; white text sits on it, so it needs a contrast of 4.5:1 with white.
    pub accent: String,
}

impl Default for BrandConfig {
    fn default() -> Self {
        let brand = Brand::default();
        Self {
            name: brand.name,
            accent: brand.accent.to_string(),
        }
    }
}

impl BrandConfig {
    pub fn brand(&self) -> Result<Brand, ConfigError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 80 || name.chars().any(char::is_control) {
            return Err(ConfigError::Setting {
                key: "brand.name",
                message: "must be 1 to 80 characters on one line".into(),
            });
        }
        let accent: Colour = self.accent.parse().map_err(|_| ConfigError::Setting {
            key: "brand.accent",
            message: "must be a colour written #rrggbb".into(),
        })?;
        if accent.contrast_with_white() < 4.5 {
            return Err(ConfigError::Setting {
                key: "brand.accent",
                message: "is too light: white text on it needs a contrast of at least 4.5:1".into(),
            });
        }
        Ok(Brand {
            name: name.to_owned(),
            accent,
        })
    }
}

/// Where operators read `/metrics` and the detail of `/readyz`; neither is
/// served on the public listener unless `token_file` is set.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricsConfig {
    /// A separate plain-HTTP listener for Prometheus, e.g. `127.0.0.1:9464`;
    /// keep it on loopback or an internal network. Off when unset.
    pub listen: Option<String>,
    /// A file holding a bearer token (32+ characters) that opens `/metrics`
    /// and the detail of `/readyz` on the public listener too.
    pub token_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RedisConfig {
    /// `redis://host:6379/0` (or `rediss://`): rate limits and quotas shared by
    /// every node. Each node limits on its own when unset.
    pub url: Option<String>,
    /// Prepended to every key, so installations can share a Redis server.
    pub key_prefix: String,
    /// How long a check waits for Redis before the node limits on its own.
    pub timeout_ms: u64,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: None,
            key_prefix: "fintechapi:".into(),
            timeout_ms: 50,
        }
    }
}

/// One plan's limits; a limit left out is no limit (an empty table is unlimited).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlanConfig {
    pub per_second: Option<u32>,
    /// Calls allowed at once; `per_second` when unset.
    pub burst: Option<u32>,
    pub per_day: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct MailConfig {
    /// SMTP relay for the outbox: `smtps://user:pass@host:465` or
    /// `smtp://user:pass@host:587?tls=required`. Mails stay in the outbox when unset.
    pub smtp_url: Option<String>,
    pub from: String,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "FinTechAPI <noreply@localhost>".into(),
        }
    }
}

/// Resource status notifications to the TPPs' `TPP-Notification-URI`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct NotificationsConfig {
    /// PEM bundle of CA certificates trusted, besides the system's roots, for
    /// the TPPs' notification endpoints.
    pub ca_file: Option<PathBuf>,
    /// Also deliver to loopback and private addresses: development with a
    /// TPP on the same machine or network only; production refuses it.
    pub allow_private_networks: bool,
    /// Attempts per notification (at least 1) before it is given up and recorded.
    pub max_attempts: u32,
    /// The wait after the first failed attempt, doubled after each further
    /// one, at most an hour.
    pub retry_base_millis: u64,
    /// Deliveries in flight at once per node (at least 1).
    pub concurrency: u32,
    /// One delivery: connecting, TLS and the answer.
    pub timeout_secs: u64,
    /// How often the outbox is looked at.
    pub poll_millis: u64,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        Self {
            ca_file: None,
            allow_private_networks: false,
            max_attempts: 8,
            retry_base_millis: 10_000,
            concurrency: 8,
            timeout_secs: 10,
            poll_millis: 1_000,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SecretsConfig {
    /// File holding the server pepper (at least 32 bytes) that keys the hashes of
    /// consumer secrets, tokens and session ids. Every node of one installation
    /// needs the same file. Generated in the data directory when unset (development only).
    pub pepper_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct PortalConfig {
    /// How long a rotated consumer secret keeps working.
    pub secret_rotation_grace_hours: u64,
    /// Sign-up and password-reset mails to one address per hour; further
    /// requests get the same answer but send nothing.
    pub mails_per_recipient_per_hour: u32,
    /// Sign-up and password-reset requests per client address per hour.
    pub mail_requests_per_address_per_hour: u32,
}

impl Default for PortalConfig {
    fn default() -> Self {
        Self {
            secret_rotation_grace_hours: 24,
            mails_per_recipient_per_hour: 3,
            mail_requests_per_address_per_hour: 20,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct OAuthConfig {
    /// Lifetime of access tokens; short, since every call checks them anyway.
    pub access_token_ttl_secs: u64,
    /// PEM bundle of CA certificates trusted, besides the system's roots, when
    /// fetching a client's `jwks_uri`.
    pub client_jwks_ca_file: Option<PathBuf>,
    /// Also fetch `jwks_uri` on loopback and private addresses: development
    /// with a TPP on the same machine or network only; production refuses it.
    pub client_jwks_allow_private_networks: bool,
    /// Failed client authentications on the token, PAR, introspection and
    /// revocation endpoints per client address per minute; past it the
    /// address is answered 429 `slow_down` for a while, before any check.
    pub client_auth_failures_per_address_per_minute: u32,
    /// The same per `client_id`, whatever the address.
    pub client_auth_failures_per_client_per_minute: u32,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        Self {
            access_token_ttl_secs: 300,
            client_jwks_ca_file: None,
            client_jwks_allow_private_networks: false,
            client_auth_failures_per_address_per_minute: 20,
            client_auth_failures_per_client_per_minute: 10,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ScaConfig {
    /// A fixed one-time code every PSU may use as second factor: sandboxes
    /// only. The development profile uses `123456` when unset; production
    /// refuses any value.
    pub sandbox_code: Option<String>,
    /// RTS Art. 4(3)(b): after 5 failed attempts a PSU is blocked for the
    /// first of these minutes, after the next 5 for the second, and so on
    /// (the last repeats).
    pub block_minutes: Vec<u32>,
    /// Temporary blocks in a row after which the next one is permanent (an
    /// operator lifts it); 0 never blocks for good. The PSU is alerted at
    /// each block, and warned before the permanent one.
    pub permanent_after_blocks: u32,
    /// Attempts on the bank's login pages per client address per minute.
    pub login_attempts_per_address_per_minute: u32,
    /// Attempts on the bank's login pages per login name per minute.
    pub login_attempts_per_login_per_minute: u32,
}

impl Default for ScaConfig {
    fn default() -> Self {
        Self {
            sandbox_code: None,
            block_minutes: vec![15, 60, 240],
            permanent_after_blocks: 3,
            login_attempts_per_address_per_minute: 30,
            login_attempts_per_login_per_minute: 10,
        }
    }
}

impl ScaConfig {
    pub fn block_policy(&self) -> fintechapi_domain::psu::BlockPolicy {
        let defaults = fintechapi_domain::psu::BlockPolicy::default();
        let temporary: Vec<time::Duration> = self
            .block_minutes
            .iter()
            .filter(|m| **m > 0)
            .map(|m| time::Duration::minutes(i64::from(*m)))
            .collect();
        fintechapi_domain::psu::BlockPolicy {
            temporary: if temporary.is_empty() {
                defaults.temporary
            } else {
                temporary
            },
            permanent_after: self.permanent_after_blocks,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Xs2aConfig {
    /// The longest consent validity granted, in days from today.
    pub max_consent_days: u16,
}

impl Default for Xs2aConfig {
    fn default() -> Self {
        Self {
            max_consent_days: 90,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseConfig {
    /// The pool's connections. On PostgreSQL a node opens up to as many
    /// again, as they are needed, for the hottest statements (`storage`'s
    /// `pg_hot.rs`), and one for the batches of `/balances` reads.
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TlsConfig {
    /// PEM certificate chain; the generated development certificate when unset.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// PEM CA bundle that client certificates (mutual TLS) must chain to.
    /// The development CA when unset in the development profile.
    pub client_ca_file: Option<PathBuf>,
    /// How often the certificate and key files are checked for a change
    /// (SIGHUP reloads them at once).
    pub reload_check_secs: u64,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            cert_file: None,
            key_file: None,
            client_ca_file: None,
            reload_check_secs: 5,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpConfig {
    pub tls_handshake_timeout_secs: u64,
    pub header_read_timeout_secs: u64,
    /// The longest wait between two reads of a request body.
    pub body_read_timeout_secs: u64,
    /// The whole request body must arrive within this, or the request is
    /// answered 408: a body dribbled a byte at a time frees its slot early.
    pub body_timeout_millis: u64,
    pub request_timeout_secs: u64,
    pub idle_timeout_secs: u64,
    pub shutdown_grace_secs: u64,
    pub max_body_bytes: usize,
    pub max_connections: usize,
    /// Requests served at once; more wait for a turn (load shedding).
    pub max_in_flight_requests: usize,
    /// How long a request may wait for a turn before it is answered 503 with
    /// `Retry-After`. `/healthz` never waits.
    pub queue_timeout_millis: u64,
    /// HSTS for every subdomain of the served host too (`includeSubDomains`):
    /// only when all of them serve HTTPS.
    pub hsts_include_subdomains: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `fintechapi=debug,info`.
    pub filter: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DemoConfig {
    /// Seed the demo bank into an empty database. Defaults to on in
    /// development and off in production.
    pub seed: Option<bool>,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout_secs: 5,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            tls_handshake_timeout_secs: 10,
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 30,
            body_timeout_millis: 10_000,
            request_timeout_secs: 30,
            idle_timeout_secs: 90,
            shutdown_grace_secs: 30,
            max_body_bytes: 1024 * 1024,
            max_connections: 4096,
            max_in_flight_requests: 256,
            queue_timeout_millis: 1500,
            hsts_include_subdomains: false,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            filter: "info".into(),
        }
    }
}
