//! Payment queries. Status changes are conditional updates, so a payment is
//! executed (ACTC → ACSC) by exactly one caller.

use fintechapi_domain::StoreError;
use fintechapi_domain::ids::PaymentId;
use fintechapi_domain::payment::{Payment, PaymentCreation, PaymentStatus, PaymentUpdate};
use sqlx::Pool;
use time::OffsetDateTime;

use super::Db;
use crate::error::{is_unique_violation, store};
use crate::rows::PaymentRow;

macro_rules! payment_columns {
    () => {
        "id, application_id, product, status, debtor_iban, creditor_iban, creditor_name, amount, \
         currency, remittance, end_to_end_id, psu_id, transaction_id, reason, request_id, \
         request_hash, created_at, status_changed_at, format, document"
    };
}

pub(crate) async fn create(pool: &Pool<Db>, p: Payment) -> Result<PaymentCreation, StoreError> {
    let inserted = sqlx::query(concat!(
        "INSERT INTO payments (",
        payment_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
    ))
    .bind(p.id.to_string())
    .bind(p.application_id.to_string())
    .bind(p.product.as_str())
    .bind(p.status.as_str())
    .bind(p.debtor_iban.as_str())
    .bind(p.creditor_iban.as_str())
    .bind(&p.creditor_name)
    .bind(p.amount.minor())
    .bind(p.amount.currency().code())
    .bind(&p.remittance)
    .bind(&p.end_to_end_id)
    .bind(p.psu_id.map(|id| id.to_string()))
    .bind(p.transaction_id.map(|id| id.to_string()))
    .bind(&p.reason)
    .bind(&p.request_id)
    .bind(&p.request_hash)
    .bind(p.created_at)
    .bind(p.status_changed_at)
    .bind(p.format.as_str())
    .bind(p.format.document())
    .execute(pool)
    .await;
    match inserted {
        Ok(_) => Ok(PaymentCreation::Created),
        Err(e) if is_unique_violation(&e, "request") => {
            let existing = sqlx::query_as::<_, PaymentRow>(concat!(
                "SELECT ",
                payment_columns!(),
                " FROM payments WHERE application_id = $1 AND request_id = $2"
            ))
            .bind(p.application_id.to_string())
            .bind(&p.request_id)
            .fetch_one(pool)
            .await
            .map_err(store)?;
            Ok(PaymentCreation::Existing(Box::new(Payment::try_from(
                existing,
            )?)))
        }
        Err(e) => Err(store(e)),
    }
}

pub(crate) async fn by_id(pool: &Pool<Db>, id: PaymentId) -> Result<Option<Payment>, StoreError> {
    sqlx::query_as::<_, PaymentRow>(concat!(
        "SELECT ",
        payment_columns!(),
        " FROM payments WHERE id = $1"
    ))
    .bind(id.to_string())
    .fetch_optional(pool)
    .await
    .map_err(store)?
    .map(Payment::try_from)
    .transpose()
}

pub(crate) async fn in_status(
    pool: &Pool<Db>,
    status: PaymentStatus,
    before: OffsetDateTime,
) -> Result<Vec<Payment>, StoreError> {
    sqlx::query_as::<_, PaymentRow>(concat!(
        "SELECT ",
        payment_columns!(),
        " FROM payments WHERE status = $1 AND status_changed_at < $2 ORDER BY status_changed_at LIMIT 100"
    ))
    .bind(status.as_str())
    .bind(before)
    .fetch_all(pool)
    .await
    .map_err(store)?
    .into_iter()
    .map(Payment::try_from)
    .collect()
}

pub(crate) async fn set_status(
    pool: &Pool<Db>,
    id: PaymentId,
    from: PaymentStatus,
    to: PaymentStatus,
    update: PaymentUpdate,
    at: OffsetDateTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE payments SET status = $3, status_changed_at = $4, \
         psu_id = COALESCE($5, psu_id), transaction_id = COALESCE($6, transaction_id), \
         reason = COALESCE($7, reason) WHERE id = $1 AND status = $2",
    )
    .bind(id.to_string())
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(at)
    .bind(update.psu_id.map(|p| p.to_string()))
    .bind(update.transaction_id.map(|t| t.to_string()))
    .bind(update.reason)
    .execute(pool)
    .await
    .map_err(store)?;
    Ok(done.rows_affected() == 1)
}
