//! Tokens the authorization server issues, and their repository port.
//! Only keyed hashes of token values are stored: a database leak yields no
//! usable token.

use std::future::Future;

use time::OffsetDateTime;

use crate::ids::ApplicationId;
use crate::ledger::text_enum;
use crate::secret::KeyedHash;
use crate::store::StoreError;

text_enum!(
    /// What a token is for.
    TokenKind { Access = "access", Refresh = "refresh" }
);

/// An issued token, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub hash: KeyedHash,
    pub kind: TokenKind,
    pub application_id: ApplicationId,
    /// The consumer key the client authenticated with.
    pub client_id: String,
    /// Space-separated scope values granted.
    pub scope: String,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

impl TokenRecord {
    pub fn is_active_at(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

pub trait TokenRepository: Send + Sync {
    fn insert_token(
        &self,
        token: TokenRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn token_by_hash(
        &self,
        hash: &KeyedHash,
    ) -> impl Future<Output = Result<Option<TokenRecord>, StoreError>> + Send;

    /// Marks a token revoked; false when it does not exist or was revoked before.
    fn revoke_token(
        &self,
        hash: &KeyedHash,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes tokens that expired before `before`; returns how many.
    fn prune_tokens(
        &self,
        before: OffsetDateTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}
