//! A node's watch of registry changes. On PostgreSQL the database triggers
//! announce each committed change on a channel (migrations
//! `…_registry_version.sql` and, for token revocations,
//! `…_token_revocations.sql`); a connection of the node's own listens to it.

use std::time::Duration;

use fintechapi_domain::registry::{RegistryChange, RegistryEvent};
use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};

use crate::store::{Pool, Store};

const CHANNEL: &str = "fintechapi_registry";
/// Between attempts to listen again after the watch broke.
const RETRY: Duration = Duration::from_secs(1);

impl Store {
    /// Reports the registry changes the store announces until `stop` turns
    /// true: `Connected` once listening, each change, and `Lost` when the
    /// connection breaks (changes may go unheard until the next `Connected`;
    /// it tries again every second). SQLite announces nothing, as a node
    /// compares the registry version instead, and returns at once.
    pub async fn watch_registry(
        &self,
        on_event: impl Fn(RegistryEvent) + Send,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let Pool::Postgres(pg) = &self.pool else {
            return;
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
