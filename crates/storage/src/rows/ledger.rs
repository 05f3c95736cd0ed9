//! Ledger rows: accounts, journal entries, the audit aggregates.

use super::{parse, parse_opt};
use fintechapi_domain::holders::AccountHolder;
use fintechapi_domain::iban::Iban;
use fintechapi_domain::ids::{AccountId, PsuId, TransactionId};
use fintechapi_domain::ledger::{
    Account, AccountBalances, AccountEntry, EntryStatus, Party, TransferReceipt,
};
use fintechapi_domain::{Currency, Money, StoreError};
use time::{Date, OffsetDateTime};

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

/// What the `accounts` row at hand booked since `$2`, as `booked_since`.
macro_rules! booked_since {
    () => {
        "(SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM postings \
         WHERE account_id = accounts.id AND status = 'booked' AND booking_date >= $2) \
         AS booked_since"
    };
}

#[derive(sqlx::FromRow)]
pub(crate) struct AccountHolderRow {
    psu_id: PsuId,
    mandate: String,
}

impl AccountHolderRow {
    /// The row as rusqlite reads it on the request's thread (`hot.rs`):
    /// `psu_id, mandate`.
    pub(crate) fn from_rusqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            psu_id: crate::hot::parsed(row, 0, |text| {
                text.parse::<PsuId>().map_err(|_| invalid("PSU id"))
            })?,
            mandate: row.get(1)?,
        })
    }
}

impl TryFrom<AccountHolderRow> for AccountHolder {
    type Error = StoreError;

    fn try_from(r: AccountHolderRow) -> Result<Self, StoreError> {
        Ok(AccountHolder {
            psu_id: r.psu_id,
            mandate: r.mandate.parse()?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AccountRow {
    id: AccountId,
    kind: String,
    psu_id: Option<PsuId>,
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

/// An account with the sum it booked since a date (its balances' read).
#[derive(sqlx::FromRow)]
pub(crate) struct AccountBookedRow {
    #[sqlx(flatten)]
    account: AccountRow,
    booked_since: i64,
}

impl AccountRow {
    /// The row as rusqlite reads it on the request's thread (`hot.rs`):
    /// by position, in `account_columns!`'s order (a lookup by name scans
    /// the column names for every value).
    pub(crate) fn from_rusqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        use crate::hot::parsed;
        use time::format_description::well_known::Rfc3339;
        Ok(Self {
            id: parsed(row, 0, |text| {
                text.parse::<AccountId>().map_err(|_| invalid("account id"))
            })?,
            kind: row.get(1)?,
            psu_id: match row.get_ref(2)?.as_str_or_null()? {
                None => None,
                Some(_) => Some(parsed(row, 2, |text| {
                    text.parse::<PsuId>().map_err(|_| invalid("PSU id"))
                })?),
            },
            iban: row.get(3)?,
            bic: row.get(4)?,
            currency: row.get(5)?,
            name: row.get(6)?,
            owner_name: row.get(7)?,
            product: row.get(8)?,
            cash_account_type: row.get(9)?,
            status: row.get(10)?,
            overdraft_limit: row.get(11)?,
            booked_balance: row.get(12)?,
            pending_debits: row.get(13)?,
            pending_credits: row.get(14)?,
            // sqlx writes RFC 3339; anything else is left to its decoder.
            created_at: parsed(row, 15, |text| OffsetDateTime::parse(text, &Rfc3339))?,
        })
    }
}

/// Position of `booked_since`, after `account_columns!`.
const BOOKED_SINCE: usize = 16;

impl AccountBookedRow {
    /// [`AccountRow::from_rusqlite`] and the sum.
    pub(crate) fn from_rusqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            account: AccountRow::from_rusqlite(row)?,
            booked_since: row.get(BOOKED_SINCE)?,
        })
    }
}

fn invalid(what: &'static str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what)
}

impl TryFrom<AccountBookedRow> for (Account, i64) {
    type Error = StoreError;

    fn try_from(r: AccountBookedRow) -> Result<Self, StoreError> {
        Ok((Account::try_from(r.account)?, r.booked_since))
    }
}

impl TryFrom<AccountRow> for Account {
    type Error = StoreError;

    fn try_from(r: AccountRow) -> Result<Self, StoreError> {
        Ok(Account {
            id: r.id,
            kind: r.kind.parse()?,
            psu_id: r.psu_id,
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
    pub id: TransactionId,
    pub debit_account_id: AccountId,
    pub credit_account_id: AccountId,
    pub amount: i64,
    pub currency: String,
    pub status: String,
    pub booking_date: Date,
    pub value_date: Date,
}

impl PostedRow {
    pub(crate) fn receipt(&self) -> Result<TransferReceipt, StoreError> {
        Ok(TransferReceipt {
            transaction_id: self.id,
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
    transaction_id: TransactionId,
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

impl EntryRow {
    /// The row as rusqlite reads it on the request's thread (`hot.rs`), by
    /// position in `entry_columns!`'s order.
    pub(crate) fn from_rusqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        use crate::hot::{parsed, parsed_date};
        Ok(Self {
            entry_reference: row.get(0)?,
            transaction_id: parsed(row, 1, |text| {
                text.parse::<TransactionId>()
                    .map_err(|_| invalid("transaction id"))
            })?,
            status: row.get(2)?,
            amount: row.get(3)?,
            currency: row.get(4)?,
            booking_date: parsed_date(row, 5)?,
            value_date: parsed_date(row, 6)?,
            debtor_name: row.get(7)?,
            debtor_iban: row.get(8)?,
            creditor_name: row.get(9)?,
            creditor_iban: row.get(10)?,
            remittance_information: row.get(11)?,
            end_to_end_id: row.get(12)?,
            bank_transaction_code: row.get(13)?,
        })
    }
}

impl TryFrom<EntryRow> for AccountEntry {
    type Error = StoreError;

    fn try_from(r: EntryRow) -> Result<Self, StoreError> {
        Ok(AccountEntry {
            entry_reference: r.entry_reference,
            transaction_id: r.transaction_id,
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

/// Per-account aggregates used by the ledger audit.
#[derive(sqlx::FromRow)]
pub(crate) struct AuditAccountRow {
    pub id: AccountId,
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
