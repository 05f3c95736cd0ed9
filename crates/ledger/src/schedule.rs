//! The durable scheduler of future-dated payments and standing orders. Every
//! server node runs it (with [`crate::payments::settle_pending`]); an
//! execution happens exactly once however many nodes run and crash:
//!
//! 1. the node claims the execution of one nominal date (a row keyed by
//!    payment and date; a claim older than [`CLAIM_GRACE`] is taken over);
//! 2. it posts the transfer under the idempotency key `payment:<id>:<date>`
//!    (a one-off payment: `payment:<id>`), so a retry after a crash or a
//!    takeover replays the same posting instead of making a second;
//! 3. it records the outcome and moves the payment's cursor to the next date
//!    in one transaction, only while it still holds the claim.

use fintechapi_domain::StoreError;
use fintechapi_domain::ids::PaymentId;
use fintechapi_domain::ledger::LedgerRepository;
use fintechapi_domain::payment::{
    Execution, ExecutionAdvance, ExecutionOutcome, Payment, PaymentRepository, PaymentStatus,
    PaymentUpdate,
};
use time::Duration;

use crate::payments::{post, settle_bulk, single_outcome};
use crate::service::Ledger;

/// How long a claim protects an execution in progress before another node
/// may take it over (a node that stopped mid-way).
pub const CLAIM_GRACE: Duration = Duration::seconds(60);

/// The preceding rule moves a weekend date at most two days earlier.
const LOOKAHEAD: Duration = Duration::days(3);

/// Rows the store returns at a time (its query's LIMIT).
const PAGE: usize = 100;

/// Before any cursor date.
const EPOCH: time::Date = time::macros::date!(1970 - 01 - 01);

/// Executes every authorised scheduled payment whose date has come; returns
/// how many executions this call recorded.
pub async fn run_due<R: LedgerRepository + PaymentRepository>(
    ledger: &Ledger<R>,
) -> Result<usize, StoreError> {
    let today = ledger.now().date();
    let horizon = today.checked_add(LOOKAHEAD).unwrap_or(today);
    let mut recorded = 0;
    // Page through everything due: rows that cannot run yet (a weekend date
    // moved to Monday) must not crowd out those that can.
    let mut after = (EPOCH, PaymentId::from(uuid::Uuid::nil()));
    loop {
        let page = ledger.repo().scheduled_payments_due(horizon, after).await?;
        for payment in &page {
            // One payment failing must not hold up the others.
            match execute_next(ledger, payment).await {
                Ok(true) => recorded += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(payment = %payment.id, error = %e, "a scheduled execution failed; retrying");
                }
            }
        }
        match page.last() {
            Some(last) if page.len() == PAGE => {
                after = (last.next_execution.unwrap_or(EPOCH), last.id);
            }
            _ => return Ok(recorded),
        }
    }
}

/// Executes the payment's next date if it has come (on a business day);
/// true when this call recorded the execution.
pub async fn execute_next<R: LedgerRepository + PaymentRepository>(
    ledger: &Ledger<R>,
    payment: &Payment,
) -> Result<bool, StoreError> {
    let Some(due) = payment.next_execution else {
        return Ok(false);
    };
    let runs_on = match &payment.execution {
        Execution::Periodic(order) => order.business_day(due),
        _ => due,
    };
    let now = ledger.now();
    if runs_on > now.date() {
        return Ok(false);
    }
    let repo = ledger.repo();
    let token = uuid::Uuid::new_v4().to_string();
    if !repo
        .claim_execution(payment.id, due, &token, now, now - CLAIM_GRACE)
        .await?
    {
        return Ok(false);
    }
    if let Some(bulk) = &payment.bulk {
        // A future-dated bulk payment: its transfers, keyed as on authorisation.
        let (status, update) = settle_bulk(ledger, payment, bulk).await?;
        let outcome = match (&update.reason, status) {
            (Some(reason), PaymentStatus::Rejected) => ExecutionOutcome::Rejected(*reason),
            _ => ExecutionOutcome::Executed(update.transaction_id),
        };
        let advance = ExecutionAdvance {
            next: None,
            status,
            update,
        };
        return repo
            .finish_execution(payment.id, due, &token, outcome, advance, ledger.now())
            .await;
    }
    let key = match payment.execution {
        Execution::Periodic(_) => format!("payment:{}:{due}", payment.id),
        _ => format!("payment:{}", payment.id),
    };
    let posted = post(ledger, payment, key).await?;
    let advance = match &payment.execution {
        Execution::Periodic(order) => {
            let next = order.after(due);
            ExecutionAdvance {
                next,
                // A standing order stays accepted until its last date has run.
                status: if next.is_some() {
                    PaymentStatus::AcceptedCustomerProfile
                } else {
                    PaymentStatus::AcceptedSettlementCompleted
                },
                update: PaymentUpdate::default(),
            }
        }
        _ => {
            let (status, update) = single_outcome(posted);
            ExecutionAdvance {
                next: None,
                status,
                update,
            }
        }
    };
    let outcome = match posted {
        Ok(transaction) => ExecutionOutcome::Executed(Some(transaction)),
        Err(reason) => ExecutionOutcome::Rejected(reason),
    };
    let finished = repo
        .finish_execution(
            payment.id,
            due,
            &token,
            outcome.clone(),
            advance,
            ledger.now(),
        )
        .await?;
    if finished {
        tracing::info!(payment = %payment.id, %due, ?outcome, "scheduled payment executed");
    }
    Ok(finished)
}

/// Cancels an authorised scheduled payment before its next date: the
/// cancellation takes that date's claim only when nobody ever claimed it (an
/// execution's claim, even a stale one, may have posted already), so it
/// cannot interleave with an execution. False when an execution holds or
/// held it, or the payment is no longer scheduled (try again, or it has run).
pub(crate) async fn cancel<R: LedgerRepository + PaymentRepository>(
    ledger: &Ledger<R>,
    payment: &Payment,
) -> Result<bool, StoreError> {
    let Some(due) = payment.next_execution else {
        return Ok(false);
    };
    let repo = ledger.repo();
    let now = ledger.now();
    let token = uuid::Uuid::new_v4().to_string();
    let never_stale = time::OffsetDateTime::UNIX_EPOCH;
    if !repo
        .claim_execution(payment.id, due, &token, now, never_stale)
        .await?
    {
        return Ok(false);
    }
    let advance = ExecutionAdvance {
        next: None,
        status: PaymentStatus::Cancelled,
        update: PaymentUpdate::default(),
    };
    repo.finish_execution(
        payment.id,
        due,
        &token,
        ExecutionOutcome::Cancelled,
        advance,
        now,
    )
    .await
}
