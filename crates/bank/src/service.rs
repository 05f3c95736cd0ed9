//! What the bank's pages run on: the authorization server they finish
//! authorizations for, the bank's own settings, and the ledger that executes
//! the payments PSUs approve.

use std::sync::Arc;

use fintechapi_domain::StoreError;
use fintechapi_domain::card::CardRepository;
use fintechapi_domain::ledger::LedgerRepository;
use fintechapi_domain::oauth::{Authorization, AuthorizationStage};
use fintechapi_domain::psu::{BlockPolicy, PsuRepository};
use fintechapi_ledger::Ledger;
use fintechapi_limits::throttle::{AddressThrottle, NameThrottle};
use fintechapi_oauth::web::{OAuthService, OAuthStore};
use fintechapi_web::passwords::PasswordPool;

use crate::passkey::PasskeyVerifier;

/// The storage the bank's pages run on: the authorization server's, plus PSUs,
/// the ledger and cards.
pub trait BankStore: OAuthStore + PsuRepository + LedgerRepository + CardRepository {}
impl<T> BankStore for T where T: OAuthStore + PsuRepository + LedgerRepository + CardRepository {}

pub struct BankService<R> {
    pub oauth: Arc<OAuthService<R>>,
    pub settings: BankSettings,
    /// Executes the payments PSUs approve on the bank's pages.
    pub ledger: Ledger<R>,
}

impl<R: BankStore> BankService<R> {
    /// An approval that issues no code (Redirect and Decoupled approaches):
    /// the authorisation goes from the consent page to final. False when it
    /// was no longer there (answered or expired meanwhile).
    pub(crate) async fn finalise_without_code(
        &self,
        authorization: &Authorization,
    ) -> Result<bool, StoreError> {
        let server = &self.oauth.server;
        server
            .repo()
            .advance_authorization(
                authorization.id,
                AuthorizationStage::Consent,
                AuthorizationStage::Approved,
                None,
                server.now(),
            )
            .await
    }
}

#[derive(Clone)]
pub struct BankSettings {
    /// Sandbox only: a fixed one-time code demo PSUs may use as second factor.
    pub sandbox_code: Option<String>,
    /// The relying party for passkeys; None where the public URL is an IP.
    pub passkeys: Option<Arc<PasskeyVerifier>>,
    /// Every argon2 job of the server, bounded.
    pub passwords: Arc<PasswordPool>,
    /// How long the blocks after failed logins last.
    pub block_policy: BlockPolicy,
    /// Login attempts per client address and per login name, so that
    /// blocking many PSUs, or one again and again, takes time.
    pub login_per_address: Arc<AddressThrottle>,
    pub login_per_name: Arc<NameThrottle>,
    /// Base URL for the link in block alerts.
    pub public_url: String,
    /// The bank's name on its pages, as the authenticator app's issuer and
    /// as the passkeys' relying party (configuration `[brand] name`).
    pub bank_name: Arc<str>,
}
