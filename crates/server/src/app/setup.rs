//! What startup prepares before the services: the data directory, the
//! pepper, the store, the registry, clients' key fetching, passkeys.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use fintechapi_bank::passkey::PasskeyVerifier;
use fintechapi_domain::Clock;
use fintechapi_domain::secret::Pepper;
use fintechapi_oauth::client_keys::{ClientKeys, FetchSettings};
use fintechapi_registry::Registry;
use fintechapi_storage::{Store, StoreOptions};

use crate::config::Config;

/// Meta key set once the demo bank has been seeded.
pub const DEMO_SEEDED_KEY: &str = "demo_seeded_at";

/// The server pepper: read from `secrets.pepper_file`, or generated once in the
/// data directory when that is unset (the production profile refuses that).
pub fn load_pepper(config: &Config) -> anyhow::Result<Pepper> {
    let path = config.pepper_path();
    if config.secrets.pepper_file.is_some() {
        warn_if_shared("secrets.pepper_file", &path);
    } else if path.exists() {
        // Generated here: ours to keep private, also if an older version left it open.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("secrets: cannot make {} private", path.display()))?;
    } else {
        let bytes = Pepper::generate_bytes()?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("secrets: cannot create {}", dir.display()))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("secrets: cannot create {}", path.display()))?;
        file.write_all(&bytes)
            .with_context(|| format!("secrets: cannot write {}", path.display()))?;
    }
    let bytes = std::fs::read(&path)
        .with_context(|| format!("secrets.pepper_file: cannot read {}", path.display()))?;
    Pepper::from_bytes(&bytes).with_context(|| format!("secrets.pepper_file: {}", path.display()))
}

/// Logs an operator's secret file that others than its owner may read; it
/// is theirs to fix (it may be a read-only mount), so it is not changed here.
pub(super) fn warn_if_shared(setting: &'static str, path: &std::path::Path) {
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            setting,
            path = %path.display(),
            mode = format!("{:o}", meta.permissions().mode() & 0o777),
            "a secret file is readable by other users; make it 0600"
        );
    }
}

/// The data directory holds the database, the pepper and private keys: it is
/// 0700 whatever the umask, also when an older version created it wider.
pub fn private_data_dir(config: &Config) -> anyhow::Result<()> {
    let dir = &config.data_dir;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .and_then(|()| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)))
        .with_context(|| {
            format!(
                "data_dir: cannot create {} as a private directory",
                dir.display()
            )
        })
}

/// The TPP registry on `store`.
pub fn registry(
    config: &Config,
    store: Store,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Registry<Store>> {
    let grace = time::Duration::hours(
        i64::try_from(config.portal.secret_rotation_grace_hours).unwrap_or(i64::MAX / 3600),
    );
    let bank_name = config.brand.brand()?.name.into();
    Ok(Registry::new(
        store,
        load_pepper(config)?,
        clock,
        grace,
        bank_name,
    ))
}

/// The fetcher of clients' `jwks_uri`, trusting the configured extra CAs.
pub(super) fn client_keys(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<ClientKeys> {
    let extra_roots_pem = match &config.oauth.client_jwks_ca_file {
        Some(path) => Some(std::fs::read(path).with_context(|| {
            format!("oauth.client_jwks_ca_file: cannot read {}", path.display())
        })?),
        None => None,
    };
    let settings = FetchSettings {
        extra_roots_pem,
        allow_private_networks: config.oauth.client_jwks_allow_private_networks,
    };
    ClientKeys::new(settings, clock)
        .context("oauth: cannot prepare fetching clients' jwks_uri (oauth.client_jwks_ca_file)")
}

/// The deliverer of resource status notifications, trusting the configured extra CAs.
pub(super) fn notifier(config: &Config) -> anyhow::Result<crate::notifier::Notifier> {
    let settings = &config.notifications;
    let extra_roots_pem =
        match &settings.ca_file {
            Some(path) => Some(std::fs::read(path).with_context(|| {
                format!("notifications.ca_file: cannot read {}", path.display())
            })?),
            None => None,
        };
    crate::notifier::Notifier::new(crate::notifier::NotifierSettings {
        outbound: fintechapi_outbound::OutboundSettings {
            extra_roots_pem,
            allow_private_networks: settings.allow_private_networks,
        },
        max_attempts: settings.max_attempts.max(1),
        retry_base: Duration::from_millis(settings.retry_base_millis),
        concurrency: settings.concurrency.max(1),
        timeout: Duration::from_secs(settings.timeout_secs.max(1)),
        poll: Duration::from_millis(settings.poll_millis.max(10)),
    })
    .context("notifications: cannot prepare delivering to TPPs (notifications.ca_file)")
}

/// Opens the configured store and applies pending migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let options = StoreOptions {
        max_connections: config.database.max_connections,
        acquire_timeout: Duration::from_secs(config.database.acquire_timeout_secs),
    };
    let store = match &config.database_url {
        Some(url) => Store::connect(url, &options)
            .await
            .context("database_url")?,
        None => {
            std::fs::create_dir_all(&config.data_dir).with_context(|| {
                format!("data_dir: cannot create {}", config.data_dir.display())
            })?;
            Store::open_sqlite(&config.sqlite_path(), &options)
                .await
                .context("database (SQLite in data_dir)")?
        }
    };
    Ok(store)
}

/// Passkeys need a host name as relying party; an IP-addressed installation
/// goes without them (and says so once).
pub(super) fn passkey_verifier(base_url: &str, bank_name: &str) -> Option<Arc<PasskeyVerifier>> {
    match PasskeyVerifier::new(base_url, bank_name) {
        Ok(verifier) => Some(Arc::new(verifier)),
        Err(e) => {
            tracing::warn!(error = %e, "passkeys are not offered");
            None
        }
    }
}
