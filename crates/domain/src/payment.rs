//! Payment initiations (Berlin Group PIS): what a TPP asks the bank to pay,
//! now, on a future date, or as a standing order; its ISO 20022 status; the
//! schedule arithmetic; and the repository port.

use std::future::Future;

use time::{Date, Month, OffsetDateTime, Weekday};

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

text_enum!(
    /// Berlin Group `frequencyCode` of a standing order.
    Frequency {
        Daily = "Daily",
        Weekly = "Weekly",
        EveryTwoWeeks = "EveryTwoWeeks",
        Monthly = "Monthly",
        EveryTwoMonths = "EveryTwoMonths",
        Quarterly = "Quarterly",
        SemiAnnual = "SemiAnnual",
        Annual = "Annual",
        MonthlyVariable = "MonthlyVariable",
    }
);

text_enum!(
    /// Berlin Group `executionRule`: where a date on a weekend moves.
    ExecutionRule { Following = "following", Preceding = "preceding" }
);

/// A periodic payment's schedule. Dates here are nominal; the execution
/// rule moves one that falls on a weekend to a business day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandingOrder {
    pub start_date: Date,
    pub end_date: Option<Date>,
    pub frequency: Frequency,
    pub execution_rule: Option<ExecutionRule>,
    /// Day of the month (1–31) for monthly-based frequencies; the start day otherwise.
    pub day_of_execution: Option<u8>,
}

impl StandingOrder {
    /// The first nominal date of the schedule; None when none falls
    /// between the start and the end date.
    pub fn first(&self) -> Option<Date> {
        let first = match self.months() {
            Some(_) => {
                let anchor = self.anchor_day();
                let candidate = on_day(self.start_date.year(), self.start_date.month(), anchor);
                if candidate >= self.start_date {
                    candidate
                } else {
                    add_months(self.start_date, 1, anchor)
                }
            }
            None => self.start_date,
        };
        match self.end_date {
            Some(end) if first > end => None,
            _ => Some(first),
        }
    }

    /// The first nominal date on or after `day`: a standing order authorised
    /// late starts from its next date instead of paying the missed ones.
    pub fn first_on_or_after(&self, day: Date) -> Option<Date> {
        let mut date = self.first()?;
        while date < day {
            date = self.after(date)?;
        }
        Some(date)
    }

    /// The nominal date after `nominal`, or None past the end date.
    pub fn after(&self, nominal: Date) -> Option<Date> {
        let next = match self.months() {
            Some(months) => add_months(nominal, months, self.anchor_day()),
            None => {
                let days = match self.frequency {
                    Frequency::Weekly => 7,
                    Frequency::EveryTwoWeeks => 14,
                    _ => 1,
                };
                nominal.checked_add(time::Duration::days(days))?
            }
        };
        match self.end_date {
            Some(end) if next > end => None,
            _ => Some(next),
        }
    }

    /// The day `nominal` executes on: weekends move by the execution rule
    /// (following by default). Public holidays are not modelled.
    pub fn business_day(&self, nominal: Date) -> Date {
        let step = match self.execution_rule {
            Some(ExecutionRule::Preceding) => Date::previous_day,
            _ => Date::next_day,
        };
        let mut day = nominal;
        while matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) {
            match step(day) {
                Some(d) => day = d,
                None => break,
            }
        }
        day
    }

    fn months(&self) -> Option<u8> {
        match self.frequency {
            Frequency::Monthly | Frequency::MonthlyVariable => Some(1),
            Frequency::EveryTwoMonths => Some(2),
            Frequency::Quarterly => Some(3),
            Frequency::SemiAnnual => Some(6),
            Frequency::Annual => Some(12),
            _ => None,
        }
    }

    fn anchor_day(&self) -> u8 {
        self.day_of_execution.unwrap_or(self.start_date.day())
    }
}

/// `day` of the month, or its last day when the month is shorter.
fn on_day(year: i32, month: Month, day: u8) -> Date {
    let last = month.length(year);
    Date::from_calendar_date(year, month, day.min(last)).unwrap_or(Date::MIN)
}

/// `months` after `date`'s month, on `anchor` (or the month's last day).
fn add_months(date: Date, months: u8, anchor: u8) -> Date {
    let index = date.year() * 12 + i32::from(u8::from(date.month())) - 1 + i32::from(months);
    let (year, month0) = (index.div_euclid(12), index.rem_euclid(12));
    let month = u8::try_from(month0 + 1)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .unwrap_or(Month::January);
    on_day(year, month, anchor)
}

/// A standing order whose dates have all passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no execution date of the standing order is left")]
pub struct NoDateLeft;

/// When a payment executes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Execution {
    /// As soon as the PSU has authorised it.
    Immediate,
    /// Once, on this date (a future-dated payment).
    OnDate(Date),
    /// A standing order.
    Periodic(StandingOrder),
}

/// What the PSU reads about when a payment executes.
impl std::fmt::Display for Execution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Execution::Immediate => f.write_str("now"),
            Execution::OnDate(date) => write!(f, "on {date}"),
            Execution::Periodic(order) => {
                match order.first() {
                    Some(first) => write!(f, "{} from {first}", order.frequency)?,
                    None => write!(f, "{} (no date left)", order.frequency)?,
                }
                match order.end_date {
                    Some(end) => write!(f, " until {end}")?,
                    None => f.write_str(" until cancelled")?,
                }
                let rule = match order.execution_rule {
                    Some(ExecutionRule::Preceding) => "preceding",
                    _ => "following",
                };
                write!(f, "; a date on a weekend moves to the {rule} business day")
            }
        }
    }
}

impl Execution {
    /// For a payment authorised on `today`: None when it executes now,
    /// otherwise its first nominal date (a past requested date is today;
    /// a standing order skips the dates it missed). `Err` when a standing
    /// order has no date left.
    pub fn first_due(&self, today: Date) -> Result<Option<Date>, NoDateLeft> {
        match self {
            Execution::Immediate => Ok(None),
            Execution::OnDate(date) => Ok(Some((*date).max(today))),
            Execution::Periodic(order) => {
                order.first_on_or_after(today).map(Some).ok_or(NoDateLeft)
            }
        }
    }
}

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
    use time::macros::date;

    use super::*;

    fn order(start: Date, frequency: Frequency, day: Option<u8>) -> StandingOrder {
        StandingOrder {
            start_date: start,
            end_date: None,
            frequency,
            execution_rule: None,
            day_of_execution: day,
        }
    }

    #[test]
    fn monthly_dates_keep_their_day_and_clamp_to_short_months() {
        let o = order(date!(2027 - 01 - 10), Frequency::Monthly, Some(31));
        assert_eq!(o.first(), Some(date!(2027 - 01 - 31)));
        assert_eq!(o.after(date!(2027 - 01 - 31)), Some(date!(2027 - 02 - 28)));
        assert_eq!(o.after(date!(2027 - 02 - 28)), Some(date!(2027 - 03 - 31)));
        let late = order(date!(2027 - 01 - 20), Frequency::Monthly, Some(5));
        assert_eq!(
            late.first(),
            Some(date!(2027 - 02 - 05)),
            "day 5 of January has passed"
        );
        let ended = StandingOrder {
            end_date: Some(date!(2027 - 01 - 31)),
            ..late
        };
        assert_eq!(ended.first(), None, "no day 5 before the end date");
        let q = order(date!(2027 - 11 - 15), Frequency::Quarterly, None);
        assert_eq!(q.after(date!(2027 - 11 - 15)), Some(date!(2028 - 02 - 15)));
        assert_eq!(
            q.first_on_or_after(date!(2028 - 01 - 01)),
            Some(date!(2028 - 02 - 15))
        );
    }

    #[test]
    fn weekly_schedules_end_at_the_end_date() {
        let mut o = order(date!(2027 - 03 - 01), Frequency::EveryTwoWeeks, None);
        o.end_date = Some(date!(2027 - 03 - 20));
        assert_eq!(o.after(date!(2027 - 03 - 01)), Some(date!(2027 - 03 - 15)));
        assert_eq!(o.after(date!(2027 - 03 - 15)), None);
        assert_eq!(
            o.first_on_or_after(date!(2027 - 03 - 16)),
            None,
            "all dates passed"
        );
    }

    #[test]
    fn a_late_authorisation_skips_the_past_dates_and_a_past_date_is_today() {
        let o = order(date!(2027 - 03 - 01), Frequency::Daily, None);
        let periodic = Execution::Periodic(o);
        assert_eq!(
            periodic.first_due(date!(2027 - 03 - 31)),
            Ok(Some(date!(2027 - 03 - 31)))
        );
        let once = Execution::OnDate(date!(2027 - 03 - 01));
        assert_eq!(
            once.first_due(date!(2027 - 03 - 05)),
            Ok(Some(date!(2027 - 03 - 05)))
        );
        assert_eq!(
            Execution::Immediate.first_due(date!(2027 - 03 - 05)),
            Ok(None)
        );
    }

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

    #[test]
    fn weekends_move_by_the_execution_rule() {
        let mut o = order(date!(2027 - 03 - 06), Frequency::Monthly, None); // a Saturday
        assert_eq!(o.business_day(o.start_date), date!(2027 - 03 - 08));
        o.execution_rule = Some(ExecutionRule::Preceding);
        assert_eq!(o.business_day(o.start_date), date!(2027 - 03 - 05));
    }
}
