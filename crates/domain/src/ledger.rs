//! Core-banking entities (accounts, journal entries, balances) and the ledger's port.
//!
//! Every movement is a journal entry with exactly two postings: the debited
//! account's balance goes down and the credited account's goes up by the same
//! minor units, so each currency always sums to zero across the ledger.

use std::future::Future;

use time::{Date, OffsetDateTime};

use crate::holders::{AccountHolder, Mandate};
use crate::iban::Iban;
use crate::ids::{AccountId, PsuId, TransactionId};
use crate::money::{Currency, Money};
use crate::store::StoreError;

/// A closed set stored as text; parsing an unknown value is a corrupt row.
macro_rules! text_enum_impl {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            pub fn as_str(&self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::store::StoreError;
            fn from_str(s: &str) -> Result<Self, $crate::store::StoreError> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err($crate::store::StoreError::corrupt(format!(
                        concat!("unknown ", stringify!($name), " {:?}"), other))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum_impl as text_enum;

text_enum!(
    /// Who holds an account: a customer, or the bank itself.
    AccountKind { Customer = "customer", Clearing = "clearing" }
);
text_enum!(
    /// Berlin Group account status.
    AccountStatus { Enabled = "enabled", Blocked = "blocked", Deleted = "deleted" }
);
text_enum!(
    /// Whether an entry is booked or still pending.
    EntryStatus { Booked = "booked", Pending = "pending" }
);

/// Running balances of an account, in minor units, kept with every posting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccountBalances {
    pub booked: i64,
    /// Sum of pending debits (zero or negative).
    pub pending_debits: i64,
    /// Sum of pending credits (zero or positive).
    pub pending_credits: i64,
}

impl AccountBalances {
    /// Booked minus what is already promised to pending debits.
    pub fn available(&self) -> i64 {
        self.booked + self.pending_debits
    }

    /// Booked plus every pending item.
    pub fn expected(&self) -> i64 {
        self.booked + self.pending_debits + self.pending_credits
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub kind: AccountKind,
    pub psu_id: Option<PsuId>,
    /// None only for the bank's internal accounts.
    pub iban: Option<Iban>,
    pub bic: String,
    pub currency: Currency,
    /// The account's name as the PSU sees it ("Main account").
    pub name: String,
    pub owner_name: String,
    pub product: String,
    /// ISO 20022 ExternalCashAccountType1Code (CACC, SVGS, CARD …).
    pub cash_account_type: String,
    pub status: AccountStatus,
    /// How far below zero the available balance may go, in minor units.
    /// None means unlimited and is allowed for internal accounts only.
    pub overdraft_limit: Option<i64>,
    pub balances: AccountBalances,
    pub created_at: OffsetDateTime,
}

impl Account {
    /// The booked balance as money.
    pub fn booked(&self) -> Money {
        Money::from_minor(self.balances.booked, self.currency)
    }

    /// The account's overdraft rule.
    pub fn overdraft(&self) -> Overdraft {
        Overdraft::of(self.overdraft_limit)
    }

    /// What can be spent now: the available balance plus the overdraft;
    /// None when the account has no limit.
    pub fn spendable(&self) -> Option<Money> {
        self.overdraft()
            .spendable(self.balances.available())
            .map(|minor| Money::from_minor(minor, self.currency))
    }

    /// Whether a debit of `amount` now keeps the available balance within
    /// the overdraft limit: the rule [`LedgerRepository::post_transfers`]
    /// enforces.
    pub fn covers(&self, amount: Money) -> bool {
        amount.currency() == self.currency
            && self
                .overdraft()
                .allows(self.balances.available(), amount.minor())
    }
}

/// How far below zero an account's available balance may go, in minor
/// units: the one reading of [`Account::overdraft_limit`]. The store's
/// conditional debit applies the same rule in SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overdraft {
    /// No limit (`None`): internal accounts such as clearing, never refused for funds.
    Unlimited,
    /// Down to minus this much (zero or more; a card's credit limit).
    Limit(i64),
}

impl Overdraft {
    pub fn of(limit: Option<i64>) -> Self {
        limit.map_or(Overdraft::Unlimited, Overdraft::Limit)
    }

    /// `available` plus the overdraft; None when unlimited. Saturates
    /// rather than overflowing.
    pub fn spendable(self, available: i64) -> Option<i64> {
        match self {
            Overdraft::Unlimited => None,
            Overdraft::Limit(limit) => Some(available.saturating_add(limit)),
        }
    }

    /// Whether debiting `debit` from `available` stays within the overdraft.
    pub fn allows(self, available: i64, debit: i64) -> bool {
        match self {
            Overdraft::Unlimited => true,
            Overdraft::Limit(limit) => {
                i128::from(available) - i128::from(debit) >= -i128::from(limit)
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewAccount {
    pub id: AccountId,
    pub kind: AccountKind,
    pub psu_id: Option<PsuId>,
    pub iban: Option<Iban>,
    pub bic: String,
    pub currency: Currency,
    pub name: String,
    pub owner_name: String,
    pub product: String,
    pub cash_account_type: String,
    pub overdraft_limit: Option<i64>,
    pub created_at: OffsetDateTime,
}

/// Name and account of one side of a movement, as shown to the PSU.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Party {
    pub name: Option<String>,
    pub iban: Option<Iban>,
}

/// A validated movement ready to be posted: debit one account, credit another.
#[derive(Debug, Clone)]
pub struct NewTransfer {
    /// Caller-chosen key; posting the same key again returns the first result.
    pub idempotency_key: String,
    pub transaction_id: TransactionId,
    pub debit: AccountId,
    pub credit: AccountId,
    /// Strictly positive.
    pub amount: Money,
    pub status: EntryStatus,
    pub booking_date: Date,
    pub value_date: Date,
    pub debtor: Party,
    pub creditor: Party,
    pub remittance_information: Option<String>,
    pub end_to_end_id: Option<String>,
    /// ISO 20022 bank transaction code, e.g. `PMNT-ICDT-ESCT`.
    pub bank_transaction_code: String,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferReceipt {
    pub transaction_id: TransactionId,
    pub status: EntryStatus,
    pub booking_date: Date,
    pub value_date: Date,
    /// True when the key had been posted before and nothing new was posted.
    pub replayed: bool,
}

/// One posting seen from its account: credits positive, debits negative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountEntry {
    /// Monotonic per ledger; the Berlin Group `entryReference`.
    pub entry_reference: i64,
    pub transaction_id: TransactionId,
    pub status: EntryStatus,
    pub amount: Money,
    pub booking_date: Date,
    pub value_date: Date,
    pub debtor: Party,
    pub creditor: Party,
    pub remittance_information: Option<String>,
    pub end_to_end_id: Option<String>,
    pub bank_transaction_code: String,
}

/// A keyset position in an account's entries, which run newest first by
/// booking date, then entry reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EntryCursor {
    pub booking_date: Date,
    pub entry_reference: i64,
}

/// Which of an account's entries a report covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryFilter {
    pub account: AccountId,
    pub status: Option<EntryStatus>,
    pub date_from: Option<Date>,
    pub date_to: Option<Date>,
    /// Only entries with a greater `entryReference` (Berlin Group `entryReferenceFrom`).
    pub reference_above: Option<i64>,
}

/// Where a page of entries starts. Keyset positions only, so a page costs the
/// same wherever it lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStart {
    /// The newest entries.
    Newest,
    /// The entries right after (older than) this position.
    After(EntryCursor),
    /// The entries right before (newer than) this position.
    Before(EntryCursor),
    /// The oldest entries.
    Oldest,
}

/// Result of checking the ledger's invariants.
#[derive(Debug, Clone, Default)]
pub struct LedgerAudit {
    pub accounts: u64,
    pub transactions: u64,
    /// Per currency: the sum of booked and of pending postings over all accounts; both must be zero.
    pub currency_totals: Vec<CurrencyTotal>,
    /// Accounts whose stored running balances differ from their postings.
    pub balance_mismatches: Vec<BalanceMismatch>,
    /// Journal entries whose postings are not one debit and one equal credit in one currency.
    pub unbalanced_transactions: Vec<TransactionId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrencyTotal {
    pub currency: String,
    pub booked: i64,
    pub pending: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceMismatch {
    pub account: AccountId,
    pub stored: AccountBalances,
    pub from_postings: AccountBalances,
}

impl LedgerAudit {
    pub fn is_consistent(&self) -> bool {
        self.currency_totals
            .iter()
            .all(|t| t.booked == 0 && t.pending == 0)
            && self.balance_mismatches.is_empty()
            && self.unbalanced_transactions.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("unknown account {0}")]
    UnknownAccount(AccountId),
    #[error("account {0} is not enabled")]
    AccountNotEnabled(AccountId),
    #[error("account {account} holds {account_currency}, not {amount_currency}")]
    CurrencyMismatch {
        account: AccountId,
        account_currency: Currency,
        amount_currency: Currency,
    },
    #[error("the amount must be greater than zero")]
    NonPositiveAmount,
    #[error("debtor and creditor are the same account")]
    SameAccount,
    #[error("insufficient funds on account {0}")]
    InsufficientFunds(AccountId),
    #[error("idempotency key {0:?} was already used for a different transfer")]
    IdempotencyConflict(String),
    #[error("IBAN {0} is already assigned to another account")]
    IbanTaken(Iban),
    #[error("an idempotency key of 1 to {0} characters is required")]
    InvalidIdempotencyKey(usize),
    #[error("invalid account: {0}")]
    InvalidAccount(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The ledger's storage port. Implementations guarantee that
/// [`post_transfers`](LedgerRepository::post_transfers) is atomic, idempotent by key
/// and never lets an account's available balance fall below its overdraft limit,
/// however many transfers run at once.
pub trait LedgerRepository: Send + Sync {
    fn create_account(
        &self,
        account: NewAccount,
    ) -> impl Future<Output = Result<Account, LedgerError>> + Send;

    fn account(
        &self,
        id: AccountId,
    ) -> impl Future<Output = Result<Option<Account>, StoreError>> + Send;

    fn account_by_iban(
        &self,
        iban: &Iban,
    ) -> impl Future<Output = Result<Option<Account>, StoreError>> + Send;

    /// The bank's clearing account for transfers to and from other banks.
    fn clearing_account(
        &self,
        currency: Currency,
    ) -> impl Future<Output = Result<Option<Account>, StoreError>> + Send;

    /// The payment accounts the PSU holds (see
    /// [`account_holders`](Self::account_holders)), oldest first; its card accounts are
    /// [`card_accounts_of_psu`](crate::card::CardRepository::card_accounts_of_psu).
    fn accounts_of_psu(
        &self,
        psu: PsuId,
    ) -> impl Future<Output = Result<Vec<Account>, StoreError>> + Send;

    /// The account's holders: its owner (a sole holder from its opening)
    /// and whoever else was given a mandate on it.
    fn account_holders(
        &self,
        account: AccountId,
    ) -> impl Future<Output = Result<Vec<AccountHolder>, StoreError>> + Send;

    /// Gives `psu` the `mandate` on the account, replacing theirs if they
    /// hold one already.
    fn set_account_holder(
        &self,
        account: AccountId,
        psu: PsuId,
        mandate: Mandate,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Posts all transfers in one database transaction, or none of them.
    fn post_transfers(
        &self,
        transfers: Vec<NewTransfer>,
    ) -> impl Future<Output = Result<Vec<TransferReceipt>, LedgerError>> + Send;

    /// Up to `limit` entries matching `filter` next to `start` (the nearest
    /// ones), newest first.
    fn entries(
        &self,
        filter: &EntryFilter,
        start: PageStart,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<AccountEntry>, StoreError>> + Send;

    /// How many entries match `filter`.
    fn count_entries(
        &self,
        filter: &EntryFilter,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Up to `limit` booked entries of the account with an entry reference
    /// above `reference`, oldest first. Entry references of one account become
    /// visible in increasing order (they are drawn while the posting holds the
    /// account's row), so nothing below the greatest one returned can appear later.
    fn booked_entries_after(
        &self,
        account: AccountId,
        reference: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<AccountEntry>, StoreError>> + Send;

    /// The account's side of one journal entry.
    fn entry(
        &self,
        account: AccountId,
        transaction: TransactionId,
    ) -> impl Future<Output = Result<Option<AccountEntry>, StoreError>> + Send;

    /// The account and the sum of its booked postings with a booking date on
    /// or after `date`, in one read (what its balances need).
    fn account_with_booked_since(
        &self,
        account: AccountId,
        date: Date,
    ) -> impl Future<Output = Result<Option<(Account, i64)>, StoreError>> + Send;

    /// Sum of the account's booked postings with a booking date on or after `date`.
    fn booked_since(
        &self,
        account: AccountId,
        date: Date,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// Sum of the account's booked postings with a booking date before
    /// `date`: its booked balance at the start of that day, in one statement.
    fn booked_before(
        &self,
        account: AccountId,
        date: Date,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;

    fn audit(&self) -> impl Future<Output = Result<LedgerAudit, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(overdraft_limit: Option<i64>, booked: i64, pending_debits: i64) -> Account {
        Account {
            id: AccountId::random(),
            kind: AccountKind::Customer,
            psu_id: None,
            iban: None,
            bic: "FTAPDEB1XXX".into(),
            currency: Currency::EUR,
            name: "Main account".into(),
            owner_name: "Test".into(),
            product: "Girokonto".into(),
            cash_account_type: "CACC".into(),
            status: AccountStatus::Enabled,
            overdraft_limit,
            balances: AccountBalances {
                booked,
                pending_debits,
                pending_credits: 0,
            },
            created_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::EUR)
    }

    #[test]
    fn the_overdraft_is_usable_to_exactly_its_limit() {
        // 100.00 booked, 20.00 promised to a pending debit, 50.00 overdraft.
        let a = account(Some(5_000), 10_000, -2_000);
        assert!(a.covers(eur(13_000)));
        assert!(!a.covers(eur(13_001)));
        let no_overdraft = account(Some(0), 10_000, -2_000);
        assert!(no_overdraft.covers(eur(8_000)));
        assert!(!no_overdraft.covers(eur(8_001)));
    }

    #[test]
    fn spendable_is_available_plus_the_limit_and_none_without_one() {
        let a = account(Some(5_000), 10_000, -2_000);
        assert_eq!(a.spendable(), Some(eur(13_000)));
        assert_eq!(account(Some(0), -300, 0).spendable(), Some(eur(-300)));
        assert_eq!(account(None, 10_000, 0).spendable(), None);
        assert_eq!(Overdraft::of(None), Overdraft::Unlimited);
        assert_eq!(Overdraft::of(Some(0)), Overdraft::Limit(0));
        assert!(!Overdraft::Limit(0).allows(0, 1));
        assert!(Overdraft::Limit(0).allows(0, 0));
        // Extremes neither overflow nor wrap into a yes.
        assert!(!Overdraft::Limit(i64::MAX).allows(i64::MIN, i64::MAX));
    }

    #[test]
    fn no_limit_is_unlimited_and_another_currency_is_never_covered() {
        assert!(account(None, 0, 0).covers(eur(i64::MAX)));
        let usd: Currency = "USD".parse().expect("an ISO 4217 code");
        assert!(!account(Some(0), 10_000, 0).covers(Money::from_minor(1, usd)));
    }
}
