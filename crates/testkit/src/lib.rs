#![allow(clippy::expect_used, clippy::unwrap_used)] // test support: a failed fixture should fail the test loudly
//! Test support (dev-only): a fresh database per test on either store, the
//! [`both_stores!`] macro that runs one test function on SQLite and on PostgreSQL,
//! and an HTTPS client that trusts a given CA.
//!
//! PostgreSQL tests create a database `fintechapi_test_<random>` through
//! `TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`)
//! and drop it afterwards. They fail, never skip, when PostgreSQL is down.

use std::path::{Path, PathBuf};

pub use fintechapi_storage::Backend;
use fintechapi_storage::{Store, StoreOptions};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

/// A fresh, empty database and a scratch data directory, removed on drop.
pub struct TestDb {
    backend: Backend,
    dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl TestDb {
    pub async fn create(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let postgres = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let admin = admin_url();
                let name = format!("fintechapi_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
                    panic!("PostgreSQL at {admin} is needed for the postgres tests: {e}")
                });
                sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .expect("CREATE DATABASE");
                let _ = conn.close().await;
                let (base, _) = admin.rsplit_once('/').expect("admin URL with a database");
                Some((format!("{base}/{name}"), name))
            }
        };
        Self {
            backend,
            dir,
            postgres,
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A scratch data directory (TLS material, the SQLite file).
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The URL to pass as `--database-url`; None means SQLite in the data directory.
    pub fn database_url(&self) -> Option<String> {
        self.postgres.as_ref().map(|(url, _)| url.clone())
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.dir.path().join("fintechapi.db")
    }

    /// Runs raw SQL on its own connection and returns the first column of each
    /// row as text: for tests that inspect exactly what is stored.
    pub async fn raw_strings(&self, sql: &str) -> Vec<String> {
        use sqlx::Row;
        let sql = AssertSqlSafe(sql.to_owned());
        match &self.postgres {
            Some((url, _)) => {
                let mut conn = PgConnection::connect(url).await.expect("connect");
                let rows = sqlx::query(sql)
                    .fetch_all(&mut conn)
                    .await
                    .expect("raw SQL");
                rows.iter()
                    .map(|r| r.try_get::<String, _>(0).unwrap_or_default())
                    .collect()
            }
            None => {
                let url = format!("sqlite:{}", self.sqlite_path().display());
                let mut conn = sqlx::SqliteConnection::connect(&url)
                    .await
                    .expect("connect");
                let rows = sqlx::query(sql)
                    .fetch_all(&mut conn)
                    .await
                    .expect("raw SQL");
                rows.iter()
                    .map(|r| r.try_get::<String, _>(0).unwrap_or_default())
                    .collect()
            }
        }
    }

    /// How many rows `table` holds: for tests that check what a refusal left behind.
    pub async fn count_rows(&self, table: &str) -> usize {
        let count = self
            .raw_strings(&format!("SELECT CAST(COUNT(*) AS TEXT) FROM {table}"))
            .await;
        count[0].parse().expect("a row count")
    }

    /// A migrated store on this database.
    pub async fn store(&self) -> Store {
        let options = StoreOptions {
            max_connections: 20,
            ..StoreOptions::default()
        };
        let store = match &self.postgres {
            Some((url, _)) => Store::connect(url, &options).await,
            None => Store::open_sqlite(&self.sqlite_path(), &options).await,
        }
        .expect("connect to the test database");
        store.migrate().await.expect("migrate the test database");
        store
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((_, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs inside the test's runtime: use a thread with its own.
        let dropper = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect(&admin_url()).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::query(AssertSqlSafe(sql)).execute(&mut conn).await;
                }
            });
        });
        let _ = dropper.join();
    }
}

/// Runs each named `async fn name(db: TestDb)` once on SQLite and once on
/// PostgreSQL, as the tests `<name>::sqlite` and `<name>::postgres`, each with
/// a fresh [`TestDb`]. The test body stays a plain function so rustfmt formats
/// it; the module shares its name, which functions and modules may.
///
/// ```text
/// async fn a_transfer_posts_twice(db: TestDb) { /* … */ }
/// both_stores!(a_transfer_posts_twice);
/// ```
#[macro_export]
macro_rules! both_stores {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::TestDb::create($crate::Backend::Sqlite).await).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::TestDb::create($crate::Backend::Postgres).await).await
                }
            }
        )+
    };
}

/// An HTTPS client that trusts only the CA in `ca_pem` (no system roots).
pub fn https_client(ca_pem: &Path) -> reqwest::ClientBuilder {
    let pem = std::fs::read(ca_pem).expect("read the CA certificate");
    let ca = reqwest::Certificate::from_pem(&pem).expect("a PEM CA certificate");
    reqwest::Client::builder().tls_certs_only([ca])
}
