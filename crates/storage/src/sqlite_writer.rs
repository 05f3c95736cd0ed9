//! SQLite's token writes on a connection and thread of their own.
//!
//! The token endpoint's group commit (oauth `writer.rs`) is the node's
//! busiest writer. Through the pool, each batch went to whichever connection
//! was free, and a SQLite connection drops its whole page cache when another
//! connection wrote since its last transaction: every batch read the tokens'
//! index pages back from the OS, then paid the worker hop and the pool's
//! release ping. Here one connection, on one thread, writes every batch: its
//! cache stays warm, and a batch is one prepared single-row `INSERT` run per
//! token in one `BEGIN IMMEDIATE` transaction, one commit.
//!
//! The WAL's checkpoints run on a thread of their own too
//! ([`Checkpoints`]), started with this one.
//!
//! Values are written as sqlx writes them for the other statements on the
//! same rows (ids as hyphenated text, times as RFC 3339), so both read alike.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use fintechapi_domain::StoreError;
use fintechapi_domain::oauth::TokenRecord;
use rusqlite::{Connection, OpenFlags, TransactionBehavior, params};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::WriteGate;
use crate::sqlite_checkpoints::Checkpoints;

/// As long as the pool's busy timeout: a writer of the pool may hold the lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const INSERT_TOKEN: &str = "INSERT INTO oauth_tokens (token_hash, kind, application_id, \
     client_id, scope, authorization_id, authorization_details, dpop_jkt, mtls_x5t, issued_at, \
     expires_at, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

struct Batch {
    tokens: Vec<TokenRecord>,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The way to the writing thread; it and the checkpoints end when this is dropped.
pub(crate) struct SqliteWriter {
    batches: mpsc::Sender<Batch>,
    _checkpoints: Checkpoints,
}

impl SqliteWriter {
    /// Starts the thread, whose connection opens with the first batch, and
    /// the checkpoints', which take `gate`'s turn on `runtime`.
    pub(crate) fn start(path: PathBuf, gate: WriteGate, runtime: Handle) -> std::io::Result<Self> {
        let checkpoints = Checkpoints::start(path.clone(), gate, runtime)?;
        let (batches, received) = mpsc::channel();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || write_batches(&path, &received))?;
        Ok(Self {
            batches,
            _checkpoints: checkpoints,
        })
    }

    /// Stores `tokens` in one transaction, all or none. A caller dropped
    /// meanwhile does not stop the write; nobody is answered then.
    pub(crate) async fn insert_tokens(&self, tokens: Vec<TokenRecord>) -> Result<(), StoreError> {
        let (done, written) = oneshot::channel();
        self.batches
            .send(Batch { tokens, done })
            .map_err(|_| stopped())?;
        written.await.unwrap_or_else(|_| Err(stopped()))
    }
}

fn stopped() -> StoreError {
    StoreError("the SQLite writer thread has stopped".into())
}

fn write_batches(path: &PathBuf, batches: &mpsc::Receiver<Batch>) {
    let mut connection: Option<Connection> = None;
    while let Ok(batch) = batches.recv() {
        let result = match connection.take().map_or_else(|| open(path), Ok) {
            Ok(mut open) => {
                let result = insert(&mut open, &batch.tokens);
                // After a failure the next batch starts on a new connection.
                if result.is_ok() {
                    connection = Some(open);
                }
                result
            }
            Err(e) => Err(e),
        };
        let _ = batch.done.send(result.map_err(StoreError::new));
    }
}

/// Opened as the pool opens its connections (WAL is the file's already).
fn open(path: &PathBuf) -> rusqlite::Result<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    connection.pragma_update(None, "foreign_keys", true)?;
    // The checkpoints' own thread copies the WAL back (`sqlite_checkpoints`).
    connection.pragma_update(None, "wal_autocheckpoint", 0)?;
    Ok(connection)
}

fn insert(connection: &mut Connection, tokens: &[TokenRecord]) -> rusqlite::Result<()> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut insert = transaction.prepare_cached(INSERT_TOKEN)?;
        for token in tokens {
            insert.execute(params![
                token.hash.as_str(),
                token.kind.as_str(),
                token.application_id.to_string(),
                token.client_id,
                token.scope,
                token.authorization_id.map(|id| id.to_string()),
                token.authorization_details,
                token.dpop_jkt,
                token.mtls_x5t,
                rfc3339(token.issued_at)?,
                rfc3339(token.expires_at)?,
                token.revoked_at.map(rfc3339).transpose()?,
            ])?;
        }
    }
    transaction.commit()
}

fn rfc3339(at: OffsetDateTime) -> rusqlite::Result<String> {
    at.format(&Rfc3339)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}
