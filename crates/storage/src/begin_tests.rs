//! A write transaction whose caller is dropped while `BEGIN` is on its way
//! (a client gone, a request timeout) leaves nothing open behind it: the
//! pool's next user writes outside any transaction, and others see it.

use std::task::Poll;
use std::time::Duration;

use sqlx::{Connection, SqliteConnection};

use crate::scratch_pg::ScratchPg;
use crate::store::Pool;
use crate::{PgStore, SqliteStore, Store, StoreOptions};

/// Cancellations in a row, each after the first poll of a write's begin.
const CANCELLED: usize = 20;

fn one_connection() -> StoreOptions {
    StoreOptions {
        max_connections: 1,
        ..StoreOptions::default()
    }
}

/// Polls a write's begin once (which sends `BEGIN` when the pool has a
/// connection at hand), then drops it; `CANCELLED` times, each after the
/// connection is back in the pool.
async fn cancel_begins<F: Future>(begin: impl Fn() -> F) {
    for _ in 0..CANCELLED {
        {
            let mut begun = std::pin::pin!(begin());
            // Finished or not, it is dropped here: a finished one rolls back.
            std::future::poll_fn(|cx| Poll::Ready(begun.as_mut().poll(cx).is_ready())).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_begin_leaves_no_transaction_on_postgres() {
    let scratch = ScratchPg::create().await;
    let store = Store::connect(&scratch.url, &one_connection())
        .await
        .unwrap();
    let Pool::Postgres(PgStore(pool, gate, ..)) = &store.pool else {
        panic!("a PostgreSQL URL opened another store");
    };
    sqlx::query("CREATE TABLE marks (n INTEGER)")
        .execute(pool)
        .await
        .unwrap();
    cancel_begins(|| crate::postgres::exec::begin_write(pool, gate)).await;
    sqlx::query("INSERT INTO marks VALUES (1)")
        .execute(pool)
        .await
        .unwrap();

    let mut other = scratch.connect().await;
    let seen: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM marks")
        .fetch_one(&mut other)
        .await
        .unwrap();
    let open: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity \
         WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
    )
    .fetch_one(&mut other)
    .await
    .unwrap();
    other.close().await.unwrap();
    store.close().await;
    scratch.drop_database().await;
    assert_eq!(
        seen, 1,
        "the write ran inside a transaction a cancelled begin left open"
    );
    assert_eq!(open, 0, "a connection is idle in a transaction");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_begin_leaves_no_transaction_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cancel.db");
    let store = Store::open_sqlite(&path, &one_connection()).await.unwrap();
    let Pool::Sqlite(SqliteStore(pool, gate, _, _)) = &store.pool else {
        panic!("a SQLite file opened another store");
    };
    sqlx::query("CREATE TABLE marks (n INTEGER)")
        .execute(pool)
        .await
        .unwrap();
    cancel_begins(|| crate::sqlite::exec::begin_write(pool, gate)).await;
    sqlx::query("INSERT INTO marks VALUES (1)")
        .execute(pool)
        .await
        .unwrap();

    let mut other = SqliteConnection::connect(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    let seen: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM marks")
        .fetch_one(&mut other)
        .await
        .unwrap();
    assert_eq!(
        seen, 1,
        "the write ran inside a transaction a cancelled begin left open"
    );
}
