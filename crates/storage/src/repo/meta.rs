//! Key-value settings of the installation and migration bookkeeping.

use fintechapi_domain::StoreError;
use sqlx::Pool;

use super::{Db, Write};
use crate::error::store;

pub(crate) async fn ping(pool: &Pool<Db>) -> Result<(), StoreError> {
    sqlx::query("SELECT 1").run(pool).await
}

pub(crate) async fn applied_migrations(pool: &Pool<Db>) -> Result<Vec<i64>, StoreError> {
    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(pool)
        .await
        .map_err(store)
}

pub(crate) async fn get(pool: &Pool<Db>, key: &str) -> Result<Option<String>, StoreError> {
    sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
        .bind(key)
        .fetch_optional(pool)
        .await
        .map_err(store)
}

pub(crate) async fn set(pool: &Pool<Db>, key: &str, value: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO meta (key, value) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .run(pool)
    .await
}
