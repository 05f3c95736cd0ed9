//! Portal users: accounts, login attempts, passwords, TOTP.

use fintechapi_domain::StoreError;
use fintechapi_domain::ids::UserId;
use fintechapi_domain::password::PasswordHash;
use fintechapi_domain::portal::{Email, NewUser, PortalError, User};
use time::OffsetDateTime;

use super::super::totp::{self, Holder};
use super::{Store, Write};
use crate::error::{is_unique_violation, store};
use crate::rows::UserRow;

impl Store {
    pub(crate) async fn create_user(&self, user: NewUser) -> Result<User, PortalError> {
        let u = user;
        let inserted = sqlx::query(
            "INSERT INTO users (id, email, display_name, kind, password_hash, email_verified_at, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(u.id)
        .bind(u.email.as_str())
        .bind(&u.display_name)
        .bind(u.kind.as_str())
        .bind(u.password.as_phc())
        .bind(u.email_verified_at)
        .bind(u.created_at)
        .execute(&self.0)
        .await;
        match inserted {
            Ok(_) => Ok(User {
                id: u.id,
                email: u.email,
                display_name: u.display_name,
                kind: u.kind,
                email_verified_at: u.email_verified_at,
                failed_logins: 0,
                locked_until: None,
                totp_enabled: false,
                created_at: u.created_at,
            }),
            Err(e) if is_unique_violation(&e, "email") => Err(PortalError::EmailTaken),
            Err(e) => Err(store(e).into()),
        }
    }

    pub(crate) async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        select_rows!(UserRow, user_columns, "FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.0)
            .await
            .map_err(store)?
            .map(|r| r.user())
            .transpose()
    }

    pub(crate) async fn user_by_email(
        &self,
        email: &Email,
    ) -> Result<Option<(User, PasswordHash)>, StoreError> {
        select_rows!(UserRow, user_columns, "FROM users WHERE email = $1")
            .bind(email.as_str())
            .fetch_optional(&self.0)
            .await
            .map_err(store)?
            .map(|r| Ok((r.user()?, PasswordHash::from_phc(r.password_hash))))
            .transpose()
    }

    pub(crate) async fn begin_login_attempt(
        &self,
        id: UserId,
        max: u32,
        lock_until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        sqlx::query(
            // A lock that ran out starts a new count.
            "UPDATE users SET \
             failed_logins = CASE WHEN locked_until IS NULL THEN failed_logins + 1 ELSE 1 END, \
             locked_until = CASE WHEN (CASE WHEN locked_until IS NULL THEN failed_logins + 1 \
             ELSE 1 END) >= $2 THEN $3 ELSE NULL END \
             WHERE id = $1 AND ((locked_until IS NULL AND failed_logins < $2) OR locked_until <= $4)",
        )
        .bind(id)
        .bind(i64::from(max))
        .bind(lock_until)
        .bind(now)
        .changed_one(&self.0)
.await
    }

    pub(crate) async fn reset_login_failures(&self, id: UserId) -> Result<(), StoreError> {
        let query =
            sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1");
        query.bind(id).run(&self.0).await
    }

    pub(crate) async fn mark_email_verified(
        &self,
        id: UserId,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE users SET email_verified_at = COALESCE(email_verified_at, $2) WHERE id = $1",
        )
        .bind(id)
        .bind(at)
        .run(&self.0)
        .await
    }

    pub(crate) async fn set_password(
        &self,
        id: UserId,
        password: PasswordHash,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE users SET password_hash = $2, failed_logins = 0, locked_until = NULL \
             WHERE id = $1",
        )
        .bind(id)
        .bind(password.as_phc().to_owned())
        .run(&self.0)
        .await
    }

    pub(crate) async fn set_totp(
        &self,
        id: UserId,
        sealed_seed: Option<String>,
    ) -> Result<(), StoreError> {
        totp::set_seed(&self.0, Holder::User, id, sealed_seed).await
    }

    pub(crate) async fn totp_seed(&self, id: UserId) -> Result<Option<String>, StoreError> {
        totp::seed(&self.0, Holder::User, id).await
    }

    pub(crate) async fn accept_totp_step(&self, id: UserId, step: i64) -> Result<bool, StoreError> {
        totp::accept_step(&self.0, Holder::User, id, step).await
    }
}
