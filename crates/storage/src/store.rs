//! The store: one pool of either backend, chosen at connect, its migrations
//! and readiness. The ports are implemented per backend in `repo/*.rs` and
//! forwarded in `ports.rs`.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use fintechapi_domain::StoreError;
use fintechapi_domain::oauth::TokenRecord;
use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Sqlite, SqliteConnection, SqlitePool};
use tokio::runtime::Handle;

use crate::hot::HotReads;
use crate::pg_balances::BalanceReads;
use crate::pg_hot::{HotConnection, PgHot};
use crate::redact_database_url;
use crate::sqlite_writer::SqliteWriter;
use crate::{postgres, sqlite};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("unsupported database URL {0:?}: expected sqlite:… or postgres://…")]
    UnsupportedUrl(String),
    #[error("invalid database URL {url}: {source}")]
    InvalidUrl {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot connect to {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot start the SQLite writer's threads: {0}")]
    WriterThread(#[source] std::io::Error),
    #[error("cannot make {path} readable by this user only: {source}")]
    Permissions {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    pub reachable: bool,
    pub migrations_current: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

/// The SQLite store: the queries in `repo/*.rs` implement the ports for it.
/// Unless the database lives in memory, the file's reads on the request's
/// thread for the hottest queries, and the token writes and the WAL's
/// checkpoints on threads of their own.
#[derive(Clone)]
pub struct SqliteStore(
    pub(crate) SqlitePool,
    pub(crate) crate::WriteGate,
    pub(crate) Option<Arc<HotReads>>,
    pub(crate) Option<Arc<SqliteWriter>>,
);

/// The PostgreSQL store, running the same queries as [`SqliteStore`], the
/// hottest reads on connections of their own, and `/balances` reads in
/// batches ([`BalanceReads`]).
#[derive(Clone)]
pub struct PgStore(
    pub(crate) PgPool,
    pub(crate) crate::WriteGate,
    pub(crate) Arc<PgHot>,
    pub(crate) Arc<BalanceReads>,
);

impl SqliteStore {
    /// `tokens` stored by the token writer's own connection
    /// ([`SqliteWriter`]), in its turn among the node's writes; `None` for a
    /// database in memory, which only the pool's connections see.
    pub(crate) async fn insert_token_batch(
        &self,
        tokens: &[TokenRecord],
    ) -> Option<Result<(), StoreError>> {
        let writer = self.3.as_deref()?;
        let turn = match self.1.turn().await {
            Ok(turn) => turn,
            Err(e) => return Some(Err(e)),
        };
        let written = writer.insert_tokens(tokens.to_vec()).await;
        drop(turn);
        Some(written)
    }

    /// Always `None`: a SQLite read runs [`inline`](Self::inline), where
    /// PostgreSQL's `/balances` reads go in batches.
    pub(crate) async fn batched_account_with_booked_since(
        &self,
        _account: fintechapi_domain::ids::AccountId,
        _date: time::Date,
    ) -> Option<Result<crate::pg_balances::Found, StoreError>> {
        None
    }

    /// `read` on the request's thread ([`HotReads::read`]); `None` sends
    /// the caller to the pool.
    pub(crate) fn inline<T>(
        &self,
        what: &'static str,
        read: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Option<T> {
        self.2.as_deref().and_then(|hot| hot.read(what, read))
    }

    /// A connection of the pool for one read (the hottest reads run
    /// [`inline`](Self::inline) first).
    pub(crate) async fn hot_connection(
        &self,
        _what: &'static str,
    ) -> Result<PooledRead, StoreError> {
        Ok(PooledRead(
            self.0.acquire().await.map_err(crate::error::store)?,
        ))
    }
}

/// A SQLite connection of the pool for one read, back to the pool once
/// dropped.
pub(crate) struct PooledRead(PoolConnection<Sqlite>);

impl PooledRead {
    pub(crate) fn get(&mut self) -> &mut SqliteConnection {
        &mut self.0
    }

    pub(crate) fn release<T>(self, read: Result<T, StoreError>) -> Result<T, StoreError> {
        read
    }
}

impl PgStore {
    /// The batch as one array per column, unnested into rows
    /// (`pg_tokens.rs`), on a connection of its own ([`PgHot`]): the pool
    /// would add a round trip to every batch, its test of the returned
    /// connection.
    pub(crate) async fn insert_token_batch(
        &self,
        tokens: &[TokenRecord],
    ) -> Option<Result<(), StoreError>> {
        let mut connection = match self.hot_connection("insert_tokens").await {
            Ok(connection) => connection,
            Err(e) => return Some(Err(e)),
        };
        let written = crate::pg_tokens::insert_tokens(connection.get(), tokens).await;
        Some(connection.release(written))
    }

    /// Always `None`: a PostgreSQL read is a round trip, on a
    /// [`hot_connection`](Self::hot_connection).
    pub(crate) fn inline<T>(
        &self,
        _what: &'static str,
        _read: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Option<T> {
        None
    }

    /// A connection of its own for one statement ([`PgHot`]): one round trip,
    /// where the pool adds its test of the returned connection.
    pub(crate) async fn hot_connection(
        &self,
        what: &'static str,
    ) -> Result<HotConnection<'_>, StoreError> {
        self.2.connection(&self.0, what).await
    }
}

#[derive(Clone)]
pub(crate) enum Pool {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

/// The database behind every repository port. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: Pool,
    max_connections: u32,
}

/// Sets `path` to mode 0600 whatever the umask, creating it empty first when
/// `create` (an empty file is a new SQLite database); a missing file is left alone otherwise.
fn private_file(path: &Path, create: bool) -> Result<(), ConnectError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let failed = |source| ConnectError::Permissions {
        path: path.display().to_string(),
        source,
    };
    if create {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(failed)?;
    } else if !path.exists() {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(failed)
}

impl Store {
    /// Opens (creating if needed) the SQLite database file at `path`.
    pub async fn open_sqlite(path: &Path, options: &StoreOptions) -> Result<Self, ConnectError> {
        let connect = SqliteConnectOptions::new().filename(path);
        Self::sqlite(connect, path.display().to_string(), options).await
    }

    /// Connects to `sqlite:…` or `postgres://…`.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self, ConnectError> {
        let shown = redact_database_url(url);
        let invalid = |source| ConnectError::InvalidUrl {
            url: shown.clone(),
            source,
        };
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let connect = PgConnectOptions::from_str(url).map_err(invalid)?;
            // As many again for the hot statements, opened as they are
            // needed, and one for the batches of `/balances` reads.
            let hot_reads = PgHot::new(connect.clone(), options.max_connections as usize);
            let balance_reads = BalanceReads::new(&connect);
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                // Tested on release already; a test before each use too would
                // cost every query one more round trip.
                .test_before_acquire(false)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect)
                .await
                .map_err(|source| ConnectError::Connect { url: shown, source })?;
            Ok(Self {
                pool: Pool::Postgres(PgStore(
                    pool,
                    crate::WriteGate::default(),
                    Arc::new(hot_reads),
                    Arc::new(balance_reads),
                )),
                max_connections: options.max_connections,
            })
        } else if url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(url).map_err(invalid)?;
            Self::sqlite(connect, shown, options).await
        } else {
            Err(ConnectError::UnsupportedUrl(shown))
        }
    }

    async fn sqlite(
        connect: SqliteConnectOptions,
        shown: String,
        options: &StoreOptions,
    ) -> Result<Self, ConnectError> {
        // Customer data: the file exists, mode 0600, before SQLite opens it, so
        // the -wal and -shm files SQLite creates take the same mode.
        let file = connect.get_filename().to_owned();
        let on_disk = file.as_os_str() != ":memory:" && !file.as_os_str().is_empty();
        if on_disk {
            private_file(&file, true)?;
        }
        let connect = connect
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // The writer's checkpoint thread copies the WAL back, not a commit.
            .pragma("wal_autocheckpoint", "0");
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            // sqlx tests each connection when it is released; a test before
            // each use too would cost every query one more hop.
            .test_before_acquire(false)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(|source| ConnectError::Connect { url: shown, source })?;
        let gate = crate::WriteGate::one_at_a_time();
        let writer = if on_disk {
            // The checkpoints wait for their write turn on the caller's runtime.
            let runtime = Handle::try_current().map_err(std::io::Error::other);
            let writer = runtime
                .and_then(|runtime| SqliteWriter::start(file.clone(), gate.clone(), runtime))
                .map_err(ConnectError::WriterThread)?;
            Some(Arc::new(writer))
        } else {
            None
        };
        if on_disk {
            // Files an older version left readable to others.
            for suffix in ["-wal", "-shm"] {
                let mut companion = file.clone().into_os_string();
                companion.push(suffix);
                private_file(Path::new(&companion), false)?;
            }
        }
        Ok(Self {
            pool: Pool::Sqlite(SqliteStore(
                pool,
                gate,
                on_disk.then(|| Arc::new(HotReads::new(file.clone()))),
                writer,
            )),
            max_connections: options.max_connections,
        })
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies every embedded migration not yet applied.
    pub async fn migrate(&self) -> Result<(), ConnectError> {
        match &self.pool {
            Pool::Sqlite(s) => SQLITE_MIGRATIONS.run(&s.0).await?,
            Pool::Postgres(s) => POSTGRES_MIGRATIONS.run(&s.0).await?,
        }
        Ok(())
    }

    /// Whether the database answers and has exactly the migrations this binary embeds.
    pub async fn readiness(&self) -> Readiness {
        let (migrator, applied) = match &self.pool {
            Pool::Sqlite(s) => (
                &SQLITE_MIGRATIONS,
                sqlite::meta::applied_migrations(&s.0).await,
            ),
            Pool::Postgres(s) => (
                &POSTGRES_MIGRATIONS,
                postgres::meta::applied_migrations(&s.0).await,
            ),
        };
        let Ok(applied) = applied else {
            let reachable = self.ping().await;
            return Readiness {
                reachable,
                migrations_current: false,
            };
        };
        let embedded: Vec<i64> = migrator.iter().map(|m| m.version).collect();
        Readiness {
            reachable: true,
            migrations_current: applied == embedded,
        }
    }

    async fn ping(&self) -> bool {
        match &self.pool {
            Pool::Sqlite(s) => sqlite::meta::ping(&s.0).await,
            Pool::Postgres(s) => postgres::meta::ping(&s.0).await,
        }
        .is_ok()
    }

    pub fn pool_stats(&self) -> PoolStats {
        let (size, idle) = match &self.pool {
            Pool::Sqlite(s) => (s.0.size(), s.0.num_idle()),
            Pool::Postgres(s) => (s.0.size(), s.0.num_idle()),
        };
        PoolStats {
            size,
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
            max: self.max_connections,
        }
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(s) => s.0.close().await,
            Pool::Postgres(s) => s.0.close().await,
        }
    }

    pub async fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        match &self.pool {
            Pool::Sqlite(s) => sqlite::meta::get(&s.0, key).await,
            Pool::Postgres(s) => postgres::meta::get(&s.0, key).await,
        }
    }

    pub async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Sqlite(s) => sqlite::meta::set(&s.0, key, value).await,
            Pool::Postgres(s) => postgres::meta::set(&s.0, key, value).await,
        }
    }
}
