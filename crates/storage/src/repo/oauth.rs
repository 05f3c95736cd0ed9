//! OAuth token queries. Tokens are looked up by their keyed hash.

use fintechapi_domain::StoreError;
use fintechapi_domain::oauth::TokenRecord;
use fintechapi_domain::secret::KeyedHash;
use sqlx::Pool;
use time::OffsetDateTime;

use super::Db;
use crate::error::store;
use crate::rows::TokenRow;

pub(crate) async fn insert(pool: &Pool<Db>, token: TokenRecord) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO oauth_tokens \
         (token_hash, kind, application_id, client_id, scope, issued_at, expires_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(token.hash.as_str())
    .bind(token.kind.as_str())
    .bind(token.application_id.to_string())
    .bind(&token.client_id)
    .bind(&token.scope)
    .bind(token.issued_at)
    .bind(token.expires_at)
    .bind(token.revoked_at)
    .execute(pool)
    .await
    .map_err(store)?;
    Ok(())
}

pub(crate) async fn by_hash(
    pool: &Pool<Db>,
    hash: &KeyedHash,
) -> Result<Option<TokenRecord>, StoreError> {
    sqlx::query_as::<_, TokenRow>(
        "SELECT token_hash, kind, application_id, client_id, scope, issued_at, expires_at, \
         revoked_at FROM oauth_tokens WHERE token_hash = $1",
    )
    .bind(hash.as_str())
    .fetch_optional(pool)
    .await
    .map_err(store)?
    .map(TokenRecord::try_from)
    .transpose()
}

pub(crate) async fn revoke(
    pool: &Pool<Db>,
    hash: &KeyedHash,
    at: OffsetDateTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE oauth_tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
    )
    .bind(hash.as_str())
    .bind(at)
    .execute(pool)
    .await
    .map_err(store)?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn prune(pool: &Pool<Db>, before: OffsetDateTime) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM oauth_tokens WHERE expires_at < $1")
        .bind(before)
        .execute(pool)
        .await
        .map_err(store)?;
    Ok(done.rows_affected())
}
