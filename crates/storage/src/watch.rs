//! A node's watch of registry changes. On PostgreSQL the database triggers
//! announce each committed change on a channel (migrations
//! `…_registry_version.sql` and, for token revocations,
//! `…_token_revocations.sql`); a connection of the node's own listens to it.
//! SQLite announces nothing: the node polls the registry version the same
//! triggers count, so requests never read it themselves.

use std::time::Duration;

use fintechapi_domain::registry::{RegistryChange, RegistryEvent};
use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};

use crate::store::{Pool, Store};

const CHANNEL: &str = "fintechapi_registry";
/// Between attempts to listen again after the watch broke.
const RETRY: Duration = Duration::from_secs(1);
/// SQLite: how often the registry version is read. A change by the server
/// itself is forgotten at once; one by `fintechapi admin` in another
/// process is seen within this.
pub const VERSION_POLL: Duration = Duration::from_millis(100);

impl Store {
    /// Reports the registry changes the store announces until `stop` turns
    /// true: `Connected` once listening, each change, and `Lost` when the
    /// connection breaks (changes may go unheard until the next `Connected`;
    /// it tries again every second). On SQLite: the registry version every
    /// [`VERSION_POLL`] (`Version`), and `Lost` while it cannot be read.
    pub async fn watch_registry(
        &self,
        on_event: impl Fn(RegistryEvent) + Send,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let pg = match &self.pool {
            Pool::Postgres(pg) => pg,
            Pool::Sqlite(_) => return self.poll_registry_version(on_event, stop).await,
        };
        let mut failing = false;
        loop {
            match listen(&pg.0).await {
                Ok((own_pool, mut listener)) => {
                    failing = false;
                    on_event(RegistryEvent::Connected);
                    let broken = loop {
                        tokio::select! {
                            _ = stop.changed() => break None,
                            received = listener.try_recv() => match received {
                                Ok(Some(notification)) => on_event(RegistryEvent::Changed(
                                    RegistryChange::parse(notification.payload()),
                                )),
                                Ok(None) => break Some("the connection closed".to_owned()),
                                Err(e) => break Some(e.to_string()),
                            },
                        }
                    };
                    on_event(RegistryEvent::Lost);
                    drop(listener);
                    own_pool.close().await;
                    let Some(reason) = broken else {
                        return;
                    };
                    tracing::warn!(
                        %reason,
                        "lost the watch of registry changes; client authentication reads the database until it is back"
                    );
                }
                Err(e) => {
                    // Logged once per outage, not every second.
                    if !failing {
                        tracing::warn!(error = %e, "cannot watch registry changes; client authentication reads the database meanwhile");
                    }
                    failing = true;
                }
            }
            tokio::select! {
                _ = stop.changed() => return,
                () = tokio::time::sleep(RETRY) => {}
            }
        }
    }
}

impl Store {
    async fn poll_registry_version(
        &self,
        on_event: impl Fn(RegistryEvent) + Send,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        use fintechapi_domain::portal::PortalRepository;
        let mut failing = false;
        let mut every = tokio::time::interval(VERSION_POLL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                _ = every.tick() => {}
            }
            match self.registry_version().await {
                Ok(version) => {
                    failing = false;
                    on_event(RegistryEvent::Version(version));
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(error = %e, "cannot read the registry version; client authentication reads the database meanwhile");
                    }
                    failing = true;
                    on_event(RegistryEvent::Lost);
                }
            }
        }
    }
}

/// A listener on a connection outside the store's pool, as it holds it for good.
async fn listen(pool: &PgPool) -> Result<(PgPool, PgListener), sqlx::Error> {
    let own_pool = PgPoolOptions::new()
        .max_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with((*pool.connect_options()).clone())
        .await?;
    let mut listener = PgListener::connect_with(&own_pool).await?;
    // A broken connection is reported, not silently replaced: changes may be lost.
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok((own_pool, listener))
}
