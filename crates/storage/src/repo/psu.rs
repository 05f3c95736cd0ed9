//! PSU (bank customer) queries.

use fintechapi_domain::StoreError;
use fintechapi_domain::ids::PsuId;
use fintechapi_domain::password::PasswordHash;
use fintechapi_domain::psu::{
    MAX_FAILED_LOGINS, NewPsu, Psu, PsuError, PsuNotice, PsuSession, PsuSessionStage,
};
use fintechapi_domain::psu::{PsuPasskey, PsuRepository};
use fintechapi_domain::secret::KeyedHash;
use sqlx::Pool;
use time::OffsetDateTime;

use super::{Db, Read, Write};
use crate::error::{is_unique_violation, store};
use crate::has_nul;
use crate::rows::PsuRow;

impl PsuRepository for super::Store {
    async fn create_psu_session(
        &self,
        session_hash: &KeyedHash,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let pool = &self.0;
        sqlx::query(
            "INSERT INTO psu_sessions (session_hash, psu_id, stage, created_at, last_activity_at) \
         VALUES ($1, NULL, 'login', $2, $2)",
        )
        .bind(session_hash.as_str())
        .bind(at)
        .run(pool)
        .await
    }

    async fn psu_session(
        &self,
        session_hash: &KeyedHash,
    ) -> Result<Option<PsuSession>, StoreError> {
        let pool = &self.0;
        let row: Option<(
            Option<PsuId>,
            String,
            OffsetDateTime,
            Option<OffsetDateTime>,
        )> = sqlx::query_as(
            "SELECT psu_id, stage, last_activity_at, factor_at FROM psu_sessions \
             WHERE session_hash = $1",
        )
        .bind(session_hash.as_str())
        .fetch_optional(pool)
        .await
        .map_err(store)?;
        row.map(|(psu, stage, last, factor_at)| {
            Ok(PsuSession {
                psu_id: psu,
                stage: stage.parse()?,
                last_activity_at: last,
                factor_at,
            })
        })
        .transpose()
    }

    async fn advance_psu_session(
        &self,
        session_hash: &KeyedHash,
        from: PsuSessionStage,
        to: PsuSessionStage,
        psu: Option<PsuId>,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.renew_psu_session(session_hash, session_hash, (from, to), psu, false, at)
            .await
    }

    async fn renew_psu_session(
        &self,
        session_hash: &KeyedHash,
        renewed: &KeyedHash,
        stages: (PsuSessionStage, PsuSessionStage),
        psu: Option<PsuId>,
        factor: bool,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let pool = &self.0;
        let (from, to) = stages;
        sqlx::query(
            "UPDATE psu_sessions SET session_hash = $6, stage = $3, psu_id = COALESCE($4, psu_id), \
         last_activity_at = $5, factor_at = CASE WHEN $7 THEN $5 ELSE factor_at END \
         WHERE session_hash = $1 AND stage = $2",
        )
        .bind(session_hash.as_str())
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(psu)
        .bind(at)
        .bind(renewed.as_str())
        .bind(factor)
        .changed_one(pool)
        .await
    }

    async fn end_psu_session(&self, session_hash: &KeyedHash) -> Result<(), StoreError> {
        let pool = &self.0;
        sqlx::query("DELETE FROM psu_sessions WHERE session_hash = $1")
            .bind(session_hash.as_str())
            .run(pool)
            .await
    }

    async fn create_psu(&self, psu: NewPsu) -> Result<Psu, PsuError> {
        let pool = &self.0;
        let inserted = sqlx::query(
            "INSERT INTO psus (id, login, display_name, password_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(psu.id)
        .bind(&psu.login)
        .bind(&psu.display_name)
        .bind(psu.password.as_phc())
        .bind(psu.created_at)
        .execute(pool)
        .await;
        match inserted {
            Ok(_) => Ok(Psu {
                id: psu.id,
                login: psu.login,
                display_name: psu.display_name,
                created_at: psu.created_at,
                failed_logins: 0,
                blocks_in_row: 0,
                blocked_until: None,
                blocked_at: None,
                email: None,
                totp_enabled: false,
            }),
            Err(e) if is_unique_violation(&e, "login") => Err(PsuError::LoginTaken(psu.login)),
            Err(e) => Err(store(e).into()),
        }
    }

    async fn psu_by_login(&self, login: &str) -> Result<Option<(Psu, PasswordHash)>, StoreError> {
        let pool = &self.0;
        if has_nul(login) {
            return Ok(None);
        }
        by_login(pool, login).await
    }

    async fn list_psus(&self) -> Result<Vec<Psu>, StoreError> {
        let pool = &self.0;
        select_rows!(PsuRow, psu_columns, "FROM psus ORDER BY login")
            .all_into(pool)
            .await
    }

    async fn psu(&self, id: PsuId) -> Result<Option<Psu>, StoreError> {
        let pool = &self.0;
        select_rows!(PsuRow, psu_columns, "FROM psus WHERE id = $1")
            .bind(id)
            .optional_into(pool)
            .await
    }

    async fn set_psu_password(&self, id: PsuId, password: PasswordHash) -> Result<(), StoreError> {
        let pool = &self.0;
        sqlx::query(
            "UPDATE psus SET password_hash = $2, failed_logins = 0, blocks_in_row = 0, \
         blocked_until = NULL, blocked_at = NULL WHERE id = $1",
        )
        .bind(id)
        .bind(password.as_phc().to_owned())
        .run(pool)
        .await
    }

    async fn begin_psu_attempt(
        &self,
        id: PsuId,
        at: OffsetDateTime,
    ) -> Result<Option<Psu>, StoreError> {
        let pool = &self.0;
        // The count and the decision in one statement: parallel checks cannot pass the limit.
        sqlx::query_as::<_, PsuRow>(concat!(
            "UPDATE psus SET failed_logins = failed_logins + 1 \
         WHERE id = $1 AND failed_logins < $2 AND blocked_at IS NULL \
         AND (blocked_until IS NULL OR blocked_until <= $3) RETURNING ",
            psu_columns!()
        ))
        .bind(id)
        .bind(max_failed())
        .bind(at)
        .optional_into(pool)
        .await
    }

    async fn block_psu(
        &self,
        id: PsuId,
        at: OffsetDateTime,
        blocks_in_row: u32,
        until: Option<OffsetDateTime>,
    ) -> Result<Option<Psu>, StoreError> {
        let pool = &self.0;
        // Only the check that brought the count to the limit finds it there; the
        // count restarts for the series after the block.
        sqlx::query_as::<_, PsuRow>(concat!(
            "UPDATE psus SET failed_logins = 0, blocks_in_row = blocks_in_row + 1, \
         blocked_until = $5, blocked_at = CASE WHEN $5 IS NULL THEN $3 ELSE NULL END \
         WHERE id = $1 AND failed_logins >= $2 AND blocks_in_row = $4 AND blocked_at IS NULL \
         AND (blocked_until IS NULL OR blocked_until <= $3) RETURNING ",
            psu_columns!()
        ))
        .bind(id)
        .bind(max_failed())
        .bind(at)
        .bind(i32::try_from(blocks_in_row).unwrap_or(i32::MAX))
        .bind(until)
        .optional_into(pool)
        .await
    }

    async fn clear_psu_failed_logins(&self, id: PsuId) -> Result<(), StoreError> {
        let pool = &self.0;
        sqlx::query("UPDATE psus SET failed_logins = 0 WHERE id = $1")
            .bind(id)
            .run(pool)
            .await
    }

    async fn set_psu_email(&self, id: PsuId, email: Option<String>) -> Result<(), StoreError> {
        let pool = &self.0;
        sqlx::query("UPDATE psus SET email = $2 WHERE id = $1")
            .bind(id)
            .bind(email)
            .run(pool)
            .await
    }

    async fn add_psu_notice(&self, notice: PsuNotice) -> Result<(), StoreError> {
        let pool = &self.0;
        sqlx::query("INSERT INTO psu_notices (psu_id, created_at, message) VALUES ($1, $2, $3)")
            .bind(notice.psu_id)
            .bind(notice.created_at)
            .bind(notice.message)
            .run(pool)
            .await
    }

    async fn psu_notices(&self, id: PsuId, limit: u32) -> Result<Vec<PsuNotice>, StoreError> {
        let pool = &self.0;
        let rows: Vec<(OffsetDateTime, String)> = sqlx::query_as(
            "SELECT created_at, message FROM psu_notices WHERE psu_id = $1 \
         ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(id)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(store)?;
        Ok(rows
            .into_iter()
            .map(|(created_at, message)| PsuNotice {
                psu_id: id,
                created_at,
                message,
            })
            .collect())
    }

    async fn set_psu_totp(&self, id: PsuId, sealed_seed: Option<String>) -> Result<(), StoreError> {
        let pool = &self.0;
        super::totp::set_seed(pool, super::totp::Holder::Psu, id, sealed_seed).await
    }

    async fn psu_totp_seed(&self, id: PsuId) -> Result<Option<String>, StoreError> {
        let pool = &self.0;
        super::totp::seed(pool, super::totp::Holder::Psu, id).await
    }

    async fn accept_psu_totp_step(&self, id: PsuId, step: i64) -> Result<bool, StoreError> {
        let pool = &self.0;
        super::totp::accept_step(pool, super::totp::Holder::Psu, id, step).await
    }

    async fn reset_psu_login_failures(&self, id: PsuId) -> Result<(), StoreError> {
        let pool = &self.0;
        sqlx::query(
            "UPDATE psus SET failed_logins = 0, blocks_in_row = 0, blocked_until = NULL, \
         blocked_at = NULL WHERE id = $1",
        )
        .bind(id)
        .run(pool)
        .await
    }

    async fn add_psu_passkey(&self, passkey: PsuPasskey) -> Result<bool, StoreError> {
        let pool = &self.0;
        super::passkey::add(pool, passkey).await
    }

    async fn psu_passkeys(&self, id: PsuId) -> Result<Vec<PsuPasskey>, StoreError> {
        let pool = &self.0;
        super::passkey::of_psu(pool, id).await
    }

    async fn record_psu_passkey_use(
        &self,
        credential_id: &str,
        credential: String,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let pool = &self.0;
        super::passkey::record_use(pool, credential_id, credential, at).await
    }

    async fn remove_psu_passkey(&self, id: PsuId, credential_id: &str) -> Result<bool, StoreError> {
        let pool = &self.0;
        super::passkey::remove(pool, id, credential_id).await
    }

    async fn put_webauthn_ceremony(
        &self,
        key: &KeyedHash,
        state: String,
        at: OffsetDateTime,
        stale_before: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let pool = &self.0;
        super::passkey::put_ceremony(pool, key, state, at, stale_before).await
    }

    async fn take_webauthn_ceremony(
        &self,
        key: &KeyedHash,
    ) -> Result<Option<(String, OffsetDateTime)>, StoreError> {
        let pool = &self.0;
        super::passkey::take_ceremony(pool, key).await
    }
}

pub(crate) async fn by_login(
    pool: &Pool<Db>,
    login: &str,
) -> Result<Option<(Psu, PasswordHash)>, StoreError> {
    let row = select_rows!(PsuRow, psu_columns, "FROM psus WHERE login = $1")
        .bind(login)
        .fetch_optional(pool)
        .await
        .map_err(store)?;
    row.map(|r| Ok((r.psu()?, PasswordHash::from_phc(r.password_hash))))
        .transpose()
}

fn max_failed() -> i32 {
    i32::try_from(MAX_FAILED_LOGINS).unwrap_or(i32::MAX)
}
