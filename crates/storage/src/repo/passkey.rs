//! PSU passkeys and the server-side state of WebAuthn ceremonies.

use fintechapi_domain::StoreError;
use fintechapi_domain::ids::PsuId;
use fintechapi_domain::psu::PsuPasskey;
use fintechapi_domain::secret::KeyedHash;
use sqlx::Pool;
use time::OffsetDateTime;

use super::{Db, Write};
use crate::error::{is_unique_violation, store};

pub(crate) async fn add(pool: &Pool<Db>, passkey: PsuPasskey) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO psu_passkeys (credential_id, psu_id, label, credential, created_at, \
         last_used_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&passkey.credential_id)
    .bind(passkey.psu_id)
    .bind(&passkey.label)
    .bind(&passkey.credential)
    .bind(passkey.created_at)
    .bind(passkey.last_used_at)
    .execute(pool)
    .await;
    match inserted {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e, "psu_passkeys") => Ok(false),
        Err(e) => Err(store(e)),
    }
}

type PasskeyRow = (
    String,
    String,
    String,
    String,
    OffsetDateTime,
    Option<OffsetDateTime>,
);

pub(crate) async fn of_psu(pool: &Pool<Db>, id: PsuId) -> Result<Vec<PsuPasskey>, StoreError> {
    let rows: Vec<PasskeyRow> = sqlx::query_as(
        "SELECT credential_id, psu_id, label, credential, created_at, last_used_at \
         FROM psu_passkeys WHERE psu_id = $1 ORDER BY created_at, credential_id",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .map_err(store)?;
    rows.into_iter()
        .map(
            |(credential_id, psu_id, label, credential, created_at, last_used_at)| {
                Ok(PsuPasskey {
                    credential_id,
                    psu_id: psu_id
                        .parse()
                        .map_err(|_| StoreError::corrupt("stored PSU id does not parse"))?,
                    label,
                    credential,
                    created_at,
                    last_used_at,
                })
            },
        )
        .collect()
}

pub(crate) async fn record_use(
    pool: &Pool<Db>,
    credential_id: &str,
    credential: String,
    at: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE psu_passkeys SET credential = $2, last_used_at = $3 WHERE credential_id = $1",
    )
    .bind(credential_id)
    .bind(credential)
    .bind(at)
    .run(pool)
    .await
}

pub(crate) async fn remove(
    pool: &Pool<Db>,
    id: PsuId,
    credential_id: &str,
) -> Result<bool, StoreError> {
    sqlx::query("DELETE FROM psu_passkeys WHERE psu_id = $1 AND credential_id = $2")
        .bind(id)
        .bind(credential_id)
        .changed_one(pool)
        .await
}

pub(crate) async fn put_ceremony(
    pool: &Pool<Db>,
    key: &KeyedHash,
    state: String,
    at: OffsetDateTime,
    stale_before: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM webauthn_ceremonies WHERE created_at < $1")
        .bind(stale_before)
        .run(pool)
        .await?;
    sqlx::query(
        "INSERT INTO webauthn_ceremonies (ceremony_hash, state, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (ceremony_hash) DO UPDATE SET state = excluded.state, \
         created_at = excluded.created_at",
    )
    .bind(key.as_str())
    .bind(state)
    .bind(at)
    .run(pool)
    .await
}

pub(crate) async fn take_ceremony(
    pool: &Pool<Db>,
    key: &KeyedHash,
) -> Result<Option<(String, OffsetDateTime)>, StoreError> {
    sqlx::query_as(
        "DELETE FROM webauthn_ceremonies WHERE ceremony_hash = $1 RETURNING state, created_at",
    )
    .bind(key.as_str())
    .fetch_optional(pool)
    .await
    .map_err(store)
}
