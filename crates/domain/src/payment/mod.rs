//! Payment initiations (Berlin Group PIS): what a TPP asks the bank to pay,
//! now, on a future date, or as a standing order (`schedule.rs`: when it
//! executes, and the schedule arithmetic); its ISO 20022 status; and the
//! repository port.

mod schedule;

use std::future::Future;

use time::{Date, OffsetDateTime};

use crate::iban::Iban;
use crate::ids::{ApplicationId, PaymentId, PsuId, TransactionId};
use crate::ledger::text_enum;
use crate::money::Money;
use crate::store::StoreError;

pub use schedule::{Execution, ExecutionRule, Frequency, NoDateLeft, StandingOrder};

text_enum!(
    /// ISO 20022 transaction status as the Berlin Group uses it.
    PaymentStatus {
        Received = "RCVD",
        PartiallyAccepted = "PATC",
        PartiallyExecuted = "PART", // a bulk payment: some transfers executed, others rejected
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
    /// ISO 20022 status reason of a rejected payment (stored as its code),
    /// the ones this bank gives.
    RejectReason {
        // The debtor account is not one of the authorising PSU's.
        IncorrectAccountNumber = "AC01",
        // The debtor account is blocked.
        BlockedAccount = "AC06",
        // Debtor and creditor are the same account.
        ZeroAmount = "AM01",
        // The amount's currency is not the account's.
        NotAllowedCurrency = "AM03",
        InsufficientFunds = "AM04",
        // The PSU declined the payment.
        OrderCancelled = "DS02",
        // A standing order with no execution date left.
        InvalidDate = "DT01",
        // Any other refusal by the ledger (logged).
        Narrative = "NARR",
    }
);

impl PaymentStatus {
    /// Whether the payment still awaits an authorisation: nobody has
    /// approved it (RCVD), or some but not all of its account's joint
    /// holders have (PATC, multilevel SCA).
    pub fn awaits_authorisation(self) -> bool {
        matches!(self, Self::Received | Self::PartiallyAccepted)
    }
}

impl RejectReason {
    /// The ISO 20022 code, e.g. `AM04` (also its `Display` and stored form).
    pub fn as_code(&self) -> &'static str {
        self.as_str()
    }
}

text_enum!(
    /// The Berlin Group payment products offered for single payments.
    PaymentProduct {
        SepaCreditTransfers = "sepa-credit-transfers",
        InstantSepaCreditTransfers = "instant-sepa-credit-transfers",
        Target2Payments = "target-2-payments",
        CrossBorderCreditTransfers = "cross-border-credit-transfers",
    }
);

text_enum!(
    /// The Berlin Group payment service of a path.
    PaymentService {
        Single = "payments",
        Periodic = "periodic-payments",
        Bulk = "bulk-payments",
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

/// The credit transfers of a bulk payment, all from the payment's debtor account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bulk {
    /// `batchBookingPreferred`: one booking of the total on the debtor's
    /// account, all transfers or none.
    pub batch_booking: bool,
    pub entries: Vec<BulkEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkEntry {
    pub creditor_iban: Iban,
    pub creditor_name: String,
    pub amount: Money,
    pub remittance: Option<String>,
    pub end_to_end_id: Option<String>,
    /// RCVD until executed, then ACSC or RJCT (with the reason).
    pub status: PaymentStatus,
    pub transaction_id: Option<TransactionId>,
    pub reason: Option<RejectReason>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: PaymentId,
    pub application_id: ApplicationId,
    pub service: PaymentService,
    pub product: PaymentProduct,
    pub format: PaymentFormat,
    pub status: PaymentStatus,
    pub debtor_iban: Iban,
    pub creditor_iban: Iban,
    pub creditor_name: String,
    pub amount: Money,
    pub remittance: Option<String>,
    pub end_to_end_id: Option<String>,
    pub execution: Execution,
    /// The scheduler's cursor: the next nominal date to execute, once authorised.
    pub next_execution: Option<Date>,
    /// When the TPP asked to cancel it after authorisation (the PSU must confirm).
    pub cancellation_requested_at: Option<OffsetDateTime>,
    /// A bulk payment's transfers; then `amount` is their total and the
    /// single creditor fields only summarise them.
    pub bulk: Option<Bulk>,
    /// The PSU who authorised it.
    pub psu_id: Option<PsuId>,
    /// The ledger entry that executed it.
    pub transaction_id: Option<TransactionId>,
    /// Why it was rejected (RJCT).
    pub reason: Option<RejectReason>,
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
    /// The application used this X-Request-ID within the
    /// [`IDEMPOTENCY_WINDOW`](crate::idempotency::IDEMPOTENCY_WINDOW) before
    /// the new payment's `created_at`: the payment it created then.
    Existing(Box<Payment>),
}

/// A status change with what came with it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PaymentUpdate {
    pub psu_id: Option<PsuId>,
    pub transaction_id: Option<TransactionId>,
    pub reason: Option<RejectReason>,
    /// Sets the scheduler's cursor (authorising a scheduled payment).
    pub next_execution: Option<Date>,
}

/// What authorising or declining a payment came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// Executed (ACSC).
    Settled,
    /// A bulk payment booked per transfer, some of them rejected (PART).
    PartiallySettled,
    /// Accepted for its execution dates (ACCP); a first date of today has run.
    Scheduled,
    /// Rejected (RJCT) for this reason.
    Rejected(RejectReason),
    /// Authorised (ACTC) while another settler holds it; that one finishes it.
    Settling,
    /// Approved by a joint holder of the debtor account; the others' are
    /// still missing (PATC).
    PartiallyAuthorised,
    /// The approver holds no mandate on the joint debtor account: nothing changed.
    NotAHolder,
    /// Decided or cancelled before: nothing changed.
    AlreadyDecided,
}

/// How one scheduled execution ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutionOutcome {
    /// Booked; a bulk payment booked per transfer has no one transaction.
    Executed(Option<TransactionId>),
    Rejected(RejectReason),
    /// The PSU or the TPP cancelled the payment before this date.
    Cancelled,
}

/// What the scheduler does after recording an execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionAdvance {
    /// The next nominal date, None when the payment is done.
    pub next: Option<Date>,
    /// The payment's status from now on (ACCP while a standing order runs).
    pub status: PaymentStatus,
    /// The transaction and reason to keep on the payment (a one-off payment).
    pub update: PaymentUpdate,
}

pub trait PaymentRepository: Send + Sync {
    /// Stores the payment unless its X-Request-ID is still bound to an earlier
    /// one (see [`PaymentCreation::Existing`]); two concurrent calls with one
    /// X-Request-ID store one payment.
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

    /// Authorised scheduled payments (ACCP) whose cursor is on or before
    /// `horizon`, a page of them after `after` (cursor date, id), in that order.
    fn scheduled_payments_due(
        &self,
        horizon: Date,
        after: (Date, PaymentId),
    ) -> impl Future<Output = Result<Vec<Payment>, StoreError>> + Send;

    /// Claims the execution of `payment` on nominal `due` for `token`: true
    /// when it was free, or claimed before `stale_before` by a node that did
    /// not finish (it is taken over); false when someone else holds or
    /// finished it.
    fn claim_execution(
        &self,
        payment: PaymentId,
        due: Date,
        token: &str,
        at: OffsetDateTime,
        stale_before: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records the outcome of the claimed execution and advances the
    /// payment's cursor past `due`, atomically; false when the claim was lost.
    fn finish_execution(
        &self,
        payment: PaymentId,
        due: Date,
        token: &str,
        outcome: ExecutionOutcome,
        advance: ExecutionAdvance,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Notes the TPP's request to cancel an authorised scheduled payment (ACCP);
    /// false when it is not one.
    fn request_payment_cancellation(
        &self,
        id: PaymentId,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Leases the settlement of an authorised payment (ACTC) to `token`: true
    /// when nobody holds it, or the holder took it before `stale_before`.
    fn claim_settlement(
        &self,
        id: PaymentId,
        token: &str,
        at: OffsetDateTime,
        stale_before: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records how one transfer of a bulk payment ended, unless it was
    /// decided already (the first decision stands).
    fn record_bulk_entry(
        &self,
        payment: PaymentId,
        position: usize,
        status: PaymentStatus,
        transaction_id: Option<TransactionId>,
        reason: Option<RejectReason>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records `psu`'s approval of the payment (a second one of the same PSU
    /// changes nothing) and answers every PSU who approved it so far. The
    /// answer is read after the approval is committed, so of two approvers
    /// racing, the later one sees both.
    fn approve_payment(
        &self,
        id: PaymentId,
        psu: PsuId,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<PsuId>, StoreError>> + Send;

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reject_reasons_are_stored_as_their_iso_codes() {
        assert_eq!(RejectReason::InsufficientFunds.as_code(), "AM04");
        assert_eq!(RejectReason::OrderCancelled.to_string(), "DS02");
        assert_eq!(
            "AC01".parse::<RejectReason>().unwrap(),
            RejectReason::IncorrectAccountNumber
        );
        assert!(
            "XX99".parse::<RejectReason>().is_err(),
            "an unknown stored code is corrupt data, not a silent default"
        );
    }
}
