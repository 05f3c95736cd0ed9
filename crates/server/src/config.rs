//! Layered configuration: defaults → TOML file → `FINTECHAPI_*` environment
//! (nested keys with `__`, e.g. `FINTECHAPI_HTTP__IDLE_TIMEOUT_SECS`) → flags.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fintechapi_domain::plan::{PlanCatalog, RatePlan};
use fintechapi_web::{Brand, Colour};
use serde::{Deserialize, Serialize};

/// Development serves demo data and sandbox features; production refuses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub profile: Profile,
    pub data_dir: PathBuf,
    pub listen: String,
    /// `postgres://…` or `sqlite:…`; a SQLite file in the data directory when unset.
    pub database_url: Option<String>,
    /// Base URL printed and used in links; `https://localhost:<port>` when unset.
    pub public_url: Option<String>,
    pub database: DatabaseConfig,
    pub tls: TlsConfig,
    pub http: HttpConfig,
    pub log: LogConfig,
    pub demo: DemoConfig,
    pub secrets: SecretsConfig,
    pub portal: PortalConfig,
    pub oauth: OAuthConfig,
    pub sca: ScaConfig,
    pub xs2a: Xs2aConfig,
    pub mail: MailConfig,
    pub metrics: MetricsConfig,
    pub redis: RedisConfig,
    pub brand: BrandConfig,
    /// Rate plans by name, added to or replacing the built-in `sandbox`,
    /// `standard`, `premium` and `unlimited`.
    pub plans: BTreeMap<String, PlanConfig>,
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

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SecretsConfig {
    /// File holding the server pepper (at least 32 bytes) that keys the hashes of
    /// consumer secrets, tokens and session ids. Every node of one installation
    /// needs the same file. Generated in the data directory when unset (development only).
    pub pepper_file: Option<PathBuf>,
}

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

impl Default for Config {
    fn default() -> Self {
        Self {
            profile: Profile::Development,
            data_dir: PathBuf::from("./fintechapi-data"),
            listen: "127.0.0.1:8443".into(),
            database_url: None,
            public_url: None,
            database: DatabaseConfig::default(),
            tls: TlsConfig::default(),
            http: HttpConfig::default(),
            log: LogConfig::default(),
            demo: DemoConfig::default(),
            secrets: SecretsConfig::default(),
            portal: PortalConfig::default(),
            oauth: OAuthConfig::default(),
            sca: ScaConfig::default(),
            xs2a: Xs2aConfig::default(),
            mail: MailConfig::default(),
            metrics: MetricsConfig::default(),
            redis: RedisConfig::default(),
            brand: BrandConfig::default(),
            plans: BTreeMap::new(),
        }
    }
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

/// Values given as command-line flags; they win over everything else.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub profile: Option<Profile>,
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub log_format: Option<LogFormat>,
    pub no_demo: bool,
    pub client_jwks_ca_file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: {message}")]
    File { path: String, message: String },
    #[error("configuration: {0}")]
    Invalid(String),
    #[error("{key}: {message}")]
    Setting { key: &'static str, message: String },
}

/// The loaded configuration and the unknown keys that were ignored.
pub struct Loaded {
    pub config: Config,
    pub unknown_keys: Vec<String>,
}

impl Config {
    /// Loads defaults, then `file`, then the process environment, then `flags`.
    pub fn load(file: Option<&Path>, flags: &Overrides) -> Result<Loaded, ConfigError> {
        Self::load_from(file, std::env::vars(), flags)
    }

    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: &Overrides,
    ) -> Result<Loaded, ConfigError> {
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            builder = builder.add_source(config::File::from_str(&text, config::FileFormat::Toml));
        }
        let env: config::Map<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("FINTECHAPI_") && k != "FINTECHAPI_CONFIG")
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix("FINTECHAPI")
                .prefix_separator("_")
                .separator("__")
                .source(Some(env)),
        );
        let invalid = |e: config::ConfigError| ConfigError::Invalid(e.to_string());
        let set = |b: config::ConfigBuilder<config::builder::DefaultState>,
                   key: &str,
                   value: String| { b.set_override(key, value).map_err(invalid) };
        if let Some(profile) = flags.profile {
            builder = set(builder, "profile", enum_text(&profile))?;
        }
        if let Some(dir) = &flags.data_dir {
            builder = set(builder, "data_dir", dir.display().to_string())?;
        }
        if let Some(listen) = &flags.listen {
            builder = set(builder, "listen", listen.clone())?;
        }
        if let Some(url) = &flags.database_url {
            builder = set(builder, "database_url", url.clone())?;
        }
        if let Some(format) = flags.log_format {
            builder = set(builder, "log.format", enum_text(&format))?;
        }
        if let Some(file) = &flags.client_jwks_ca_file {
            builder = set(
                builder,
                "oauth.client_jwks_ca_file",
                file.display().to_string(),
            )?;
        }
        if flags.no_demo {
            builder = builder.set_override("demo.seed", false).map_err(invalid)?;
        }
        let layered = builder.build().map_err(|e| match file {
            Some(path) => ConfigError::File {
                path: path.display().to_string(),
                message: e.to_string(),
            },
            None => invalid(e),
        })?;
        let mut unknown_keys = Vec::new();
        let config: Config = serde_ignored::deserialize(layered, |path| {
            unknown_keys.push(path.to_string());
        })
        .map_err(invalid)?;
        config.validate()?;
        Ok(Loaded {
            config,
            unknown_keys,
        })
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        self.metrics_addr()?;
        let positive = |key: &'static str, value: u64| {
            if value == 0 {
                Err(ConfigError::Setting {
                    key,
                    message: "must be greater than zero".into(),
                })
            } else {
                Ok(())
            }
        };
        positive(
            "oauth.access_token_ttl_secs",
            self.oauth.access_token_ttl_secs,
        )?;
        if self.oauth.access_token_ttl_secs > 86_400 {
            return Err(ConfigError::Setting {
                key: "oauth.access_token_ttl_secs",
                message: "must be at most 86400 (one day)".into(),
            });
        }
        let h = &self.http;
        positive(
            "http.tls_handshake_timeout_secs",
            h.tls_handshake_timeout_secs,
        )?;
        positive("http.header_read_timeout_secs", h.header_read_timeout_secs)?;
        positive("http.body_read_timeout_secs", h.body_read_timeout_secs)?;
        positive("http.body_timeout_millis", h.body_timeout_millis)?;
        positive("http.request_timeout_secs", h.request_timeout_secs)?;
        positive("http.idle_timeout_secs", h.idle_timeout_secs)?;
        positive("http.queue_timeout_millis", h.queue_timeout_millis)?;
        positive(
            "http.max_in_flight_requests",
            u64::try_from(h.max_in_flight_requests).unwrap_or(u64::MAX),
        )?;
        positive(
            "database.max_connections",
            u64::from(self.database.max_connections),
        )?;
        positive(
            "database.acquire_timeout_secs",
            self.database.acquire_timeout_secs,
        )?;
        if h.idle_timeout_secs < h.request_timeout_secs {
            return Err(ConfigError::Setting {
                key: "http.idle_timeout_secs",
                message: "must be at least http.request_timeout_secs".into(),
            });
        }
        if h.max_body_bytes == 0 || h.max_connections == 0 {
            return Err(ConfigError::Setting {
                key: "http.max_body_bytes",
                message: "http.max_body_bytes and http.max_connections must be greater than zero"
                    .into(),
            });
        }
        if self.tls.cert_file.is_some() != self.tls.key_file.is_some() {
            return Err(ConfigError::Setting {
                key: "tls.cert_file",
                message: "tls.cert_file and tls.key_file must be set together".into(),
            });
        }
        self.plan_catalog()?;
        self.brand.brand()?;
        positive("redis.timeout_ms", self.redis.timeout_ms)?;
        if let Some(url) = &self.redis.url
            && !(url.starts_with("redis://") || url.starts_with("rediss://"))
        {
            return Err(ConfigError::Setting {
                key: "redis.url",
                message: "must start with redis:// or rediss://".into(),
            });
        }
        if let Some(url) = &self.public_url
            && !url.starts_with("https://")
        {
            return Err(ConfigError::Setting {
                key: "public_url",
                message: format!("{url:?} must start with https://"),
            });
        }
        Ok(())
    }

    /// The private operators' listener, if configured.
    pub fn metrics_addr(&self) -> Result<Option<SocketAddr>, ConfigError> {
        self.metrics
            .listen
            .as_deref()
            .map(|listen| {
                listen.parse().map_err(|_| ConfigError::Setting {
                    key: "metrics.listen",
                    message: format!(
                        "{listen:?} is not a socket address (expected e.g. 127.0.0.1:9464)"
                    ),
                })
            })
            .transpose()
    }

    /// The built-in plans with the configured ones added or replacing them.
    pub fn plan_catalog(&self) -> Result<PlanCatalog, ConfigError> {
        let plans = self
            .plans
            .iter()
            .map(|(name, p)| RatePlan::new(name, p.per_second, p.burst, p.per_day));
        if self.plans.values().any(|p| p.burst == Some(0)) {
            return Err(ConfigError::Setting {
                key: "plans",
                message: "a plan's burst must be at least 1".into(),
            });
        }
        PlanCatalog::with(plans).map_err(|e| ConfigError::Setting {
            key: "plans",
            message: e.to_string(),
        })
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen.parse().map_err(|_| ConfigError::Setting {
            key: "listen",
            message: format!(
                "{:?} is not a socket address (expected e.g. 127.0.0.1:8443 or [::1]:8443)",
                self.listen
            ),
        })
    }

    pub fn seed_demo(&self) -> bool {
        self.demo
            .seed
            .unwrap_or(self.profile == Profile::Development)
    }

    pub fn uses_dev_certificate(&self) -> bool {
        self.tls.cert_file.is_none()
    }

    pub fn pepper_path(&self) -> PathBuf {
        self.secrets
            .pepper_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("secrets").join("pepper"))
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("fintechapi.db")
    }

    pub fn timeout(&self, secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    /// The sandbox one-time code in effect: never in production.
    pub fn sandbox_code(&self) -> Option<String> {
        match self.profile {
            Profile::Production => None,
            Profile::Development => Some(
                self.sca
                    .sandbox_code
                    .clone()
                    .unwrap_or_else(|| "123456".into()),
            ),
        }
    }

    /// What a production deployment must not run with. Empty when all is well.
    pub fn production_violations(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.profile != Profile::Production {
            return problems;
        }
        if self.uses_dev_certificate() {
            problems.push(
                "tls: the generated development certificate is not allowed; set tls.cert_file and tls.key_file".into(),
            );
        }
        if self.sca.sandbox_code.is_some() {
            problems.push(
                "sca.sandbox_code: a fixed one-time code is for sandboxes only; remove it".into(),
            );
        }
        if self.demo.seed == Some(true) {
            problems.push(
                "demo.seed: demo data is not allowed; remove demo.seed or --no-demo it".into(),
            );
        }
        match &self.mail.smtp_url {
            None => problems.push(
                "mail.smtp_url: production needs an SMTP relay to deliver verification and reset mails".into(),
            ),
            Some(url) if !(url.starts_with("smtps://") || url.contains("tls=required")) => problems.push(
                "mail.smtp_url: use smtps:// or smtp://…?tls=required; mail must not travel in clear".into(),
            ),
            Some(_) => {}
        }
        if self.secrets.pepper_file.is_none() {
            problems.push(
                "secrets.pepper_file: production needs a pepper file shared by every node (32+ random bytes)".into(),
            );
        }
        if self.oauth.client_jwks_allow_private_networks {
            problems.push(
                "oauth.client_jwks_allow_private_networks: fetching clients' jwks_uri from loopback or private addresses is for development; remove it".into(),
            );
        }
        if self.tls.cert_file.is_some() && self.tls.client_ca_file.is_none() {
            problems.push(
                "tls.client_ca_file: production needs the CA bundle that TPP client certificates chain to".into(),
            );
        }
        problems
    }

    /// The effective configuration as TOML, with secrets redacted.
    pub fn to_redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database_url = Some(match &self.database_url {
            Some(url) => fintechapi_storage::redact_database_url(url),
            None => format!("sqlite:{}", self.sqlite_path().display()),
        });
        shown.demo.seed = Some(self.seed_demo());
        shown.mail.smtp_url = self
            .mail
            .smtp_url
            .as_deref()
            .map(fintechapi_storage::redact_database_url);
        shown.redis.url = self
            .redis
            .url
            .as_deref()
            .map(fintechapi_storage::redact_database_url);
        // Every plan in force, the built-in ones included.
        if let Ok(catalog) = self.plan_catalog() {
            shown.plans = catalog
                .iter()
                .map(|p| {
                    let burst = p.per_second.map(|_| p.burst);
                    (
                        p.name.clone(),
                        PlanConfig {
                            per_second: p.per_second,
                            burst,
                            per_day: p.per_day,
                        },
                    )
                })
                .collect();
        }
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

fn enum_text<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sandbox_one_time_code_never_reaches_production() {
        let dev = Config::default();
        assert_eq!(dev.sandbox_code().as_deref(), Some("123456"));
        let mut prod = Config {
            profile: Profile::Production,
            ..Config::default()
        };
        assert_eq!(prod.sandbox_code(), None);
        prod.sca.sandbox_code = Some("000000".into());
        assert_eq!(prod.sandbox_code(), None);
        assert!(
            prod.production_violations()
                .iter()
                .any(|p| p.starts_with("sca.sandbox_code"))
        );
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_safe_and_local() {
        let loaded = Config::load_from(None, env(&[]), &Overrides::default()).unwrap();
        let c = loaded.config;
        assert_eq!(c.listen, "127.0.0.1:8443");
        assert_eq!(c.data_dir, PathBuf::from("./fintechapi-data"));
        assert_eq!(c.profile, Profile::Development);
        assert!(c.seed_demo());
        assert!(loaded.unknown_keys.is_empty());
    }

    #[test]
    fn flags_beat_environment_which_beats_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:1111\"\ndata_dir = \"/from-file\"\n[http]\nidle_timeout_secs = 120\nrequest_timeout_secs = 40\n",
        )
        .unwrap();
        let vars = env(&[
            ("FINTECHAPI_LISTEN", "127.0.0.1:2222"),
            ("FINTECHAPI_HTTP__IDLE_TIMEOUT_SECS", "300"),
            ("OTHER_LISTEN", "ignored"),
        ]);
        let flags = Overrides {
            listen: Some("127.0.0.1:3333".into()),
            ..Overrides::default()
        };
        let c = Config::load_from(Some(&file), vars.clone(), &flags)
            .unwrap()
            .config;
        assert_eq!(c.listen, "127.0.0.1:3333");
        assert_eq!(c.http.idle_timeout_secs, 300);
        assert_eq!(c.http.request_timeout_secs, 40);
        assert_eq!(c.data_dir, PathBuf::from("/from-file"));
        let c = Config::load_from(Some(&file), vars, &Overrides::default())
            .unwrap()
            .config;
        assert_eq!(c.listen, "127.0.0.1:2222");
    }

    #[test]
    fn unknown_keys_are_reported_not_fatal() {
        let loaded = Config::load_from(
            None,
            env(&[("FINTECHAPI_LISTN", "x")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(loaded.unknown_keys, vec!["listn".to_string()]);
    }

    #[test]
    fn bad_values_name_the_setting() {
        let err = Config::load_from(
            None,
            env(&[("FINTECHAPI_LISTEN", "nope")]),
            &Overrides::default(),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(err.starts_with("listen:"), "{err}");
        let err = Config::load_from(
            None,
            env(&[("FINTECHAPI_HTTP__IDLE_TIMEOUT_SECS", "soon")]),
            &Overrides::default(),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("idle_timeout_secs"), "{err}");
        let err = Config::load_from(
            Some(Path::new("/nonexistent/x.toml")),
            env(&[]),
            &Overrides::default(),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("/nonexistent/x.toml"), "{err}");
    }

    #[test]
    fn production_refuses_development_conveniences() {
        let flags = Overrides {
            profile: Some(Profile::Production),
            ..Overrides::default()
        };
        let c = Config::load_from(None, env(&[("FINTECHAPI_DEMO__SEED", "true")]), &flags)
            .unwrap()
            .config;
        let problems = c.production_violations().join("\n");
        assert!(problems.contains("development certificate"), "{problems}");
        assert!(problems.contains("demo"), "{problems}");
        assert!(!c.seed_demo() || c.demo.seed == Some(true));
    }

    #[test]
    fn the_jwks_fetcher_trusts_extra_cas_from_file_env_or_flag_and_stays_public_in_production() {
        let c = Config::load_from(None, env(&[]), &Overrides::default())
            .unwrap()
            .config;
        assert_eq!(c.oauth.client_jwks_ca_file, None);
        assert!(!c.oauth.client_jwks_allow_private_networks);

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "[oauth]\nclient_jwks_ca_file = \"/from-file.pem\"\nclient_jwks_allow_private_networks = true\n",
        )
        .unwrap();
        let vars = env(&[("FINTECHAPI_OAUTH__CLIENT_JWKS_CA_FILE", "/from-env.pem")]);
        let c = Config::load_from(Some(&file), vars.clone(), &Overrides::default())
            .unwrap()
            .config;
        assert_eq!(
            c.oauth.client_jwks_ca_file,
            Some(PathBuf::from("/from-env.pem"))
        );
        assert!(c.oauth.client_jwks_allow_private_networks);
        let flags = Overrides {
            client_jwks_ca_file: Some(PathBuf::from("/from-flag.pem")),
            profile: Some(Profile::Production),
            ..Overrides::default()
        };
        let c = Config::load_from(Some(&file), vars, &flags).unwrap().config;
        assert_eq!(
            c.oauth.client_jwks_ca_file,
            Some(PathBuf::from("/from-flag.pem"))
        );
        assert!(
            c.production_violations()
                .iter()
                .any(|p| p.starts_with("oauth.client_jwks_allow_private_networks")),
            "{:?}",
            c.production_violations()
        );
    }

    #[test]
    fn metrics_are_private_by_default_and_overload_limits_are_safe() {
        let c = Config::load_from(None, env(&[]), &Overrides::default())
            .unwrap()
            .config;
        assert_eq!(c.metrics_addr().unwrap(), None);
        assert_eq!(c.metrics.token_file, None);
        assert!(c.http.max_in_flight_requests > 0);
        assert!(c.http.queue_timeout_millis <= 2000);
        let c = Config::load_from(
            None,
            env(&[("FINTECHAPI_METRICS__LISTEN", "127.0.0.1:9464")]),
            &Overrides::default(),
        )
        .unwrap()
        .config;
        assert_eq!(
            c.metrics_addr().unwrap(),
            Some("127.0.0.1:9464".parse().unwrap())
        );
        let err = Config::load_from(
            None,
            env(&[("FINTECHAPI_METRICS__LISTEN", "loopback")]),
            &Overrides::default(),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(err.starts_with("metrics.listen:"), "{err}");
        let err = Config::load_from(
            None,
            env(&[("FINTECHAPI_HTTP__MAX_IN_FLIGHT_REQUESTS", "0")]),
            &Overrides::default(),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(err.starts_with("http.max_in_flight_requests:"), "{err}");
    }

    #[test]
    fn shown_configuration_hides_the_database_password() {
        let flags = Overrides {
            database_url: Some("postgres://app:hunter2@db/bank".into()),
            ..Overrides::default()
        };
        let c = Config::load_from(None, env(&[]), &flags).unwrap().config;
        let shown = c.to_redacted_toml();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("postgres://app:***@db/bank"), "{shown}");
    }

    #[test]
    fn plans_come_from_the_file_and_environment_on_top_of_the_builtin_ones() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "[redis]\nurl = \"redis://:s3cret@cache:6379/0\"\n[plans.gold]\nper_second = 500\nburst = 1000\nper_day = 20000000\n[plans.sandbox]\nper_second = 5\n",
        )
        .unwrap();
        let vars = env(&[("FINTECHAPI_PLANS__GOLD__PER_DAY", "30000000")]);
        let c = Config::load_from(Some(&file), vars, &Overrides::default())
            .unwrap()
            .config;
        let plans = c.plan_catalog().unwrap();
        let gold = plans.get("gold").unwrap();
        assert_eq!(
            (gold.per_second, gold.burst, gold.per_day),
            (Some(500), 1000, Some(30_000_000))
        );
        // A plan set in part limits only what it names.
        let sandbox = plans.get("sandbox").unwrap();
        assert_eq!(
            (sandbox.per_second, sandbox.burst, sandbox.per_day),
            (Some(5), 5, None)
        );
        assert!(plans.get("premium").is_some() && plans.get("unlimited").unwrap().is_unlimited());
        let shown = c.to_redacted_toml();
        assert!(
            !shown.contains("s3cret") && shown.contains("[plans.premium]"),
            "{shown}"
        );

        std::fs::write(&file, "[plans.\"Gold Plan\"]\nper_second = 1\n").unwrap();
        assert!(Config::load_from(Some(&file), env(&[]), &Overrides::default()).is_err());
        // A misspelt limit would silently mean no limit: refused.
        std::fs::write(&file, "[plans.gold]\nper_secnd = 1\n").unwrap();
        assert!(Config::load_from(Some(&file), env(&[]), &Overrides::default()).is_err());
        std::fs::write(&file, "[redis]\nurl = \"http://cache\"\n").unwrap();
        assert!(Config::load_from(Some(&file), env(&[]), &Overrides::default()).is_err());
    }
}
