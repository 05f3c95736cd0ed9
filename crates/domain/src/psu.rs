//! Bank customers (payment service users) and their repository port.

use std::future::Future;

use time::OffsetDateTime;

use crate::ids::PsuId;
use crate::ledger::text_enum;
use crate::password::PasswordHash;
use crate::secret::KeyedHash;
use crate::store::StoreError;

/// RTS Art. 4(3)(b): consecutive failed authentications that block a credential.
pub const MAX_FAILED_LOGINS: u32 = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Psu {
    pub id: PsuId,
    /// The login name the PSU types at the bank's pages.
    pub login: String,
    pub display_name: String,
    pub created_at: OffsetDateTime,
    /// Consecutive failed logins since the last success or unblock.
    pub failed_logins: u32,
    /// Set when the failures reached [`MAX_FAILED_LOGINS`]; only an operator
    /// or a password reset lifts it.
    pub blocked_at: Option<OffsetDateTime>,
    /// Whether an authenticator app (TOTP) is enrolled.
    pub totp_enabled: bool,
}

impl Psu {
    pub fn is_blocked(&self) -> bool {
        self.blocked_at.is_some()
    }
}

#[derive(Debug, Clone)]
pub struct NewPsu {
    pub id: PsuId,
    pub login: String,
    pub display_name: String,
    pub password: PasswordHash,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, thiserror::Error)]
pub enum PsuError {
    #[error("a PSU with login {0:?} already exists")]
    LoginTaken(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

text_enum!(
    /// How far an online-banking session has authenticated.
    PsuSessionStage { Login = "login", SecondFactor = "second_factor", Active = "active" }
);

/// A passkey (WebAuthn credential) a PSU registered as possession factor.
/// `credential` is the verifier's own serialisation (public key, signature
/// counter); the domain only stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PsuPasskey {
    /// The credential id, base64url without padding.
    pub credential_id: String,
    pub psu_id: PsuId,
    /// What the PSU called it ("Phone", "Laptop").
    pub label: String,
    pub credential: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

/// The PSU's own online-banking session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PsuSession {
    pub psu_id: Option<PsuId>,
    pub stage: PsuSessionStage,
    pub last_activity_at: OffsetDateTime,
    /// When the PSU last passed the second factor in this session.
    pub factor_at: Option<OffsetDateTime>,
}

pub trait PsuRepository: Send + Sync {
    fn create_psu_session(
        &self,
        session_hash: &KeyedHash,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn psu_session(
        &self,
        session_hash: &KeyedHash,
    ) -> impl Future<Output = Result<Option<PsuSession>, StoreError>> + Send;

    /// Moves a session `from` → `to` (with the PSU when given) and records
    /// activity; false when it was no longer at `from`.
    fn advance_psu_session(
        &self,
        session_hash: &KeyedHash,
        from: PsuSessionStage,
        to: PsuSessionStage,
        psu: Option<PsuId>,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// `advance_psu_session` (`stages`: from, to) under a new session id (`renewed`): the id known
    /// before a privilege change is dead after it. `factor` records that the
    /// second factor was just passed.
    fn renew_psu_session(
        &self,
        session_hash: &KeyedHash,
        renewed: &KeyedHash,
        stages: (PsuSessionStage, PsuSessionStage),
        psu: Option<PsuId>,
        factor: bool,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    fn end_psu_session(
        &self,
        session_hash: &KeyedHash,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn create_psu(&self, psu: NewPsu) -> impl Future<Output = Result<Psu, PsuError>> + Send;

    /// The PSU and its password hash, for authentication.
    fn psu_by_login(
        &self,
        login: &str,
    ) -> impl Future<Output = Result<Option<(Psu, PasswordHash)>, StoreError>> + Send;

    fn list_psus(&self) -> impl Future<Output = Result<Vec<Psu>, StoreError>> + Send;

    fn psu(&self, id: PsuId) -> impl Future<Output = Result<Option<Psu>, StoreError>> + Send;

    /// Sets a new password; also lifts a block and clears the failure count.
    fn set_psu_password(
        &self,
        id: crate::ids::PsuId,
        password: PasswordHash,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Counts a failed login; the [`MAX_FAILED_LOGINS`]th blocks the PSU at `at`.
    /// Returns the PSU as updated, None if unknown.
    fn record_psu_login_failure(
        &self,
        id: PsuId,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<Psu>, StoreError>> + Send;

    /// Enrols (or, with None, removes) the PSU's sealed TOTP seed.
    fn set_psu_totp(
        &self,
        id: PsuId,
        sealed_seed: Option<String>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn psu_totp_seed(
        &self,
        id: PsuId,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Accepts a TOTP time step once: false when it (or a later one) was used.
    fn accept_psu_totp_step(
        &self,
        id: PsuId,
        step: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// After a successful login or an operator's unblock: no failures, no block.
    fn reset_psu_login_failures(
        &self,
        id: PsuId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores a newly registered passkey; false when its credential id exists.
    fn add_psu_passkey(
        &self,
        passkey: PsuPasskey,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    fn psu_passkeys(
        &self,
        id: PsuId,
    ) -> impl Future<Output = Result<Vec<PsuPasskey>, StoreError>> + Send;

    /// After an authentication: the credential with its new signature counter.
    fn record_psu_passkey_use(
        &self,
        credential_id: &str,
        credential: String,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// False when the PSU has no passkey with that id.
    fn remove_psu_passkey(
        &self,
        id: PsuId,
        credential_id: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Keeps a WebAuthn ceremony's state server-side under `key` (replacing
    /// an earlier one) and forgets ceremonies abandoned before `stale_before`.
    fn put_webauthn_ceremony(
        &self,
        key: &KeyedHash,
        state: String,
        at: OffsetDateTime,
        stale_before: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Takes a ceremony's state and when it began: each state is used once.
    fn take_webauthn_ceremony(
        &self,
        key: &KeyedHash,
    ) -> impl Future<Output = Result<Option<(String, OffsetDateTime)>, StoreError>> + Send;
}
