//! PostgreSQL's `/balances` reads, batched.
//!
//! Every `/balances` call reads its account and what the account booked
//! today: one statement, but one round trip and one executor start in a
//! backend per request, which under load costs PostgreSQL more than the
//! request costs us. Reads that arrive while others are under way wait and
//! go together as one `id = ANY($1)` statement, each account read once
//! however many callers asked for it; like the token writer's group commit,
//! a batch is whatever queued during the previous one (no timer), so a lone
//! read goes at once.
//!
//! Freshness is unchanged: a batch's statement starts after every read in it
//! was asked for, so each sees every commit made before its request came.
//! One batch runs at a time, in a task of its own (so a caller dropped
//! mid-read drops nobody else's answer): measured under 32 concurrent reads,
//! one runner served 1.7 times as many as four, which split the same reads
//! into smaller batches and kept four backends busy.
//!
//! The runner's connection plans the statement once: left to choose,
//! PostgreSQL planned it afresh on every execution (a plan for the array at
//! hand looks cheaper than one for any array), and planning was 43 % of its
//! CPU under `/balances` load. Every plan it could choose reads the accounts
//! by their key and each one's bookings by the postings' index.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use fintechapi_domain::StoreError;
use fintechapi_domain::ids::AccountId;
use fintechapi_domain::ledger::Account;
use sqlx::postgres::PgConnectOptions;
use time::Date;
use tokio::sync::oneshot;

use crate::pg_hot::PgHot;
use crate::rows::AccountBookedRow;
use crate::store::PgStore;

/// The accounts of a batch and what each booked since `$2`.
const ACCOUNTS_WITH_BOOKED_SINCE: &str = concat!(
    "SELECT ",
    account_columns!(),
    ", ",
    booked_since!(),
    " FROM accounts WHERE id = ANY($1)"
);

/// Reads per statement at most.
const MAX_BATCH: usize = 128;

pub(crate) type Found = Option<(Account, i64)>;

/// One caller waiting for its account.
struct Waiting {
    account: AccountId,
    date: Date,
    answer: oneshot::Sender<Result<Found, StoreError>>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiting>,
    /// Whether the runner is under way.
    running: bool,
}

/// The node's queue of balance reads.
pub(crate) struct BalanceReads {
    queue: Mutex<Queue>,
    /// The runner's connection, with the statement's one plan.
    runner_connection: PgHot,
    /// Statements run, for the tests.
    #[cfg(test)]
    statements: std::sync::atomic::AtomicUsize,
}

impl BalanceReads {
    pub(crate) fn new(options: &PgConnectOptions) -> Self {
        let generic_plans = options
            .clone()
            .options([("plan_cache_mode", "force_generic_plan")]);
        Self {
            queue: Mutex::default(),
            // One runner at a time needs one connection.
            runner_connection: PgHot::new(generic_plans, 1),
            #[cfg(test)]
            statements: std::sync::atomic::AtomicUsize::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl PgStore {
    /// `account` and what it booked since `date`, read in a batch with
    /// whatever other reads are waiting. Always `Some`.
    pub(crate) async fn batched_account_with_booked_since(
        &self,
        account: AccountId,
        date: Date,
    ) -> Option<Result<Found, StoreError>> {
        let (answer, answered) = oneshot::channel();
        let start = {
            let mut queue = self.3.lock();
            queue.waiting.push(Waiting {
                account,
                date,
                answer,
            });
            let start = !queue.running;
            queue.running = true;
            start
        };
        if start {
            tokio::spawn(run_batches(self.clone()));
        }
        Some(
            answered.await.unwrap_or_else(|_| {
                Err(StoreError("a balance read was dropped unanswered".into()))
            }),
        )
    }
}

/// The runner: reads batches until none is waiting.
async fn run_batches(store: PgStore) {
    let mut running = Running(Some(&*store.3));
    loop {
        let batch = {
            let mut queue = store.3.lock();
            if queue.waiting.is_empty() {
                // Under the lock, so a read queued after this starts a runner.
                queue.running = false;
                running.0 = None;
                return;
            }
            let take = queue.waiting.len().min(MAX_BATCH);
            queue.waiting.drain(..take).collect::<Vec<_>>()
        };
        answer(&store, batch).await;
    }
}

/// The runner's turn, given up if it ends early (its runtime shutting down)
/// so that the next read starts another.
struct Running<'a>(Option<&'a BalanceReads>);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if let Some(reads) = self.0 {
            reads.lock().running = false;
        }
    }
}

/// One statement per date in `batch` (they differ only around midnight),
/// each account's answer to each of its callers.
async fn answer(store: &PgStore, mut batch: Vec<Waiting>) {
    while let Some(date) = batch.first().map(|w| w.date) {
        let (same_day, later): (Vec<_>, Vec<_>) = batch.into_iter().partition(|w| w.date == date);
        batch = later;
        let mut accounts: Vec<String> = same_day.iter().map(|w| w.account.to_string()).collect();
        accounts.sort_unstable();
        accounts.dedup();
        match read(store, accounts, date).await {
            Ok(found) => {
                for waiting in same_day {
                    let _ = waiting
                        .answer
                        .send(Ok(found.get(&waiting.account).cloned()));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, reads = same_day.len(), "a batch of balance reads failed");
                for waiting in same_day {
                    // The cause's text: `StoreError` is not `Clone`.
                    let _ = waiting.answer.send(Err(StoreError(e.0.to_string().into())));
                }
            }
        }
    }
}

async fn read(
    store: &PgStore,
    accounts: Vec<String>,
    date: Date,
) -> Result<HashMap<AccountId, (Account, i64)>, StoreError> {
    #[cfg(test)]
    store
        .3
        .statements
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut connection = store
        .3
        .runner_connection
        .connection(&store.0, "account_with_booked_since")
        .await?;
    let rows = sqlx::query_as::<_, AccountBookedRow>(ACCOUNTS_WITH_BOOKED_SINCE)
        .bind(accounts)
        .bind(date)
        .fetch_all(connection.get())
        .await
        .map_err(crate::error::store);
    let rows = connection.release(rows)?;
    rows.into_iter()
        .map(|row| {
            let (account, booked) = <(Account, i64)>::try_from(row)?;
            Ok((account.id, (account, booked)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use fintechapi_domain::ledger::LedgerRepository;
    use time::OffsetDateTime;
    use time::macros::date;

    use super::*;
    use crate::scratch_pg::ScratchPg;
    use crate::store::Pool;
    use crate::{Store, StoreOptions};

    /// Waits for the runners to end (they end once nothing waits).
    async fn runners_done(pg: &PgStore) {
        for _ in 0..100 {
            if !pg.3.lock().running {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("a runner outlived the reads");
    }

    /// Concurrent reads of a few accounts (one unknown) on two days, and a
    /// caller that gave up: each other caller gets what a read of its own
    /// gets, they went as one statement per day, and no runner is left.
    #[tokio::test]
    async fn batched_reads_answer_each_caller_as_a_read_of_its_own() {
        let scratch = ScratchPg::create().await;
        let store = Store::connect(&scratch.url, &StoreOptions::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let Pool::Postgres(pg) = &store.pool else {
            panic!("a PostgreSQL URL opened another store");
        };
        let pool = &pg.0;
        let created = OffsetDateTime::from_unix_timestamp_nanos(1_764_900_000_123_456_000).unwrap();
        let (today, yesterday) = (date!(2026 - 12 - 05), date!(2026 - 12 - 04));
        let clearing = insert_clearing!(pool, created);
        let (_, alice) = insert_customer!(
            pool,
            clearing,
            "alice",
            "DE89370400440532013000",
            created,
            today,
            250_i64
        );
        let (_, bob) = insert_customer!(
            pool,
            clearing,
            "bob",
            "DE02120300000000202051",
            created,
            today,
            40_i64
        );
        let unknown = AccountId::random();
        let reads: Vec<(AccountId, Date)> = (0..40)
            .map(|i| {
                (
                    [alice, bob, clearing, unknown][i % 4],
                    [today, yesterday][i / 20],
                )
            })
            .collect();

        // Queued, then given up before any answer.
        let gave_up = tokio::time::timeout(
            Duration::ZERO,
            store.account_with_booked_since(alice, today),
        )
        .await;
        assert!(gave_up.is_err());
        runners_done(pg).await;
        let before = pg.3.statements.load(Ordering::Relaxed);
        let mut callers = tokio::task::JoinSet::new();
        for (i, &(account, day)) in reads.iter().enumerate() {
            let store = store.clone();
            callers.spawn(async move { (i, store.account_with_booked_since(account, day).await) });
        }
        let mut answers = callers.join_all().await;
        answers.sort_by_key(|(i, _)| *i);
        let statements = pg.3.statements.load(Ordering::Relaxed) - before;

        for ((account, day), (_, answer)) in reads.iter().zip(answers) {
            let own: Option<AccountBookedRow> = sqlx::query_as(concat!(
                "SELECT ",
                account_columns!(),
                ", ",
                booked_since!(),
                " FROM accounts WHERE id = $1"
            ))
            .bind(account)
            .bind(day)
            .fetch_optional(pool)
            .await
            .unwrap();
            let own = own.map(|row| <(Account, i64)>::try_from(row).unwrap());
            let answer = answer.unwrap();
            assert_eq!(answer, own, "{account} on {day}");
            let expected = match (*account, *day) {
                (a, d) if a == alice && d == today => Some(250),
                (a, d) if a == bob && d == today => Some(40),
                (a, _) if a == alice => Some(950),
                (a, _) if a == bob => Some(740),
                (a, d) if a == clearing && d == today => Some(-290),
                (a, _) if a == clearing => Some(-1690),
                _ => None,
            };
            assert_eq!(answer.map(|(_, sum)| sum), expected, "{account} on {day}");
        }
        assert!(
            statements <= 2,
            "40 concurrent reads on two days went as {statements} statements"
        );
        runners_done(pg).await;

        // More batches, one at a time: none was planned for its own array.
        for _ in 0..8 {
            store.account_with_booked_since(bob, today).await.unwrap();
        }
        let mut connection =
            pg.3.runner_connection
                .connection(pool, "test")
                .await
                .unwrap();
        let plans: (i64, i64) = sqlx::query_as(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements \
             WHERE statement = $1",
        )
        .bind(ACCOUNTS_WITH_BOOKED_SINCE)
        .fetch_one(connection.get())
        .await
        .unwrap();
        let (generic, custom) = plans;
        assert!(generic >= 9 && custom == 0, "{plans:?}");
        connection.release(Ok(())).unwrap();
        store.close().await;
        scratch.drop_database().await;
    }
}
