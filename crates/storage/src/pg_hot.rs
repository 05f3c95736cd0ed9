//! PostgreSQL's hot statements on connections of their own.
//!
//! sqlx's pool tests every connection it takes back with a round trip
//! (`Sync`, answered by `ReadyForQuery`) in a task of its own, because a
//! caller dropped in the middle of a query may have left the connection
//! anywhere in the protocol. For one statement that doubles the round trips.
//! The hottest reads (what `/balances`, `/transactions` and payment
//! initiation read) and the token writer's batches (one `INSERT`, its own
//! transaction) take a connection from here instead: one that finished its
//! statement goes back as it is, and one whose caller was dropped mid-statement
//! is closed with it, which is the case the pool's test exists for.
//!
//! All lent (at most `database.max_connections` besides the pool's), or one
//! that cannot be opened, and the statement goes to the pool. A statement
//! that fails closes its connection, as the pool closes one that fails its
//! test. Only single statements come here: never a transaction of several.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use fintechapi_domain::StoreError;
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgConnection, PgPool, Postgres};

use crate::error::store;

/// Connections for hot statements, beside the pool.
pub(crate) struct PgHot {
    options: PgConnectOptions,
    idle: Mutex<Vec<PgConnection>>,
    /// Connections open, idle or lent; at most `max`.
    open: AtomicUsize,
    max: usize,
    /// A failing connection is logged once as a warning, then at debug level.
    warned: AtomicBool,
}

impl PgHot {
    /// At most `max` connections besides the pool's.
    pub(crate) fn new(options: PgConnectOptions, max: usize) -> Self {
        Self {
            options,
            idle: Mutex::new(Vec::new()),
            open: AtomicUsize::new(0),
            max,
            warned: AtomicBool::new(false),
        }
    }

    /// A connection for one statement: one of its own, or the pool's when all
    /// are lent or a new one cannot be opened.
    pub(crate) async fn connection(
        &self,
        pool: &PgPool,
        what: &'static str,
    ) -> Result<HotConnection<'_>, StoreError> {
        match self.lend(what).await {
            Some(lent) => Ok(HotConnection::Own(lent)),
            None => Ok(HotConnection::Pooled(pool.acquire().await.map_err(store)?)),
        }
    }

    async fn lend(&self, what: &'static str) -> Option<Lent<'_>> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        if let Some(connection) = idle {
            return Some(Lent {
                connection,
                counted: Counted::new(&self.open),
                home: self,
                what,
            });
        }
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < self.max).then_some(open + 1)
            })
            .ok()?;
        // Counted from here: given up again unless the connection is made.
        let counted = Counted::new(&self.open);
        match self.options.connect().await {
            Ok(connection) => Some(Lent {
                connection,
                counted,
                home: self,
                what,
            }),
            Err(e) => {
                self.failed(what, &e);
                None
            }
        }
    }

    fn failed(&self, what: &'static str, error: &dyn std::fmt::Display) {
        if self.warned.swap(true, Ordering::Relaxed) {
            tracing::debug!(%error, statement = what, "a hot statement's connection failed; it is closed");
        } else {
            tracing::warn!(%error, statement = what, "a hot statement's connection failed; it is closed (logged once)");
        }
    }

    #[cfg(test)]
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

/// The connection one hot statement runs on.
pub(crate) enum HotConnection<'a> {
    Own(Lent<'a>),
    Pooled(PoolConnection<Postgres>),
}

impl HotConnection<'_> {
    pub(crate) fn get(&mut self) -> &mut PgConnection {
        match self {
            Self::Own(lent) => &mut lent.connection,
            Self::Pooled(pooled) => pooled,
        }
    }

    /// After the statement: a connection of its own goes back to the idle
    /// ones if it succeeded and is closed if it failed (dropped before this,
    /// mid-statement, it is closed too); the pool's goes back to the pool.
    pub(crate) fn release<T>(self, read: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Self::Own(lent) = self {
            match &read {
                Ok(_) => lent.give_back(),
                Err(e) => lent.home.failed(lent.what, e),
            }
        }
        read
    }
}

/// One of the connections, lent for one statement. Dropped, it is closed and no
/// longer counted.
pub(crate) struct Lent<'a> {
    connection: PgConnection,
    counted: Counted<'a>,
    home: &'a PgHot,
    /// The statement it is lent for, for the log.
    what: &'static str,
}

impl Lent<'_> {
    fn give_back(self) {
        let Lent {
            connection,
            mut counted,
            home,
            what: _,
        } = self;
        counted.kept = true;
        home.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(connection);
    }
}

/// A connection's place among the `max`: given up when dropped unless kept.
struct Counted<'a> {
    open: &'a AtomicUsize,
    kept: bool,
}

impl<'a> Counted<'a> {
    fn new(open: &'a AtomicUsize) -> Self {
        Self { open, kept: false }
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        if !self.kept {
            self.open.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::task::Poll;
    use std::time::Duration;

    use sqlx::Connection;

    use super::*;
    use crate::scratch_pg::ScratchPg;

    /// One read, as the repositories run them: its backend's process id.
    async fn backend_pid(reads: &PgHot, pool: &PgPool) -> Result<i32, StoreError> {
        read_pid(reads, pool, "SELECT pg_backend_pid()").await
    }

    async fn read_pid(reads: &PgHot, pool: &PgPool, sql: &'static str) -> Result<i32, StoreError> {
        let mut conn = reads.connection(pool, "test").await?;
        let read = sqlx::query_scalar(sql)
            .fetch_one(conn.get())
            .await
            .map_err(store);
        conn.release(read)
    }

    async fn backends(other: &mut PgConnection) -> Vec<i32> {
        sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_all(other)
        .await
        .unwrap()
    }

    async fn until_gone(other: &mut PgConnection, pid: i32) {
        for _ in 0..100 {
            if !backends(other).await.contains(&pid) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("backend {pid} still there");
    }

    struct Setup {
        scratch: ScratchPg,
        pool: PgPool,
        reads: PgHot,
        other: PgConnection,
    }

    async fn setup(max: usize) -> Setup {
        let scratch = ScratchPg::create().await;
        let options: PgConnectOptions = scratch.url.parse().unwrap();
        let other = scratch.connect().await;
        Setup {
            pool: PgPool::connect_lazy_with(options.clone()),
            reads: PgHot::new(options, max),
            scratch,
            other,
        }
    }

    async fn teardown(setup: Setup) {
        setup.other.close().await.unwrap();
        drop(setup.reads);
        setup.pool.close().await;
        setup.scratch.drop_database().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_finished_read_keeps_its_connection_and_a_cancelled_one_closes_it() {
        let mut s = setup(2).await;
        let first = backend_pid(&s.reads, &s.pool).await.unwrap();
        let again = backend_pid(&s.reads, &s.pool).await.unwrap();
        assert_eq!(first, again, "the idle connection is used again");
        assert_eq!(s.reads.open(), 1);
        assert_eq!(s.pool.size(), 0, "the pool was not needed");

        // Dropped in the middle of its query: the connection goes with it.
        // (Its backend notices once the query ends and it finds no client.)
        {
            let sleeping = read_pid(
                &s.reads,
                &s.pool,
                "SELECT pg_backend_pid() FROM pg_sleep(0.5)",
            );
            let mut sleeping = std::pin::pin!(sleeping);
            for _ in 0..5 {
                std::future::poll_fn(|cx| Poll::Ready(sleeping.as_mut().poll(cx).is_ready())).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        assert_eq!(s.reads.open(), 0);
        until_gone(&mut s.other, first).await;
        let next = backend_pid(&s.reads, &s.pool).await.unwrap();
        assert_ne!(next, first, "a new connection, not the one left mid-query");
        assert_eq!(s.reads.open(), 1);
        teardown(s).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_read_closes_its_connection_and_the_next_opens_another() {
        let mut s = setup(1).await;
        let own = backend_pid(&s.reads, &s.pool).await.unwrap();
        let terminated: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
            .bind(own)
            .fetch_one(&mut s.other)
            .await
            .unwrap();
        assert!(terminated);
        until_gone(&mut s.other, own).await;

        assert!(
            backend_pid(&s.reads, &s.pool).await.is_err(),
            "its backend is gone"
        );
        assert_eq!(s.reads.open(), 0, "the broken connection is closed");
        let reopened = backend_pid(&s.reads, &s.pool).await.unwrap();
        assert_ne!(reopened, own);
        assert_eq!(s.reads.open(), 1);
        assert_eq!(s.pool.size(), 0, "the pool was not needed");
        teardown(s).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_past_the_limit_go_to_the_pool() {
        let s = setup(1).await;
        let slow = read_pid(
            &s.reads,
            &s.pool,
            "SELECT pg_backend_pid() FROM pg_sleep(0.3)",
        );
        let quick = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            backend_pid(&s.reads, &s.pool).await
        };
        let (slow, quick) = tokio::join!(slow, quick);
        assert_ne!(slow.unwrap(), quick.unwrap());
        assert_eq!(s.reads.open(), 1, "never more than the limit");
        assert_eq!(s.pool.size(), 1, "the second read went to the pool");
        teardown(s).await;
    }
}
