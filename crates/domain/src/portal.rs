//! Developer Portal accounts (TPP developers and bank operators), their
//! sessions and one-time tokens, mail, audit, and the portal's storage port.

use std::fmt;
use std::future::Future;
use std::str::FromStr;

use time::OffsetDateTime;

use crate::ids::{ApplicationId, CredentialId, OrganisationId, SubscriptionId, UserId};
use crate::ledger::text_enum;
use crate::password::PasswordHash;
use crate::registry::{
    Application, ApplicationStanding, Credential, Organisation, Status, Subscription,
    SubscriptionStatus,
};
use crate::secret::KeyedHash;
use crate::store::StoreError;

text_enum!(
    /// Developers build TPP apps; admins are the bank's operators.
    UserKind { Developer = "developer", Admin = "admin" }
);
text_enum!(
    /// What a one-time token (sent by mail) allows.
    TokenPurpose { VerifyEmail = "verify_email", ResetPassword = "reset_password", SecondFactor = "second_factor" }
);
text_enum!(
    /// A member's rights in an organisation.
    MemberRole { Owner = "owner", Developer = "developer", Viewer = "viewer" }
);

impl MemberRole {
    pub fn can_manage_apps(&self) -> bool {
        matches!(self, MemberRole::Owner | MemberRole::Developer)
    }
}

/// An e-mail address, trimmed and lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid e-mail address")]
pub struct InvalidEmail;

impl FromStr for Email {
    type Err = InvalidEmail;
    fn from_str(s: &str) -> Result<Self, InvalidEmail> {
        let s = s.trim().to_lowercase();
        let (local, domain) = s.rsplit_once('@').ok_or(InvalidEmail)?;
        let valid = !local.is_empty()
            && local.len() <= 64
            && s.len() <= 254
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && s.chars().all(|c| c.is_ascii_graphic() || !c.is_ascii())
            && !s.contains(['<', '>', '"', ',', ';', '\\', '(', ')', '[', ']'])
            && !local.contains('@');
        if valid {
            Ok(Self(s))
        } else {
            Err(InvalidEmail)
        }
    }
}

impl Email {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub display_name: String,
    pub kind: UserKind,
    pub email_verified_at: Option<OffsetDateTime>,
    pub failed_logins: i64,
    pub locked_until: Option<OffsetDateTime>,
    pub totp_enabled: bool,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub email: Email,
    pub display_name: String,
    pub kind: UserKind,
    pub password: PasswordHash,
    pub email_verified_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

/// A server-side session; the cookie holds a random id, the store its keyed hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user_id: UserId,
    /// Synchronizer token for this session's forms.
    pub csrf_token: String,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    /// Absolute end, whatever the activity.
    pub expires_at: OffsetDateTime,
}

/// An invitation to join an organisation, sent by mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub organisation_id: OrganisationId,
    pub email: Email,
    pub role: MemberRole,
    pub invited_by: UserId,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// A mail waiting in (or delivered from) the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub recipient: Email,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub created_at: OffsetDateTime,
}

/// A line of the audit trail as read back: the entry, and the name of what
/// it changed where the target is still known (an application, organisation,
/// PSU, user, or an application's credential or subscription).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLine {
    pub entry: AuditEntry,
    pub target_name: Option<String>,
}

/// One line of the audit trail: who changed what, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: OffsetDateTime,
    /// The acting user's e-mail, or `cli` for operator commands.
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    #[error("an account with this e-mail address already exists")]
    EmailTaken,
    #[error("an organisation with this legal name already exists")]
    OrganisationNameTaken,
    #[error("the organisation already has an application with this name")]
    ApplicationNameTaken,
    #[error("the application is already subscribed to this product")]
    AlreadySubscribed,
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The portal's storage port. Multi-row changes are atomic.
pub trait PortalRepository: Send + Sync {
    // Users
    fn create_user(&self, user: NewUser) -> impl Future<Output = Result<User, PortalError>> + Send;
    fn user(&self, id: UserId) -> impl Future<Output = Result<Option<User>, StoreError>> + Send;
    fn user_by_email(
        &self,
        email: &Email,
    ) -> impl Future<Output = Result<Option<(User, PasswordHash)>, StoreError>> + Send;
    /// Counts a credential check before it runs, and the decision in one
    /// statement: false when the account is locked at `now` or already has
    /// `max` checks counted; the `max`th locks it until `lock_until` (a
    /// correct answer lifts that again), so parallel guesses cannot pass `max`.
    fn begin_login_attempt(
        &self,
        id: UserId,
        max: u32,
        lock_until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    fn reset_login_failures(
        &self,
        id: UserId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn mark_email_verified(
        &self,
        id: UserId,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn set_password(
        &self,
        id: UserId,
        password: PasswordHash,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores (or with None removes) the user's sealed TOTP seed; resets the step counter.
    fn set_totp(
        &self,
        id: UserId,
        sealed_seed: Option<String>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn totp_seed(
        &self,
        id: UserId,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
    /// Records `step` as used if it is later than every step accepted before; false on replay.
    fn accept_totp_step(
        &self,
        id: UserId,
        step: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    // Sessions and one-time tokens, keyed by the hash of their secret
    fn create_session(
        &self,
        key: &KeyedHash,
        session: Session,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn session(
        &self,
        key: &KeyedHash,
    ) -> impl Future<Output = Result<Option<Session>, StoreError>> + Send;
    fn touch_session(
        &self,
        key: &KeyedHash,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn delete_session(
        &self,
        key: &KeyedHash,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Deletes sessions past their absolute end or idle since `idle_before`, and
    /// one-time tokens past their end; returns how many rows went.
    fn prune_expired(
        &self,
        now: OffsetDateTime,
        idle_before: OffsetDateTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
    fn delete_sessions_of(
        &self,
        user: UserId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn create_token(
        &self,
        key: &KeyedHash,
        user: UserId,
        purpose: TokenPurpose,
        expires_at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Marks the token used and returns its user, if it is unused and unexpired.
    fn consume_token(
        &self,
        key: &KeyedHash,
        purpose: TokenPurpose,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<UserId>, StoreError>> + Send;

    // Organisations
    /// Creates the organisation with `owner` (if any; operators create orgs without one) as its first member.
    fn create_organisation(
        &self,
        organisation: Organisation,
        owner: Option<UserId>,
    ) -> impl Future<Output = Result<(), PortalError>> + Send;
    fn organisation(
        &self,
        id: OrganisationId,
    ) -> impl Future<Output = Result<Option<Organisation>, StoreError>> + Send;
    fn organisation_by_name(
        &self,
        legal_name: &str,
    ) -> impl Future<Output = Result<Option<Organisation>, StoreError>> + Send;
    fn organisations_of(
        &self,
        user: UserId,
    ) -> impl Future<Output = Result<Vec<(Organisation, MemberRole)>, StoreError>> + Send;
    fn membership(
        &self,
        organisation: OrganisationId,
        user: UserId,
    ) -> impl Future<Output = Result<Option<MemberRole>, StoreError>> + Send;
    fn all_organisations(
        &self,
    ) -> impl Future<Output = Result<Vec<Organisation>, StoreError>> + Send;
    fn members_of(
        &self,
        organisation: OrganisationId,
    ) -> impl Future<Output = Result<Vec<(User, MemberRole)>, StoreError>> + Send;
    fn create_invitation(
        &self,
        key: &KeyedHash,
        invitation: Invitation,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn open_invitations(
        &self,
        organisation: OrganisationId,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<Invitation>, StoreError>> + Send;
    /// Adds `user` to the invitation's organisation and marks it accepted, if it
    /// is open, unexpired and addressed to `email`; returns the organisation.
    fn accept_invitation(
        &self,
        key: &KeyedHash,
        user: UserId,
        email: &Email,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<OrganisationId>, StoreError>> + Send;
    fn remove_member(
        &self,
        organisation: OrganisationId,
        user: UserId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn set_organisation_status(
        &self,
        id: OrganisationId,
        status: Status,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    // Applications, subscriptions, credentials
    /// Creates the application with its subscriptions and first credential, all or nothing.
    fn create_application(
        &self,
        application: Application,
        subscriptions: Vec<Subscription>,
        credential: Credential,
    ) -> impl Future<Output = Result<(), PortalError>> + Send;
    fn application(
        &self,
        id: ApplicationId,
    ) -> impl Future<Output = Result<Option<Application>, StoreError>> + Send;
    fn applications_of(
        &self,
        organisation: OrganisationId,
    ) -> impl Future<Output = Result<Vec<Application>, StoreError>> + Send;
    fn all_applications(&self)
    -> impl Future<Output = Result<Vec<Application>, StoreError>> + Send;
    fn set_application_status(
        &self,
        id: ApplicationId,
        status: Status,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Assigns a configured plan by name, or none.
    fn set_application_plan(
        &self,
        id: ApplicationId,
        plan: Option<&str>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn subscriptions_of(
        &self,
        application: ApplicationId,
    ) -> impl Future<Output = Result<Vec<Subscription>, StoreError>> + Send;
    /// In one query, for the hot path: None unless the application and its
    /// organisation are active.
    fn application_standing(
        &self,
        application: ApplicationId,
    ) -> impl Future<Output = Result<Option<ApplicationStanding>, StoreError>> + Send;
    fn subscription(
        &self,
        id: SubscriptionId,
    ) -> impl Future<Output = Result<Option<Subscription>, StoreError>> + Send;
    /// Subscriptions waiting for an administrator, oldest first.
    fn pending_subscriptions(
        &self,
    ) -> impl Future<Output = Result<Vec<Subscription>, StoreError>> + Send;
    fn add_subscription(
        &self,
        subscription: Subscription,
    ) -> impl Future<Output = Result<(), PortalError>> + Send;
    fn decide_subscription(
        &self,
        id: SubscriptionId,
        status: SubscriptionStatus,
        reason: Option<String>,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn credentials_of(
        &self,
        application: ApplicationId,
    ) -> impl Future<Output = Result<Vec<Credential>, StoreError>> + Send;
    fn credential_by_key(
        &self,
        consumer_key: &str,
    ) -> impl Future<Output = Result<Option<Credential>, StoreError>> + Send;
    /// Adds `credential`; every other live credential of the application ends at `old_until`.
    fn rotate_credential(
        &self,
        credential: Credential,
        old_until: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn revoke_credential(
        &self,
        id: CredentialId,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn touch_credential(
        &self,
        id: CredentialId,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// A number that changes with every committed change to what client
    /// authentication reads (organisations, applications, subscriptions,
    /// credentials other than their last use), by any process.
    fn registry_version(&self) -> impl Future<Output = Result<i64, StoreError>> + Send;

    // Mail and audit
    fn enqueue_mail(&self, mail: Mail) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn mails_to(
        &self,
        recipient: &Email,
    ) -> impl Future<Output = Result<Vec<Mail>, StoreError>> + Send;
    /// Takes up to `limit` undelivered mails for delivery (claims older than
    /// `stale_before` are taken again); returns them with their outbox ids.
    fn claim_mails(
        &self,
        limit: u32,
        now: OffsetDateTime,
        stale_before: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<(i64, Mail)>, StoreError>> + Send;
    fn mark_mail_sent(
        &self,
        id: i64,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn record_audit(
        &self,
        entry: AuditEntry,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn audit_trail(
        &self,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<AuditLine>, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_validated() {
        assert_eq!(
            "  Dev@TPP.Example ".parse::<Email>().unwrap().as_str(),
            "dev@tpp.example"
        );
        for bad in [
            "",
            "dev",
            "dev@",
            "@tpp.example",
            "dev@tpp",
            "dev@.tpp.example",
            "a b@tpp.example",
            "<script>@x.example",
            "dev@tpp..example",
        ] {
            assert!(bad.parse::<Email>().is_err(), "{bad:?} accepted");
        }
    }
}
