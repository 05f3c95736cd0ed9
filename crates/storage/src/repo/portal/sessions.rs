//! Portal sessions and one-time tokens (e-mail verification, password reset),
//! keyed by the hash of their secret.

use fintechapi_domain::StoreError;
use fintechapi_domain::ids::UserId;
use fintechapi_domain::portal::{Session, TokenPurpose};
use fintechapi_domain::secret::KeyedHash;
use time::OffsetDateTime;

use super::{Store, Write};
use crate::error::store;
use crate::rows::SessionRow;

impl Store {
    pub(crate) async fn create_session(
        &self,
        key: &KeyedHash,
        session: Session,
    ) -> Result<(), StoreError> {
        let s = session;
        sqlx::query(
            "INSERT INTO sessions (key_hash, user_id, csrf_token, created_at, last_seen_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(key.as_str().to_owned())
        .bind(s.user_id)
        .bind(s.csrf_token)
        .bind(s.created_at)
        .bind(s.last_seen_at)
        .bind(s.expires_at)
        .run(&self.0)
        .await
    }

    pub(crate) async fn session(&self, key: &KeyedHash) -> Result<Option<Session>, StoreError> {
        Ok(sqlx::query_as::<_, SessionRow>(
            "SELECT user_id, csrf_token, created_at, last_seen_at, expires_at FROM sessions \
             WHERE key_hash = $1",
        )
        .bind(key.as_str())
        .fetch_optional(&self.0)
        .await
        .map_err(store)?
        .map(Session::from))
    }

    pub(crate) async fn touch_session(
        &self,
        key: &KeyedHash,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE key_hash = $1")
            .bind(key.as_str().to_owned())
            .bind(at)
            .run(&self.0)
            .await
    }

    pub(crate) async fn delete_session(&self, key: &KeyedHash) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE key_hash = $1")
            .bind(key.as_str().to_owned())
            .run(&self.0)
            .await
    }

    pub(crate) async fn prune_expired(
        &self,
        now: OffsetDateTime,
        idle_before: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let sessions =
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
                .bind(now)
                .bind(idle_before)
                .changed(&self.0)
                .await?;
        let tokens = sqlx::query("DELETE FROM one_time_tokens WHERE expires_at <= $1")
            .bind(now)
            .changed(&self.0)
            .await?;
        Ok(sessions + tokens)
    }

    pub(crate) async fn delete_sessions_of(&self, user: UserId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user)
            .run(&self.0)
            .await
    }

    pub(crate) async fn create_token(
        &self,
        key: &KeyedHash,
        user: UserId,
        purpose: TokenPurpose,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO one_time_tokens (key_hash, user_id, purpose, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(key.as_str().to_owned())
        .bind(user)
        .bind(purpose.as_str())
        .bind(expires_at)
        .run(&self.0)
        .await
    }

    pub(crate) async fn consume_token(
        &self,
        key: &KeyedHash,
        purpose: TokenPurpose,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError> {
        sqlx::query_scalar(
            "UPDATE one_time_tokens SET used_at = $3 WHERE key_hash = $1 AND purpose = $2 \
             AND used_at IS NULL AND expires_at > $3 RETURNING user_id",
        )
        .bind(key.as_str())
        .bind(purpose.as_str())
        .bind(now)
        .fetch_optional(&self.0)
        .await
        .map_err(store)
    }
}
