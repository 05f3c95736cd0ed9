//! Row shapes shared by both backends and their conversion into domain types.
//! A row that no longer satisfies a domain invariant is reported as corrupt.

use fintechapi_domain::card::{CardAccount, CardPayment, MaskedPan, Merchant};
use fintechapi_domain::consent::Consent;
use fintechapi_domain::iban::Iban;
use fintechapi_domain::ids::PaymentId;
use fintechapi_domain::ids::{AccountId, PsuId, TransactionId};
use fintechapi_domain::ids::{AuthorizationId, ConsentId};
use fintechapi_domain::ledger::{
    Account, AccountBalances, AccountEntry, EntryStatus, Party, TransferReceipt,
};
use fintechapi_domain::oauth::{Authorization, TokenRecord};
use fintechapi_domain::payment::{
    Bulk, BulkEntry, Execution, Payment, PaymentFormat, StandingOrder,
};
use fintechapi_domain::psu::Psu;
use fintechapi_domain::usage::{UsageCounts, UsageKey, UsageRow};
use fintechapi_domain::{Currency, Money, StoreError};
use time::{Date, OffsetDateTime};

pub(crate) fn parse<T: std::str::FromStr>(what: &str, text: &str) -> Result<T, StoreError> {
    text.parse()
        .map_err(|_| StoreError::corrupt(format!("stored {what} {text:?} does not parse")))
}

fn parse_opt<T: std::str::FromStr>(
    what: &str,
    text: Option<String>,
) -> Result<Option<T>, StoreError> {
    text.map(|t| parse(what, &t)).transpose()
}

fn party(name: Option<String>, iban: Option<String>) -> Result<Party, StoreError> {
    Ok(Party {
        name,
        iban: parse_opt::<Iban>("IBAN", iban)?,
    })
}

/// Columns of [`AccountRow`], for `concat!` into static SQL.
macro_rules! account_columns {
    () => {
        "id, kind, psu_id, iban, bic, currency, name, owner_name, product, cash_account_type, \
         status, overdraft_limit, booked_balance, pending_debits, pending_credits, created_at"
    };
}

#[derive(sqlx::FromRow)]
pub(crate) struct AccountRow {
    id: String,
    kind: String,
    psu_id: Option<String>,
    iban: Option<String>,
    bic: String,
    currency: String,
    name: String,
    owner_name: String,
    product: String,
    cash_account_type: String,
    status: String,
    overdraft_limit: Option<i64>,
    booked_balance: i64,
    pending_debits: i64,
    pending_credits: i64,
    created_at: OffsetDateTime,
}

impl TryFrom<AccountRow> for Account {
    type Error = StoreError;

    fn try_from(r: AccountRow) -> Result<Self, StoreError> {
        Ok(Account {
            id: parse::<AccountId>("account id", &r.id)?,
            kind: r.kind.parse()?,
            psu_id: parse_opt::<PsuId>("PSU id", r.psu_id)?,
            iban: parse_opt::<Iban>("IBAN", r.iban)?,
            bic: r.bic,
            currency: parse::<Currency>("currency", &r.currency)?,
            name: r.name,
            owner_name: r.owner_name,
            product: r.product,
            cash_account_type: r.cash_account_type,
            status: r.status.parse()?,
            overdraft_limit: r.overdraft_limit,
            balances: AccountBalances {
                booked: r.booked_balance,
                pending_debits: r.pending_debits,
                pending_credits: r.pending_credits,
            },
            created_at: r.created_at,
        })
    }
}

/// The stored journal entry behind an idempotency key.
#[derive(sqlx::FromRow)]
pub(crate) struct PostedRow {
    pub id: String,
    pub debit_account_id: String,
    pub credit_account_id: String,
    pub amount: i64,
    pub currency: String,
    pub status: String,
    pub booking_date: Date,
    pub value_date: Date,
}

impl PostedRow {
    pub(crate) fn receipt(&self) -> Result<TransferReceipt, StoreError> {
        Ok(TransferReceipt {
            transaction_id: parse::<TransactionId>("transaction id", &self.id)?,
            status: self.status.parse()?,
            booking_date: self.booking_date,
            value_date: self.value_date,
            replayed: true,
        })
    }
}

/// Columns of [`EntryRow`] over `postings p JOIN ledger_transactions t`.
macro_rules! entry_columns {
    () => {
        "p.id AS entry_reference, p.transaction_id, p.status, p.amount, p.currency, p.booking_date, \
         t.value_date, t.debtor_name, t.debtor_iban, t.creditor_name, t.creditor_iban, \
         t.remittance_information, t.end_to_end_id, t.bank_transaction_code"
    };
}

#[derive(sqlx::FromRow)]
pub(crate) struct EntryRow {
    entry_reference: i64,
    transaction_id: String,
    status: String,
    amount: i64,
    currency: String,
    booking_date: Date,
    value_date: Date,
    debtor_name: Option<String>,
    debtor_iban: Option<String>,
    creditor_name: Option<String>,
    creditor_iban: Option<String>,
    remittance_information: Option<String>,
    end_to_end_id: Option<String>,
    bank_transaction_code: String,
}

impl TryFrom<EntryRow> for AccountEntry {
    type Error = StoreError;

    fn try_from(r: EntryRow) -> Result<Self, StoreError> {
        Ok(AccountEntry {
            entry_reference: r.entry_reference,
            transaction_id: parse::<TransactionId>("transaction id", &r.transaction_id)?,
            status: r.status.parse::<EntryStatus>()?,
            amount: Money::from_minor(r.amount, parse::<Currency>("currency", &r.currency)?),
            booking_date: r.booking_date,
            value_date: r.value_date,
            debtor: party(r.debtor_name, r.debtor_iban)?,
            creditor: party(r.creditor_name, r.creditor_iban)?,
            remittance_information: r.remittance_information,
            end_to_end_id: r.end_to_end_id,
            bank_transaction_code: r.bank_transaction_code,
        })
    }
}

/// A card account: [`AccountRow`] joined with `card_accounts`.
#[derive(sqlx::FromRow)]
pub(crate) struct CardAccountRow {
    #[sqlx(flatten)]
    account: AccountRow,
    masked_pan: String,
}

impl TryFrom<CardAccountRow> for CardAccount {
    type Error = StoreError;

    fn try_from(r: CardAccountRow) -> Result<Self, StoreError> {
        Ok(CardAccount {
            account: r.account.try_into()?,
            masked_pan: parse::<MaskedPan>("masked PAN", &r.masked_pan)?,
        })
    }
}

/// A stored card payment and the journal entry it belongs to.
#[derive(sqlx::FromRow)]
pub(crate) struct CardPaymentRow {
    transaction_id: String,
    transaction_date: Date,
    merchant_name: String,
    merchant_city: String,
    merchant_country: String,
    merchant_category_code: String,
    original_amount: i64,
    original_currency: String,
}

impl TryFrom<CardPaymentRow> for (TransactionId, CardPayment) {
    type Error = StoreError;

    fn try_from(r: CardPaymentRow) -> Result<Self, StoreError> {
        let currency = parse::<Currency>("currency", &r.original_currency)?;
        Ok((
            parse::<TransactionId>("transaction id", &r.transaction_id)?,
            CardPayment {
                transaction_date: r.transaction_date,
                merchant: Merchant {
                    name: r.merchant_name,
                    city: r.merchant_city,
                    country: r.merchant_country,
                    category_code: r.merchant_category_code,
                },
                original_amount: Money::from_minor(r.original_amount, currency),
            },
        ))
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct PsuRow {
    pub id: String,
    pub login: String,
    pub display_name: String,
    pub password_hash: String,
    pub created_at: OffsetDateTime,
    pub failed_logins: i32,
    pub blocks_in_row: i32,
    pub blocked_until: Option<OffsetDateTime>,
    pub blocked_at: Option<OffsetDateTime>,
    pub email: Option<String>,
    pub totp_enabled: bool,
}

/// Columns of [`PsuRow`].
macro_rules! psu_columns {
    () => {
        "id, login, display_name, password_hash, created_at, failed_logins, blocks_in_row, \
         blocked_until, blocked_at, email, totp_secret IS NOT NULL AS totp_enabled"
    };
}

impl PsuRow {
    pub(crate) fn psu(&self) -> Result<Psu, StoreError> {
        Ok(Psu {
            id: parse::<PsuId>("PSU id", &self.id)?,
            login: self.login.clone(),
            display_name: self.display_name.clone(),
            created_at: self.created_at,
            failed_logins: u32::try_from(self.failed_logins).unwrap_or(0),
            blocks_in_row: u32::try_from(self.blocks_in_row).unwrap_or(0),
            blocked_until: self.blocked_until,
            blocked_at: self.blocked_at,
            email: self.email.clone(),
            totp_enabled: self.totp_enabled,
        })
    }
}

/// Per-account aggregates used by the ledger audit.
#[derive(sqlx::FromRow)]
pub(crate) struct AuditAccountRow {
    pub id: String,
    pub booked_balance: i64,
    pub pending_debits: i64,
    pub pending_credits: i64,
    pub posted_booked: i64,
    pub posted_pending_debits: i64,
    pub posted_pending_credits: i64,
}

#[derive(sqlx::FromRow)]
pub(crate) struct CurrencyTotalRow {
    pub currency: String,
    pub booked: i64,
    pub pending: i64,
}

// ---- Portal ----

use fintechapi_domain::ids::{ApplicationId, CredentialId, OrganisationId, SubscriptionId, UserId};
use fintechapi_domain::portal::{AuditEntry, Email, Mail, Session, User};
use fintechapi_domain::registry::{
    Application, Credential, Organisation, RedirectUri, Subscription,
};
use fintechapi_domain::secret::KeyedHash;

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: String,
    email: String,
    display_name: String,
    kind: String,
    pub password_hash: String,
    email_verified_at: Option<OffsetDateTime>,
    failed_logins: i64,
    locked_until: Option<OffsetDateTime>,
    totp_secret: Option<String>,
    created_at: OffsetDateTime,
}

impl UserRow {
    pub(crate) fn user(&self) -> Result<User, StoreError> {
        Ok(User {
            id: parse::<UserId>("user id", &self.id)?,
            email: parse::<Email>("e-mail", &self.email)?,
            display_name: self.display_name.clone(),
            kind: self.kind.parse()?,
            email_verified_at: self.email_verified_at,
            failed_logins: self.failed_logins,
            locked_until: self.locked_until,
            totp_enabled: self.totp_secret.is_some(),
            created_at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SessionRow {
    user_id: String,
    csrf_token: String,
    created_at: OffsetDateTime,
    last_seen_at: OffsetDateTime,
    expires_at: OffsetDateTime,
}

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;
    fn try_from(r: SessionRow) -> Result<Self, StoreError> {
        Ok(Session {
            user_id: parse::<UserId>("user id", &r.user_id)?,
            csrf_token: r.csrf_token,
            created_at: r.created_at,
            last_seen_at: r.last_seen_at,
            expires_at: r.expires_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct OrganisationRow {
    id: String,
    legal_name: String,
    country: String,
    roles: String,
    competent_authority: String,
    authorisation_number: String,
    status: String,
    created_at: OffsetDateTime,
}

impl TryFrom<OrganisationRow> for Organisation {
    type Error = StoreError;
    fn try_from(r: OrganisationRow) -> Result<Self, StoreError> {
        Ok(Organisation {
            id: parse::<OrganisationId>("organisation id", &r.id)?,
            legal_name: r.legal_name,
            country: r.country,
            roles: r.roles.parse()?,
            competent_authority: r.competent_authority,
            authorisation_number: r.authorisation_number,
            status: r.status.parse()?,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApplicationRow {
    id: String,
    organisation_id: String,
    name: String,
    description: String,
    redirect_uris: String,
    security_profile: String,
    jwks: Option<String>,
    jwks_uri: Option<String>,
    tls_subject_dn: Option<String>,
    environment: String,
    status: String,
    created_at: OffsetDateTime,
    plan: Option<String>,
}

/// Redirect URIs are stored one per line (a URI cannot contain a newline).
pub(crate) fn join_uris(uris: &[RedirectUri]) -> String {
    uris.iter()
        .map(RedirectUri::as_str)
        .collect::<Vec<_>>()
        .join("\n")
}

impl TryFrom<ApplicationRow> for Application {
    type Error = StoreError;
    fn try_from(r: ApplicationRow) -> Result<Self, StoreError> {
        Ok(Application {
            id: parse::<ApplicationId>("application id", &r.id)?,
            organisation_id: parse::<OrganisationId>("organisation id", &r.organisation_id)?,
            name: r.name,
            description: r.description,
            redirect_uris: r
                .redirect_uris
                .lines()
                .filter(|l| !l.is_empty())
                .map(|l| RedirectUri::from_stored(l.to_owned()))
                .collect(),
            security_profile: r.security_profile.parse()?,
            jwks: r.jwks,
            jwks_uri: r.jwks_uri,
            tls_subject_dn: r.tls_subject_dn,
            environment: r.environment.parse()?,
            status: r.status.parse()?,
            created_at: r.created_at,
            assigned_plan: r.plan,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SubscriptionRow {
    id: String,
    application_id: String,
    product: String,
    plan: String,
    status: String,
    reason: Option<String>,
    created_at: OffsetDateTime,
    decided_at: Option<OffsetDateTime>,
}

impl TryFrom<SubscriptionRow> for Subscription {
    type Error = StoreError;
    fn try_from(r: SubscriptionRow) -> Result<Self, StoreError> {
        Ok(Subscription {
            id: parse::<SubscriptionId>("subscription id", &r.id)?,
            application_id: parse::<ApplicationId>("application id", &r.application_id)?,
            product: r.product.parse()?,
            plan: r.plan.parse()?,
            status: r.status.parse()?,
            reason: r.reason,
            created_at: r.created_at,
            decided_at: r.decided_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CredentialRow {
    id: String,
    application_id: String,
    consumer_key: String,
    secret_hash: String,
    created_at: OffsetDateTime,
    expires_at: Option<OffsetDateTime>,
    revoked_at: Option<OffsetDateTime>,
    last_used_at: Option<OffsetDateTime>,
}

impl TryFrom<CredentialRow> for Credential {
    type Error = StoreError;
    fn try_from(r: CredentialRow) -> Result<Self, StoreError> {
        Ok(Credential {
            id: parse::<CredentialId>("credential id", &r.id)?,
            application_id: parse::<ApplicationId>("application id", &r.application_id)?,
            consumer_key: r.consumer_key,
            secret_hash: KeyedHash::from_stored(r.secret_hash),
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            last_used_at: r.last_used_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MailRow {
    recipient: String,
    subject: String,
    body_text: String,
    body_html: String,
    created_at: OffsetDateTime,
}

impl TryFrom<MailRow> for Mail {
    type Error = StoreError;
    fn try_from(r: MailRow) -> Result<Self, StoreError> {
        Ok(Mail {
            recipient: parse::<Email>("e-mail", &r.recipient)?,
            subject: r.subject,
            body_text: r.body_text,
            body_html: r.body_html,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    at: OffsetDateTime,
    actor: String,
    action: String,
    target: String,
    detail: String,
}

impl From<AuditRow> for AuditEntry {
    fn from(r: AuditRow) -> Self {
        AuditEntry {
            at: r.at,
            actor: r.actor,
            action: r.action,
            target: r.target,
            detail: r.detail,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TokenRow {
    token_hash: String,
    kind: String,
    application_id: String,
    client_id: String,
    scope: String,
    authorization_id: Option<String>,
    authorization_details: Option<String>,
    dpop_jkt: Option<String>,
    mtls_x5t: Option<String>,
    issued_at: OffsetDateTime,
    expires_at: OffsetDateTime,
    revoked_at: Option<OffsetDateTime>,
}

impl TryFrom<TokenRow> for TokenRecord {
    type Error = StoreError;
    fn try_from(r: TokenRow) -> Result<Self, StoreError> {
        Ok(TokenRecord {
            hash: KeyedHash::from_stored(r.token_hash),
            kind: r.kind.parse()?,
            application_id: parse::<ApplicationId>("application id", &r.application_id)?,
            client_id: r.client_id,
            scope: r.scope,
            authorization_id: parse_opt("authorization id", r.authorization_id)?,
            authorization_details: r.authorization_details,
            dpop_jkt: r.dpop_jkt,
            mtls_x5t: r.mtls_x5t,
            issued_at: r.issued_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct UsageRowRaw {
    application_id: String,
    day: Date,
    api: String,
    endpoint: String,
    status_class: i16,
    calls: i64,
    throttled: i64,
}

impl TryFrom<UsageRowRaw> for UsageRow {
    type Error = StoreError;
    fn try_from(r: UsageRowRaw) -> Result<Self, StoreError> {
        let count = |n: i64| {
            u64::try_from(n).map_err(|_| StoreError::corrupt(format!("negative usage count {n}")))
        };
        Ok(UsageRow {
            key: UsageKey {
                application_id: parse::<ApplicationId>("application id", &r.application_id)?,
                day: r.day,
                api: r.api.parse()?,
                endpoint: r.endpoint,
                status_class: u8::try_from(r.status_class)
                    .map_err(|_| StoreError::corrupt(format!("status class {}", r.status_class)))?,
            },
            counts: UsageCounts {
                calls: count(r.calls)?,
                throttled: count(r.throttled)?,
                latency: Default::default(),
            },
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct UsageLatencyRow {
    pub day: Date,
    pub api: String,
    pub endpoint: String,
    pub status_class: i16,
    pub bucket: i16,
    pub calls: i64,
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::corrupt(format!("cannot encode: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::corrupt(format!("stored {what} does not parse: {e}")))
}

#[derive(sqlx::FromRow)]
pub(crate) struct ConsentRow {
    id: String,
    application_id: String,
    status: String,
    access: String,
    recurring: bool,
    valid_until: Date,
    frequency_per_day: i32,
    psu_id: Option<String>,
    grants: String,
    request_id: String,
    request_hash: String,
    created_at: OffsetDateTime,
    status_changed_at: OffsetDateTime,
}

impl TryFrom<ConsentRow> for Consent {
    type Error = StoreError;
    fn try_from(r: ConsentRow) -> Result<Self, StoreError> {
        Ok(Consent {
            id: parse::<ConsentId>("consent id", &r.id)?,
            application_id: parse::<ApplicationId>("application id", &r.application_id)?,
            status: r.status.parse()?,
            access: from_json("consent access", &r.access)?,
            recurring: r.recurring,
            valid_until: r.valid_until,
            frequency_per_day: u32::try_from(r.frequency_per_day).unwrap_or(1),
            psu_id: parse_opt::<PsuId>("PSU id", r.psu_id)?,
            grants: from_json("consent grants", &r.grants)?,
            request_id: r.request_id,
            request_hash: r.request_hash,
            created_at: r.created_at,
            status_changed_at: r.status_changed_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuthorizationRow {
    id: String,
    application_id: String,
    client_id: String,
    redirect_uri: String,
    scope: String,
    authorization_details: Option<String>,
    state: Option<String>,
    code_challenge: String,
    dpop_jkt: Option<String>,
    request_uri_hash: String,
    request_expires_at: OffsetDateTime,
    session_hash: Option<String>,
    stage: String,
    psu_id: Option<String>,
    code_hash: Option<String>,
    code_expires_at: Option<OffsetDateTime>,
    created_at: OffsetDateTime,
    last_activity_at: OffsetDateTime,
    approach: String,
    nok_redirect_uri: Option<String>,
}

impl TryFrom<AuthorizationRow> for Authorization {
    type Error = StoreError;
    fn try_from(r: AuthorizationRow) -> Result<Self, StoreError> {
        Ok(Authorization {
            id: parse::<AuthorizationId>("authorization id", &r.id)?,
            application_id: parse::<ApplicationId>("application id", &r.application_id)?,
            client_id: r.client_id,
            approach: r.approach.parse()?,
            redirect_uri: r.redirect_uri,
            nok_redirect_uri: r.nok_redirect_uri,
            scope: r.scope,
            authorization_details: r.authorization_details,
            state: r.state,
            code_challenge: r.code_challenge,
            dpop_jkt: r.dpop_jkt,
            request_uri_hash: KeyedHash::from_stored(r.request_uri_hash),
            request_expires_at: r.request_expires_at,
            session_hash: r.session_hash.map(KeyedHash::from_stored),
            stage: r.stage.parse()?,
            psu_id: parse_opt::<PsuId>("PSU id", r.psu_id)?,
            code_hash: r.code_hash.map(KeyedHash::from_stored),
            code_expires_at: r.code_expires_at,
            created_at: r.created_at,
            last_activity_at: r.last_activity_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct PaymentRow {
    id: String,
    application_id: String,
    product: String,
    status: String,
    debtor_iban: String,
    creditor_iban: String,
    creditor_name: String,
    amount: i64,
    currency: String,
    remittance: Option<String>,
    end_to_end_id: Option<String>,
    psu_id: Option<String>,
    transaction_id: Option<String>,
    reason: Option<String>,
    request_id: String,
    request_hash: String,
    created_at: OffsetDateTime,
    status_changed_at: OffsetDateTime,
    service: String,
    requested_execution_date: Option<Date>,
    start_date: Option<Date>,
    end_date: Option<Date>,
    frequency: Option<String>,
    execution_rule: Option<String>,
    day_of_execution: Option<i32>,
    next_execution_date: Option<Date>,
    cancellation_requested_at: Option<OffsetDateTime>,
    format: String,
    document: Option<String>,
    batch_booking: Option<bool>,
}

/// One transfer of a bulk payment.
#[derive(sqlx::FromRow)]
pub(crate) struct BulkEntryRow {
    creditor_iban: String,
    creditor_name: String,
    amount: i64,
    currency: String,
    remittance: Option<String>,
    end_to_end_id: Option<String>,
    status: String,
    transaction_id: Option<String>,
    reason: Option<String>,
}

impl TryFrom<BulkEntryRow> for BulkEntry {
    type Error = StoreError;
    fn try_from(r: BulkEntryRow) -> Result<Self, StoreError> {
        Ok(BulkEntry {
            creditor_iban: parse::<Iban>("IBAN", &r.creditor_iban)?,
            creditor_name: r.creditor_name,
            amount: Money::from_minor(r.amount, parse::<Currency>("currency", &r.currency)?),
            remittance: r.remittance,
            end_to_end_id: r.end_to_end_id,
            status: r.status.parse()?,
            transaction_id: parse_opt::<TransactionId>("transaction id", r.transaction_id)?,
            reason: r.reason,
        })
    }
}

impl PaymentRow {
    fn execution(&self) -> Result<Execution, StoreError> {
        Ok(match (self.start_date, self.frequency.as_deref()) {
            (Some(start_date), Some(frequency)) => Execution::Periodic(StandingOrder {
                start_date,
                end_date: self.end_date,
                frequency: frequency.parse()?,
                execution_rule: self.execution_rule.as_deref().map(str::parse).transpose()?,
                day_of_execution: self
                    .day_of_execution
                    .map(|d| u8::try_from(d).map_err(|_| StoreError::corrupt("day of execution")))
                    .transpose()?,
            }),
            _ => match self.requested_execution_date {
                Some(date) => Execution::OnDate(date),
                None => Execution::Immediate,
            },
        })
    }
}

impl TryFrom<PaymentRow> for Payment {
    type Error = StoreError;
    fn try_from(r: PaymentRow) -> Result<Self, StoreError> {
        let currency = parse::<Currency>("currency", &r.currency)?;
        let execution = r.execution()?;
        let format = match (r.format.as_str(), r.document) {
            ("json", None) => PaymentFormat::Json,
            ("pain.001", Some(document)) => PaymentFormat::Pain001 { document },
            (other, _) => {
                return Err(StoreError::corrupt(format!(
                    "payment format {other:?} without its document, or with one it does not keep"
                )));
            }
        };
        Ok(Payment {
            id: parse::<PaymentId>("payment id", &r.id)?,
            application_id: parse::<ApplicationId>("application id", &r.application_id)?,
            product: r.product.parse()?,
            format,
            status: r.status.parse()?,
            debtor_iban: parse::<Iban>("IBAN", &r.debtor_iban)?,
            creditor_iban: parse::<Iban>("IBAN", &r.creditor_iban)?,
            creditor_name: r.creditor_name,
            amount: Money::from_minor(r.amount, currency),
            remittance: r.remittance,
            end_to_end_id: r.end_to_end_id,
            psu_id: parse_opt::<PsuId>("PSU id", r.psu_id)?,
            transaction_id: parse_opt::<TransactionId>("transaction id", r.transaction_id)?,
            reason: r.reason,
            request_id: r.request_id,
            request_hash: r.request_hash,
            created_at: r.created_at,
            status_changed_at: r.status_changed_at,
            service: r.service.parse()?,
            execution,
            next_execution: r.next_execution_date,
            cancellation_requested_at: r.cancellation_requested_at,
            // The transfers are read by the repository after the row.
            bulk: r.batch_booking.map(|batch_booking| Bulk {
                batch_booking,
                entries: Vec::new(),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use fintechapi_domain::consent::{
        AccountGrant, AccountReference, ConsentAccess, GrantedResource, RequestedAccount,
    };

    use super::*;

    #[test]
    fn consents_stored_before_card_accounts_still_parse_and_card_references_round_trip() {
        let old: ConsentAccess = from_json(
            "consent access",
            r#"{"Dedicated":[{"iban":"DE02120300000000202051","balances":true,"transactions":false}]}"#,
        )
        .unwrap();
        let ConsentAccess::Dedicated(list) = &old else {
            panic!("{old:?}")
        };
        assert!(
            matches!(&list[0].reference, AccountReference::Iban(i) if i.as_str() == "DE02120300000000202051")
        );
        let grants: Vec<AccountGrant> = from_json(
            "consent grants",
            r#"[{"account":"00000000-0000-4000-8000-000000000001","balances":true,"transactions":true}]"#,
        )
        .unwrap();
        assert_eq!(grants[0].resource, GrantedResource::Account);
        assert!(
            !to_json(&grants).unwrap().contains("resource"),
            "payment grants are stored as before"
        );

        let card = ConsentAccess::Dedicated(vec![RequestedAccount {
            reference: AccountReference::MaskedPan("525412******3241".parse().unwrap()),
            balances: false,
            transactions: true,
        }]);
        let text = to_json(&card).unwrap();
        assert!(text.contains(r#""maskedPan":"525412******3241""#), "{text}");
        assert_eq!(
            from_json::<ConsentAccess>("consent access", &text).unwrap(),
            card
        );
    }
}
