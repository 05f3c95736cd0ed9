//! A payment's lifecycle after initiation, in one place: the PSU authorises
//! it (executed now, or scheduled for its dates) or declines it; the TPP
//! cancels it (at once before authorisation; an authorised scheduled one
//! only with the PSU's confirmation). Each step is one conditional status
//! change, so a payment decided twice, or cancelled while being decided,
//! changes once; the callers (the bank's pages, the XS2A cancellation) only
//! turn the typed outcome into their answer.

use fintechapi_domain::StoreError;
use fintechapi_domain::ids::PsuId;
use fintechapi_domain::ledger::LedgerRepository;
use fintechapi_domain::payment::{
    Payment, PaymentOutcome, PaymentRepository, PaymentStatus, PaymentUpdate, RejectReason,
};

use crate::payments::{debtor_account, settle};
use crate::schedule::{self, execute_next};
use crate::service::Ledger;

/// What the TPP's or the PSU's cancellation came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancellation {
    /// Cancelled now (CANC).
    Cancelled,
    /// Authorised and scheduled (ACCP): the PSU must confirm the cancellation.
    AwaitsAuthorisation,
    /// Executed, rejected or cancelled already, or an execution holds it.
    NotCancellable,
}

/// The PSU authorised the payment (RCVD): an immediate one goes to ACTC and
/// is settled in the ledger (ACSC, or RJCT with its reason), exactly once; a
/// future-dated one or a standing order goes to ACCP with the scheduler's
/// cursor on its first date (executed now if that is today). A scheduled
/// payment is rejected at once when the debtor account is not the PSU's
/// (AC01) or a standing order has no date left (DT01).
pub async fn authorise<R: LedgerRepository + PaymentRepository>(
    ledger: &Ledger<R>,
    payment: &Payment,
    psu: PsuId,
) -> Result<PaymentOutcome, StoreError> {
    let now = ledger.now();
    let authorised = Payment {
        psu_id: Some(psu),
        ..payment.clone()
    };
    let Ok(first) = payment.execution.first_due(now.date()) else {
        return reject(ledger, payment, Some(psu), RejectReason::InvalidDate).await;
    };
    if first.is_some() && debtor_account(ledger, &authorised).await?.is_none() {
        return reject(
            ledger,
            payment,
            Some(psu),
            RejectReason::IncorrectAccountNumber,
        )
        .await;
    }
    let status = match first {
        Some(_) => PaymentStatus::AcceptedCustomerProfile,
        None => PaymentStatus::AcceptedTechnical,
    };
    let update = PaymentUpdate {
        psu_id: Some(psu),
        next_execution: first,
        ..PaymentUpdate::default()
    };
    if !ledger
        .repo()
        .set_payment_status(payment.id, PaymentStatus::Received, status, update, now)
        .await?
    {
        return Ok(PaymentOutcome::AlreadyDecided);
    }
    let authorised = Payment {
        status,
        next_execution: first,
        ..authorised
    };
    match first {
        Some(_) => {
            execute_next(ledger, &authorised).await?;
            Ok(PaymentOutcome::Scheduled)
        }
        None => settle(ledger, &authorised).await,
    }
}

/// The PSU declined the payment: RJCT with DS02.
pub async fn decline<R: LedgerRepository + PaymentRepository>(
    ledger: &Ledger<R>,
    payment: &Payment,
) -> Result<PaymentOutcome, StoreError> {
    reject(ledger, payment, None, RejectReason::OrderCancelled).await
}

/// RJCT with `reason` while the payment awaits the PSU (RCVD).
async fn reject<R: LedgerRepository + PaymentRepository>(
    ledger: &Ledger<R>,
    payment: &Payment,
    psu: Option<PsuId>,
    reason: RejectReason,
) -> Result<PaymentOutcome, StoreError> {
    let update = PaymentUpdate {
        psu_id: psu,
        reason: Some(reason),
        ..PaymentUpdate::default()
    };
    let rejected = ledger
        .repo()
        .set_payment_status(
            payment.id,
            PaymentStatus::Received,
            PaymentStatus::Rejected,
            update,
            ledger.now(),
        )
        .await?;
    Ok(if rejected {
        PaymentOutcome::Rejected(reason)
    } else {
        PaymentOutcome::AlreadyDecided
    })
}

/// The TPP cancels the payment: at once while nobody has authorised it; an
/// authorised scheduled payment (ACCP) is marked for the PSU's confirmation.
pub async fn cancel<R: LedgerRepository + PaymentRepository>(
    ledger: &Ledger<R>,
    payment: &Payment,
) -> Result<Cancellation, StoreError> {
    let (repo, now) = (ledger.repo(), ledger.now());
    if payment.status == PaymentStatus::AcceptedCustomerProfile
        && repo.request_payment_cancellation(payment.id, now).await?
    {
        return Ok(Cancellation::AwaitsAuthorisation);
    }
    let cancelled = repo
        .set_payment_status(
            payment.id,
            PaymentStatus::Received,
            PaymentStatus::Cancelled,
            PaymentUpdate::default(),
            now,
        )
        .await?;
    Ok(if cancelled {
        Cancellation::Cancelled
    } else {
        Cancellation::NotCancellable
    })
}

/// The PSU confirms the TPP's cancellation of an authorised scheduled
/// payment: cancelled before its next date, unless an execution holds or
/// held that date, or it is no longer scheduled.
pub async fn confirm_cancellation<R: LedgerRepository + PaymentRepository>(
    ledger: &Ledger<R>,
    payment: &Payment,
) -> Result<Cancellation, StoreError> {
    Ok(if schedule::cancel(ledger, payment).await? {
        Cancellation::Cancelled
    } else {
        Cancellation::NotCancellable
    })
}
