//! A payment's lifecycle after initiation, in one place: the PSU authorises
//! it (executed now, or scheduled for its dates) or declines it; the TPP
//! cancels it (at once before authorisation; an authorised scheduled one
//! only with the PSU's confirmation). Each step is one conditional status
//! change, so a payment decided twice, or cancelled while being decided,
//! changes once; the callers (the bank's pages, the XS2A cancellation) only
//! turn the typed outcome into their answer.
//!
//! Multilevel SCA: on an account with joint holders, a joint holder's
//! approval is recorded and the payment waits (PATC) until every joint
//! holder has approved; the last approval authorises it like a sole
//! holder's. Awaiting the PSU means RCVD or PATC.

use fintechapi_domain::StoreError;
use fintechapi_domain::holders::{AccountHolder, Approval, approval, is_joint};
use fintechapi_domain::ids::{PaymentId, PsuId};
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

/// The PSU authorised the payment (RCVD or PATC): an immediate one goes to ACTC and
/// is settled in the ledger (ACSC, or RJCT with its reason), exactly once; a
/// future-dated one or a standing order goes to ACCP with the scheduler's
/// cursor on its first date (executed now if that is today). A scheduled
/// payment is rejected at once when the debtor account is not the PSU's
/// (AC01) or a standing order has no date left (DT01). On a joint account
/// only the last joint holder's approval does this (see [`joint_approval`]).
pub async fn authorise<R: LedgerRepository + PaymentRepository>(
    ledger: &Ledger<R>,
    payment: &Payment,
    psu: PsuId,
) -> Result<PaymentOutcome, StoreError> {
    if let Some(outcome) = joint_approval(ledger, payment, psu).await? {
        return Ok(outcome);
    }
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
    // The one conditional update that two last approvals racing both try:
    // only the winner goes on to execute the payment.
    if !leave_awaiting(ledger, payment.id, status, update).await? {
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

/// A joint holder's approval on an account with joint holders: recorded,
/// and the payment PATC while others are missing. None when the approval
/// authorises the payment (a sole holder's, the last joint holder's, or a
/// payment not drawn on a joint account) and [`authorise`] goes on.
async fn joint_approval<R: LedgerRepository + PaymentRepository>(
    ledger: &Ledger<R>,
    payment: &Payment,
    psu: PsuId,
) -> Result<Option<PaymentOutcome>, StoreError> {
    let repo = ledger.repo();
    let holders = debtor_holders(ledger, payment).await?;
    if !is_joint(&holders) {
        return Ok(None);
    }
    match approval(&holders, psu, &[]) {
        Approval::NotAHolder => return Ok(Some(PaymentOutcome::NotAHolder)),
        Approval::Complete => return Ok(None),
        Approval::Awaiting(_) => {}
    }
    if !payment.status.awaits_authorisation() {
        return Ok(Some(PaymentOutcome::AlreadyDecided));
    }
    let approved = repo.approve_payment(payment.id, psu, ledger.now()).await?;
    if approval(&holders, psu, &approved) == Approval::Complete {
        return Ok(None);
    }
    let now = ledger.now();
    let update = PaymentUpdate::default();
    let partial = PaymentStatus::PartiallyAccepted;
    if repo
        .set_payment_status(payment.id, PaymentStatus::Received, partial, update, now)
        .await?
    {
        return Ok(Some(PaymentOutcome::PartiallyAuthorised));
    }
    // PATC already, or decided meanwhile (declined, cancelled, or completed
    // by an approval racing this one).
    let status = repo.payment(payment.id).await?.map(|p| p.status);
    Ok(Some(if status == Some(partial) {
        PaymentOutcome::PartiallyAuthorised
    } else {
        PaymentOutcome::AlreadyDecided
    }))
}

/// Whether the payment is drawn on an account with joint holders, so it
/// needs several authorisations (multilevel SCA).
pub async fn needs_several_approvals<R: LedgerRepository + PaymentRepository>(
    ledger: &Ledger<R>,
    payment: &Payment,
) -> Result<bool, StoreError> {
    Ok(is_joint(&debtor_holders(ledger, payment).await?))
}

/// The holders of the payment's debtor account; none when it is not ours.
async fn debtor_holders<R: LedgerRepository + PaymentRepository>(
    ledger: &Ledger<R>,
    payment: &Payment,
) -> Result<Vec<AccountHolder>, StoreError> {
    let repo = ledger.repo();
    match repo.account_by_iban(&payment.debtor_iban).await? {
        Some(account) => repo.account_holders(account.id).await,
        None => Ok(Vec::new()),
    }
}

/// Moves a payment awaiting the PSU (RCVD, or PATC) to `to`; false when it
/// no longer awaits them. RCVD is tried first: a payment only ever moves on
/// from RCVD to PATC, so one that left RCVD meanwhile is caught at PATC.
async fn leave_awaiting<R: LedgerRepository + PaymentRepository>(
    ledger: &Ledger<R>,
    id: PaymentId,
    to: PaymentStatus,
    update: PaymentUpdate,
) -> Result<bool, StoreError> {
    for from in [PaymentStatus::Received, PaymentStatus::PartiallyAccepted] {
        if ledger
            .repo()
            .set_payment_status(id, from, to, update.clone(), ledger.now())
            .await?
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The PSU declined the payment: RJCT with DS02. On a joint account any
/// holder's decline rejects it; a PSU who holds no mandate on it cannot.
pub async fn decline<R: LedgerRepository + PaymentRepository>(
    ledger: &Ledger<R>,
    payment: &Payment,
    psu: PsuId,
) -> Result<PaymentOutcome, StoreError> {
    let holders = debtor_holders(ledger, payment).await?;
    if is_joint(&holders) && approval(&holders, psu, &[]) == Approval::NotAHolder {
        return Ok(PaymentOutcome::NotAHolder);
    }
    reject(ledger, payment, None, RejectReason::OrderCancelled).await
}

/// RJCT with `reason` while the payment awaits the PSU (RCVD or PATC).
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
    let rejected = leave_awaiting(ledger, payment.id, PaymentStatus::Rejected, update).await?;
    Ok(if rejected {
        PaymentOutcome::Rejected(reason)
    } else {
        PaymentOutcome::AlreadyDecided
    })
}

/// The TPP cancels the payment: at once while it awaits authorisation; an
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
    let cancelled = leave_awaiting(
        ledger,
        payment.id,
        PaymentStatus::Cancelled,
        PaymentUpdate::default(),
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
