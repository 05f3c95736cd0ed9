//! `Store` implements every port by handing each call to the backend chosen
//! at connect. The queries implement the ports for [`SqliteStore`] and
//! [`PgStore`] in `repo/*.rs` (the portal's, too large for one file, as
//! inherent methods in `repo/portal/`); this file only lists the methods, one
//! line each.

use std::collections::HashMap;

use fintechapi_domain::basket::{BasketCreation, BasketRepository, SigningBasket};
use fintechapi_domain::card::{
    CardAccount, CardPayment, CardRepository, NewCardAccount, NewCardTransfer,
};
use fintechapi_domain::consent::{
    AccountGrant, Consent, ConsentCreation, ConsentRepository, ConsentStatus, DeltaReportRepository,
};
use fintechapi_domain::holders::{AccountHolder, Mandate};
use fintechapi_domain::iban::Iban;
use fintechapi_domain::ids::{AccountId, PsuId, TransactionId};
use fintechapi_domain::ids::{ApplicationId, CredentialId, OrganisationId, SubscriptionId, UserId};
use fintechapi_domain::ids::{AuthorizationId, BasketId, ConsentId, LeadId, PaymentId};
use fintechapi_domain::lead::{Lead, LeadRepository, LeadStatus, NewLead};
use fintechapi_domain::ledger::{
    Account, AccountEntry, EntryFilter, LedgerAudit, LedgerError, LedgerRepository, NewAccount,
    NewTransfer, PageStart, TransferReceipt,
};
use fintechapi_domain::notification::{
    DeliveryOutcome, NotificationRepository, NotificationTarget, PendingNotification,
};
use fintechapi_domain::oauth::{
    Authorization, AuthorizationRepository, AuthorizationStage, SigningKey, SigningKeyRepository,
    TokenRecord, TokenRepository,
};
use fintechapi_domain::password::PasswordHash;
use fintechapi_domain::payment::{
    ExecutionAdvance, ExecutionOutcome, Payment, PaymentCreation, PaymentRepository, PaymentStatus,
    PaymentUpdate, RejectReason,
};
use fintechapi_domain::portal::{
    AuditEntry, AuditLine, Email, Invitation, Mail, MemberRole, NewUser, PortalError,
    PortalRepository, Session, TokenPurpose, User,
};
use fintechapi_domain::psu::{
    NewPsu, Psu, PsuError, PsuNotice, PsuPasskey, PsuRepository, PsuSession, PsuSessionStage,
};
use fintechapi_domain::registry::{
    Application, ApplicationStanding, Credential, Organisation, Status, Subscription,
    SubscriptionStatus,
};
use fintechapi_domain::secret::KeyedHash;
use fintechapi_domain::usage::{MeteredApi, UsageCounts, UsageKey, UsageRepository, UsageRow};
use fintechapi_domain::{Currency, StoreError};
use time::{Date, OffsetDateTime};

use crate::store::{Pool, Store};

/// For each port, `impl Port for Store` with every listed method matching on
/// the pool and calling the backend's own implementation.
macro_rules! forward {
    ($($port:ident { $(fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)* })*) => {
        $(impl $port for Store {
            $(async fn $name(&self, $($arg: $ty),*) -> $ret {
                match &self.pool {
                    Pool::Sqlite(s) => s.$name($($arg),*).await,
                    Pool::Postgres(s) => s.$name($($arg),*).await,
                }
            })*
        })*
    };
}

forward! {
    NotificationRepository {
        fn subscribe_notifications(target: &NotificationTarget) -> Result<(), StoreError>;
        fn claim_notifications(limit: u32, now: OffsetDateTime, lease_until: OffsetDateTime) -> Result<Vec<PendingNotification>, StoreError>;
        fn record_delivery(id: i64, outcome: &DeliveryOutcome, at: OffsetDateTime) -> Result<(), StoreError>;
        fn prune_notifications(before: OffsetDateTime, batch: u32) -> Result<u64, StoreError>;
    }
    LeadRepository {
        fn create_lead(id: LeadId, lead: NewLead, at: OffsetDateTime) -> Result<Lead, StoreError>;
        fn leads(status: Option<LeadStatus>, limit: u32) -> Result<Vec<Lead>, StoreError>;
        fn lead(id: LeadId) -> Result<Option<Lead>, StoreError>;
        fn update_lead(id: LeadId, status: LeadStatus, notes: &str, at: OffsetDateTime) -> Result<bool, StoreError>;
    }
    LedgerRepository {
        fn entry(account: AccountId, transaction: TransactionId) -> Result<Option<AccountEntry>, StoreError>;
        fn create_account(account: NewAccount) -> Result<Account, LedgerError>;
        fn account(id: AccountId) -> Result<Option<Account>, StoreError>;
        fn account_by_iban(iban: &Iban) -> Result<Option<Account>, StoreError>;
        fn clearing_account(currency: Currency) -> Result<Option<Account>, StoreError>;
        fn accounts_of_psu(psu: PsuId) -> Result<Vec<Account>, StoreError>;
        fn account_holders(account: AccountId) -> Result<Vec<AccountHolder>, StoreError>;
        fn set_account_holder(account: AccountId, psu: PsuId, mandate: Mandate) -> Result<(), StoreError>;
        fn post_transfers(transfers: Vec<NewTransfer>) -> Result<Vec<TransferReceipt>, LedgerError>;
        fn entries(filter: &EntryFilter, start: PageStart, limit: u32) -> Result<Vec<AccountEntry>, StoreError>;
        fn count_entries(filter: &EntryFilter) -> Result<u64, StoreError>;
        fn booked_entries_after(account: AccountId, reference: i64, limit: u32) -> Result<Vec<AccountEntry>, StoreError>;
        fn account_with_booked_since(account: AccountId, date: Date) -> Result<Option<(Account, i64)>, StoreError>;
        fn booked_since(account: AccountId, date: Date) -> Result<i64, StoreError>;
        fn booked_before(account: AccountId, date: Date) -> Result<i64, StoreError>;
        fn audit() -> Result<LedgerAudit, StoreError>;
    }
    CardRepository {
        fn create_card_account(card: NewCardAccount) -> Result<CardAccount, LedgerError>;
        fn card_account(id: AccountId) -> Result<Option<CardAccount>, StoreError>;
        fn card_accounts_of_psu(psu: PsuId) -> Result<Vec<CardAccount>, StoreError>;
        fn post_card_transfers(transfers: Vec<NewCardTransfer>) -> Result<Vec<TransferReceipt>, LedgerError>;
        fn card_payments(transactions: &[TransactionId]) -> Result<HashMap<TransactionId, CardPayment>, StoreError>;
        fn card_payments_booked_after(account: AccountId, date: Date) -> Result<i64, StoreError>;
    }
    PsuRepository {
        fn create_psu_session(session_hash: &KeyedHash, at: OffsetDateTime) -> Result<(), StoreError>;
        fn psu_session(session_hash: &KeyedHash) -> Result<Option<PsuSession>, StoreError>;
        fn advance_psu_session(session_hash: &KeyedHash, from: PsuSessionStage, to: PsuSessionStage, psu: Option<PsuId>, at: OffsetDateTime) -> Result<bool, StoreError>;
        fn renew_psu_session(session_hash: &KeyedHash, renewed: &KeyedHash, stages: (PsuSessionStage, PsuSessionStage), psu: Option<PsuId>, factor: bool, at: OffsetDateTime) -> Result<bool, StoreError>;
        fn end_psu_session(session_hash: &KeyedHash) -> Result<(), StoreError>;
        fn create_psu(psu: NewPsu) -> Result<Psu, PsuError>;
        fn psu_by_login(login: &str) -> Result<Option<(Psu, PasswordHash)>, StoreError>;
        fn list_psus() -> Result<Vec<Psu>, StoreError>;
        fn psu(id: PsuId) -> Result<Option<Psu>, StoreError>;
        fn set_psu_password(id: PsuId, password: PasswordHash) -> Result<(), StoreError>;
        fn begin_psu_attempt(id: PsuId, at: OffsetDateTime) -> Result<Option<Psu>, StoreError>;
        fn block_psu(id: PsuId, at: OffsetDateTime, blocks_in_row: u32, until: Option<OffsetDateTime>) -> Result<Option<Psu>, StoreError>;
        fn clear_psu_failed_logins(id: PsuId) -> Result<(), StoreError>;
        fn set_psu_email(id: PsuId, email: Option<String>) -> Result<(), StoreError>;
        fn add_psu_notice(notice: PsuNotice) -> Result<(), StoreError>;
        fn psu_notices(id: PsuId, limit: u32) -> Result<Vec<PsuNotice>, StoreError>;
        fn set_psu_totp(id: PsuId, sealed_seed: Option<String>) -> Result<(), StoreError>;
        fn psu_totp_seed(id: PsuId) -> Result<Option<String>, StoreError>;
        fn accept_psu_totp_step(id: PsuId, step: i64) -> Result<bool, StoreError>;
        fn reset_psu_login_failures(id: PsuId) -> Result<(), StoreError>;
        fn add_psu_passkey(passkey: PsuPasskey) -> Result<bool, StoreError>;
        fn psu_passkeys(id: PsuId) -> Result<Vec<PsuPasskey>, StoreError>;
        fn record_psu_passkey_use(credential_id: &str, credential: String, at: OffsetDateTime) -> Result<(), StoreError>;
        fn remove_psu_passkey(id: PsuId, credential_id: &str) -> Result<bool, StoreError>;
        fn put_webauthn_ceremony(key: &KeyedHash, state: String, at: OffsetDateTime, stale_before: OffsetDateTime) -> Result<(), StoreError>;
        fn take_webauthn_ceremony(key: &KeyedHash) -> Result<Option<(String, OffsetDateTime)>, StoreError>;
    }
    TokenRepository {
        fn insert_tokens(tokens: &[TokenRecord]) -> Result<(), StoreError>;
        fn token_by_hash(hash: &KeyedHash) -> Result<Option<TokenRecord>, StoreError>;
        fn revoke_token(hash: &KeyedHash, at: OffsetDateTime) -> Result<bool, StoreError>;
        fn revoke_grant(authorization: AuthorizationId, at: OffsetDateTime) -> Result<u64, StoreError>;
        fn remember_jti(jti_hash: &KeyedHash, expires_at: OffsetDateTime) -> Result<bool, StoreError>;
        fn prune_tokens(before: OffsetDateTime, batch: u32) -> Result<u64, StoreError>;
    }
    SigningKeyRepository {
        fn insert_signing_key(key: SigningKey) -> Result<(), StoreError>;
        fn signing_keys(after: OffsetDateTime) -> Result<Vec<SigningKey>, StoreError>;
    }
    AuthorizationRepository {
        fn insert_authorization(authorization: Authorization) -> Result<(), StoreError>;
        fn open_authorization(request_uri_hash: &KeyedHash, client_id: &str, bound: Option<&KeyedHash>, session_hash: &KeyedHash, at: OffsetDateTime) -> Result<Option<Authorization>, StoreError>;
        fn open_redirect_authorization(link_hash: &KeyedHash, session_hash: &KeyedHash, at: OffsetDateTime) -> Result<Option<Authorization>, StoreError>;
        fn pending_decoupled(psu: PsuId, at: OffsetDateTime, limit: u32) -> Result<Vec<Authorization>, StoreError>;
        fn open_decoupled(id: AuthorizationId, psu: PsuId, at: OffsetDateTime) -> Result<Option<Authorization>, StoreError>;
        fn authenticate_decoupled(id: AuthorizationId, psu: PsuId, at: OffsetDateTime) -> Result<bool, StoreError>;
        fn expire_decoupled(at: OffsetDateTime, batch: u32) -> Result<u64, StoreError>;
        fn authorizations_for_scope(application: ApplicationId, scope: &str) -> Result<Vec<Authorization>, StoreError>;
        fn authorization(id: AuthorizationId) -> Result<Option<Authorization>, StoreError>;
        fn authorization_by_session(session_hash: &KeyedHash) -> Result<Option<Authorization>, StoreError>;
        fn advance_authorization(id: AuthorizationId, from: AuthorizationStage, to: AuthorizationStage, psu: Option<PsuId>, at: OffsetDateTime) -> Result<bool, StoreError>;
        fn advance_authorization_session(id: AuthorizationId, from: AuthorizationStage, to: AuthorizationStage, psu: Option<PsuId>, session_hash: &KeyedHash, at: OffsetDateTime) -> Result<bool, StoreError>;
        fn approve_authorization(id: AuthorizationId, code_hash: &KeyedHash, code_expires_at: OffsetDateTime, at: OffsetDateTime) -> Result<bool, StoreError>;
        fn authorization_by_code(code_hash: &KeyedHash) -> Result<Option<Authorization>, StoreError>;
        fn redeem_code(code_hash: &KeyedHash, at: OffsetDateTime) -> Result<bool, StoreError>;
    }
    PaymentRepository {
        fn create_payment(payment: Payment) -> Result<PaymentCreation, StoreError>;
        fn payment(id: PaymentId) -> Result<Option<Payment>, StoreError>;
        fn payments_in_status(status: PaymentStatus, before: OffsetDateTime) -> Result<Vec<Payment>, StoreError>;
        fn set_payment_status(id: PaymentId, from: PaymentStatus, to: PaymentStatus, update: PaymentUpdate, at: OffsetDateTime) -> Result<bool, StoreError>;
        fn approve_payment(id: PaymentId, psu: PsuId, at: OffsetDateTime) -> Result<Vec<PsuId>, StoreError>;
        fn scheduled_payments_due(horizon: Date, after: (Date, PaymentId)) -> Result<Vec<Payment>, StoreError>;
        fn claim_execution(payment: PaymentId, due: Date, token: &str, at: OffsetDateTime, stale_before: OffsetDateTime) -> Result<bool, StoreError>;
        fn finish_execution(payment: PaymentId, due: Date, token: &str, outcome: ExecutionOutcome, advance: ExecutionAdvance, at: OffsetDateTime) -> Result<bool, StoreError>;
        fn request_payment_cancellation(id: PaymentId, at: OffsetDateTime) -> Result<bool, StoreError>;
        fn claim_settlement(id: PaymentId, token: &str, at: OffsetDateTime, stale_before: OffsetDateTime) -> Result<bool, StoreError>;
        fn record_bulk_entry(payment: PaymentId, position: usize, status: PaymentStatus, transaction_id: Option<TransactionId>, reason: Option<RejectReason>) -> Result<(), StoreError>;
    }
    DeltaReportRepository {
        fn delta_mark(consent: ConsentId, account: AccountId) -> Result<Option<i64>, StoreError>;
        fn advance_delta_mark(consent: ConsentId, account: AccountId, reference: i64, at: OffsetDateTime) -> Result<(), StoreError>;
    }
    BasketRepository {
        fn create_basket(basket: SigningBasket) -> Result<BasketCreation, StoreError>;
        fn basket(id: BasketId) -> Result<Option<SigningBasket>, StoreError>;
        fn basket_by_request(application: ApplicationId, request_id: &str, since: OffsetDateTime) -> Result<Option<SigningBasket>, StoreError>;
        fn basket_of(resource_id: &str) -> Result<Option<BasketId>, StoreError>;
        fn cancel_basket(id: BasketId, at: OffsetDateTime) -> Result<bool, StoreError>;
        fn approve_basket(id: BasketId, psu: PsuId, consents: Vec<(ConsentId, Vec<AccountGrant>)>, at: OffsetDateTime) -> Result<bool, StoreError>;
        fn reject_basket(id: BasketId, psu: Option<PsuId>, at: OffsetDateTime) -> Result<bool, StoreError>;
        fn unfinished_baskets(limit: u32) -> Result<Vec<SigningBasket>, StoreError>;
    }
    ConsentRepository {
        fn create_consent(consent: Consent) -> Result<ConsentCreation, StoreError>;
        fn consent(id: ConsentId) -> Result<Option<Consent>, StoreError>;
        fn consents_of_psu(psu: PsuId) -> Result<Vec<Consent>, StoreError>;
        fn authorise_consent(id: ConsentId, psu: PsuId, grants: Vec<AccountGrant>, to: ConsentStatus, at: OffsetDateTime) -> Result<bool, StoreError>;
        fn approve_consent(id: ConsentId, psu: PsuId, at: OffsetDateTime) -> Result<Vec<PsuId>, StoreError>;
        fn count_unattended_access(id: ConsentId, day: Date, limit: u32) -> Result<bool, StoreError>;
        fn set_consent_status(id: ConsentId, from: &[ConsentStatus], to: ConsentStatus, at: OffsetDateTime) -> Result<bool, StoreError>;
    }
    UsageRepository {
        fn add_usage(cells: Vec<(UsageKey, UsageCounts)>) -> Result<(), StoreError>;
        fn usage(application: ApplicationId, from: Date, to: Date) -> Result<Vec<UsageRow>, StoreError>;
        fn calls_on(application: ApplicationId, api: MeteredApi, day: Date) -> Result<u64, StoreError>;
    }
    PortalRepository {
        fn create_user(user: NewUser) -> Result<User, PortalError>;
        fn user(id: UserId) -> Result<Option<User>, StoreError>;
        fn user_by_email(email: &Email) -> Result<Option<(User, PasswordHash)>, StoreError>;
        fn begin_login_attempt(id: UserId, max: u32, lock_until: OffsetDateTime, now: OffsetDateTime) -> Result<bool, StoreError>;
        fn reset_login_failures(id: UserId) -> Result<(), StoreError>;
        fn mark_email_verified(id: UserId, at: OffsetDateTime) -> Result<(), StoreError>;
        fn set_password(id: UserId, password: PasswordHash) -> Result<(), StoreError>;
        fn set_totp(id: UserId, sealed_seed: Option<String>) -> Result<(), StoreError>;
        fn totp_seed(id: UserId) -> Result<Option<String>, StoreError>;
        fn accept_totp_step(id: UserId, step: i64) -> Result<bool, StoreError>;
        fn create_session(key: &KeyedHash, session: Session) -> Result<(), StoreError>;
        fn session(key: &KeyedHash) -> Result<Option<Session>, StoreError>;
        fn touch_session(key: &KeyedHash, at: OffsetDateTime) -> Result<(), StoreError>;
        fn delete_session(key: &KeyedHash) -> Result<(), StoreError>;
        fn prune_expired(now: OffsetDateTime, idle_before: OffsetDateTime) -> Result<u64, StoreError>;
        fn delete_sessions_of(user: UserId) -> Result<(), StoreError>;
        fn create_token(key: &KeyedHash, user: UserId, purpose: TokenPurpose, expires_at: OffsetDateTime) -> Result<(), StoreError>;
        fn consume_token(key: &KeyedHash, purpose: TokenPurpose, now: OffsetDateTime) -> Result<Option<UserId>, StoreError>;
        fn create_organisation(organisation: Organisation, owner: Option<UserId>) -> Result<(), PortalError>;
        fn organisation(id: OrganisationId) -> Result<Option<Organisation>, StoreError>;
        fn organisation_by_name(legal_name: &str) -> Result<Option<Organisation>, StoreError>;
        fn organisations_of(user: UserId) -> Result<Vec<(Organisation, MemberRole)>, StoreError>;
        fn membership(organisation: OrganisationId, user: UserId) -> Result<Option<MemberRole>, StoreError>;
        fn all_organisations() -> Result<Vec<Organisation>, StoreError>;
        fn members_of(organisation: OrganisationId) -> Result<Vec<(User, MemberRole)>, StoreError>;
        fn create_invitation(key: &KeyedHash, invitation: Invitation) -> Result<(), StoreError>;
        fn open_invitations(organisation: OrganisationId, now: OffsetDateTime) -> Result<Vec<Invitation>, StoreError>;
        fn accept_invitation(key: &KeyedHash, user: UserId, email: &Email, now: OffsetDateTime) -> Result<Option<OrganisationId>, StoreError>;
        fn remove_member(organisation: OrganisationId, user: UserId) -> Result<(), StoreError>;
        fn set_organisation_status(id: OrganisationId, status: Status) -> Result<(), StoreError>;
        fn create_application(application: Application, subscriptions: Vec<Subscription>, credential: Credential) -> Result<(), PortalError>;
        fn application(id: ApplicationId) -> Result<Option<Application>, StoreError>;
        fn applications_of(organisation: OrganisationId) -> Result<Vec<Application>, StoreError>;
        fn all_applications() -> Result<Vec<Application>, StoreError>;
        fn set_application_status(id: ApplicationId, status: Status) -> Result<(), StoreError>;
        fn set_application_plan(id: ApplicationId, plan: Option<&str>) -> Result<(), StoreError>;
        fn subscriptions_of(application: ApplicationId) -> Result<Vec<Subscription>, StoreError>;
        fn application_standing(application: ApplicationId) -> Result<Option<ApplicationStanding>, StoreError>;
        fn subscription(id: SubscriptionId) -> Result<Option<Subscription>, StoreError>;
        fn pending_subscriptions() -> Result<Vec<Subscription>, StoreError>;
        fn add_subscription(subscription: Subscription) -> Result<(), PortalError>;
        fn decide_subscription(id: SubscriptionId, status: SubscriptionStatus, reason: Option<String>, at: OffsetDateTime) -> Result<(), StoreError>;
        fn credentials_of(application: ApplicationId) -> Result<Vec<Credential>, StoreError>;
        fn credential_by_key(consumer_key: &str) -> Result<Option<Credential>, StoreError>;
        fn rotate_credential(credential: Credential, old_until: OffsetDateTime) -> Result<(), StoreError>;
        fn revoke_credential(id: CredentialId, at: OffsetDateTime) -> Result<(), StoreError>;
        fn touch_credential(id: CredentialId, at: OffsetDateTime) -> Result<(), StoreError>;
        fn registry_version() -> Result<i64, StoreError>;
        fn enqueue_mail(mail: Mail) -> Result<(), StoreError>;
        fn mails_to(recipient: &Email) -> Result<Vec<Mail>, StoreError>;
        fn claim_mails(limit: u32, now: OffsetDateTime, stale_before: OffsetDateTime) -> Result<Vec<(i64, Mail)>, StoreError>;
        fn mark_mail_sent(id: i64, at: OffsetDateTime) -> Result<(), StoreError>;
        fn record_audit(entry: AuditEntry) -> Result<(), StoreError>;
        fn audit_trail(limit: u32) -> Result<Vec<AuditLine>, StoreError>;
    }
}
