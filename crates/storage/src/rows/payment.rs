//! Payment rows, single and bulk.

use super::parse;
use fintechapi_domain::iban::Iban;
use fintechapi_domain::ids::ApplicationId;
use fintechapi_domain::ids::PaymentId;
use fintechapi_domain::ids::{PsuId, TransactionId};
use fintechapi_domain::payment::{
    Bulk, BulkEntry, Execution, Payment, PaymentFormat, StandingOrder,
};
use fintechapi_domain::{Currency, Money, StoreError};
use time::{Date, OffsetDateTime};

#[derive(sqlx::FromRow)]
pub(crate) struct PaymentRow {
    id: PaymentId,
    application_id: ApplicationId,
    product: String,
    status: String,
    debtor_iban: String,
    creditor_iban: String,
    creditor_name: String,
    amount: i64,
    currency: String,
    remittance: Option<String>,
    end_to_end_id: Option<String>,
    psu_id: Option<PsuId>,
    transaction_id: Option<TransactionId>,
    reason: Option<String>,
    request_id: String,
    request_hash: String,
    created_at: OffsetDateTime,
    status_changed_at: OffsetDateTime,
    service: String,
    requested_execution_date: Option<Date>,
    start_date: Option<Date>,
    end_date: Option<Date>,
    frequency: Option<String>,
    execution_rule: Option<String>,
    day_of_execution: Option<i32>,
    next_execution_date: Option<Date>,
    cancellation_requested_at: Option<OffsetDateTime>,
    format: String,
    document: Option<String>,
    batch_booking: Option<bool>,
}

/// One transfer of a bulk payment.
#[derive(sqlx::FromRow)]
pub(crate) struct BulkEntryRow {
    creditor_iban: String,
    creditor_name: String,
    amount: i64,
    currency: String,
    remittance: Option<String>,
    end_to_end_id: Option<String>,
    status: String,
    transaction_id: Option<TransactionId>,
    reason: Option<String>,
}

impl TryFrom<BulkEntryRow> for BulkEntry {
    type Error = StoreError;
    fn try_from(r: BulkEntryRow) -> Result<Self, StoreError> {
        Ok(BulkEntry {
            creditor_iban: parse::<Iban>("IBAN", &r.creditor_iban)?,
            creditor_name: r.creditor_name,
            amount: Money::from_minor(r.amount, parse::<Currency>("currency", &r.currency)?),
            remittance: r.remittance,
            end_to_end_id: r.end_to_end_id,
            status: r.status.parse()?,
            transaction_id: r.transaction_id,
            reason: r.reason.as_deref().map(str::parse).transpose()?,
        })
    }
}

impl PaymentRow {
    fn execution(&self) -> Result<Execution, StoreError> {
        Ok(match (self.start_date, self.frequency.as_deref()) {
            (Some(start_date), Some(frequency)) => Execution::Periodic(StandingOrder {
                start_date,
                end_date: self.end_date,
                frequency: frequency.parse()?,
                execution_rule: self.execution_rule.as_deref().map(str::parse).transpose()?,
                day_of_execution: self
                    .day_of_execution
                    .map(|d| u8::try_from(d).map_err(|_| StoreError::corrupt("day of execution")))
                    .transpose()?,
            }),
            _ => match self.requested_execution_date {
                Some(date) => Execution::OnDate(date),
                None => Execution::Immediate,
            },
        })
    }
}

impl TryFrom<PaymentRow> for Payment {
    type Error = StoreError;
    fn try_from(r: PaymentRow) -> Result<Self, StoreError> {
        let currency = parse::<Currency>("currency", &r.currency)?;
        let execution = r.execution()?;
        let format = match (r.format.as_str(), r.document) {
            ("json", None) => PaymentFormat::Json,
            ("pain.001", Some(document)) => PaymentFormat::Pain001 { document },
            (other, _) => {
                return Err(StoreError::corrupt(format!(
                    "payment format {other:?} without its document, or with one it does not keep"
                )));
            }
        };
        Ok(Payment {
            id: r.id,
            application_id: r.application_id,
            product: r.product.parse()?,
            format,
            status: r.status.parse()?,
            debtor_iban: parse::<Iban>("IBAN", &r.debtor_iban)?,
            creditor_iban: parse::<Iban>("IBAN", &r.creditor_iban)?,
            creditor_name: r.creditor_name,
            amount: Money::from_minor(r.amount, currency),
            remittance: r.remittance,
            end_to_end_id: r.end_to_end_id,
            psu_id: r.psu_id,
            transaction_id: r.transaction_id,
            reason: r.reason.as_deref().map(str::parse).transpose()?,
            request_id: r.request_id,
            request_hash: r.request_hash,
            created_at: r.created_at,
            status_changed_at: r.status_changed_at,
            service: r.service.parse()?,
            execution,
            next_execution: r.next_execution_date,
            cancellation_requested_at: r.cancellation_requested_at,
            // The transfers are read by the repository after the row.
            bulk: r.batch_booking.map(|batch_booking| Bulk {
                batch_booking,
                entries: Vec::new(),
            }),
        })
    }
}
