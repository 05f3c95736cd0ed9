//! SQLite reads on the request's own thread.
//!
//! sqlx-sqlite runs every statement on its connection's worker thread and
//! answers over a channel, and its pool pings that thread again when the
//! connection is released: a one-row read costs two cross-thread round trips.
//! A `perf` profile of `GET /v1/accounts/{id}/balances` put that (channel,
//! futex wake-ups, the worker) at about a third of the server's CPU. So the
//! hottest reads run inline on a few read-only rusqlite connections of the
//! same file instead: in WAL mode a reader never waits for the writer, and
//! each statement is prepared once per connection.
//!
//! A read that would wait all the same (`SQLITE_BUSY`: a recovery, the edge
//! of a checkpoint) or that fails answers `None`, and the caller reads through
//! the pool as before, which reports a real error. Nothing here writes.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use fintechapi_domain::date::parse_iso_date;
use rusqlite::{Connection, ErrorCode, OpenFlags};
use time::Date;

/// Idle connections kept; more are opened while many reads overlap and
/// closed after.
const MAX_IDLE: usize = 8;

/// Read-only connections to the store's SQLite file, for reads on the
/// calling thread.
pub(crate) struct HotReads {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// A failing read is logged once as a warning, then at debug level: it
    /// costs a fallback, not an answer, and must not flood the log.
    warned: AtomicBool,
}

impl HotReads {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
            warned: AtomicBool::new(false),
        }
    }

    /// Runs `read` on an idle connection, or a new one; `None` when it would
    /// wait or failed (the caller then reads through the pool).
    pub(crate) fn read<T>(
        &self,
        what: &'static str,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Option<T> {
        let taken = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let connection = match taken.map_or_else(|| self.open(), Ok) {
            Ok(connection) => connection,
            Err(e) => {
                self.failed(what, &e);
                return None;
            }
        };
        match read(&connection) {
            Ok(found) => {
                self.put_back(connection);
                Some(found)
            }
            Err(e) if would_wait(&e) => {
                self.put_back(connection);
                None
            }
            Err(e) => {
                self.failed(what, &e);
                None
            }
        }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // Never sleep on the caller's thread: busy means the pool's turn.
        connection.busy_timeout(Duration::ZERO)?;
        connection.pragma_update(None, "query_only", true)?;
        Ok(connection)
    }

    fn put_back(&self, connection: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(connection);
        }
    }

    fn failed(&self, what: &'static str, error: &rusqlite::Error) {
        if self.warned.swap(true, Ordering::Relaxed) {
            tracing::debug!(%error, read = what, "a read on the request's thread failed; read through the pool");
        } else {
            tracing::warn!(%error, read = what, "a read on the request's thread failed; read through the pool (logged once)");
        }
    }
}

fn would_wait(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// Column `index` read as text and parsed; a value that does not parse is
/// a conversion error (the read then falls back to the pool, which says so).
pub(crate) fn parsed<T, E>(
    row: &rusqlite::Row<'_>,
    index: usize,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> rusqlite::Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let text = row.get_ref(index)?.as_str()?;
    parse(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// A date column as sqlx writes it on SQLite, `YYYY-MM-DD`.
pub(crate) fn parsed_date(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Date> {
    parsed(row, index, |text| {
        parse_iso_date(text).ok_or(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not a YYYY-MM-DD date",
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    use fintechapi_domain::iban::Iban;
    use fintechapi_domain::ids::AccountId;
    use fintechapi_domain::ledger::{
        EntryCursor, EntryFilter, EntryStatus, LedgerRepository, PageStart,
    };
    use time::OffsetDateTime;
    use time::macros::date;

    use crate::sqlite::ledger::{
        ACCOUNT_BY_IBAN, ENTRIES_NEWEST_FIRST, account_inline, account_with_booked_since_inline,
        entries_inline, holders_inline,
    };
    use crate::store::Pool;
    use crate::{Store, StoreOptions};

    /// Rows written by the pool, as production writes them, read back on
    /// this thread and through the pool: the same accounts and sums.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_balances_read_on_this_thread_matches_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(&dir.path().join("hot.db"), &StoreOptions::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let Pool::Sqlite(sqlite) = &store.pool else {
            panic!("a SQLite file opened another store");
        };
        let pool = &sqlite.0;
        let created = OffsetDateTime::from_unix_timestamp_nanos(1_764_900_000_123_456_789).unwrap();
        let today = date!(2026 - 12 - 05);
        let clearing = insert_clearing!(pool, created);
        // Booked yesterday and today, and pending today: today's booked sum is 250.
        let (psu, customer) = insert_customer!(
            pool,
            clearing,
            "hot",
            "DE89370400440532013000",
            created,
            today,
            250_i64
        );

        // The same file without reads on this thread: the pool's answers.
        let pooled = crate::SqliteStore(sqlite.0.clone(), sqlite.1.clone(), None, None);
        let hot = sqlite
            .2
            .as_deref()
            .expect("a file-backed store reads on this thread");
        for id in [customer, clearing, AccountId::random()] {
            assert!(
                hot.read("test", |c| account_with_booked_since_inline(c, id, today))
                    .is_some(),
                "read on this thread, not left to the pool"
            );
            let expected = pooled.account_with_booked_since(id, today).await.unwrap();
            assert_eq!(
                sqlite.account_with_booked_since(id, today).await.unwrap(),
                expected
            );
            assert_eq!(
                sqlite.account(id).await.unwrap(),
                pooled.account(id).await.unwrap()
            );
        }
        let iban = Iban::from_str("DE89370400440532013000").unwrap();
        assert!(
            hot.read("test", |c| account_inline(
                c,
                ACCOUNT_BY_IBAN,
                iban.as_str()
            ))
            .is_some_and(|found| found.is_some()),
            "read on this thread, not left to the pool"
        );
        assert_eq!(
            sqlite.account_by_iban(&iban).await.unwrap(),
            pooled.account_by_iban(&iban).await.unwrap()
        );
        assert!(
            hot.read("test", |c| holders_inline(c, customer))
                .is_some_and(|rows| rows.len() == 1),
            "read on this thread, not left to the pool"
        );
        for id in [customer, clearing] {
            assert_eq!(
                sqlite.account_holders(id).await.unwrap(),
                pooled.account_holders(id).await.unwrap()
            );
        }
        let (account, booked_today) = sqlite
            .account_with_booked_since(customer, today)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (account.psu_id, account.created_at, booked_today),
            (Some(psu), created, 250)
        );

        let all = EntryFilter {
            account: customer,
            status: None,
            date_from: None,
            date_to: None,
            reference_above: None,
        };
        let booked_today = EntryFilter {
            status: Some(EntryStatus::Booked),
            date_from: Some(today),
            ..all.clone()
        };
        let whole_range = (cursor(date!(0001 - 01 - 01), 0), cursor(today, i64::MAX));
        assert!(
            hot.read("test", |c| entries_inline(
                c,
                ENTRIES_NEWEST_FIRST,
                &all,
                whole_range,
                10
            ))
            .is_some_and(|rows| rows.len() == 3),
            "read on this thread, not left to the pool"
        );
        let newest = sqlite.entries(&all, PageStart::Newest, 10).await.unwrap();
        assert_eq!(newest.len(), 3);
        assert_eq!(
            newest,
            pooled.entries(&all, PageStart::Newest, 10).await.unwrap()
        );
        let after_first =
            PageStart::After(cursor(newest[0].booking_date, newest[0].entry_reference));
        for (filter, start) in [
            (&all, PageStart::Oldest),
            (&all, after_first),
            (&booked_today, PageStart::Newest),
        ] {
            assert_eq!(
                sqlite.entries(filter, start, 2).await.unwrap(),
                pooled.entries(filter, start, 2).await.unwrap()
            );
        }
        let today_booked = sqlite
            .entries(&booked_today, PageStart::Newest, 10)
            .await
            .unwrap();
        let amounts: Vec<i64> = today_booked.iter().map(|e| e.amount.minor()).collect();
        assert_eq!(amounts, [250]);
    }

    fn cursor(booking_date: Date, entry_reference: i64) -> EntryCursor {
        EntryCursor {
            booking_date,
            entry_reference,
        }
    }

    #[test]
    fn dates_are_written_as_the_pool_binds_them() {
        use fintechapi_domain::date::format_iso_date;
        assert_eq!(format_iso_date(date!(2026 - 03 - 07)), "2026-03-07");
        assert_eq!(format_iso_date(date!(0999 - 12 - 31)), "0999-12-31");
    }

    #[test]
    fn a_busy_file_is_left_to_the_pool_and_the_connection_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("busy.db");
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch("CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (7);")
            .unwrap();
        let hot = HotReads::new(path);
        let read = |c: &Connection| c.query_row("SELECT n FROM t", [], |r| r.get::<_, i64>(0));
        assert_eq!(hot.read("t", read), Some(7));
        // A rollback journal (not WAL) and an exclusive lock: the reader would wait.
        writer.execute_batch("BEGIN EXCLUSIVE").unwrap();
        assert_eq!(hot.read("t", read), None);
        writer.execute_batch("COMMIT").unwrap();
        assert_eq!(hot.read("t", read), Some(7));
        assert_eq!(hot.idle.lock().unwrap().len(), 1, "one connection, reused");
    }

    #[test]
    fn a_failing_read_falls_back_and_drops_its_connection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fail.db");
        Connection::open(&path).unwrap();
        let hot = HotReads::new(path);
        let missing =
            |c: &Connection| c.query_row("SELECT n FROM nowhere", [], |r| r.get::<_, i64>(0));
        assert_eq!(hot.read("nowhere", missing), None);
        assert!(hot.idle.lock().unwrap().is_empty());
        let write = |c: &Connection| c.execute("CREATE TABLE t (n INTEGER)", []);
        assert_eq!(hot.read("write", write), None, "query_only refuses writes");
    }
}
