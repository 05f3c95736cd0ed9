//! Posting transfers: the journal entry, the balance updates and the two
//! postings of each transfer, in the caller's transaction.
//!
//! Funds are checked by the conditional `UPDATE` that moves them, so a check and
//! its debit are one atomic step on both stores; the table's CHECK constraint is
//! the backstop. Accounts are updated in id order so that opposite transfers
//! cannot deadlock on PostgreSQL.

use fintechapi_domain::StoreError;
use fintechapi_domain::iban::Iban;
use fintechapi_domain::ids::{AccountId, TransactionId};
use fintechapi_domain::ledger::{
    Account, AccountStatus, EntryStatus, LedgerError, NewTransfer, TransferReceipt,
};
use sqlx::Pool;
use time::Date;

use super::ledger::Conn;
use super::{Db, Read, TRANSFER_IN_ONE_STATEMENT, Write, begin_write};
use crate::error::{is_check_violation, is_unique_violation, store};
use crate::rows::{AccountRow, PostedRow};

/// Binds a transfer's journal entry, `$1` to `$17`, in the column order of
/// `ledger_transactions` (and of `ledger_post`'s parameters).
macro_rules! bind_entry {
    ($query:expr, $t:expr) => {{
        let t: &NewTransfer = $t;
        $query
            .bind(t.transaction_id)
            .bind(&t.idempotency_key)
            .bind(t.debit)
            .bind(t.credit)
            .bind(t.amount.minor())
            .bind(t.amount.currency().code())
            .bind(t.status.as_str())
            .bind(t.booking_date)
            .bind(t.value_date)
            .bind(t.debtor.name.as_deref())
            .bind(t.debtor.iban.as_ref().map(Iban::as_str))
            .bind(t.creditor.name.as_deref())
            .bind(t.creditor.iban.as_ref().map(Iban::as_str))
            .bind(t.remittance_information.as_deref())
            .bind(t.end_to_end_id.as_deref())
            .bind(&t.bank_transaction_code)
            .bind(t.created_at)
    }};
}

/// Why one posting attempt did not commit.
pub(crate) enum Attempt {
    /// Another transaction committed the same idempotency key first.
    KeyRace,
    Failed(LedgerError),
}

impl<E: Into<LedgerError>> From<E> for Attempt {
    fn from(e: E) -> Self {
        Attempt::Failed(e.into())
    }
}

/// Runs a posting attempt once more if it lost an idempotency-key race: the
/// key is committed then, so the retry replays it.
pub(crate) async fn retry_key_race<T, F, Fut>(attempt: F) -> Result<T, LedgerError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, Attempt>>,
{
    match attempt().await {
        Ok(done) => Ok(done),
        Err(Attempt::Failed(e)) => Err(e),
        Err(Attempt::KeyRace) => match attempt().await {
            Ok(done) => Ok(done),
            Err(Attempt::Failed(e)) => Err(e),
            Err(Attempt::KeyRace) => Err(StoreError::corrupt("idempotency key raced twice").into()),
        },
    }
}

pub(crate) async fn post_once(
    pool: &Pool<Db>,
    gate: &crate::WriteGate,
    transfers: &[NewTransfer],
) -> Result<Vec<TransferReceipt>, Attempt> {
    if TRANSFER_IN_ONE_STATEMENT && let [transfer] = transfers {
        // The statement is its own transaction.
        let mut conn = pool.acquire().await.map_err(store)?;
        return Ok(vec![post_one(&mut conn, transfer).await?]);
    }
    let mut tx = begin_write(pool, gate).await?;
    let mut receipts = Vec::with_capacity(transfers.len());
    for transfer in transfers {
        receipts.push(post_one(&mut tx, transfer).await?);
    }
    tx.commit().await.map_err(store)?;
    Ok(receipts)
}

pub(crate) async fn post_one(conn: &mut Conn, t: &NewTransfer) -> Result<TransferReceipt, Attempt> {
    if TRANSFER_IN_ONE_STATEMENT {
        return post_in_one_statement(conn, t).await;
    }
    let existing = sqlx::query_as::<_, PostedRow>(
        "SELECT id, debit_account_id, credit_account_id, amount, currency, status, booking_date, \
         value_date FROM ledger_transactions WHERE idempotency_key = $1",
    )
    .bind(&t.idempotency_key)
    .fetch_optional(&mut *conn)
    .await
    .map_err(store)?;
    if let Some(posted) = existing {
        let same = posted.debit_account_id == t.debit
            && posted.credit_account_id == t.credit
            && posted.amount == t.amount.minor()
            && posted.currency == t.amount.currency().code();
        if !same {
            return Err(LedgerError::IdempotencyConflict(t.idempotency_key.clone()).into());
        }
        return Ok(posted.receipt()?);
    }
    if !t.amount.is_positive() {
        return Err(LedgerError::NonPositiveAmount.into());
    }
    if t.debit == t.credit {
        return Err(LedgerError::SameAccount.into());
    }
    // Both sides in one round trip.
    let sides: Vec<Account> = select_rows!(
        AccountRow,
        account_columns,
        "FROM accounts WHERE id IN ($1, $2)"
    )
    .bind(t.debit)
    .bind(t.credit)
    .all_into(&mut *conn)
    .await?;
    for id in [t.debit, t.credit] {
        let account = sides
            .iter()
            .find(|a| a.id == id)
            .ok_or(LedgerError::UnknownAccount(id))?;
        if account.status != AccountStatus::Enabled {
            return Err(LedgerError::AccountNotEnabled(id).into());
        }
        if account.currency != t.amount.currency() {
            return Err(LedgerError::CurrencyMismatch {
                account: id,
                account_currency: account.currency,
                amount_currency: t.amount.currency(),
            }
            .into());
        }
    }

    // The journal entry first: a concurrent first use of the same key waits on
    // the unique index here, before either account is touched.
    let inserted = bind_entry!(
        sqlx::query(
            "INSERT INTO ledger_transactions (id, idempotency_key, debit_account_id, \
             credit_account_id, amount, currency, status, booking_date, value_date, debtor_name, \
             debtor_iban, creditor_name, creditor_iban, remittance_information, end_to_end_id, \
             bank_transaction_code, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        ),
        t
    )
    .execute(&mut *conn)
    .await;
    match inserted {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e, "idempotency_key") => return Err(Attempt::KeyRace),
        Err(e) => return Err(store(e).into()),
    }

    // The postings after the balance updates: an account's entry references are
    // drawn while its row is locked, so they become visible in increasing order
    // (delta reports rely on it).
    let amount = t.amount.minor();
    let mut sides = [(t.debit, -amount), (t.credit, amount)];
    sides.sort_by_key(|(id, _)| *id);
    for (account, delta) in sides {
        move_balance(conn, account, delta, t.status).await?;
    }
    // Debit first, so its posting id (entry reference) is the lower one.
    sqlx::query(
        "INSERT INTO postings (transaction_id, account_id, amount, currency, status, booking_date) \
         VALUES ($1, $2, $3, $5, $6, $7), ($1, $4, $8, $5, $6, $7)",
    )
    .bind(t.transaction_id)
    .bind(t.debit)
    .bind(-amount)
    .bind(t.credit)
    .bind(t.amount.currency().code())
    .bind(t.status.as_str())
    .bind(t.booking_date)
    .bind(amount)
    .run(&mut *conn)
    .await?;
    Ok(TransferReceipt {
        transaction_id: t.transaction_id,
        status: t.status,
        booking_date: t.booking_date,
        value_date: t.value_date,
        replayed: false,
    })
}

/// What `ledger_post` answers (migration `…_ledger_post_function.sql`).
#[derive(sqlx::FromRow)]
struct PostOutcome {
    r_outcome: String,
    r_account: Option<AccountId>,
    r_currency: Option<String>,
    r_transaction: Option<TransactionId>,
    r_status: Option<String>,
    r_booking: Option<Date>,
    r_value: Option<Date>,
}

/// [`post_one`]'s rules, checked and applied by the database's `ledger_post`
/// in one statement.
async fn post_in_one_statement(
    conn: &mut Conn,
    t: &NewTransfer,
) -> Result<TransferReceipt, Attempt> {
    let answered = bind_entry!(
        sqlx::query_as::<_, PostOutcome>(
            "SELECT r_outcome, r_account, r_currency, r_transaction, r_status, r_booking, r_value \
             FROM ledger_post($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
             $16, $17)",
        ),
        t
    )
    .fetch_one(&mut *conn)
    .await;
    let answer = match answered {
        Ok(answer) => answer,
        Err(e) if is_unique_violation(&e, "idempotency_key") => return Err(Attempt::KeyRace),
        Err(e) if is_check_violation(&e) => {
            return Err(LedgerError::InsufficientFunds(t.debit).into());
        }
        Err(e) => return Err(store(e).into()),
    };
    let account = || {
        answer
            .r_account
            .ok_or_else(|| StoreError::corrupt("ledger_post named no account"))
    };
    let receipt = |replayed| -> Result<TransferReceipt, StoreError> {
        match (
            answer.r_transaction,
            &answer.r_status,
            answer.r_booking,
            answer.r_value,
        ) {
            (Some(transaction_id), Some(status), Some(booking_date), Some(value_date)) => {
                Ok(TransferReceipt {
                    transaction_id,
                    status: status.parse()?,
                    booking_date,
                    value_date,
                    replayed,
                })
            }
            _ => Err(StoreError::corrupt("ledger_post answered no receipt")),
        }
    };
    let refused = match answer.r_outcome.as_str() {
        "posted" => return Ok(receipt(false)?),
        "replayed" => return Ok(receipt(true)?),
        "conflict" => LedgerError::IdempotencyConflict(t.idempotency_key.clone()),
        "nonpositive" => LedgerError::NonPositiveAmount,
        "same" => LedgerError::SameAccount,
        "unknown" => LedgerError::UnknownAccount(account()?),
        "disabled" => LedgerError::AccountNotEnabled(account()?),
        "funds" => LedgerError::InsufficientFunds(account()?),
        "currency" => LedgerError::CurrencyMismatch {
            account: account()?,
            account_currency: answer
                .r_currency
                .as_deref()
                .unwrap_or_default()
                .parse()
                .map_err(|_| StoreError::corrupt("ledger_post named no account currency"))?,
            amount_currency: t.amount.currency(),
        },
        other => {
            return Err(StoreError::corrupt(format!("ledger_post answered {other:?}")).into());
        }
    };
    Err(refused.into())
}

macro_rules! balance_update {
    ($column:literal) => {
        concat!(
            "UPDATE accounts SET ",
            $column,
            " = ",
            $column,
            " + $2 WHERE id = $1 AND status = 'enabled' AND (overdraft_limit IS NULL OR $2 >= 0 \
             OR booked_balance + pending_debits + $2 >= -overdraft_limit)"
        )
    };
}

/// Adds `delta` to the account's booked or pending balance. A debit only
/// applies while the available balance stays within the overdraft limit.
async fn move_balance(
    conn: &mut Conn,
    account: AccountId,
    delta: i64,
    status: EntryStatus,
) -> Result<(), LedgerError> {
    let sql = match (status, delta < 0) {
        (EntryStatus::Booked, _) => balance_update!("booked_balance"),
        (EntryStatus::Pending, true) => balance_update!("pending_debits"),
        (EntryStatus::Pending, false) => balance_update!("pending_credits"),
    };
    let result = sqlx::query(sql)
        .bind(account)
        .bind(delta)
        .execute(&mut *conn)
        .await;
    match result {
        Ok(r) if r.rows_affected() == 1 => Ok(()),
        Ok(_) if delta < 0 => Err(LedgerError::InsufficientFunds(account)),
        Ok(_) => Err(LedgerError::AccountNotEnabled(account)),
        Err(e) if is_check_violation(&e) => Err(LedgerError::InsufficientFunds(account)),
        Err(e) => Err(store(e).into()),
    }
}
