//! Consumer key/secret pairs: rotation with a grace period, revocation, use.

use fintechapi_domain::StoreError;
use fintechapi_domain::ids::{ApplicationId, CredentialId};
use fintechapi_domain::registry::Credential;
use time::OffsetDateTime;

use super::{Conn, Read, Store, Write, begin_write};
use crate::error::store;
use crate::has_nul;
use crate::rows::CredentialRow;

impl Store {
    pub(crate) async fn credentials_of(
        &self,
        application: ApplicationId,
    ) -> Result<Vec<Credential>, StoreError> {
        select_rows!(
            CredentialRow,
            credential_columns,
            "FROM credentials WHERE application_id = $1 ORDER BY created_at DESC, id"
        )
        .bind(application)
        .all_into(&self.0)
        .await
    }

    pub(crate) async fn credential_by_key(
        &self,
        consumer_key: &str,
    ) -> Result<Option<Credential>, StoreError> {
        if has_nul(consumer_key) {
            return Ok(None);
        }
        select_rows!(
            CredentialRow,
            credential_columns,
            "FROM credentials WHERE consumer_key = $1"
        )
        .bind(consumer_key)
        .optional_into(&self.0)
        .await
    }

    pub(crate) async fn rotate_credential(
        &self,
        credential: Credential,
        old_until: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = begin_write(&self.0, &self.1).await?;
        sqlx::query(
            "UPDATE credentials SET expires_at = $2 WHERE application_id = $1 \
             AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(credential.application_id)
        .bind(old_until)
        .run(&mut *tx)
        .await?;
        insert(&mut tx, &credential).await?;
        tx.commit().await.map_err(store)
    }

    pub(crate) async fn revoke_credential(
        &self,
        id: CredentialId,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE credentials SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1")
            .bind(id)
            .bind(at)
            .run(&self.0)
            .await
    }

    pub(crate) async fn touch_credential(
        &self,
        id: CredentialId,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE credentials SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(at)
            .run(&self.0)
            .await
    }
}

pub(super) async fn insert(conn: &mut Conn, c: &Credential) -> Result<(), StoreError> {
    sqlx::query(concat!(
        "INSERT INTO credentials (",
        credential_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(c.id)
    .bind(c.application_id)
    .bind(&c.consumer_key)
    .bind(c.secret_hash.as_str())
    .bind(c.created_at)
    .bind(c.expires_at)
    .bind(c.revoked_at)
    .bind(c.last_used_at)
    .run(&mut *conn)
    .await
}
