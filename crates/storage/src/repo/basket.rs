//! Signing basket queries: the basket row, and one entry row per payment or
//! consent it holds, whose primary key keeps a resource in one basket.

use fintechapi_domain::StoreError;
use fintechapi_domain::basket::{BasketCreation, BasketRepository, BasketStatus, SigningBasket};
use fintechapi_domain::consent::AccountGrant;
use fintechapi_domain::ids::{ApplicationId, BasketId, ConsentId, PsuId};
use time::OffsetDateTime;

use super::consent::{RequestHolders, release_expired_request_id};
use super::{Read, Write, begin_write};
use crate::error::{is_unique_violation, store};
use crate::rows::{BasketRow, to_json};

macro_rules! basket_columns {
    () => {
        "id, application_id, payments, consents, status, psu_id, request_id, request_hash, \
         created_at, status_changed_at"
    };
}

impl BasketRepository for super::Store {
    /// Idempotency as `create_consent`: the unique `(application_id,
    /// request_id)` holds the first basket of a request.
    async fn create_basket(&self, basket: SigningBasket) -> Result<BasketCreation, StoreError> {
        let pool = &self.0;
        let mut tx = begin_write(pool, &self.1).await?;
        release_expired_request_id(
            &mut tx,
            RequestHolders::Baskets,
            basket.application_id,
            &basket.request_id,
            basket.created_at,
        )
        .await?;
        let inserted = sqlx::query(
            "INSERT INTO signing_baskets (id, application_id, payments, consents, status, psu_id, \
             request_id, request_hash, created_at, status_changed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(basket.id)
        .bind(basket.application_id)
        .bind(to_json(&basket.payments)?)
        .bind(to_json(&basket.consents)?)
        .bind(basket.status.as_str())
        .bind(basket.psu_id)
        .bind(&basket.request_id)
        .bind(&basket.request_hash)
        .bind(basket.created_at)
        .bind(basket.status_changed_at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e, "request") => {
                tx.rollback().await.map_err(store)?;
                let existing = select_rows!(
                    BasketRow,
                    basket_columns,
                    "FROM signing_baskets WHERE application_id = $1 AND request_id = $2"
                )
                .bind(basket.application_id)
                .bind(&basket.request_id)
                .fetch_one(pool)
                .await
                .map_err(store)?;
                return Ok(BasketCreation::Existing(Box::new(SigningBasket::try_from(
                    existing,
                )?)));
            }
            Err(e) => return Err(store(e)),
        }
        let payments = basket.payments.iter().map(|p| (p.to_string(), "payment"));
        let consents = basket.consents.iter().map(|c| (c.to_string(), "consent"));
        for (resource, kind) in payments.chain(consents) {
            let claimed = sqlx::query(
                "INSERT INTO signing_basket_entries (resource_id, basket_id, kind) \
                 VALUES ($1, $2, $3)",
            )
            .bind(&resource)
            .bind(basket.id)
            .bind(kind)
            .execute(&mut *tx)
            .await;
            match claimed {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e, "signing_basket_entries") => {
                    tx.rollback().await.map_err(store)?;
                    return Ok(BasketCreation::Taken);
                }
                Err(e) => return Err(store(e)),
            }
        }
        tx.commit().await.map_err(store)?;
        Ok(BasketCreation::Created)
    }

    async fn basket(&self, id: BasketId) -> Result<Option<SigningBasket>, StoreError> {
        let pool = &self.0;
        select_rows!(
            BasketRow,
            basket_columns,
            "FROM signing_baskets WHERE id = $1"
        )
        .bind(id)
        .optional_into(pool)
        .await
    }

    async fn basket_by_request(
        &self,
        application: ApplicationId,
        request_id: &str,
        since: OffsetDateTime,
    ) -> Result<Option<SigningBasket>, StoreError> {
        let pool = &self.0;
        select_rows!(
            BasketRow,
            basket_columns,
            "FROM signing_baskets WHERE application_id = $1 AND request_id = $2 \
             AND created_at > $3"
        )
        .bind(application)
        .bind(request_id)
        .bind(since)
        .optional_into(pool)
        .await
    }

    async fn basket_of(&self, resource_id: &str) -> Result<Option<BasketId>, StoreError> {
        let pool = &self.0;
        sqlx::query_scalar("SELECT basket_id FROM signing_basket_entries WHERE resource_id = $1")
            .bind(resource_id)
            .fetch_optional(pool)
            .await
            .map_err(store)
    }

    async fn cancel_basket(&self, id: BasketId, at: OffsetDateTime) -> Result<bool, StoreError> {
        let pool = &self.0;
        let mut tx = begin_write(pool, &self.1).await?;
        if !set_status(&mut tx, id, BasketStatus::Cancelled, None, at).await? {
            return Ok(false);
        }
        sqlx::query("DELETE FROM signing_basket_entries WHERE basket_id = $1")
            .bind(id)
            .run(&mut *tx)
            .await?;
        tx.commit().await.map_err(store)?;
        Ok(true)
    }

    async fn approve_basket(
        &self,
        id: BasketId,
        psu: PsuId,
        consents: Vec<(ConsentId, Vec<AccountGrant>)>,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let pool = &self.0;
        let mut tx = begin_write(pool, &self.1).await?;
        let status = BasketStatus::AcceptedTechnical;
        if !set_status(&mut tx, id, status, Some(psu), at).await? {
            return Ok(false);
        }
        for (consent, grants) in consents {
            // A consent the TPP deleted meanwhile stays deleted.
            sqlx::query(
                "UPDATE consents SET status = 'valid', psu_id = $2, grants = $3, \
                 status_changed_at = $4 WHERE id = $1 AND status = 'received'",
            )
            .bind(consent)
            .bind(psu)
            .bind(to_json(&grants)?)
            .bind(at)
            .run(&mut *tx)
            .await?;
        }
        tx.commit().await.map_err(store)?;
        Ok(true)
    }

    async fn reject_basket(
        &self,
        id: BasketId,
        psu: Option<PsuId>,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let pool = &self.0;
        let mut tx = begin_write(pool, &self.1).await?;
        if !set_status(&mut tx, id, BasketStatus::Rejected, psu, at).await? {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE consents SET status = 'rejected', status_changed_at = $2 \
             WHERE status = 'received' AND id IN \
             (SELECT resource_id FROM signing_basket_entries WHERE basket_id = $1 \
              AND kind = 'consent')",
        )
        .bind(id)
        .bind(at)
        .run(&mut *tx)
        .await?;
        tx.commit().await.map_err(store)?;
        Ok(true)
    }

    async fn unfinished_baskets(&self, limit: u32) -> Result<Vec<SigningBasket>, StoreError> {
        let pool = &self.0;
        select_rows!(
            BasketRow,
            basket_columns,
            "FROM signing_baskets b WHERE b.status IN ('ACTC', 'RJCT') AND EXISTS \
             (SELECT 1 FROM signing_basket_entries e JOIN payments p ON p.id = e.resource_id \
              WHERE e.basket_id = b.id AND p.status = 'RCVD') \
             ORDER BY b.status_changed_at LIMIT $1"
        )
        .bind(i64::from(limit))
        .all_into(pool)
        .await
    }
}

/// RCVD → `to` (with the deciding PSU); false when it was no longer open.
async fn set_status(
    conn: &mut super::ledger::Conn,
    id: BasketId,
    to: BasketStatus,
    psu: Option<PsuId>,
    at: OffsetDateTime,
) -> Result<bool, StoreError> {
    sqlx::query(
        "UPDATE signing_baskets SET status = $2, psu_id = COALESCE($3, psu_id), \
         status_changed_at = $4 WHERE id = $1 AND status = 'RCVD'",
    )
    .bind(id)
    .bind(to.as_str())
    .bind(psu)
    .bind(at)
    .changed_one(&mut *conn)
    .await
}
