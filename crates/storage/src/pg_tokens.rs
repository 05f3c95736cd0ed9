//! PostgreSQL's token batches as column arrays.
//!
//! A multi-row `VALUES` list is a different statement for every batch size,
//! and PostgreSQL initialises an expression per value of every row on each
//! execution. Twelve arrays unnested into rows are one prepared statement
//! whatever the batch's size.

use fintechapi_domain::StoreError;
use fintechapi_domain::oauth::TokenRecord;
use sqlx::PgConnection;
use time::OffsetDateTime;

use crate::error::store;

const INSERT_TOKENS: &str = "INSERT INTO oauth_tokens (token_hash, kind, application_id, \
     client_id, scope, authorization_id, authorization_details, dpop_jkt, mtls_x5t, issued_at, \
     expires_at, revoked_at) \
     SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
     $6::text[], $7::text[], $8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[], \
     $12::timestamptz[])";

/// Stores `tokens` in one statement, its own transaction: all of them or none.
pub(crate) async fn insert_tokens(
    connection: &mut PgConnection,
    tokens: &[TokenRecord],
) -> Result<(), StoreError> {
    fn column<T>(tokens: &[TokenRecord], value: impl Fn(&TokenRecord) -> T) -> Vec<T> {
        tokens.iter().map(value).collect()
    }
    let texts = |value: fn(&TokenRecord) -> &str| -> Vec<String> {
        column(tokens, |t| value(t).to_owned())
    };
    let optional = |value: fn(&TokenRecord) -> Option<&str>| -> Vec<Option<String>> {
        column(tokens, |t| value(t).map(str::to_owned))
    };
    sqlx::query(INSERT_TOKENS)
        .bind(texts(|t| t.hash.as_str()))
        .bind(texts(|t| t.kind.as_str()))
        .bind(column(tokens, |t| t.application_id.to_string()))
        .bind(texts(|t| &t.client_id))
        .bind(texts(|t| &t.scope))
        .bind(column(tokens, |t| {
            t.authorization_id.map(|id| id.to_string())
        }))
        .bind(optional(|t| t.authorization_details.as_deref()))
        .bind(optional(|t| t.dpop_jkt.as_deref()))
        .bind(optional(|t| t.mtls_x5t.as_deref()))
        .bind(column(tokens, |t| t.issued_at))
        .bind(column(tokens, |t| t.expires_at))
        .bind(column::<Option<OffsetDateTime>>(tokens, |t| t.revoked_at))
        .execute(connection)
        .await
        .map_err(store)?;
    Ok(())
}
