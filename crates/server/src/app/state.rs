//! The state every handler shares.

use std::sync::Arc;

use fintechapi_bank::BankService;
use fintechapi_domain::Clock;
use fintechapi_ledger::Ledger;
use fintechapi_metering::Meter;
use fintechapi_oauth::OAuthService;
use fintechapi_portal::web::Portal;
use fintechapi_registry::Registry;
use fintechapi_site::Site;
use fintechapi_storage::Store;
use fintechapi_xs2a::Xs2aService;

use crate::config::Config;
use crate::metrics::{Metrics, MetricsToken};

/// Shared state of every handler. Cheap to clone.
#[derive(Clone)]
pub struct AppState(pub(super) Arc<Inner>);

pub(super) struct Inner {
    pub(super) config: Config,
    pub(super) store: Store,
    pub(super) metrics: Metrics,
    pub(super) metrics_token: Option<MetricsToken>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) ledger: Ledger<Store>,
    pub(super) portal: Arc<Portal<Store>>,
    pub(super) oauth: Arc<OAuthService<Store>>,
    pub(super) bank: Arc<BankService<Store>>,
    pub(super) xs2a: Arc<Xs2aService<Store>>,
    pub(super) site: Arc<Site<Store>>,
}

impl AppState {
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    pub fn store(&self) -> &Store {
        &self.0.store
    }

    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// The bearer token that opens metrics on the public listener, if configured.
    pub fn metrics_token(&self) -> Option<&MetricsToken> {
        self.0.metrics_token.as_ref()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.0.clock
    }

    pub fn ledger(&self) -> &Ledger<Store> {
        &self.0.ledger
    }

    pub fn registry(&self) -> &Registry<Store> {
        &self.0.portal.registry
    }

    pub fn portal(&self) -> &Arc<Portal<Store>> {
        &self.0.portal
    }

    pub fn oauth(&self) -> &Arc<OAuthService<Store>> {
        &self.0.oauth
    }

    pub fn bank(&self) -> &Arc<BankService<Store>> {
        &self.0.bank
    }

    pub fn xs2a(&self) -> &Arc<Xs2aService<Store>> {
        &self.0.xs2a
    }

    pub fn site(&self) -> &Arc<Site<Store>> {
        &self.0.site
    }

    pub fn meter(&self) -> &Arc<Meter<Store>> {
        &self.0.oauth.meter
    }
}
