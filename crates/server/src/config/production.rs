//! The production guard, and the effective configuration as operators see it.

use super::{Config, PlanConfig, Profile};

impl Config {
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
        if self.notifications.allow_private_networks {
            problems.push(
                "notifications.allow_private_networks: delivering notifications to loopback or private addresses is for development; remove it".into(),
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
