//! Layered configuration: defaults → TOML file → `FINTECHAPI_*` environment
//! (nested keys with `__`, e.g. `FINTECHAPI_HTTP__IDLE_TIMEOUT_SECS`) → flags.
//! `sections.rs` holds the sections and their defaults, `load.rs` the
//! layering and validation, `production.rs` the production guard and the
//! redacted view.

mod load;
mod production;
mod sections;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use fintechapi_domain::plan::{PlanCatalog, RatePlan};
use serde::{Deserialize, Serialize};

pub use sections::*;

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
    pub notifications: NotificationsConfig,
    pub metrics: MetricsConfig,
    pub redis: RedisConfig,
    pub brand: BrandConfig,
    /// Rate plans by name, added to or replacing the built-in `sandbox`,
    /// `standard`, `premium` and `unlimited`.
    pub plans: BTreeMap<String, PlanConfig>,
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
            notifications: NotificationsConfig::default(),
            metrics: MetricsConfig::default(),
            redis: RedisConfig::default(),
            brand: BrandConfig::default(),
            plans: BTreeMap::new(),
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
}
