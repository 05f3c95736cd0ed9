//! TOTP seeds and their replay guard, kept the same way on developers'
//! (`users`) and bank customers' (`psus`) rows.

use fintechapi_domain::StoreError;
use sqlx::Pool;

use super::{Db, Write};
use crate::error::store;

/// Whose row holds the seed; table names cannot be bound, so each has its SQL.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Holder {
    User,
    Psu,
}

impl Holder {
    fn sql(self, users: &'static str, psus: &'static str) -> &'static str {
        match self {
            Holder::User => users,
            Holder::Psu => psus,
        }
    }
}

/// Sets (or clears, with None) the sealed seed and forgets the last step used.
pub(crate) async fn set_seed(
    pool: &Pool<Db>,
    holder: Holder,
    id: impl for<'t> sqlx::Encode<'t, Db> + sqlx::Type<Db> + Send,
    sealed_seed: Option<String>,
) -> Result<(), StoreError> {
    sqlx::query(holder.sql(
        "UPDATE users SET totp_secret = $2, totp_last_step = NULL WHERE id = $1",
        "UPDATE psus SET totp_secret = $2, totp_last_step = NULL WHERE id = $1",
    ))
    .bind(id)
    .bind(sealed_seed)
    .run(pool)
    .await
}

pub(crate) async fn seed(
    pool: &Pool<Db>,
    holder: Holder,
    id: impl for<'t> sqlx::Encode<'t, Db> + sqlx::Type<Db> + Send,
) -> Result<Option<String>, StoreError> {
    let seed: Option<Option<String>> = sqlx::query_scalar(holder.sql(
        "SELECT totp_secret FROM users WHERE id = $1",
        "SELECT totp_secret FROM psus WHERE id = $1",
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
    .map_err(store)?;
    Ok(seed.flatten())
}

/// Records `step` as used; false when it (or a later one) already was, so a
/// code cannot be replayed within its window.
pub(crate) async fn accept_step(
    pool: &Pool<Db>,
    holder: Holder,
    id: impl for<'t> sqlx::Encode<'t, Db> + sqlx::Type<Db> + Send,
    step: i64,
) -> Result<bool, StoreError> {
    sqlx::query(holder.sql(
        "UPDATE users SET totp_last_step = $2 WHERE id = $1 \
         AND (totp_last_step IS NULL OR totp_last_step < $2)",
        "UPDATE psus SET totp_last_step = $2 WHERE id = $1 \
         AND (totp_last_step IS NULL OR totp_last_step < $2)",
    ))
    .bind(id)
    .bind(step)
    .changed_one(pool)
    .await
}
