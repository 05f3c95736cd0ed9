//! Payment queries. Status changes are conditional updates, so a payment is
//! executed (ACTC → ACSC) by exactly one caller; a scheduled execution is
//! claimed, then finished together with the payment's cursor in one
//! transaction.

use fintechapi_domain::StoreError;
use fintechapi_domain::ids::{PaymentId, PsuId, TransactionId};
use fintechapi_domain::payment::{
    Execution, ExecutionAdvance, ExecutionOutcome, Payment, PaymentCreation, PaymentStatus,
    PaymentUpdate,
};
use fintechapi_domain::payment::{PaymentRepository, RejectReason};
use sqlx::Pool;
use sqlx::query::QueryAs;
use time::{Date, OffsetDateTime};

use super::consent::{RequestHolders, release_expired_request_id};
use super::exec::Args;
use super::{Db, Read, Write, begin_write};
use crate::error::{is_unique_violation, store};
use crate::rows::{BulkEntryRow, PaymentRow};

macro_rules! payment_columns {
    () => {
        "id, application_id, product, status, debtor_iban, creditor_iban, creditor_name, amount, \
         currency, remittance, end_to_end_id, psu_id, transaction_id, reason, request_id, \
         request_hash, created_at, status_changed_at, service, requested_execution_date, \
         start_date, end_date, frequency, execution_rule, day_of_execution, next_execution_date, \
         cancellation_requested_at, format, document, batch_booking"
    };
}

impl PaymentRepository for super::Store {
    /// Idempotent within
    /// [`IDEMPOTENCY_WINDOW`](fintechapi_domain::idempotency::IDEMPOTENCY_WINDOW) like consents
    /// (`consent::create` says how): an expired holder of the X-Request-ID gives it
    /// up in the transaction that inserts the new payment.
    async fn create_payment(&self, payment: Payment) -> Result<PaymentCreation, StoreError> {
        let pool = &self.0;
        let p = payment;
        let order = match &p.execution {
            Execution::Periodic(order) => Some(order),
            _ => None,
        };
        let mut tx = begin_write(pool, &self.1).await?;
        release_expired_request_id(
            &mut tx,
            RequestHolders::Payments,
            p.application_id,
            &p.request_id,
            p.created_at,
        )
        .await?;
        let inserted = sqlx::query(concat!(
            "INSERT INTO payments (",
            payment_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30)"
        ))
        .bind(p.id)
        .bind(p.application_id)
        .bind(p.product.as_str())
        .bind(p.status.as_str())
        .bind(p.debtor_iban.as_str())
        .bind(p.creditor_iban.as_str())
        .bind(&p.creditor_name)
        .bind(p.amount.minor())
        .bind(p.amount.currency().code())
        .bind(&p.remittance)
        .bind(&p.end_to_end_id)
        .bind(p.psu_id)
        .bind(p.transaction_id)
        .bind(p.reason.map(|r| r.as_str()))
        .bind(&p.request_id)
        .bind(&p.request_hash)
        .bind(p.created_at)
        .bind(p.status_changed_at)
        .bind(p.service.as_str())
        .bind(match &p.execution {
            Execution::OnDate(date) => Some(*date),
            _ => None,
        })
        .bind(order.map(|o| o.start_date))
        .bind(order.and_then(|o| o.end_date))
        .bind(order.map(|o| o.frequency.as_str()))
        .bind(order.and_then(|o| o.execution_rule.map(|r| r.as_str())))
        .bind(order.and_then(|o| o.day_of_execution.map(i32::from)))
        .bind(p.next_execution)
        .bind(p.cancellation_requested_at)
        .bind(p.format.as_str())
        .bind(p.format.document())
        .bind(p.bulk.as_ref().map(|b| b.batch_booking))
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {
                for (position, entry) in p.bulk.iter().flat_map(|b| b.entries.iter().enumerate()) {
                    sqlx::query(
                        "INSERT INTO payment_entries (payment_id, position, creditor_iban, \
                     creditor_name, amount, currency, remittance, end_to_end_id, status) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(p.id)
                    .bind(i64::try_from(position).unwrap_or(i64::MAX))
                    .bind(entry.creditor_iban.as_str())
                    .bind(&entry.creditor_name)
                    .bind(entry.amount.minor())
                    .bind(entry.amount.currency().code())
                    .bind(&entry.remittance)
                    .bind(&entry.end_to_end_id)
                    .bind(entry.status.as_str())
                    .run(&mut *tx)
                    .await?;
                }
                tx.commit().await.map_err(store)?;
                Ok(PaymentCreation::Created)
            }
            Err(e) if is_unique_violation(&e, "request") => {
                // The holder is committed and within the window.
                tx.rollback().await.map_err(store)?;
                let existing = select_rows!(
                    PaymentRow,
                    payment_columns,
                    "FROM payments WHERE application_id = $1 AND request_id = $2"
                )
                .bind(p.application_id)
                .bind(&p.request_id)
                .fetch_one(pool)
                .await
                .map_err(store)?;
                let mut existing = complete(pool, vec![existing]).await?;
                let first = existing
                    .pop()
                    .ok_or_else(|| StoreError::corrupt("the holder of a request id vanished"))?;
                Ok(PaymentCreation::Existing(Box::new(first)))
            }
            Err(e) => Err(store(e)),
        }
    }

    async fn payment(&self, id: PaymentId) -> Result<Option<Payment>, StoreError> {
        let pool = &self.0;
        let row = select_rows!(PaymentRow, payment_columns, "FROM payments WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await
            .map_err(store)?;
        Ok(complete(pool, row.into_iter().collect()).await?.pop())
    }

    async fn payments_in_status(
        &self,
        status: PaymentStatus,
        before: OffsetDateTime,
    ) -> Result<Vec<Payment>, StoreError> {
        let pool = &self.0;
        fetch_payments(
            pool,
            select_rows!(
                PaymentRow,
                payment_columns,
                "FROM payments WHERE status = $1 AND status_changed_at < $2 \
         ORDER BY status_changed_at LIMIT 100"
            )
            .bind(status.as_str())
            .bind(before),
        )
        .await
    }

    async fn set_payment_status(
        &self,
        id: PaymentId,
        from: PaymentStatus,
        to: PaymentStatus,
        update: PaymentUpdate,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let pool = &self.0;
        sqlx::query(
            "UPDATE payments SET status = $3, status_changed_at = $4, \
         psu_id = COALESCE($5, psu_id), transaction_id = COALESCE($6, transaction_id), \
         reason = COALESCE($7, reason), next_execution_date = COALESCE($8, next_execution_date) \
         WHERE id = $1 AND status = $2",
        )
        .bind(id)
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(at)
        .bind(update.psu_id)
        .bind(update.transaction_id)
        .bind(update.reason.map(|r| r.as_str()))
        .bind(update.next_execution)
        .changed_one(pool)
        .await
    }

    async fn approve_payment(
        &self,
        id: PaymentId,
        psu: PsuId,
        at: OffsetDateTime,
    ) -> Result<Vec<PsuId>, StoreError> {
        record_approval(
            &self.0,
            "INSERT INTO payment_approvals (payment_id, psu_id, approved_at) VALUES ($1, $2, $3) \
             ON CONFLICT (payment_id, psu_id) DO NOTHING",
            "SELECT psu_id FROM payment_approvals WHERE payment_id = $1 ORDER BY approved_at, psu_id",
            id,
            psu,
            at,
        )
        .await
    }

    async fn scheduled_payments_due(
        &self,
        horizon: Date,
        after: (Date, PaymentId),
    ) -> Result<Vec<Payment>, StoreError> {
        let pool = &self.0;
        fetch_payments(
            pool,
            select_rows!(
                PaymentRow,
                payment_columns,
                "FROM payments WHERE status = 'ACCP' AND next_execution_date <= $1 \
         AND (next_execution_date, id) > ($2, $3) ORDER BY next_execution_date, id LIMIT 100"
            )
            .bind(horizon)
            .bind(after.0)
            .bind(after.1),
        )
        .await
    }

    async fn claim_execution(
        &self,
        payment: PaymentId,
        due: Date,
        token: &str,
        at: OffsetDateTime,
        stale_before: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let pool = &self.0;
        sqlx::query(
            "INSERT INTO payment_executions (payment_id, due_date, state, claim_token, claimed_at) \
         VALUES ($1, $2, 'claimed', $3, $4) \
         ON CONFLICT (payment_id, due_date) DO UPDATE SET claim_token = excluded.claim_token, \
         claimed_at = excluded.claimed_at \
         WHERE payment_executions.state = 'claimed' AND payment_executions.claimed_at < $5",
        )
        .bind(payment)
        .bind(due)
        .bind(token)
        .bind(at)
        .bind(stale_before)
        .changed_one(pool)
        .await
    }

    async fn finish_execution(
        &self,
        payment: PaymentId,
        due: Date,
        token: &str,
        outcome: ExecutionOutcome,
        advance: ExecutionAdvance,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let pool = &self.0;
        let (state, transaction, reason) = match &outcome {
            ExecutionOutcome::Executed(t) => ("executed", *t, None),
            ExecutionOutcome::Rejected(r) => ("rejected", None, Some(r.as_str())),
            ExecutionOutcome::Cancelled => ("cancelled", None, None),
        };
        let mut tx = begin_write(pool, &self.1).await?;
        let finished = sqlx::query(
            "UPDATE payment_executions SET state = $4, transaction_id = $5, reason = $6, \
         finished_at = $7 WHERE payment_id = $1 AND due_date = $2 AND claim_token = $3 \
         AND state = 'claimed'",
        )
        .bind(payment)
        .bind(due)
        .bind(token)
        .bind(state)
        .bind(transaction)
        .bind(reason)
        .bind(at)
        .changed_one(&mut *tx)
        .await?;
        if !finished {
            return Ok(false);
        }
        let advanced = sqlx::query(
            "UPDATE payments SET next_execution_date = $3, status = $4, \
         status_changed_at = CASE WHEN status = $4 THEN status_changed_at ELSE $5 END, \
         transaction_id = COALESCE($6, transaction_id), reason = COALESCE($7, reason) \
         WHERE id = $1 AND next_execution_date = $2 AND status = 'ACCP'",
        )
        .bind(payment)
        .bind(due)
        .bind(advance.next)
        .bind(advance.status.as_str())
        .bind(at)
        .bind(advance.update.transaction_id)
        .bind(advance.update.reason.map(|r| r.as_str()))
        .changed_one(&mut *tx)
        .await?;
        if !advanced {
            // The payment moved on without this execution (cancelled meanwhile).
            return Ok(false);
        }
        tx.commit().await.map_err(store)?;
        Ok(true)
    }

    async fn request_payment_cancellation(
        &self,
        id: PaymentId,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let pool = &self.0;
        sqlx::query(
            "UPDATE payments \
         SET cancellation_requested_at = COALESCE(cancellation_requested_at, $2) \
         WHERE id = $1 AND status = 'ACCP'",
        )
        .bind(id)
        .bind(at)
        .changed_one(pool)
        .await
    }

    async fn claim_settlement(
        &self,
        id: PaymentId,
        token: &str,
        at: OffsetDateTime,
        stale_before: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let pool = &self.0;
        sqlx::query(
            "UPDATE payments SET settle_token = $2, settle_claimed_at = $3 \
         WHERE id = $1 AND status = 'ACTC' \
         AND (settle_claimed_at IS NULL OR settle_claimed_at < $4)",
        )
        .bind(id)
        .bind(token)
        .bind(at)
        .bind(stale_before)
        .changed_one(pool)
        .await
    }

    async fn record_bulk_entry(
        &self,
        payment: PaymentId,
        position: usize,
        status: PaymentStatus,
        transaction_id: Option<TransactionId>,
        reason: Option<RejectReason>,
    ) -> Result<(), StoreError> {
        let pool = &self.0;
        sqlx::query(
            "UPDATE payment_entries SET status = $3, transaction_id = $4, reason = $5 \
         WHERE payment_id = $1 AND position = $2 AND status = 'RCVD'",
        )
        .bind(payment)
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .bind(status.as_str())
        .bind(transaction_id)
        .bind(reason.map(|r| r.as_str()))
        .run(pool)
        .await
    }
}

/// The payments `query` selects, each complete.
async fn fetch_payments(
    pool: &Pool<Db>,
    query: QueryAs<'_, Db, PaymentRow, Args>,
) -> Result<Vec<Payment>, StoreError> {
    let rows = query.fetch_all(pool).await.map_err(store)?;
    complete(pool, rows).await
}

/// Payments from their rows, a bulk payment with its transfers.
async fn complete(pool: &Pool<Db>, rows: Vec<PaymentRow>) -> Result<Vec<Payment>, StoreError> {
    let mut payments = Vec::with_capacity(rows.len());
    for row in rows {
        let mut payment = Payment::try_from(row)?;
        if let Some(bulk) = payment.bulk.as_mut() {
            bulk.entries = sqlx::query_as::<_, BulkEntryRow>(
                "SELECT creditor_iban, creditor_name, amount, currency, remittance, \
                 end_to_end_id, status, transaction_id, reason FROM payment_entries \
                 WHERE payment_id = $1 ORDER BY position",
            )
            .bind(payment.id)
            .all_into(pool)
            .await?;
        }
        payments.push(payment);
    }
    Ok(payments)
}

/// A holder's approval of a payment or consent (`insert`), then every
/// approval of it so far (`select`). Two statements, not one transaction:
/// the approval is committed before the approvals are read, so of two
/// racing approvers the later reader sees both.
pub(crate) async fn record_approval<I>(
    pool: &Pool<Db>,
    insert: &'static str,
    select: &'static str,
    id: I,
    psu: PsuId,
    at: OffsetDateTime,
) -> Result<Vec<PsuId>, StoreError>
where
    I: for<'q> sqlx::Encode<'q, Db> + sqlx::Type<Db> + Send + Copy,
{
    sqlx::query(insert)
        .bind(id)
        .bind(psu)
        .bind(at)
        .execute(pool)
        .await
        .map_err(store)?;
    sqlx::query_scalar::<_, PsuId>(select)
        .bind(id)
        .fetch_all(pool)
        .await
        .map_err(store)
}
