//! Payment initiations (Berlin Group PIS, single payments): what a TPP asks
//! the bank to pay, its ISO 20022 status, and the repository port.

use std::future::Future;

use time::OffsetDateTime;

use crate::iban::Iban;
use crate::ids::{ApplicationId, PaymentId, PsuId, TransactionId};
use crate::ledger::text_enum;
use crate::money::Money;
use crate::store::StoreError;

text_enum!(
    /// ISO 20022 transaction status as the Berlin Group uses it.
    PaymentStatus {
        Received = "RCVD",
        PartiallyAccepted = "PATC",
        AcceptedTechnical = "ACTC",
        AcceptedCustomerProfile = "ACCP",
        AcceptedSettlementInProcess = "ACSP",
        AcceptedSettlementCompleted = "ACSC",
        AcceptedCreditSettlementCompleted = "ACCC",
        Rejected = "RJCT",
        Cancelled = "CANC",
        Pending = "PDNG",
    }
);

text_enum!(
    /// The Berlin Group payment products offered for single payments.
    PaymentProduct {
        SepaCreditTransfers = "sepa-credit-transfers",
        InstantSepaCreditTransfers = "instant-sepa-credit-transfers",
        Target2Payments = "target-2-payments",
        CrossBorderCreditTransfers = "cross-border-credit-transfers",
    }
);

/// How the TPP sent the payment: the payment product in the path says which
/// (`sepa-credit-transfers` or `pain.001-sepa-credit-transfers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentFormat {
    /// The Berlin Group JSON body.
    Json,
    /// An ISO 20022 pain.001.001.03 document, kept as sent: the payment's
    /// information is answered with it.
    Pain001 { document: String },
}

impl PaymentFormat {
    /// The name stored with the payment.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Pain001 { .. } => "pain.001",
        }
    }

    /// The document as sent, for formats that keep it.
    pub fn document(&self) -> Option<&str> {
        match self {
            Self::Json => None,
            Self::Pain001 { document } => Some(document),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: PaymentId,
    pub application_id: ApplicationId,
    pub product: PaymentProduct,
    pub format: PaymentFormat,
    pub status: PaymentStatus,
    pub debtor_iban: Iban,
    pub creditor_iban: Iban,
    pub creditor_name: String,
    pub amount: Money,
    pub remittance: Option<String>,
    pub end_to_end_id: Option<String>,
    /// The PSU who authorised it.
    pub psu_id: Option<PsuId>,
    /// The ledger entry that executed it.
    pub transaction_id: Option<TransactionId>,
    /// ISO 20022 reason of a rejection (e.g. AM04 insufficient funds).
    pub reason: Option<String>,
    pub request_id: String,
    /// Keyed hash of the initiating request's body (idempotency).
    pub request_hash: String,
    pub created_at: OffsetDateTime,
    pub status_changed_at: OffsetDateTime,
}

/// What storing a new payment found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentCreation {
    Created,
    /// The application used this X-Request-ID before: the earlier payment.
    Existing(Box<Payment>),
}

/// A status change with what came with it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PaymentUpdate {
    pub psu_id: Option<PsuId>,
    pub transaction_id: Option<TransactionId>,
    pub reason: Option<String>,
}

pub trait PaymentRepository: Send + Sync {
    fn create_payment(
        &self,
        payment: Payment,
    ) -> impl Future<Output = Result<PaymentCreation, StoreError>> + Send;

    fn payment(
        &self,
        id: PaymentId,
    ) -> impl Future<Output = Result<Option<Payment>, StoreError>> + Send;

    /// Payments in `status` since before `before`, oldest first.
    fn payments_in_status(
        &self,
        status: PaymentStatus,
        before: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<Payment>, StoreError>> + Send;

    /// Moves the payment to `to` if its status is `from`; false otherwise.
    fn set_payment_status(
        &self,
        id: PaymentId,
        from: PaymentStatus,
        to: PaymentStatus,
        update: PaymentUpdate,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
