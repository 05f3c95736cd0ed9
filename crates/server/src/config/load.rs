//! Loading: defaults, then the TOML file, then `FINTECHAPI_*` variables, then
//! flags; and what every profile must satisfy.

use std::path::Path;

use serde::Serialize;

use super::{Config, ConfigError, Loaded, Overrides};

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
}

fn enum_text<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
