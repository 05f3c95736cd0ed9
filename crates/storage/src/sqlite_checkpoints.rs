//! SQLite's WAL checkpoints on a thread of their own.
//!
//! By default the connection whose commit takes the WAL past 1,000 pages
//! copies the WAL back into the database then and there, before its commit
//! returns. Under the token endpoint's load that was the token writer,
//! several times a second, and every batch queued behind it waited (SQLite's
//! token p99 was 6.4 ms against a p50 of 1.1 ms). So no connection of the
//! store checkpoints on commit (`wal_autocheckpoint = 0`), and this thread
//! runs a `PASSIVE` checkpoint, the kind the automatic one is, every
//! [`PERIOD`]: it waits for no reader or writer, and writers go on appending
//! to the WAL while it copies.
//!
//! Copying is not enough: the WAL only starts again from its beginning when
//! a write transaction begins with every frame already copied, and under a
//! steady stream of commits one always comes first. So once the WAL holds
//! [`RESTART_AT`] frames, the thread copies what the last pass left while it
//! holds the node's write turn ([`WriteGate`]): the next write then starts
//! the WAL over (unless a reader still reads from it; then a later pass
//! tries again). That turn lasts the copy of the few frames written since
//! the last pass, not of a thousand.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::runtime::Handle;

use crate::WriteGate;

/// Often enough that a pass copies a few hundred frames at most under the
/// heaviest write load measured.
pub(crate) const PERIOD: Duration = Duration::from_millis(50);

/// The WAL's length, in frames (pages), at which the next write should start
/// it over: SQLite's automatic checkpoint size.
pub(crate) const RESTART_AT: i64 = 1_000;

/// The checkpointing thread; it ends when this is dropped.
pub(crate) struct Checkpoints {
    _stop: mpsc::Sender<()>,
}

impl Checkpoints {
    /// `gate` is the node's write turn, waited for on `runtime`.
    pub(crate) fn start(path: PathBuf, gate: WriteGate, runtime: Handle) -> std::io::Result<Self> {
        let (stop, stopped) = mpsc::channel();
        std::thread::Builder::new()
            .name("sqlite-checkpoints".into())
            .spawn(move || {
                let mut checkpointer = Checkpointer {
                    path,
                    gate,
                    runtime,
                    connection: None,
                    copied_in_turn: None,
                };
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(PERIOD) {
                    checkpointer.pass();
                }
            })?;
        Ok(Self { _stop: stop })
    }
}

struct Checkpointer {
    path: PathBuf,
    gate: WriteGate,
    runtime: Handle,
    connection: Option<Connection>,
    /// The WAL's length when a pass last copied it in the write turn: no
    /// longer since means nothing was written, and no turn is needed.
    copied_in_turn: Option<i64>,
}

impl Checkpointer {
    /// One pass: copy, and when the WAL is long, copy the rest in the write turn.
    fn pass(&mut self) {
        let wal_frames = match self.checkpoint() {
            Ok(frames) => frames,
            Err(e) => {
                // Retried with a new connection next period.
                tracing::warn!(error = %e, "SQLite WAL checkpoint failed");
                return;
            }
        };
        if wal_frames < RESTART_AT || self.copied_in_turn == Some(wal_frames) {
            return;
        }
        // Writers hold the turn for one transaction each: the wait is short.
        let turn = self.gate.blocking_turn(&self.runtime);
        match self.checkpoint() {
            Ok(frames) => self.copied_in_turn = Some(frames),
            Err(e) => tracing::warn!(error = %e, "SQLite WAL checkpoint failed"),
        }
        drop(turn);
    }

    /// A `PASSIVE` checkpoint: as much of the WAL as no reader still needs.
    /// Answers the WAL's length in frames.
    fn checkpoint(&mut self) -> rusqlite::Result<i64> {
        let connection = match self.connection.take() {
            Some(connection) => connection,
            None => open(&self.path)?,
        };
        let wal_frames = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            row.get::<_, i64>(1)
        })?;
        self.connection = Some(connection);
        Ok(wal_frames)
    }
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // A checkpoint that finds another under way returns at once (busy): the
    // next pass does its work.
    connection.busy_timeout(Duration::ZERO)?;
    connection.pragma_update(None, "wal_autocheckpoint", 0)?;
    Ok(connection)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATABASE: &str = "wal.db";

    /// A database in WAL mode with a table `t (n, pad)`, and a connection to
    /// it that never checkpoints on commit, as the store's connections.
    fn wal_database_that_never_checkpoints() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let writer = Connection::open(dir.path().join(DATABASE)).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
                 CREATE TABLE t (n INTEGER, pad TEXT);",
            )
            .unwrap();
        (dir, writer)
    }

    #[test]
    fn the_thread_copies_the_wal_into_the_database_that_no_commit_does() {
        let (dir, writer) = wal_database_that_never_checkpoints();
        let path = dir.path().join(DATABASE);
        // About 2 MiB of rows, 2,000 commits: far past the automatic
        // checkpoint's 1,000 pages, had it been on.
        for n in 0..2_000 {
            writer
                .execute(
                    "INSERT INTO t VALUES (?1, ?2)",
                    rusqlite::params![n, "x".repeat(1_000)],
                )
                .unwrap();
        }
        let database_bytes = || std::fs::metadata(&path).unwrap().len();
        assert!(database_bytes() < 100_000, "the rows are only in the WAL");

        let runtime = tokio::runtime::Runtime::new().unwrap();
        let gate = WriteGate::one_at_a_time();
        let checkpoints =
            Checkpoints::start(path.clone(), gate.clone(), runtime.handle().clone()).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while database_bytes() < 2_000_000 && std::time::Instant::now() < deadline {
            std::thread::sleep(PERIOD);
        }
        assert!(database_bytes() >= 2_000_000, "checkpointed into the file");
        drop(checkpoints);

        let rows: i64 = Connection::open(&path)
            .unwrap()
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 2_000);
    }

    /// Frames in the WAL file on disk (it is reused, never shrunk, after a
    /// restart): with 4 KiB pages, a 32-byte header and 24 bytes per frame.
    fn wal_file_frames(path: &Path) -> u64 {
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let bytes = std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0);
        bytes.saturating_sub(32) / (4096 + 24)
    }

    #[test]
    fn under_a_steady_stream_of_writes_the_wal_starts_over() {
        let (dir, writer) = wal_database_that_never_checkpoints();
        let path = dir.path().join(DATABASE);
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let gate = WriteGate::one_at_a_time();
        let _checkpoints =
            Checkpoints::start(path.clone(), gate.clone(), runtime.handle().clone()).unwrap();

        // Commits one after another, each in the node's write turn as the
        // store's writers take it, each at least one frame.
        let wanted = 20 * RESTART_AT;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let mut commits = 0;
        while commits < wanted && std::time::Instant::now() < deadline {
            let turn = runtime.block_on(gate.turn()).unwrap();
            writer
                .execute(
                    "INSERT INTO t VALUES (?1, ?2)",
                    rusqlite::params![commits, "x".repeat(1_000)],
                )
                .unwrap();
            drop(turn);
            commits += 1;
        }
        assert_eq!(commits, wanted);
        let frames = wal_file_frames(&path);
        assert!(
            frames < 5 * RESTART_AT.unsigned_abs(),
            "{frames} frames in the WAL after {commits} commits"
        );
    }
}
