//! Running a built statement the same way in every repository: database
//! errors become [`StoreError`]s, rows become domain values through their
//! `TryFrom`, and a guarded write says whether its guard held.

use fintechapi_domain::StoreError;
use sqlx::query::{Query, QueryAs};
use sqlx::{Database, Executor, FromRow};

use super::Db;
use crate::error::store;

pub(crate) type Args = <Db as Database>::Arguments;

/// What a statement runs on: the pool, a connection or a transaction.
pub(crate) trait Exec<'c>: Executor<'c, Database = Db> {}
impl<'c, E: Executor<'c, Database = Db>> Exec<'c> for E {}

/// A statement run for its effect.
pub(crate) trait Write {
    /// Runs it.
    async fn run<'c>(self, on: impl Exec<'c>) -> Result<(), StoreError>;
    /// Runs it; how many rows it changed.
    async fn changed<'c>(self, on: impl Exec<'c>) -> Result<u64, StoreError>;
    /// Runs a guarded write (a stage, an unused code, an unclaimed row); whether
    /// exactly one row passed the guard.
    async fn changed_one<'c>(self, on: impl Exec<'c>) -> Result<bool, StoreError>;
}

impl Write for Query<'_, Db, Args> {
    async fn run<'c>(self, on: impl Exec<'c>) -> Result<(), StoreError> {
        self.execute(on).await.map_err(store)?;
        Ok(())
    }

    async fn changed<'c>(self, on: impl Exec<'c>) -> Result<u64, StoreError> {
        Ok(self.execute(on).await.map_err(store)?.rows_affected())
    }

    async fn changed_one<'c>(self, on: impl Exec<'c>) -> Result<bool, StoreError> {
        Ok(self.execute(on).await.map_err(store)?.rows_affected() == 1)
    }
}

/// A query of rows that convert into a domain type `T`; a row that no longer
/// converts is a [`StoreError`] like a failed query.
pub(crate) trait Read<R> {
    async fn optional_into<'c, T>(self, on: impl Exec<'c>) -> Result<Option<T>, StoreError>
    where
        T: TryFrom<R, Error = StoreError>;

    async fn all_into<'c, T>(self, on: impl Exec<'c>) -> Result<Vec<T>, StoreError>
    where
        T: TryFrom<R, Error = StoreError>;
}

impl<R> Read<R> for QueryAs<'_, Db, R, Args>
where
    R: Send + Unpin + for<'r> FromRow<'r, <Db as Database>::Row>,
{
    async fn optional_into<'c, T>(self, on: impl Exec<'c>) -> Result<Option<T>, StoreError>
    where
        T: TryFrom<R, Error = StoreError>,
    {
        self.fetch_optional(on)
            .await
            .map_err(store)?
            .map(T::try_from)
            .transpose()
    }

    async fn all_into<'c, T>(self, on: impl Exec<'c>) -> Result<Vec<T>, StoreError>
    where
        T: TryFrom<R, Error = StoreError>,
    {
        self.fetch_all(on)
            .await
            .map_err(store)?
            .into_iter()
            .map(T::try_from)
            .collect()
    }
}

/// A write transaction that took its turn at the store's [`WriteGate`] first;
/// the turn ends when it commits or is dropped (rolled back).
pub(crate) struct WriteTx {
    tx: sqlx::Transaction<'static, Db>,
    _turn: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl std::ops::Deref for WriteTx {
    type Target = <Db as Database>::Connection;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

impl WriteTx {
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    /// Rolls back before the turn ends, so the next writer finds the lock free.
    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

/// Begins a write transaction (`BEGIN IMMEDIATE` on SQLite), after its turn
/// at `gate`.
pub(crate) async fn begin_write(
    pool: &sqlx::Pool<Db>,
    gate: &crate::WriteGate,
) -> Result<WriteTx, StoreError> {
    let turn = gate.turn().await?;
    let tx = begin(pool, super::BEGIN_WRITE).await?;
    Ok(WriteTx { tx, _turn: turn })
}

/// Begins a transaction with `statement`, safe to cancel. sqlx 0.9 counts a
/// PostgreSQL transaction as open only once `BEGIN` was answered: a caller
/// dropped while it waits (a client gone, a request timeout) returned the
/// connection to the pool inside a transaction sqlx did not know of, and
/// later requests' writes ran in it uncommitted, holding their row locks
/// (transact-rs/sqlx#4393, fixed upstream by #4394 after 0.9.0). There
/// `BEGIN` runs in a task of its own and always completes; a transaction
/// nobody waits for any more is dropped, which rolls it back. SQLite's
/// begin is cancel-safe in sqlx already (`begin_tests.rs` checks both).
pub(crate) async fn begin(
    pool: &sqlx::Pool<Db>,
    statement: &'static str,
) -> Result<sqlx::Transaction<'static, Db>, StoreError> {
    if !super::BEGIN_IN_OWN_TASK {
        return pool.begin_with(statement).await.map_err(store);
    }
    let pool = pool.clone();
    tokio::spawn(async move { pool.begin_with(statement).await })
        .await
        .map_err(|e| StoreError(format!("beginning a transaction failed: {e}").into()))?
        .map_err(store)
}
