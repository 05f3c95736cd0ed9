//! Consent queries. `access` and `grants` are JSON documents of validated
//! domain values; status changes are conditional updates.

use fintechapi_domain::StoreError;
use fintechapi_domain::consent::ConsentRepository;
use fintechapi_domain::consent::{AccountGrant, Consent, ConsentCreation, ConsentStatus};
use fintechapi_domain::idempotency::IDEMPOTENCY_WINDOW;
use fintechapi_domain::ids::{ApplicationId, ConsentId, PsuId};
use time::{Date, OffsetDateTime};

use super::ledger::Conn;
use super::payment::record_approval;
use super::{Read, Write, begin_write};
use crate::error::{is_unique_violation, store};
use crate::rows::{ConsentRow, to_json};

macro_rules! consent_columns {
    () => {
        "id, application_id, status, access, recurring, valid_until, frequency_per_day, psu_id, \
         grants, request_id, request_hash, created_at, status_changed_at"
    };
}

impl ConsentRepository for super::Store {
    /// Idempotency within [`IDEMPOTENCY_WINDOW`]. The table's unique
    /// `(application_id, request_id)` stays the lock that makes two concurrent
    /// first uses store one consent (PostgreSQL makes the second insert wait for
    /// the first to commit; SQLite writers queue on `BEGIN IMMEDIATE`). A holder
    /// older than the window gives the key up in the same transaction as the new
    /// insert, by having its own id appended to its `request_id`. Scoping the
    /// constraint itself would mean rebuilding the table on SQLite, which cannot
    /// drop a constraint.
    async fn create_consent(&self, consent: Consent) -> Result<ConsentCreation, StoreError> {
        let pool = &self.0;
        let mut tx = begin_write(pool, &self.1).await?;
        release_expired_request_id(
            &mut tx,
            RequestHolders::Consents,
            consent.application_id,
            &consent.request_id,
            consent.created_at,
        )
        .await?;
        let inserted = sqlx::query(
            "INSERT INTO consents (id, application_id, status, access, recurring, valid_until, \
         frequency_per_day, psu_id, grants, request_id, request_hash, created_at, \
         status_changed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(consent.id)
        .bind(consent.application_id)
        .bind(consent.status.as_str())
        .bind(to_json(&consent.access)?)
        .bind(consent.recurring)
        .bind(consent.valid_until)
        .bind(i32::try_from(consent.frequency_per_day).unwrap_or(i32::MAX))
        .bind(consent.psu_id)
        .bind(to_json(&consent.grants)?)
        .bind(&consent.request_id)
        .bind(&consent.request_hash)
        .bind(consent.created_at)
        .bind(consent.status_changed_at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {
                tx.commit().await.map_err(store)?;
                Ok(ConsentCreation::Created)
            }
            Err(e) if is_unique_violation(&e, "request") => {
                // The holder is committed and within the window.
                tx.rollback().await.map_err(store)?;
                let existing = select_rows!(
                    ConsentRow,
                    consent_columns,
                    "FROM consents WHERE application_id = $1 AND request_id = $2"
                )
                .bind(consent.application_id)
                .bind(&consent.request_id)
                .fetch_one(pool)
                .await
                .map_err(store)?;
                Ok(ConsentCreation::Existing(Box::new(Consent::try_from(
                    existing,
                )?)))
            }
            Err(e) => Err(store(e)),
        }
    }

    async fn consent(&self, id: ConsentId) -> Result<Option<Consent>, StoreError> {
        let pool = &self.0;
        select_rows!(ConsentRow, consent_columns, "FROM consents WHERE id = $1")
            .bind(id)
            .optional_into(pool)
            .await
    }

    async fn consents_of_psu(&self, psu: PsuId) -> Result<Vec<Consent>, StoreError> {
        let pool = &self.0;
        select_rows!(
            ConsentRow,
            consent_columns,
            "FROM consents WHERE psu_id = $1 OR id IN \
             (SELECT consent_id FROM consent_approvals WHERE psu_id = $1) \
             ORDER BY created_at DESC LIMIT 200"
        )
        .bind(psu)
        .all_into(pool)
        .await
    }

    async fn authorise_consent(
        &self,
        id: ConsentId,
        psu: PsuId,
        grants: Vec<AccountGrant>,
        to: ConsentStatus,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let pool = &self.0;
        sqlx::query(
            "UPDATE consents SET status = $5, psu_id = $2, grants = $3, \
         status_changed_at = $4 WHERE id = $1 AND status = 'received'",
        )
        .bind(id)
        .bind(psu)
        .bind(to_json(&grants)?)
        .bind(at)
        .bind(to.as_str())
        .changed_one(pool)
        .await
    }

    async fn approve_consent(
        &self,
        id: ConsentId,
        psu: PsuId,
        at: OffsetDateTime,
    ) -> Result<Vec<PsuId>, StoreError> {
        record_approval(
            &self.0,
            "INSERT INTO consent_approvals (consent_id, psu_id, approved_at) VALUES ($1, $2, $3) \
             ON CONFLICT (consent_id, psu_id) DO NOTHING",
            "SELECT psu_id FROM consent_approvals WHERE consent_id = $1 ORDER BY approved_at, psu_id",
            id,
            psu,
            at,
        )
        .await
    }

    async fn count_unattended_access(
        &self,
        id: ConsentId,
        day: Date,
        limit: u32,
    ) -> Result<bool, StoreError> {
        let pool = &self.0;
        // One statement: concurrent accesses cannot both take the last one.
        let counted: Option<i32> = sqlx::query_scalar(
            "INSERT INTO consent_accesses (consent_id, day, accesses) VALUES ($1, $2, 1) \
         ON CONFLICT (consent_id, day) DO UPDATE SET accesses = consent_accesses.accesses + 1 \
         WHERE consent_accesses.accesses < $3 RETURNING accesses",
        )
        .bind(id)
        .bind(day)
        .bind(i32::try_from(limit).unwrap_or(i32::MAX))
        .fetch_optional(pool)
        .await
        .map_err(store)?;
        Ok(counted.is_some_and(|n| u32::try_from(n).is_ok_and(|n| n <= limit)))
    }

    async fn set_consent_status(
        &self,
        id: ConsentId,
        from: &[ConsentStatus],
        to: ConsentStatus,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let pool = &self.0;
        // A handful of known statuses: one UPDATE per candidate keeps the SQL static.
        for status in from {
            let done = sqlx::query(
                "UPDATE consents SET status = $3, status_changed_at = $4 \
             WHERE id = $1 AND status = $2",
            )
            .bind(id)
            .bind(status.as_str())
            .bind(to.as_str())
            .bind(at)
            .changed_one(pool)
            .await?;
            if done {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// The tables whose rows hold an X-Request-ID for [`IDEMPOTENCY_WINDOW`].
pub(crate) enum RequestHolders {
    Consents,
    Payments,
    Baskets,
}

macro_rules! release_request_id {
    ($table:literal) => {
        concat!(
            "UPDATE ",
            $table,
            " SET request_id = request_id || '@' || id \
             WHERE application_id = $1 AND request_id = $2 AND created_at <= $3"
        )
    };
}

/// Gives up `application`'s `request_id` if its holder is older than the
/// window: the holder keeps it with its own id appended, in the transaction
/// that inserts the new holder (`create_consent` says why).
pub(crate) async fn release_expired_request_id(
    conn: &mut Conn,
    holders: RequestHolders,
    application: ApplicationId,
    request_id: &str,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let sql = match holders {
        RequestHolders::Consents => release_request_id!("consents"),
        RequestHolders::Payments => release_request_id!("payments"),
        RequestHolders::Baskets => release_request_id!("signing_baskets"),
    };
    sqlx::query(sql)
        .bind(application)
        .bind(request_id)
        .bind(now - IDEMPOTENCY_WINDOW)
        .run(conn)
        .await
}
