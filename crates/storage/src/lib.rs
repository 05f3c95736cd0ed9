//! sqlx adapters for FinTechAPI's repository ports, on SQLite (the embedded
//! default) and PostgreSQL (production).
//!
//! - [`Store`]: the connection pool of the backend chosen at connect,
//!   migrations, readiness (`store.rs`); it implements every port by handing
//!   the call to [`SqliteStore`] or [`PgStore`] (`ports.rs`, one line per method).
//! - `repo/*.rs`: the queries, and each file implements its port (one per
//!   aggregate) for `super::Store`. Each file is compiled twice, once per backend
//!   (`sqlite` and `postgres` modules below), so both stores run the same SQL.
//! - `rows/`: row types and their conversion into domain types, one file per
//!   context, shared by both.
//! - `hot.rs`, `pg_hot.rs`: the hottest reads, on SQLite on the request's
//!   thread, on PostgreSQL on connections of their own (with the token
//!   writer's batches).
//! - `pg_balances.rs`: PostgreSQL's `/balances` reads, batched while one
//!   batch is under way.
//! - `sqlite_writer.rs`, `pg_tokens.rs`: the token endpoint's group-commit
//!   batches, on SQLite on a connection and thread of their own, on
//!   PostgreSQL as column arrays in one statement.
//! - `sqlite_checkpoints.rs`: SQLite's WAL checkpoints on a thread of their
//!   own, not in a commit.
//! - `watch.rs`: [`Store::watch_registry`], the registry changes PostgreSQL
//!   announces, for the nodes' caches of client authentication.
//! - `migrations/{sqlite,postgres}/`: embedded schema, one folder per dialect.
//!
//! This is the only crate that knows SQL.

// Each repo file is compiled once per backend on purpose: one SQL text, two typed pools.
#![allow(clippy::duplicate_mod)]

/// A query of `$row`s: `SELECT` the columns `$columns!()` lists, then `$rest`
/// (`FROM …`), one SQL text built at compile time.
macro_rules! select_rows {
    ($row:ty, $columns:ident, $rest:literal) => {
        sqlx::query_as::<_, $row>(concat!("SELECT ", $columns!(), " ", $rest))
    };
}

#[cfg(test)]
#[macro_use]
mod ledger_fixture;
#[cfg(test)]
mod begin_tests;
mod error;
mod hot;
#[cfg(test)]
mod scratch_pg;
#[cfg(test)]
mod token_batch_tests;
#[macro_use]
mod rows;
mod pg_balances;
mod pg_hot;
mod pg_tokens;
mod ports;
mod redact;
mod sqlite_checkpoints;
mod sqlite_writer;
mod store;
mod watch;

/// SQLite has one writer at a time, and a write transaction that finds the
/// lock taken waits in SQLite's busy handler, which sleeps between tries (up
/// to 100 ms each, however soon the lock is free): under 32 concurrent payment
/// initiations that made a p99 of 255 ms. So a node's write transactions take
/// turns here first, in arrival order, and find the lock free. PostgreSQL
/// locks rows, not the database: no gate.
#[derive(Clone, Default)]
pub(crate) struct WriteGate(Option<std::sync::Arc<tokio::sync::Semaphore>>);

impl WriteGate {
    /// How long a write waits for its turn, as long as SQLite's busy timeout.
    const PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

    pub(crate) fn one_at_a_time() -> Self {
        Self(Some(std::sync::Arc::new(tokio::sync::Semaphore::new(1))))
    }

    pub(crate) async fn turn(
        &self,
    ) -> Result<Option<tokio::sync::OwnedSemaphorePermit>, fintechapi_domain::StoreError> {
        let Some(turns) = &self.0 else {
            return Ok(None);
        };
        match tokio::time::timeout(Self::PATIENCE, turns.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Some(permit)),
            Ok(Err(_)) | Err(_) => Err(fintechapi_domain::StoreError(
                "the database is busy: no turn to write within 10 s".into(),
            )),
        }
    }

    /// The turn, for a thread outside the runtime (SQLite's checkpoints):
    /// waited for on `runtime` with no timer, which would panic there once
    /// the runtime shuts down. `None` without a gate.
    pub(crate) fn blocking_turn(
        &self,
        runtime: &tokio::runtime::Handle,
    ) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let turns = self.0.clone()?;
        runtime.block_on(turns.acquire_owned()).ok()
    }
}

/// PostgreSQL refuses a NUL in text, and nothing stored holds one: a lookup
/// by such a name (a login, a client id from a request) finds nothing on
/// either store instead of failing.
pub(crate) fn has_nul(name: &str) -> bool {
    name.contains('\0')
}

pub use redact::redact_database_url;
pub use store::{
    Backend, ConnectError, PgStore, PoolStats, Readiness, SqliteStore, Store, StoreOptions,
};

/// Queries compiled for SQLite. Write transactions take the lock up front
/// (`BEGIN IMMEDIATE`) so concurrent writers queue instead of failing on upgrade.
#[path = "repo"]
mod sqlite {
    type Db = sqlx::Sqlite;
    type Store = crate::SqliteStore;
    const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";
    /// SQLite has one writer at a time: a claim needs no row locks.
    const SKIP_LOCKED: &str = "";
    /// Statements run in process: a transfer is posted statement by statement.
    const TRANSFER_IN_ONE_STATEMENT: bool = false;
    /// sqlx rolls back a SQLite `BEGIN` whose caller was dropped.
    const BEGIN_IN_OWN_TASK: bool = false;
    use exec::{Read, Write, begin_write};
    pub(crate) mod basket;
    pub(crate) mod card;
    pub(crate) mod consent;
    pub(crate) mod delta;
    pub(crate) mod exec;
    pub(crate) mod lead;
    pub(crate) mod ledger;
    pub(crate) mod meta;
    pub(crate) mod notification;
    pub(crate) mod oauth;
    pub(crate) mod passkey;
    pub(crate) mod payment;
    pub(crate) mod portal;
    pub(crate) mod posting;
    pub(crate) mod psu;
    pub(crate) mod totp;
    pub(crate) mod usage;
}

/// Queries compiled for PostgreSQL.
#[path = "repo"]
mod postgres {
    type Db = sqlx::Postgres;
    type Store = crate::PgStore;
    const BEGIN_WRITE: &str = "BEGIN";
    /// Concurrent claims pass over each other's rows instead of waiting.
    const SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";
    /// A transfer is one call of the `ledger_post` function: one round trip.
    const TRANSFER_IN_ONE_STATEMENT: bool = true;
    /// sqlx 0.9 does not roll back a PostgreSQL `BEGIN` whose caller was
    /// dropped (`exec::begin`).
    const BEGIN_IN_OWN_TASK: bool = true;
    use exec::{Read, Write, begin_write};
    pub(crate) mod basket;
    pub(crate) mod card;
    pub(crate) mod consent;
    pub(crate) mod delta;
    pub(crate) mod exec;
    pub(crate) mod lead;
    pub(crate) mod ledger;
    pub(crate) mod meta;
    pub(crate) mod notification;
    pub(crate) mod oauth;
    pub(crate) mod passkey;
    pub(crate) mod payment;
    pub(crate) mod portal;
    pub(crate) mod posting;
    pub(crate) mod psu;
    pub(crate) mod totp;
    pub(crate) mod usage;
}
