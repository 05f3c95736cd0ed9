//! The authorization server's state and what every concern of it shares:
//! `AuthorizationServer` with its constructor and accessors, its settings,
//! the storage it needs (`AsRepo`) and small helpers. The concerns add their
//! methods in their own files (`impl` blocks over the same type).

use std::sync::Arc;

use fintechapi_domain::Clock;
use fintechapi_domain::basket::BasketRepository;
use fintechapi_domain::consent::ConsentRepository;
use fintechapi_domain::oauth::{AuthorizationRepository, SigningKeyRepository, TokenRepository};
use fintechapi_domain::payment::PaymentRepository;
use fintechapi_domain::portal::PortalRepository;
use fintechapi_domain::secret::{Pepper, random_token};
use fintechapi_limits::CpuPool;
use fintechapi_registry::{AuthenticatedClient, Registry};
use time::Duration;

use super::dpop::NonceMemo;
use super::writer::TokenWriter;
use crate::client_keys::ClientKeys;
use crate::error::{ErrorCode, OAuthError};

/// 32 random bytes for a token, code or request URI.
pub(super) fn fresh_random() -> Result<String, OAuthError> {
    random_token(32).map_err(|e| {
        tracing::error!(error = %e, "no randomness for a token");
        OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            "cannot issue a token now",
        )
    })
}

#[derive(Debug, Clone)]
pub struct OAuthSettings {
    /// The issuer identifier: the server's public base URL, no trailing slash.
    pub issuer: String,
    pub access_token_ttl: Duration,
    /// Longest validity of a funds-confirmation consent made from a pushed request.
    pub max_consent_days: u32,
}

pub struct AuthorizationServer<R> {
    pub(super) registry: Registry<R>,
    pub(super) tokens: R,
    pub(super) pepper: Pepper,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) settings: OAuthSettings,
    pub(super) client_keys: ClientKeys,
    /// Client assertions and DPoP proofs are verified here, off the async
    /// workers and a bounded number at once.
    pub(super) signatures: CpuPool,
    /// New tokens go through it when it runs (`writer.rs`).
    pub(super) writer: TokenWriter,
    /// The DPoP nonce of the current window (`dpop.rs`).
    pub(super) dpop_nonce: NonceMemo,
}

/// The storage the authorization server needs.
pub trait AsRepo:
    PortalRepository
    + SigningKeyRepository
    + TokenRepository
    + AuthorizationRepository
    + ConsentRepository
    + PaymentRepository
    + BasketRepository
    + Clone
{
}

impl<
    T: PortalRepository
        + SigningKeyRepository
        + TokenRepository
        + AuthorizationRepository
        + ConsentRepository
        + PaymentRepository
        + BasketRepository
        + Clone,
> AsRepo for T
{
}

impl<R: AsRepo> AuthorizationServer<R> {
    pub fn new(
        registry: Registry<R>,
        pepper: Pepper,
        clock: Arc<dyn Clock>,
        settings: OAuthSettings,
        client_keys: ClientKeys,
        signatures: CpuPool,
    ) -> Self {
        let tokens = registry.repo().clone();
        Self {
            registry,
            tokens,
            pepper,
            clock,
            settings,
            client_keys,
            signatures,
            writer: TokenWriter::default(),
            dpop_nonce: NonceMemo::default(),
        }
    }

    pub fn settings(&self) -> &OAuthSettings {
        &self.settings
    }

    pub fn pepper(&self) -> &Pepper {
        &self.pepper
    }

    pub fn repo(&self) -> &R {
        &self.tokens
    }

    pub fn registry(&self) -> &Registry<R> {
        &self.registry
    }

    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }
}

/// RTS Art. 4(3)(d): an authentication session ends after 5 minutes without activity.
pub const PSU_IDLE_TIMEOUT: Duration = Duration::minutes(5);

/// Stored authorization details as JSON for an answer.
pub(super) fn details_json(details: Option<&str>) -> Option<serde_json::Value> {
    details.and_then(|d| serde_json::from_str(d).ok())
}

/// The `client_id` tokens and authorizations record: the consumer key.
pub(super) fn client_id_of(client: &AuthenticatedClient) -> String {
    client.consumer_key.clone()
}
