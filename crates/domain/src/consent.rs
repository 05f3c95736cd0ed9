//! Berlin Group account-information consents: what a TPP asks for, what the
//! PSU grants on the bank's pages, and the lifecycle between. The XS2A API
//! creates and reads them; the authorization server shows and decides them.

use std::future::Future;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::card::MaskedPan;
use crate::iban::Iban;
use crate::ids::{AccountId, ApplicationId, ConsentId, PsuId};
use crate::ledger::text_enum;
use crate::store::StoreError;

text_enum!(
    /// Berlin Group `consentStatus`.
    ConsentStatus {
        Received = "received",
        Valid = "valid",
        PartiallyAuthorised = "partiallyAuthorised",
        Rejected = "rejected",
        RevokedByPsu = "revokedByPsu",
        Expired = "expired",
        TerminatedByTpp = "terminatedByTpp",
    }
);

// partiallyAuthorised (multilevel SCA): approved by some holders of a joint
// account it covers, awaiting the others'.
impl ConsentStatus {
    /// No transition leaves these.
    pub fn is_final(&self) -> bool {
        !matches!(
            self,
            ConsentStatus::Received | ConsentStatus::PartiallyAuthorised | ConsentStatus::Valid
        )
    }
}

/// What a consent asks for (Berlin Group `access`, validated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsentAccess {
    /// Named accounts, each with the data asked for it.
    Dedicated(Vec<RequestedAccount>),
    /// The PSU chooses accounts on the bank's consent page (empty arrays).
    BankOffered { balances: bool, transactions: bool },
    /// `availableAccounts`: the list of all the PSU's accounts, no details.
    AvailableAccounts { with_balance: bool },
    /// `allPsd2`: every payment account, card accounts included, with
    /// balances and transactions.
    AllPsd2,
    /// PIIS (PSD2 Art. 65): the PSU lets the TPP ask whether this account
    /// covers an amount; nothing else is disclosed.
    FundsConfirmation { iban: Iban },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestedAccount {
    /// Stored flat (`{"iban": …}` or `{"maskedPan": …}`), as consents always were.
    #[serde(flatten)]
    pub reference: AccountReference,
    pub balances: bool,
    pub transactions: bool,
}

/// How a consent names an account (Berlin Group `accountReference`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccountReference {
    /// A payment account.
    #[serde(rename = "iban")]
    Iban(Iban),
    /// A card account; a `pan` in the request is masked before it is stored.
    #[serde(rename = "maskedPan")]
    MaskedPan(MaskedPan),
}

/// Which XS2A resource a granted account is read through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum GrantedResource {
    /// `/v1/accounts`.
    #[default]
    #[serde(rename = "account")]
    Account,
    /// `/v1/card-accounts`.
    #[serde(rename = "cardAccount")]
    CardAccount,
}

impl GrantedResource {
    fn is_account(&self) -> bool {
        *self == GrantedResource::Account
    }
}

/// An account the PSU granted, and for what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountGrant {
    pub account: AccountId,
    pub balances: bool,
    pub transactions: bool,
    /// Absent in grants stored before card accounts existed: payment accounts.
    #[serde(default, skip_serializing_if = "GrantedResource::is_account")]
    pub resource: GrantedResource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub id: ConsentId,
    pub application_id: ApplicationId,
    pub status: ConsentStatus,
    pub access: ConsentAccess,
    pub recurring: bool,
    pub valid_until: Date,
    pub frequency_per_day: u32,
    /// Set when the PSU decided.
    pub psu_id: Option<PsuId>,
    pub grants: Vec<AccountGrant>,
    pub request_id: String,
    /// Keyed hash of the creating request's body (idempotency).
    pub request_hash: String,
    pub created_at: OffsetDateTime,
    pub status_changed_at: OffsetDateTime,
}

/// What storing a new consent found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentCreation {
    Created,
    /// The application used this X-Request-ID within the
    /// [`IDEMPOTENCY_WINDOW`](crate::idempotency::IDEMPOTENCY_WINDOW) before
    /// the new consent's `created_at`: the consent it created then.
    Existing(Box<Consent>),
}

impl Consent {
    /// The account of a funds-confirmation (PIIS) consent; None for AIS consents.
    pub fn funds_account(&self) -> Option<&Iban> {
        match &self.access {
            ConsentAccess::FundsConfirmation { iban } => Some(iban),
            _ => None,
        }
    }

    /// The status as of `today`: a valid consent past `validUntil` is expired.
    pub fn status_on(&self, today: Date) -> ConsentStatus {
        if self.status == ConsentStatus::Valid && today > self.valid_until {
            ConsentStatus::Expired
        } else {
            self.status
        }
    }

    /// The grant of a payment account (read under `/v1/accounts`).
    pub fn grant_for(&self, account: AccountId) -> Option<&AccountGrant> {
        self.grants
            .iter()
            .find(|g| g.account == account && g.resource == GrantedResource::Account)
    }

    /// The grant of a card account (read under `/v1/card-accounts`).
    pub fn card_grant_for(&self, account: AccountId) -> Option<&AccountGrant> {
        self.grants
            .iter()
            .find(|g| g.account == account && g.resource == GrantedResource::CardAccount)
    }
}

pub trait ConsentRepository: Send + Sync {
    /// Stores the consent unless its X-Request-ID is still bound to an earlier
    /// one (see [`ConsentCreation::Existing`]); two concurrent calls with one
    /// X-Request-ID store one consent.
    fn create_consent(
        &self,
        consent: Consent,
    ) -> impl Future<Output = Result<ConsentCreation, StoreError>> + Send;

    fn consent(
        &self,
        id: ConsentId,
    ) -> impl Future<Output = Result<Option<Consent>, StoreError>> + Send;

    /// The consents a PSU granted or approved as a joint holder, newest first.
    fn consents_of_psu(
        &self,
        psu: PsuId,
    ) -> impl Future<Output = Result<Vec<Consent>, StoreError>> + Send;

    /// `received` → `to` (`valid`, or `partiallyAuthorised` when joint
    /// holders have yet to approve) with the PSU and the accounts granted;
    /// false if the consent was no longer `received`.
    fn authorise_consent(
        &self,
        id: ConsentId,
        psu: PsuId,
        grants: Vec<AccountGrant>,
        to: ConsentStatus,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records `psu`'s approval of the consent (once per PSU) and returns
    /// every approval recorded, read after this one is committed.
    fn approve_consent(
        &self,
        id: ConsentId,
        psu: PsuId,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<PsuId>, StoreError>> + Send;

    /// Counts one access without the PSU on `day` if fewer than `limit` were
    /// made; false (and nothing counted) once the limit is reached.
    fn count_unattended_access(
        &self,
        id: ConsentId,
        day: Date,
        limit: u32,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Moves the consent to `to` if its status is one of `from`; false otherwise.
    fn set_consent_status(
        &self,
        id: ConsentId,
        from: &[ConsentStatus],
        to: ConsentStatus,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Where the delta reports (Berlin Group `deltaList`) of a consent stand on
/// each of its accounts.
pub trait DeltaReportRepository: Send + Sync {
    /// The greatest entry reference a delta report returned to `consent` for
    /// `account`; None before the first.
    fn delta_mark(
        &self,
        consent: ConsentId,
        account: AccountId,
    ) -> impl Future<Output = Result<Option<i64>, StoreError>> + Send;

    /// Raises the mark to `reference`; a lower one leaves it unchanged, so
    /// concurrent reports can repeat an entry but never skip one.
    fn advance_delta_mark(
        &self,
        consent: ConsentId,
        account: AccountId,
        reference: i64,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_card_grant_is_not_a_payment_account_grant() {
        let account = AccountId::random();
        let grant = AccountGrant {
            account,
            balances: true,
            transactions: true,
            resource: GrantedResource::CardAccount,
        };
        let consent = Consent {
            id: ConsentId::random(),
            application_id: ApplicationId::random(),
            status: ConsentStatus::Valid,
            access: ConsentAccess::AllPsd2,
            recurring: true,
            valid_until: time::macros::date!(2099 - 12 - 31),
            frequency_per_day: 4,
            psu_id: None,
            grants: vec![grant],
            request_id: String::new(),
            request_hash: String::new(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            status_changed_at: OffsetDateTime::UNIX_EPOCH,
        };
        assert_eq!(consent.grant_for(account), None);
        assert_eq!(consent.card_grant_for(account), Some(&grant));
    }
}
