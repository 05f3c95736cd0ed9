//! Startup as a value: [`Application::build`] opens the store, prepares TLS,
//! binds the listener and returns; [`Application::run_until_stopped`] serves.
//! Tests build one on port 0 and talk to it over real TLS.
//! `state.rs`: the handlers' shared state; `setup.rs`: the pieces startup
//! prepares; `background.rs`: the tasks that run beside the listener.

mod background;
mod setup;
mod state;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use fintechapi_bank::{BankService, BankSettings};
use fintechapi_domain::psu::PsuRepository;
use fintechapi_domain::{Clock, SystemClock};
use fintechapi_ledger::{Ledger, demo};
use fintechapi_limits::throttle::Throttle;
use fintechapi_limits::{CpuPool, Limits as RateLimits, RedisSettings};
use fintechapi_metering::Meter;
use fintechapi_oauth::throttle::ClientAuthThrottle;
use fintechapi_oauth::{AuthorizationServer, OAuthService, OAuthSettings};
use fintechapi_portal::accounts::{AccountSettings, Accounts};
use fintechapi_portal::web::Portal;
use fintechapi_registry::cache::DEFAULT_CAPACITY;
use fintechapi_registry::{Freshness, RegistryCache};
use fintechapi_site::Site;
use fintechapi_storage::Backend;
use fintechapi_web::passwords::PasswordPool;
use fintechapi_xs2a::{Xs2aService, Xs2aSettings};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::listener::{self, Limits};
use crate::metrics::{Metrics, MetricsToken};
use crate::tls::{self, DevPki, ReloadingCert, TlsFiles};

use background::{spawn_housekeeping, spawn_settlement, spawn_tls_reload};
use setup::{client_keys, notifier, passkey_verifier, warn_if_shared};
use state::Inner;

pub use setup::{DEMO_SEEDED_KEY, load_pepper, open_store, private_data_dir, registry};
pub use state::AppState;

/// What `serve` reports once it is listening.
pub struct Started {
    pub base_url: String,
    pub addr: SocketAddr,
    pub dev_ca: Option<PathBuf>,
    pub dev_ca_created: bool,
    pub demo_seeded: Option<demo::DemoBank>,
    pub has_demo_data: bool,
    /// The operators' plain-HTTP listener of `/metrics`, if configured.
    pub metrics_addr: Option<SocketAddr>,
    /// The labelled sandbox one-time code the bank's pages accept, if any.
    pub sandbox_code: Option<String>,
}

pub struct Application {
    mailer: Option<crate::mailer::Mailer>,
    notifier: crate::notifier::Notifier,
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    acceptor: TlsAcceptor,
    certificate: Arc<ReloadingCert>,
    state: AppState,
    /// Kept fresh by the store's announcements while serving.
    registry_cache: Arc<RegistryCache>,
    limits: Limits,
    started: Started,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let violations = config.production_violations();
        if !violations.is_empty() {
            anyhow::bail!(
                "refusing to start in the production profile: {}",
                violations.join("; ")
            );
        }
        let addr = config.listen_addr()?;
        let metrics_addr = config.metrics_addr()?;
        let metrics_token = config
            .metrics
            .token_file
            .as_deref()
            .map(MetricsToken::load)
            .transpose()?;
        private_data_dir(&config)?;

        // TLS before the database: a bad certificate should not leave a fresh database behind.
        let pki = DevPki::in_data_dir(&config.data_dir);
        let (files, dev_ca, dev_ca_created) = match (&config.tls.cert_file, &config.tls.key_file) {
            (Some(cert), Some(key)) => {
                warn_if_shared("tls.key_file", key);
                (
                    (cert.clone(), key.clone(), config.tls.client_ca_file.clone()),
                    None,
                    false,
                )
            }
            _ => {
                let created = pki.ensure(clock.now())?;
                let client_ca = config
                    .tls
                    .client_ca_file
                    .clone()
                    .unwrap_or_else(|| pki.ca_cert.clone());
                (
                    (
                        pki.server_cert.clone(),
                        pki.server_key.clone(),
                        Some(client_ca),
                    ),
                    Some(std::path::absolute(&pki.ca_cert).unwrap_or_else(|_| pki.ca_cert.clone())),
                    created,
                )
            }
        };
        let (server_config, certificate) = tls::server_config(&TlsFiles {
            cert: &files.0,
            key: &files.1,
            client_ca: files.2.as_deref(),
        })?;
        let client_keys = client_keys(&config, clock.clone())?;

        let store = open_store(&config).await?;
        store.migrate().await.context("migrating the database")?;
        let demo_marker = store.get_meta(DEMO_SEEDED_KEY).await?;
        if config.profile == crate::config::Profile::Production && demo_marker.is_some() {
            anyhow::bail!(
                "refusing to start in the production profile: the database holds demo data (seeded {}); use a fresh database",
                demo_marker.unwrap_or_default()
            );
        }
        let mut demo_seeded = None;
        if config.seed_demo() && demo_marker.is_none() && store.list_psus().await?.is_empty() {
            let bank = demo::seed(store.clone(), clock.clone())
                .await
                .context("seeding the demo bank")?;
            store
                .set_meta(DEMO_SEEDED_KEY, &clock.now().date().to_string())
                .await?;
            tracing::info!(
                psus = bank.psus,
                accounts = bank.accounts,
                transactions = bank.transactions,
                "seeded the demo bank"
            );
            demo_seeded = Some(bank);
        }
        let has_demo_data = demo_seeded.is_some() || demo_marker.is_some();

        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("listen: cannot bind {addr}"))?;
        let addr = listener.local_addr()?;
        let metrics_listener = match metrics_addr {
            Some(at) => Some(
                TcpListener::bind(at)
                    .await
                    .with_context(|| format!("metrics.listen: cannot bind {at}"))?,
            ),
            None => None,
        };
        let metrics_addr = metrics_listener
            .as_ref()
            .map(TcpListener::local_addr)
            .transpose()?;
        let base_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("https://localhost:{}", addr.port()));
        let limits = Limits {
            handshake_timeout: Duration::from_secs(config.http.tls_handshake_timeout_secs),
            header_read_timeout: Duration::from_secs(config.http.header_read_timeout_secs),
            idle_timeout: Duration::from_secs(config.http.idle_timeout_secs),
            shutdown_grace: Duration::from_secs(config.http.shutdown_grace_secs),
            max_connections: config.http.max_connections,
        };
        let mailer = match &config.mail.smtp_url {
            Some(url) => Some(crate::mailer::Mailer::new(url, &config.mail.from)?),
            None => None,
        };
        let notifier = notifier(&config)?;
        let ledger = Ledger::new(store.clone(), clock.clone());
        let brand = config.brand.brand()?;
        let mut account_settings = AccountSettings::new(base_url.clone());
        account_settings.bank_name = brand.name.as_str().into();
        account_settings.log_mail_links = config.profile == crate::config::Profile::Development;
        account_settings.mails_per_recipient_per_hour = config.portal.mails_per_recipient_per_hour;
        let metrics = Metrics::new();
        // Bounded pools for CPU-heavy work, a slot per core each, refusing
        // what cannot start within their wait. One argon2 pool for the whole
        // server: PSUs, developers, operators.
        let passwords = Arc::new(
            PasswordPool::on(metrics.counted(
                CpuPool::per_core("password checks", fintechapi_web::passwords::QUEUE_WAIT),
                "passwords",
            ))
            .map_err(|e| anyhow::anyhow!("password pool: {e}"))?,
        );
        let signatures = metrics.counted(
            CpuPool::per_core("signature checks", Duration::from_secs(1)),
            "signatures",
        );
        let minute = time::Duration::minutes(1);
        let rate_limits = match &config.redis.url {
            Some(url) => {
                let settings = RedisSettings {
                    url: url.clone(),
                    key_prefix: config.redis.key_prefix.clone(),
                    timeout: Duration::from_millis(config.redis.timeout_ms),
                };
                RateLimits::with_redis(&settings, clock.clone())
                    .await
                    .context("redis.url")?
            }
            None => RateLimits::in_memory(clock.clone()),
        };
        let meter = Arc::new(Meter::new(
            store.clone(),
            clock.clone(),
            rate_limits.clone(),
            Arc::new(config.plan_catalog()?),
        ));
        // One cache for the node's registries (the token endpoint's and the
        // portal's), so an operator's change reaches the next token request.
        let registry_cache = Arc::new(RegistryCache::new(
            match store.backend() {
                Backend::Postgres => Freshness::Announced,
                Backend::Sqlite => Freshness::Polled,
            },
            DEFAULT_CAPACITY,
        ));
        let oauth = Arc::new(OAuthService {
            server: AuthorizationServer::new(
                registry(&config, store.clone(), clock.clone())?.with_cache(registry_cache.clone()),
                load_pepper(&config)?,
                clock.clone(),
                OAuthSettings {
                    issuer: base_url.clone(),
                    access_token_ttl: time::Duration::seconds(
                        i64::try_from(config.oauth.access_token_ttl_secs).unwrap_or(300),
                    ),
                    max_consent_days: u32::from(config.xs2a.max_consent_days),
                },
                client_keys,
                signatures,
            ),
            meter: meter.clone(),
            client_auth: ClientAuthThrottle::new(
                Throttle::shared(
                    rate_limits.clone(),
                    "oauth-client-auth-address",
                    config.oauth.client_auth_failures_per_address_per_minute,
                    minute,
                ),
                Throttle::shared(
                    rate_limits.clone(),
                    "oauth-client-auth-client",
                    config.oauth.client_auth_failures_per_client_per_minute,
                    minute,
                ),
                clock.clone(),
            ),
        });
        let bank = Arc::new(BankService {
            oauth: oauth.clone(),
            settings: BankSettings {
                sandbox_code: config.sandbox_code(),
                passkeys: passkey_verifier(&base_url, &brand.name),
                passwords: passwords.clone(),
                block_policy: config.sca.block_policy(),
                login_per_address: Arc::new(Throttle::shared(
                    rate_limits.clone(),
                    "bank-login-address",
                    config.sca.login_attempts_per_address_per_minute,
                    minute,
                )),
                login_per_name: Arc::new(Throttle::shared(
                    rate_limits.clone(),
                    "bank-login-name",
                    config.sca.login_attempts_per_login_per_minute,
                    minute,
                )),
                public_url: base_url.clone(),
                bank_name: brand.name.as_str().into(),
            },
            ledger: Ledger::new(store.clone(), clock.clone()),
        });
        // A signing key must exist before the first request; housekeeping rotates later.
        oauth
            .server
            .rotate_keys()
            .await
            .context("oauth: cannot prepare the signing keys")?;
        let xs2a = Arc::new(Xs2aService {
            oauth: oauth.clone(),
            ledger: Ledger::new(store.clone(), clock.clone()),
            settings: Xs2aSettings {
                max_consent_days: config.xs2a.max_consent_days,
            },
        });
        let portal = Arc::new(Portal {
            accounts: Accounts::new(
                store.clone(),
                load_pepper(&config)?,
                clock.clone(),
                account_settings,
                passwords,
            )
            .with_shared_mail_limits(rate_limits.clone()),
            registry: registry(&config, store.clone(), clock.clone())?
                .with_cache(registry_cache.clone()),
            ledger: Ledger::new(store.clone(), clock.clone()),
            public_url: base_url.clone(),
            login_throttle: Throttle::shared(
                rate_limits.clone(),
                "portal-login",
                30,
                time::Duration::minutes(15),
            ),
            mail_throttle: Throttle::shared(
                rate_limits.clone(),
                "mail-address",
                config.portal.mail_requests_per_address_per_hour,
                time::Duration::hours(1),
            ),
            sandbox: config.profile == crate::config::Profile::Development,
            operator_second_factor_required: config.profile == crate::config::Profile::Production,
            meter,
            refused_operations: fintechapi_xs2a::REFUSED_OPERATIONS
                .iter()
                .map(|o| o.operation_id)
                .collect(),
            bank_name: bank.settings.bank_name.clone(),
        });
        let site = Arc::new(Site {
            repo: store.clone(),
            clock: clock.clone(),
            brand,
            public_url: base_url.clone(),
            requests_per_address: Throttle::shared(
                rate_limits.clone(),
                "demo-address",
                5,
                time::Duration::hours(1),
            ),
            requests_per_email: Throttle::shared(
                rate_limits.clone(),
                "demo-email",
                3,
                time::Duration::days(1),
            ),
        });
        let sandbox_code = config.sandbox_code();
        let state = AppState(Arc::new(Inner {
            config,
            store,
            metrics,
            metrics_token,
            clock,
            ledger,
            portal,
            oauth,
            bank,
            xs2a,
            site,
        }));
        Ok(Self {
            mailer,
            notifier,
            listener,
            metrics_listener,
            acceptor: TlsAcceptor::from(Arc::new(server_config)),
            certificate,
            state,
            registry_cache,
            limits,
            started: Started {
                base_url,
                addr,
                dev_ca,
                dev_ca_created,
                demo_seeded,
                has_demo_data,
                metrics_addr,
                sandbox_code,
            },
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.started.addr
    }

    pub fn started(&self) -> &Started {
        &self.started
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then drains in-flight requests and closes the store.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send) {
        let router = crate::http::router(self.state.clone());
        // Background work (mail and notification delivery, housekeeping) stops with the server.
        let (stop_background, background_stopped) = tokio::sync::watch::channel(false);
        let mailer = self.mailer.map(|m| {
            m.spawn(
                self.state.store().clone(),
                self.state.clock().clone(),
                background_stopped.clone(),
            )
        });
        let notifier = self.notifier.spawn(
            self.state.store().clone(),
            self.state.clock().clone(),
            background_stopped.clone(),
        );
        let housekeeping = spawn_housekeeping(self.state.clone(), background_stopped.clone());
        let settlement = spawn_settlement(self.state.clone(), background_stopped.clone());
        let operators = self.metrics_listener.map(|listener| {
            let mut stopped = background_stopped.clone();
            tracing::info!(addr = ?listener.local_addr().ok(), "serving metrics over plain HTTP");
            tokio::spawn(listener::serve_plain(
                listener,
                crate::http::private_router(self.state.clone()),
                self.limits,
                async move {
                    let _ = stopped.changed().await;
                },
            ))
        });
        let tls_reload = spawn_tls_reload(
            self.certificate,
            Duration::from_secs(self.state.config().tls.reload_check_secs.max(1)),
            background_stopped.clone(),
        );
        let registry_watch = {
            let (store, cache) = (self.state.store().clone(), self.registry_cache);
            let stopped = background_stopped.clone();
            tokio::spawn(async move {
                store
                    .watch_registry(|event| cache.apply(event), stopped)
                    .await;
            })
        };
        // Token requests wait for their batch's commit (oauth `writer.rs`).
        let token_writer = self
            .state
            .oauth()
            .server
            .spawn_token_writer(background_stopped.clone());
        let usage_flusher = self
            .state
            .meter()
            .clone()
            .spawn_flusher(Duration::from_secs(1), background_stopped);
        tracing::info!(url = %self.started.base_url, addr = %self.started.addr, "serving HTTPS");
        listener::serve(self.listener, self.acceptor, router, self.limits, shutdown).await;
        let _ = stop_background.send(true);
        if let Some(task) = mailer {
            let _ = task.await;
        }
        let _ = notifier.await;
        if let Some(task) = operators {
            let _ = task.await;
        }
        let _ = housekeeping.await;
        let _ = token_writer.await;
        let _ = usage_flusher.await;
        let _ = settlement.await;
        let _ = tls_reload.await;
        let _ = registry_watch.await;
        self.state.store().close().await;
        tracing::info!("stopped");
    }
}
