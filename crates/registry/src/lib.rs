//! The TPP registry, independent of HTTP:
//!
//! - [`organisations`]: organisations, members and invitations.
//! - [`applications`]: applications, their plans and status.
//! - [`subscriptions`]: subscriptions to API products and their approval.
//! - [`credentials`]: consumer key/secret issue, rotation with a grace period,
//!   revocation, client authentication and suspension.
//! - [`cache`]: what client authentication reads, cached per node and
//!   forgotten on every change.
//! - [`jwks`]: checks of the key sets clients register.
//! - `leads`: the admin console's changes of demo requests (needs the
//!   store's `LeadRepository` too).
//! - [`validation`]: field-level errors for forms and the JSON API.
//!
//! Storage is reached only through `fintechapi_domain::portal::PortalRepository`
//! (and `LeadRepository` for `leads`).

mod applications;
pub mod cache;
mod credentials;
pub mod jwks;
mod leads;
mod organisations;
mod subscriptions;
pub mod validation;

pub use applications::NewApplication;
pub use cache::{Freshness, RegistryCache};
pub use credentials::{AuthenticatedClient, IssuedCredential, Usable};
pub use jwks::{JwksProblem, MAX_JWKS_KEYS, check_public_jwks};
pub use organisations::{Membership, NewOrganisation};
pub use validation::FieldErrors;

use std::hash::Hash;
use std::sync::Arc;

use fintechapi_domain::Clock;
use fintechapi_domain::StoreError;
use fintechapi_domain::consent::{Consent, ConsentStatus};
use fintechapi_domain::ids::{ApplicationId, ConsentId};
use fintechapi_domain::oauth::{TokenKind, TokenRecord};
use fintechapi_domain::portal::{AuditEntry, PortalError, PortalRepository};
use fintechapi_domain::registry::RegistryChange;
use fintechapi_domain::secret::{KeyedHash, Pepper, SecretError};
use time::Duration;

use crate::cache::{Lookup, Table};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("invalid input: {0}")]
    Invalid(#[from] FieldErrors),
    #[error("not found")]
    NotFound,
    /// Only an organisation's owners invite and remove members.
    #[error("only owners invite or remove members")]
    NotOwner,
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<PortalError> for RegistryError {
    fn from(e: PortalError) -> Self {
        let field = |f: &'static str, m: &str| {
            let mut errors = FieldErrors::new();
            errors.add(f, m);
            RegistryError::Invalid(errors)
        };
        match e {
            PortalError::OrganisationNameTaken => field("legal_name", "is already registered"),
            PortalError::ApplicationNameTaken => field(
                "name",
                "is already used by another application of this organisation",
            ),
            PortalError::AlreadySubscribed => field("product", "is already subscribed"),
            PortalError::EmailTaken => field("email", "is already registered"),
            PortalError::NotFound => RegistryError::NotFound,
            PortalError::Store(e) => RegistryError::Store(e),
        }
    }
}

/// Who asks for a change, for the audit trail.
#[derive(Debug, Clone)]
pub struct Actor(pub String);

pub struct Registry<R> {
    repo: R,
    pepper: Pepper,
    clock: Arc<dyn Clock>,
    /// How long a rotated secret keeps working.
    rotation_grace: Duration,
    /// Shared by every `Registry` of a node, so each sees the others' changes.
    cache: Option<Arc<RegistryCache>>,
    /// The bank in whose name the registry's mails go out.
    bank_name: Arc<str>,
}

impl<R: PortalRepository> Registry<R> {
    pub fn new(
        repo: R,
        pepper: Pepper,
        clock: Arc<dyn Clock>,
        rotation_grace: Duration,
        bank_name: Arc<str>,
    ) -> Self {
        Self {
            repo,
            pepper,
            clock,
            rotation_grace,
            cache: None,
            bank_name,
        }
    }

    /// Serves client authentication and standings from `cache`.
    #[must_use]
    pub fn with_cache(mut self, cache: Arc<RegistryCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    pub fn repo(&self) -> &R {
        &self.repo
    }

    pub(crate) async fn audit(
        &self,
        actor: &Actor,
        action: &str,
        target: String,
        detail: String,
    ) -> Result<(), StoreError> {
        self.repo
            .record_audit(AuditEntry {
                at: self.clock.now(),
                actor: actor.0.clone(),
                action: action.to_owned(),
                target,
                detail,
            })
            .await
    }

    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }

    /// This node wrote `change`: its cached entries go at once (other nodes
    /// hear of it from the store).
    pub(crate) fn changed(&self, change: RegistryChange) {
        if let Some(cache) = &self.cache {
            cache.changed(change);
        }
    }

    /// `load` through the cache, if there is one. What it loads is stored
    /// unless None, or a change came in while it loaded.
    pub(crate) async fn cached<K: Hash + Eq, V: Clone>(
        &self,
        table: Table<K, V>,
        key: K,
        load: impl Future<Output = Result<Option<V>, StoreError>>,
    ) -> Result<Option<V>, StoreError> {
        let Some(cache) = &self.cache else {
            return load.await;
        };
        if cache.freshness() == Freshness::Versioned {
            cache.observe_version(self.repo.registry_version().await?);
        }
        Self::through(cache, table, key, load).await
    }

    /// A live access token's record by its keyed hash, through the cache if
    /// there is one. Only what `load` finds live is stored; the caller checks
    /// expiry and revocation on every use. No registry version is read: only
    /// the server revokes tokens, and it forgets them when it does
    /// ([`Registry::tokens_revoked`]; other nodes hear it from the store).
    pub async fn cached_token(
        &self,
        hash: KeyedHash,
        load: impl Future<Output = Result<Option<TokenRecord>, StoreError>>,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let live = async {
            Ok(load
                .await?
                .filter(|r| r.kind == TokenKind::Access && r.revoked_at.is_none()))
        };
        match &self.cache {
            Some(cache) => Self::through(cache, cache::TOKENS, hash, live).await,
            None => live.await,
        }
    }

    /// This node revoked tokens of `application` (committed): its cached
    /// tokens go at once.
    pub fn tokens_revoked(&self, application: ApplicationId) {
        self.changed(RegistryChange::Tokens(application));
    }

    /// A consent by id, through the cache if there is one. Only a valid
    /// recurring consent is stored (any other either cannot serve a read or
    /// changes with it, as a one-off one does); the caller checks its dates
    /// on every use. Like tokens, consents change only in the server process,
    /// so no registry version is read.
    pub async fn cached_consent(
        &self,
        id: ConsentId,
        load: impl Future<Output = Result<Option<Consent>, StoreError>>,
    ) -> Result<Option<Consent>, StoreError> {
        let Some(cache) = &self.cache else {
            return load.await;
        };
        let ticket = match cache.lookup(cache::CONSENTS, &id) {
            Lookup::Hit(consent) => return Ok(Some(consent)),
            Lookup::Miss(ticket) => ticket,
        };
        let loaded = load.await?;
        if let Some(consent) = &loaded
            && consent.status == ConsentStatus::Valid
            && consent.recurring
        {
            cache.store(cache::CONSENTS, ticket, id, consent.clone());
        }
        Ok(loaded)
    }

    /// This node changed the status of consent `id` (committed): a cached
    /// copy goes at once.
    pub fn consent_changed(&self, id: ConsentId) {
        self.changed(RegistryChange::Consent(id));
    }

    async fn through<K: Hash + Eq, V: Clone>(
        cache: &RegistryCache,
        table: Table<K, V>,
        key: K,
        load: impl Future<Output = Result<Option<V>, StoreError>>,
    ) -> Result<Option<V>, StoreError> {
        let ticket = match cache.lookup(table, &key) {
            Lookup::Hit(value) => return Ok(Some(value)),
            Lookup::Miss(ticket) => ticket,
        };
        let loaded = load.await?;
        if let Some(value) = &loaded {
            cache.store(table, ticket, key, value.clone());
        }
        Ok(loaded)
    }
}
