//! Bank customers (payment service users) and their repository port.

use std::future::Future;

use time::{Duration, OffsetDateTime};

use crate::ids::PsuId;
use crate::ledger::text_enum;
use crate::password::PasswordHash;
use crate::secret::KeyedHash;
use crate::store::StoreError;

/// RTS Art. 4(3)(b): consecutive failed authentications that block a credential.
pub const MAX_FAILED_LOGINS: u32 = 5;

/// How long the blocks after [`MAX_FAILED_LOGINS`] last (RTS Art. 4(3)(b)
/// lets the bank set them): temporary blocks of growing length, so a stranger
/// guessing cannot shut the PSU out for good, and a permanent block only after
/// `permanent_after` temporary blocks in a row, the PSU alerted at each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockPolicy {
    /// The first, second, … temporary block in a row; the last repeats.
    pub temporary: Vec<Duration>,
    /// Temporary blocks in a row after which the next one is permanent; 0: never.
    pub permanent_after: u32,
}

impl Default for BlockPolicy {
    fn default() -> Self {
        Self {
            temporary: vec![
                Duration::minutes(15),
                Duration::hours(1),
                Duration::hours(4),
            ],
            permanent_after: 3,
        }
    }
}

impl BlockPolicy {
    /// The block that follows `blocks_in_row` earlier ones: Some(its length),
    /// or None when it is permanent.
    pub fn next_block(&self, blocks_in_row: u32) -> Option<Duration> {
        if self.permanent_after > 0 && blocks_in_row >= self.permanent_after {
            return None;
        }
        let at = usize::try_from(blocks_in_row).unwrap_or(usize::MAX);
        Some(
            self.temporary
                .get(at)
                .or(self.temporary.last())
                .copied()
                .unwrap_or(Duration::minutes(15)),
        )
    }

    /// Whether the block after `blocks_in_row` earlier ones would be permanent.
    pub fn next_is_permanent(&self, blocks_in_row: u32) -> bool {
        self.next_block(blocks_in_row).is_none()
    }
}

/// What the PSU is told, in online banking and by mail, about a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PsuNotice {
    pub psu_id: PsuId,
    pub created_at: OffsetDateTime,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Psu {
    pub id: PsuId,
    /// The login name the PSU types at the bank's pages.
    pub login: String,
    pub display_name: String,
    pub created_at: OffsetDateTime,
    /// Consecutive failed (or still running) credential checks since the
    /// last success or block.
    pub failed_logins: u32,
    /// Temporary blocks in a row since the last complete authentication.
    pub blocks_in_row: u32,
    /// A temporary block's end.
    pub blocked_until: Option<OffsetDateTime>,
    /// Set by a permanent block; only an operator or a password reset lifts it.
    pub blocked_at: Option<OffsetDateTime>,
    /// Where block alerts are mailed, when the bank knows an address.
    pub email: Option<String>,
    /// Whether an authenticator app (TOTP) is enrolled.
    pub totp_enabled: bool,
}

impl Psu {
    /// Blocked at `now`, temporarily or for good.
    pub fn is_blocked(&self, now: OffsetDateTime) -> bool {
        self.is_blocked_for_good() || self.blocked_until.is_some_and(|until| until > now)
    }

    pub fn is_blocked_for_good(&self) -> bool {
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
    /// (A password reset is a complete re-authentication by the bank.)
    fn set_psu_password(
        &self,
        id: crate::ids::PsuId,
        password: PasswordHash,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Counts a credential check before it runs, in one statement: the PSU
    /// as updated, or None when it is blocked at `at` or already has
    /// [`MAX_FAILED_LOGINS`] checks counted (so parallel guesses cannot pass
    /// the limit). A correct answer clears the count again.
    fn begin_psu_attempt(
        &self,
        id: PsuId,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<Psu>, StoreError>> + Send;

    /// After a wrong answer: when the count stands at [`MAX_FAILED_LOGINS`],
    /// blocks the PSU in one statement, until `until`, or for good with None,
    /// provided `blocks_in_row` earlier blocks are still on record. Returns
    /// the PSU as blocked by this call, None if nothing changed.
    fn block_psu(
        &self,
        id: PsuId,
        at: OffsetDateTime,
        blocks_in_row: u32,
        until: Option<OffsetDateTime>,
    ) -> impl Future<Output = Result<Option<Psu>, StoreError>> + Send;

    /// A correct password: clears the count, keeps the blocks in a row until
    /// the authentication is complete.
    fn clear_psu_failed_logins(
        &self,
        id: PsuId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Where block alerts for the PSU are mailed (None: nowhere).
    fn set_psu_email(
        &self,
        id: PsuId,
        email: Option<String>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Keeps a notice the PSU sees in online banking.
    fn add_psu_notice(
        &self,
        notice: PsuNotice,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The PSU's notices, newest first, at most `limit`.
    fn psu_notices(
        &self,
        id: PsuId,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<PsuNotice>, StoreError>> + Send;

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

    /// After a complete authentication or an operator's unblock: no failures,
    /// no block, no blocks in a row.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_grow_and_turn_permanent_after_the_configured_number() {
        let policy = BlockPolicy::default();
        assert_eq!(policy.next_block(0), Some(Duration::minutes(15)));
        assert_eq!(policy.next_block(1), Some(Duration::hours(1)));
        assert_eq!(policy.next_block(2), Some(Duration::hours(4)));
        assert!(!policy.next_is_permanent(2));
        assert!(policy.next_is_permanent(3));
        let never = BlockPolicy {
            permanent_after: 0,
            ..BlockPolicy::default()
        };
        assert_eq!(
            never.next_block(50),
            Some(Duration::hours(4)),
            "the last length repeats"
        );
    }
}
