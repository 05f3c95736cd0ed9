//! Ledger queries: accounts, entries, the audit. Compiled once per backend;
//! `super::Db` is the backend. Transfers are posted by `posting.rs`.

use fintechapi_domain::date::format_iso_date;
use fintechapi_domain::holders::{AccountHolder, Mandate};
use fintechapi_domain::iban::Iban;
use fintechapi_domain::ids::{AccountId, PsuId, TransactionId};
use fintechapi_domain::ledger::LedgerRepository;
use fintechapi_domain::ledger::{
    Account, AccountBalances, AccountEntry, BalanceMismatch, CurrencyTotal, EntryCursor,
    EntryFilter, LedgerAudit, LedgerError, NewAccount, NewTransfer, PageStart, TransferReceipt,
};
use fintechapi_domain::{Currency, StoreError};
use rusqlite::OptionalExtension;
use sqlx::Database;
use sqlx::query::QueryAs;
use time::Date;
use time::macros::date;

use super::exec::Args;
use super::posting::{post_once, retry_key_race};
use super::{Db, Read, begin_write};
use crate::error::{is_check_violation, is_unique_violation, store};
use crate::rows::{
    AccountBookedRow, AccountHolderRow, AccountRow, AuditAccountRow, CurrencyTotalRow, EntryRow,
};

pub(crate) type Conn = <Db as Database>::Connection;

/// An account and what it booked since `$2` (its balances' read), in one
/// statement for the pool and for SQLite's reads on the request's thread.
const ACCOUNT_WITH_BOOKED_SINCE: &str = concat!(
    "SELECT ",
    account_columns!(),
    ", ",
    booked_since!(),
    " FROM accounts WHERE id = $1"
);

const ACCOUNT: &str = concat!(
    "SELECT ",
    account_columns!(),
    " FROM accounts WHERE id = $1"
);
pub(crate) const ACCOUNT_BY_IBAN: &str = concat!(
    "SELECT ",
    account_columns!(),
    " FROM accounts WHERE iban = $1"
);
const HOLDERS: &str =
    "SELECT psu_id, mandate FROM account_holders WHERE account_id = $1 ORDER BY psu_id";

/// The account [`ACCOUNT`] or [`ACCOUNT_BY_IBAN`] selects by `key`, on a
/// connection of SQLite's `HotReads`.
pub(crate) fn account_inline(
    connection: &rusqlite::Connection,
    sql: &str,
    key: &str,
) -> rusqlite::Result<Option<AccountRow>> {
    connection
        .prepare_cached(sql)?
        .query_row(
            rusqlite::named_params! { "$1": key },
            AccountRow::from_rusqlite,
        )
        .optional()
}

/// [`HOLDERS`] on a connection of SQLite's `HotReads`.
pub(crate) fn holders_inline(
    connection: &rusqlite::Connection,
    account: AccountId,
) -> rusqlite::Result<Vec<AccountHolderRow>> {
    connection
        .prepare_cached(HOLDERS)?
        .query_map(
            rusqlite::named_params! { "$1": account.to_string() },
            AccountHolderRow::from_rusqlite,
        )?
        .collect()
}

/// `entries_in_range!`'s `sql` on a connection of SQLite's `HotReads`,
/// bound as [`bind_range`] binds it, `limit` rows at most.
pub(crate) fn entries_inline(
    connection: &rusqlite::Connection,
    sql: &str,
    filter: &EntryFilter,
    (low, high): (EntryCursor, EntryCursor),
    limit: u32,
) -> rusqlite::Result<Vec<EntryRow>> {
    let params = rusqlite::named_params! {
        "$1": filter.account.to_string(),
        "$2": filter.status.map(|s| s.as_str()),
        "$3": format_iso_date(low.booking_date),
        "$4": low.entry_reference,
        "$5": format_iso_date(high.booking_date),
        "$6": high.entry_reference,
        "$7": filter.reference_above.unwrap_or(0),
        "$8": i64::from(limit),
    };
    connection
        .prepare_cached(sql)?
        .query_map(params, EntryRow::from_rusqlite)?
        .collect()
}

/// [`ACCOUNT_WITH_BOOKED_SINCE`] on a connection of SQLite's `HotReads`.
pub(crate) fn account_with_booked_since_inline(
    connection: &rusqlite::Connection,
    account: AccountId,
    date: Date,
) -> rusqlite::Result<Option<AccountBookedRow>> {
    let params = rusqlite::named_params! {
        "$1": account.to_string(),
        "$2": format_iso_date(date),
    };
    connection
        .prepare_cached(ACCOUNT_WITH_BOOKED_SINCE)?
        .query_row(params, AccountBookedRow::from_rusqlite)
        .optional()
}

/// The postings of an account between two keyset positions, by status and
/// above an entry reference (`$1`–`$7`, bound by [`bind_range`]): one filter
/// for a page of entries and for their count.
macro_rules! in_range {
    () => {
        "p.account_id = $1 AND ($2 IS NULL OR p.status = $2) \
         AND (p.booking_date, p.id) > ($3, $4) AND (p.booking_date, p.id) < ($5, $6) \
         AND p.id > $7"
    };
}

macro_rules! entries_in_range {
    ($order:literal) => {
        concat!(
            "SELECT ",
            entry_columns!(),
            " FROM postings p JOIN ledger_transactions t ON t.id = p.transaction_id WHERE ",
            in_range!(),
            " ORDER BY ",
            $order,
            " LIMIT $8"
        )
    };
}

/// A page of entries between two keyset positions, newest or oldest first.
pub(crate) const ENTRIES_NEWEST_FIRST: &str = entries_in_range!("p.booking_date DESC, p.id DESC");
const ENTRIES_OLDEST_FIRST: &str = entries_in_range!("p.booking_date, p.id");

impl LedgerRepository for super::Store {
    async fn entry(
        &self,
        account: AccountId,
        transaction: TransactionId,
    ) -> Result<Option<AccountEntry>, StoreError> {
        let pool = &self.0;
        select_rows!(
            EntryRow,
            entry_columns,
            "FROM postings p JOIN ledger_transactions t ON t.id = p.transaction_id \
         WHERE p.account_id = $1 AND p.transaction_id = $2"
        )
        .bind(account)
        .bind(transaction)
        .optional_into(pool)
        .await
    }

    async fn create_account(&self, account: NewAccount) -> Result<Account, LedgerError> {
        let pool = &self.0;
        let a = account;
        let mut tx = begin_write(pool, &self.1).await?;
        insert_account(&mut tx, &a).await?;
        let opened = load_account(&mut tx, a.id).await?;
        tx.commit().await.map_err(store)?;
        opened.ok_or_else(|| StoreError::corrupt("account vanished after insert").into())
    }

    async fn account_holders(&self, account: AccountId) -> Result<Vec<AccountHolder>, StoreError> {
        let inline = self.inline("account_holders", |c| holders_inline(c, account));
        if let Some(rows) = inline {
            return rows.into_iter().map(AccountHolder::try_from).collect();
        }
        let mut conn = self.hot_connection("account_holders").await?;
        let read = sqlx::query_as::<_, AccountHolderRow>(HOLDERS)
            .bind(account)
            .all_into(conn.get())
            .await;
        conn.release(read)
    }

    async fn set_account_holder(
        &self,
        account: AccountId,
        psu: PsuId,
        mandate: Mandate,
    ) -> Result<(), StoreError> {
        let pool = &self.0;
        sqlx::query(
            "INSERT INTO account_holders (account_id, psu_id, mandate) VALUES ($1, $2, $3) \
         ON CONFLICT (account_id, psu_id) DO UPDATE SET mandate = excluded.mandate",
        )
        .bind(account)
        .bind(psu)
        .bind(mandate.as_str())
        .execute(pool)
        .await
        .map_err(store)?;
        Ok(())
    }

    async fn account(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        let inline = self.inline("account", |c| account_inline(c, ACCOUNT, &id.to_string()));
        if let Some(found) = inline {
            return found.map(TryInto::try_into).transpose();
        }
        let mut conn = self.hot_connection("account").await?;
        let read = sqlx::query_as::<_, AccountRow>(ACCOUNT)
            .bind(id)
            .optional_into(conn.get())
            .await;
        conn.release(read)
    }

    async fn account_by_iban(&self, iban: &Iban) -> Result<Option<Account>, StoreError> {
        let inline = self.inline("account_by_iban", |c| {
            account_inline(c, ACCOUNT_BY_IBAN, iban.as_str())
        });
        if let Some(found) = inline {
            return found.map(TryInto::try_into).transpose();
        }
        let mut conn = self.hot_connection("account_by_iban").await?;
        let read = sqlx::query_as::<_, AccountRow>(ACCOUNT_BY_IBAN)
            .bind(iban.as_str())
            .optional_into(conn.get())
            .await;
        conn.release(read)
    }

    async fn clearing_account(&self, currency: Currency) -> Result<Option<Account>, StoreError> {
        let pool = &self.0;
        select_rows!(
            AccountRow,
            account_columns,
            "FROM accounts WHERE kind = 'clearing' AND currency = $1"
        )
        .bind(currency.code())
        .optional_into(pool)
        .await
    }

    async fn accounts_of_psu(&self, psu: PsuId) -> Result<Vec<Account>, StoreError> {
        let pool = &self.0;
        select_rows!(
            AccountRow,
            account_columns,
            "FROM accounts WHERE id IN (SELECT account_id FROM account_holders WHERE psu_id = $1) \
         AND NOT EXISTS (SELECT 1 FROM card_accounts c WHERE c.account_id = accounts.id) \
         ORDER BY created_at, id"
        )
        .bind(psu)
        .all_into(pool)
        .await
    }

    async fn post_transfers(
        &self,
        transfers: Vec<NewTransfer>,
    ) -> Result<Vec<TransferReceipt>, LedgerError> {
        let pool = &self.0;
        let transfers = &transfers;
        retry_key_race(|| post_once(pool, &self.1, transfers)).await
    }

    async fn entries(
        &self,
        filter: &EntryFilter,
        start: PageStart,
        limit: u32,
    ) -> Result<Vec<AccountEntry>, StoreError> {
        let (mut low, mut high) = bounds(filter);
        let newest_first = match start {
            PageStart::Newest => true,
            PageStart::After(c) => {
                high = high.min(c);
                true
            }
            PageStart::Before(c) => {
                low = low.max(c);
                false
            }
            PageStart::Oldest => false,
        };
        let sql = if newest_first {
            ENTRIES_NEWEST_FIRST
        } else {
            ENTRIES_OLDEST_FIRST
        };
        // A page of a transaction report: on SQLite, on this thread (one
        // hop per row to sqlx-sqlite's worker otherwise).
        let inline = self.inline("entries", |c| {
            entries_inline(c, sql, filter, (low, high), limit)
        });
        let mut entries: Vec<AccountEntry> = match inline {
            Some(rows) => rows
                .into_iter()
                .map(AccountEntry::try_from)
                .collect::<Result<_, _>>()?,
            None => {
                let mut conn = self.hot_connection("entries").await?;
                let read = bind_range(sqlx::query_as::<_, EntryRow>(sql), filter, low, high)
                    .bind(i64::from(limit))
                    .all_into(conn.get())
                    .await;
                conn.release(read)?
            }
        };
        if !newest_first {
            entries.reverse();
        }
        Ok(entries)
    }

    async fn count_entries(&self, filter: &EntryFilter) -> Result<u64, StoreError> {
        let pool = &self.0;
        let (low, high) = bounds(filter);
        let (count,): (i64,) = bind_range(
            sqlx::query_as(concat!(
                "SELECT COUNT(*) FROM postings p WHERE ",
                in_range!()
            )),
            filter,
            low,
            high,
        )
        .fetch_one(pool)
        .await
        .map_err(store)?;
        u64::try_from(count).map_err(|_| StoreError::corrupt("negative count"))
    }

    async fn booked_entries_after(
        &self,
        account: AccountId,
        reference: i64,
        limit: u32,
    ) -> Result<Vec<AccountEntry>, StoreError> {
        let pool = &self.0;
        // Served by `postings_by_account_reference`.
        select_rows!(
            EntryRow,
            entry_columns,
            "FROM postings p JOIN ledger_transactions t ON t.id = p.transaction_id \
         WHERE p.account_id = $1 AND p.status = 'booked' AND p.id > $2 ORDER BY p.id LIMIT $3"
        )
        .bind(account)
        .bind(reference)
        .bind(i64::from(limit))
        .all_into(pool)
        .await
    }

    async fn account_with_booked_since(
        &self,
        account: AccountId,
        date: Date,
    ) -> Result<Option<(Account, i64)>, StoreError> {
        // What every `/balances` call reads: on SQLite, on this thread.
        let inline = self.inline("account_with_booked_since", |c| {
            account_with_booked_since_inline(c, account, date)
        });
        if let Some(found) = inline {
            return found.map(TryInto::try_into).transpose();
        }
        // On PostgreSQL, with the other reads waiting.
        if let Some(found) = self.batched_account_with_booked_since(account, date).await {
            return found;
        }
        let mut conn = self.hot_connection("account_with_booked_since").await?;
        let read = sqlx::query_as::<_, AccountBookedRow>(ACCOUNT_WITH_BOOKED_SINCE)
            .bind(account)
            .bind(date)
            .optional_into(conn.get())
            .await;
        conn.release(read)
    }

    async fn booked_since(&self, account: AccountId, date: Date) -> Result<i64, StoreError> {
        let pool = &self.0;
        sqlx::query_scalar::<_, i64>(
            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM postings \
         WHERE account_id = $1 AND status = 'booked' AND booking_date >= $2",
        )
        .bind(account)
        .bind(date)
        .fetch_one(pool)
        .await
        .map_err(store)
    }

    async fn booked_before(&self, account: AccountId, date: Date) -> Result<i64, StoreError> {
        let pool = &self.0;
        sqlx::query_scalar::<_, i64>(
            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM postings \
         WHERE account_id = $1 AND status = 'booked' AND booking_date < $2",
        )
        .bind(account)
        .bind(date)
        .fetch_one(pool)
        .await
        .map_err(store)
    }

    async fn audit(&self) -> Result<LedgerAudit, StoreError> {
        let pool = &self.0;
        // One snapshot for every check.
        let mut tx = super::exec::begin(pool, "BEGIN").await?;
        let accounts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
            .fetch_one(&mut *tx)
            .await
            .map_err(store)?;
        let transactions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ledger_transactions")
            .fetch_one(&mut *tx)
            .await
            .map_err(store)?;
        let currency_totals = sqlx::query_as::<_, CurrencyTotalRow>(
            "SELECT currency, CAST(COALESCE(SUM(booked_balance), 0) AS BIGINT) AS booked, \
         CAST(COALESCE(SUM(pending_debits + pending_credits), 0) AS BIGINT) AS pending \
         FROM accounts GROUP BY currency ORDER BY currency",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(store)?
        .into_iter()
        .map(|r| CurrencyTotal {
            currency: r.currency,
            booked: r.booked,
            pending: r.pending,
        })
        .collect();
        let balance_mismatches = sqlx::query_as::<_, AuditAccountRow>(
            "SELECT * FROM (SELECT a.id, a.booked_balance, a.pending_debits, a.pending_credits, \
         CAST(COALESCE(SUM(CASE WHEN p.status = 'booked' THEN p.amount ELSE 0 END), 0) \
         AS BIGINT) AS posted_booked, \
         CAST(COALESCE(SUM(CASE WHEN p.status = 'pending' AND p.amount < 0 THEN p.amount \
         ELSE 0 END), 0) AS BIGINT) AS posted_pending_debits, \
         CAST(COALESCE(SUM(CASE WHEN p.status = 'pending' AND p.amount > 0 THEN p.amount \
         ELSE 0 END), 0) AS BIGINT) AS posted_pending_credits \
         FROM accounts a LEFT JOIN postings p ON p.account_id = a.id \
         GROUP BY a.id, a.booked_balance, a.pending_debits, a.pending_credits) s \
         WHERE s.booked_balance <> s.posted_booked OR s.pending_debits <> s.posted_pending_debits \
         OR s.pending_credits <> s.posted_pending_credits ORDER BY s.id",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(store)?
        .into_iter()
        .map(|r| BalanceMismatch {
            account: r.id,
            stored: AccountBalances {
                booked: r.booked_balance,
                pending_debits: r.pending_debits,
                pending_credits: r.pending_credits,
            },
            from_postings: AccountBalances {
                booked: r.posted_booked,
                pending_debits: r.posted_pending_debits,
                pending_credits: r.posted_pending_credits,
            },
        })
        .collect();
        let unbalanced_transactions = sqlx::query_scalar::<_, TransactionId>(
            "SELECT t.id FROM ledger_transactions t \
         LEFT JOIN postings p ON p.transaction_id = t.id \
         LEFT JOIN accounts a ON a.id = p.account_id \
         GROUP BY t.id, t.amount, t.currency \
         HAVING COUNT(p.id) <> 2 OR MIN(p.amount) <> -t.amount OR MAX(p.amount) <> t.amount \
         OR SUM(CASE WHEN p.currency = t.currency AND a.currency = t.currency THEN 0 ELSE 1 END) \
         <> 0 \
         ORDER BY t.id",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(store)?;
        tx.commit().await.map_err(store)?;
        Ok(LedgerAudit {
            accounts: u64::try_from(accounts).unwrap_or_default(),
            transactions: u64::try_from(transactions).unwrap_or_default(),
            currency_totals,
            balance_mismatches,
            unbalanced_transactions,
        })
    }
}

/// Inserts the account row and its owner as sole holder, with the store's
/// refusals as ledger errors.
pub(crate) async fn insert_account(conn: &mut Conn, a: &NewAccount) -> Result<(), LedgerError> {
    let inserted = sqlx::query(
        "INSERT INTO accounts (id, kind, psu_id, iban, bic, currency, name, owner_name, product, \
         cash_account_type, status, overdraft_limit, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'enabled', $11, $12)",
    )
    .bind(a.id)
    .bind(a.kind.as_str())
    .bind(a.psu_id)
    .bind(a.iban.as_ref().map(|i| i.as_str().to_owned()))
    .bind(&a.bic)
    .bind(a.currency.code())
    .bind(&a.name)
    .bind(&a.owner_name)
    .bind(&a.product)
    .bind(&a.cash_account_type)
    .bind(a.overdraft_limit)
    .bind(a.created_at)
    .execute(&mut *conn)
    .await;
    match (inserted, &a.iban) {
        (Ok(_), _) => {}
        (Err(e), Some(iban)) if is_unique_violation(&e, "iban") => {
            return Err(LedgerError::IbanTaken(iban.clone()));
        }
        (Err(e), _) if is_unique_violation(&e, "currency") => {
            return Err(LedgerError::InvalidAccount(
                "a clearing account for this currency already exists",
            ));
        }
        (Err(e), _) if is_check_violation(&e) => {
            return Err(LedgerError::InvalidAccount(
                "customer accounts need an overdraft limit of zero or more",
            ));
        }
        (Err(e), _) => return Err(store(e).into()),
    }
    // The owner holds the account alone until given joint holders.
    if let Some(psu) = a.psu_id {
        sqlx::query(
            "INSERT INTO account_holders (account_id, psu_id, mandate) VALUES ($1, $2, 'sole')",
        )
        .bind(a.id)
        .bind(psu)
        .execute(&mut *conn)
        .await
        .map_err(store)?;
    }
    Ok(())
}

async fn load_account(conn: &mut Conn, id: AccountId) -> Result<Option<Account>, StoreError> {
    sqlx::query_as::<_, AccountRow>(ACCOUNT)
        .bind(id)
        .optional_into(&mut *conn)
        .await
}

/// Bounds of a filter as keyset positions: every matching entry lies strictly
/// between them, so one row-value range on `postings_by_account_date` serves
/// every page (no OFFSET, no scan from the newest entry).
fn bounds(filter: &EntryFilter) -> (EntryCursor, EntryCursor) {
    let lowest = EntryCursor {
        booking_date: filter.date_from.unwrap_or(date!(0001 - 01 - 01)),
        entry_reference: 0,
    };
    let highest = EntryCursor {
        booking_date: filter.date_to.unwrap_or(date!(9999 - 12 - 31)),
        entry_reference: i64::MAX,
    };
    (lowest, highest)
}

/// Binds `in_range!`'s `$1`–`$7`: the filter's account, status and reference,
/// and the keyset positions its entries lie strictly between.
fn bind_range<'q, R>(
    query: QueryAs<'q, Db, R, Args>,
    filter: &EntryFilter,
    low: EntryCursor,
    high: EntryCursor,
) -> QueryAs<'q, Db, R, Args> {
    query
        .bind(filter.account)
        .bind(filter.status.map(|s| s.as_str()))
        .bind(low.booking_date)
        .bind(low.entry_reference)
        .bind(high.booking_date)
        .bind(high.entry_reference)
        .bind(filter.reference_above.unwrap_or(0))
}
