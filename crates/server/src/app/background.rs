//! Background work that runs beside the listener until the server stops.

use std::sync::Arc;
use std::time::Duration;

use fintechapi_domain::notification::NotificationRepository;

use super::AppState;
use crate::tls::ReloadingCert;

/// How long a delivered or given-up notification is kept, for support questions.
const NOTIFICATIONS_KEPT: time::Duration = time::Duration::days(30);

/// Prunes expired sessions and tokens, and old notifications, every ten
/// minutes until `stop` turns true.
pub(super) fn spawn_housekeeping(
    state: AppState,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match state.portal().accounts.prune().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(rows = n, "pruned expired sessions and tokens"),
                Err(e) => tracing::warn!(error = %e, "pruning expired sessions failed"),
            }
            if let Err(e) = state.oauth().server.rotate_keys().await {
                tracing::warn!(error = %e, "rotating the signing keys failed");
            }
            match state.oauth().server.prune().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(rows = n, "pruned expired OAuth tokens"),
                Err(e) => tracing::warn!(error = %e, "pruning expired OAuth tokens failed"),
            }
            let closed_before = state.clock().now() - NOTIFICATIONS_KEPT;
            match state
                .store()
                .prune_notifications(closed_before, 1_000)
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::debug!(rows = n, "pruned delivered and given-up notifications"),
                Err(e) => tracing::warn!(error = %e, "pruning notifications failed"),
            }
            tokio::select! {
                _ = stop.changed() => return,
                () = tokio::time::sleep(Duration::from_secs(600)) => {}
            }
        }
    })
}

/// Settles payments left authorised but unposted (a crash, a stopped node)
/// at start and every two seconds until `stop` turns true.
pub(super) fn spawn_settlement(
    state: AppState,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            // In-flight approvals settle themselves; only older ones are picked up.
            let grace = time::Duration::seconds(5);
            if let Err(e) = fintechapi_ledger::payments::settle_pending(state.ledger(), grace).await
            {
                tracing::warn!(error = %e, "settling authorised payments failed; retrying");
            }
            // Signing baskets decided before a crash: their payments, once.
            if let Err(e) = fintechapi_ledger::baskets::finish_pending(state.ledger(), grace).await
            {
                tracing::warn!(error = %e, "finishing decided signing baskets failed; retrying");
            }
            // Decoupled authorisations nobody answered in time.
            match state.oauth().server.expire_decoupled().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(
                    authorisations = n,
                    "recorded lapsed Decoupled authorisations"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "recording lapsed Decoupled authorisations failed")
                }
            }
            // Future-dated payments and standing orders whose date has come.
            if let Err(e) = fintechapi_ledger::schedule::run_due(state.ledger()).await {
                tracing::warn!(error = %e, "executing scheduled payments failed; retrying");
            }
            tokio::select! {
                _ = stop.changed() => return,
                () = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
        }
    })
}

/// Serves a renewed certificate without a restart: on SIGHUP, and when the
/// files' modification time changes. A pair that does not load (say, half
/// written) leaves the current one in use and is tried again.
pub(super) fn spawn_tls_reload(
    certificate: Arc<ReloadingCert>,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    use tokio::signal::unix::{SignalKind, signal};
    tokio::spawn(async move {
        let mut hangup = signal(SignalKind::hangup())
            .inspect_err(
                |e| tracing::warn!(error = %e, "no SIGHUP handler; TLS files are polled only"),
            )
            .ok();
        loop {
            let forced = tokio::select! {
                _ = stop.changed() => return,
                Some(()) = async {
                    match hangup.as_mut() {
                        Some(signal) => signal.recv().await,
                        None => std::future::pending().await,
                    }
                } => true,
                () = tokio::time::sleep(every) => false,
            };
            match certificate.reload(forced) {
                Ok(true) => tracing::info!("TLS certificate and key reloaded"),
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "TLS certificate not reloaded; the previous one stays in use")
                }
            }
        }
    })
}
