//! Tests' scratch PostgreSQL databases: one fresh database per test, on the
//! server `TEST_POSTGRES_URL` names (the local one by default).

use sqlx::{AssertSqlSafe, Connection, PgConnection};

pub(crate) struct ScratchPg {
    pub(crate) url: String,
    admin: String,
    name: String,
}

impl ScratchPg {
    pub(crate) async fn create() -> Self {
        let admin = std::env::var("TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let name = format!("fintechapi_test_{}", uuid::Uuid::new_v4().simple());
        let mut control = PgConnection::connect(&admin).await.unwrap();
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut control)
            .await
            .unwrap();
        let (base, _) = admin.rsplit_once('/').unwrap();
        Self {
            url: format!("{base}/{name}"),
            admin,
            name,
        }
    }

    /// A connection of the test's own to the scratch database.
    pub(crate) async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url).await.unwrap()
    }

    pub(crate) async fn drop_database(self) {
        let mut control = PgConnection::connect(&self.admin).await.unwrap();
        sqlx::query(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut control)
        .await
        .unwrap();
    }
}
