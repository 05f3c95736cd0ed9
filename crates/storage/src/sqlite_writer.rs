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
use tokio::sync::oneshot;

/// As long as the pool's busy timeout: a writer of the pool may hold the lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const INSERT_TOKEN: &str = "INSERT INTO oauth_tokens (token_hash, kind, application_id, \
     client_id, scope, authorization_id, authorization_details, dpop_jkt, mtls_x5t, issued_at, \
     expires_at, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

struct Batch {
    tokens: Vec<TokenRecord>,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The way to the writing thread; it ends when this is dropped.
pub(crate) struct SqliteWriter {
    batches: mpsc::Sender<Batch>,
}

impl SqliteWriter {
    /// Starts the thread; its connection opens with the first batch.
    pub(crate) fn start(path: PathBuf) -> std::io::Result<Self> {
        let (batches, received) = mpsc::channel();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || write_batches(&path, &received))?;
        Ok(Self { batches })
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

#[cfg(test)]
mod tests {
    use fintechapi_domain::ids::{ApplicationId, OrganisationId};
    use fintechapi_domain::oauth::{TokenKind, TokenRecord, TokenRepository};
    use fintechapi_domain::secret::KeyedHash;
    use time::{Duration, OffsetDateTime};

    use crate::store::Pool;
    use crate::{Store, StoreOptions};

    fn token(hash: &str, kind: TokenKind, application_id: ApplicationId) -> TokenRecord {
        // Nanoseconds, as the clock gives them: RFC 3339 keeps them all.
        let issued_at = OffsetDateTime::from_unix_timestamp_nanos(1_764_900_000_123_456_789)
            .expect("a time in range");
        TokenRecord {
            hash: KeyedHash::from_stored(hash.into()),
            kind,
            application_id,
            client_id: "ck_writer".into(),
            scope: "ais pis".into(),
            authorization_id: None,
            authorization_details: None,
            dpop_jkt: None,
            mtls_x5t: None,
            issued_at,
            expires_at: issued_at + Duration::minutes(5),
            revoked_at: None,
        }
    }

    /// Tokens stored by the writer's own connection read back through the
    /// pool exactly as written, a batch is stored whole or not at all, and the
    /// pool's prune finds their expiry.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tokens_written_apart_read_back_through_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(&dir.path().join("writer.db"), &StoreOptions::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let Pool::Sqlite(sqlite) = &store.pool else {
            panic!("a SQLite file opened another store");
        };
        assert!(
            sqlite.3.is_some(),
            "a file-backed store writes tokens apart"
        );
        let (organisation, application) = (OrganisationId::random(), ApplicationId::random());
        sqlx::query(
            "INSERT INTO organisations (id, legal_name, country, roles, competent_authority, \
             authorisation_number, status, created_at) \
             VALUES ($1, 'Writer Ltd', 'DE', 'PSP_AI', 'BAFIN', 'W-1', 'active', '2026-12-05T00:00:00Z')",
        )
        .bind(organisation)
        .execute(&sqlite.0)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO applications (id, organisation_id, name, description, redirect_uris, \
             security_profile, environment, status, created_at) \
             VALUES ($1, $2, 'writer', '', 'https://tpp.example/cb', 'basic', 'sandbox', 'active', \
             '2026-12-05T00:00:00Z')",
        )
        .bind(application)
        .bind(organisation)
        .execute(&sqlite.0)
        .await
        .unwrap();

        let access = token("k_access", TokenKind::Access, application);
        let refresh = TokenRecord {
            dpop_jkt: Some("jkt-thumbprint".into()),
            mtls_x5t: Some("x5t-thumbprint".into()),
            authorization_details: Some(r#"[{"type":"consent"}]"#.into()),
            revoked_at: Some(access.issued_at + Duration::seconds(1)),
            expires_at: access.issued_at + Duration::days(90),
            ..token("k_refresh", TokenKind::Refresh, application)
        };
        store
            .insert_tokens(&[access.clone(), refresh.clone()])
            .await
            .unwrap();
        for written in [&access, &refresh] {
            assert_eq!(
                store.token_by_hash(&written.hash).await.unwrap().as_ref(),
                Some(written)
            );
        }

        // The second token's key is taken: neither is stored.
        let fresh = token("k_fresh", TokenKind::Access, application);
        assert!(
            store
                .insert_tokens(&[fresh.clone(), access.clone()])
                .await
                .is_err()
        );
        assert_eq!(store.token_by_hash(&fresh.hash).await.unwrap(), None);
        // A failed batch leaves the writer able to write the next.
        store
            .insert_tokens(std::slice::from_ref(&fresh))
            .await
            .unwrap();
        assert_eq!(
            store.token_by_hash(&fresh.hash).await.unwrap(),
            Some(fresh.clone())
        );

        // Expired by the pool's comparison of stored times: the two access
        // tokens, not the refresh token.
        let after_access = access.expires_at + Duration::seconds(1);
        assert_eq!(store.prune_tokens(after_access, 100).await.unwrap(), 2);
        assert_eq!(store.token_by_hash(&access.hash).await.unwrap(), None);
        assert_eq!(
            store.token_by_hash(&refresh.hash).await.unwrap(),
            Some(refresh)
        );
    }

    /// A grant's tokens are found through the index that leaves out the
    /// client-credentials tokens, not by a scan.
    #[tokio::test]
    async fn a_grants_tokens_are_found_by_the_partial_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(&dir.path().join("plan.db"), &StoreOptions::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let Pool::Sqlite(sqlite) = &store.pool else {
            panic!("a SQLite file opened another store");
        };
        let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(
            "EXPLAIN QUERY PLAN UPDATE oauth_tokens SET revoked_at = $2 \
             WHERE authorization_id = $1 AND revoked_at IS NULL",
        )
        .bind("an-authorization")
        .bind("2026-12-05T00:00:00Z")
        .fetch_all(&sqlite.0)
        .await
        .unwrap();
        assert!(
            plan.iter()
                .any(|(.., detail)| detail.contains("USING INDEX oauth_tokens_by_authorization")),
            "{plan:?}"
        );
    }
}
