//! Settlement of authorised payment initiations, exactly once: the ledger
//! posting carries the payment's id as idempotency key, and the status moves
//! ACTC → ACSC (or RJCT) in one conditional update. A crash between the
//! authorisation and the posting leaves the payment at ACTC; [`settle_pending`]
//! (run at start and periodically, on every node) finishes it.

use fintechapi_domain::StoreError;
use fintechapi_domain::ids::{AccountId, TransactionId};
use fintechapi_domain::ledger::{LedgerError, LedgerRepository};
use fintechapi_domain::payment::{
    Bulk, BulkEntry, Payment, PaymentOutcome, PaymentRepository, PaymentStatus, PaymentUpdate,
    RejectReason,
};
use time::Duration;

use crate::service::{Ledger, TransferOrder};

/// Posts an authorised (ACTC) payment and records the outcome; returns
/// what it came to. Safe to call again and from several nodes.
pub async fn settle<R: LedgerRepository + PaymentRepository>(
    ledger: &Ledger<R>,
    payment: &Payment,
) -> Result<PaymentOutcome, StoreError> {
    // One settler at a time: a transfer refused now must not be posted by a
    // second settler a moment later (a refusal leaves nothing in the ledger).
    let now = ledger.now();
    let token = uuid::Uuid::new_v4().to_string();
    if !ledger
        .repo()
        .claim_settlement(payment.id, &token, now, now - SETTLE_LEASE)
        .await?
    {
        return Ok(PaymentOutcome::Settling);
    }
    let (to, update) = match &payment.bulk {
        Some(bulk) => settle_bulk(ledger, payment, bulk).await?,
        None => single_outcome(post(ledger, payment, format!("payment:{}", payment.id)).await?),
    };
    let reason = update.reason;
    ledger
        .repo()
        .set_payment_status(
            payment.id,
            PaymentStatus::AcceptedTechnical,
            to,
            update,
            ledger.now(),
        )
        .await?;
    Ok(match (to, reason) {
        (PaymentStatus::PartiallyExecuted, _) => PaymentOutcome::PartiallySettled,
        (PaymentStatus::Rejected, reason) => {
            PaymentOutcome::Rejected(reason.unwrap_or(RejectReason::Narrative))
        }
        _ => PaymentOutcome::Settled,
    })
}

/// The status and what to keep of a single payment's posting.
pub(crate) fn single_outcome(
    posted: Result<TransactionId, RejectReason>,
) -> (PaymentStatus, PaymentUpdate) {
    match posted {
        Ok(transaction) => (
            PaymentStatus::AcceptedSettlementCompleted,
            PaymentUpdate {
                transaction_id: Some(transaction),
                ..PaymentUpdate::default()
            },
        ),
        Err(reason) => (
            PaymentStatus::Rejected,
            PaymentUpdate {
                reason: Some(reason),
                ..PaymentUpdate::default()
            },
        ),
    }
}

/// Posts a bulk payment's transfers and records each one's outcome: with
/// batch booking one debit of the total, all or nothing (ACSC or RJCT);
/// otherwise each transfer on its own (`payment:<id>:<n>`), and the bulk is
/// ACSC when all went through, PART when some did, RJCT when none.
pub(crate) async fn settle_bulk<R: LedgerRepository + PaymentRepository>(
    ledger: &Ledger<R>,
    payment: &Payment,
    bulk: &Bulk,
) -> Result<(PaymentStatus, PaymentUpdate), StoreError> {
    let repo = ledger.repo();
    let rejected = |reason: RejectReason| {
        (
            PaymentStatus::Rejected,
            PaymentUpdate {
                reason: Some(reason),
                ..PaymentUpdate::default()
            },
        )
    };
    let Some(account) = debtor_account(ledger, payment).await? else {
        for n in 0..bulk.entries.len() {
            repo.record_bulk_entry(
                payment.id,
                n,
                PaymentStatus::Rejected,
                None,
                Some(RejectReason::IncorrectAccountNumber),
            )
            .await?;
        }
        return Ok(rejected(RejectReason::IncorrectAccountNumber));
    };
    let order = |n: usize, entry: &BulkEntry| TransferOrder {
        idempotency_key: format!("payment:{}:{n}", payment.id),
        debtor_account: account,
        creditor_iban: entry.creditor_iban.clone(),
        creditor_name: Some(entry.creditor_name.clone()),
        amount: entry.amount,
        remittance_information: entry.remittance.clone(),
        end_to_end_id: entry.end_to_end_id.clone(),
        bank_transaction_code: None,
    };
    if bulk.batch_booking {
        let orders: Vec<TransferOrder> = bulk
            .entries
            .iter()
            .enumerate()
            .map(|(n, e)| order(n, e))
            .collect();
        let text = format!("Bulk payment {} of {} transfers", payment.id, orders.len());
        let booked = ledger
            .batch_transfer(&format!("payment:{}", payment.id), account, &orders, &text)
            .await;
        let (status, transaction, reason) = match booked {
            Ok(receipt) => (
                PaymentStatus::AcceptedSettlementCompleted,
                Some(receipt.transaction_id),
                None,
            ),
            Err(e) => (PaymentStatus::Rejected, None, Some(reason_of(payment, e)?)),
        };
        for n in 0..orders.len() {
            repo.record_bulk_entry(payment.id, n, status, transaction, reason)
                .await?;
        }
        return Ok(match reason {
            Some(reason) => rejected(reason),
            None => (
                status,
                PaymentUpdate {
                    transaction_id: transaction,
                    ..PaymentUpdate::default()
                },
            ),
        });
    }
    let mut executed = 0;
    let mut first_reason = None;
    for (n, entry) in bulk.entries.iter().enumerate() {
        // Decided by an earlier settlement that stopped half-way: it stands.
        match (entry.status, &entry.reason) {
            (PaymentStatus::AcceptedSettlementCompleted, _) => {
                executed += 1;
                continue;
            }
            (PaymentStatus::Rejected, reason) => {
                first_reason.get_or_insert(reason.unwrap_or(RejectReason::Narrative));
                continue;
            }
            _ => {}
        }
        match ledger.transfer(order(n, entry)).await {
            Ok(receipt) => {
                executed += 1;
                repo.record_bulk_entry(
                    payment.id,
                    n,
                    PaymentStatus::AcceptedSettlementCompleted,
                    Some(receipt.transaction_id),
                    None,
                )
                .await?;
            }
            Err(e) => {
                let reason = reason_of(payment, e)?;
                repo.record_bulk_entry(payment.id, n, PaymentStatus::Rejected, None, Some(reason))
                    .await?;
                first_reason.get_or_insert(reason);
            }
        }
    }
    Ok(match first_reason {
        None => (
            PaymentStatus::AcceptedSettlementCompleted,
            PaymentUpdate::default(),
        ),
        Some(reason) if executed == 0 => rejected(reason),
        Some(_) => (PaymentStatus::PartiallyExecuted, PaymentUpdate::default()),
    })
}

/// The account the payment is drawn on, held by the authorising PSU; None
/// when they hold no mandate on it.
pub(crate) async fn debtor_account<R: LedgerRepository + PaymentRepository>(
    ledger: &Ledger<R>,
    payment: &Payment,
) -> Result<Option<AccountId>, StoreError> {
    let Some(psu) = payment.psu_id else {
        return Ok(None);
    };
    let repo = ledger.repo();
    let Some(account) = repo.account_by_iban(&payment.debtor_iban).await? else {
        return Ok(None);
    };
    let holders = repo.account_holders(account.id).await?;
    Ok(holders
        .iter()
        .any(|h| h.psu_id == psu)
        .then_some(account.id))
}

/// The ISO 20022 reason a ledger refusal stands for; store failures propagate.
fn reason_of(payment: &Payment, error: LedgerError) -> Result<RejectReason, StoreError> {
    Ok(match error {
        LedgerError::InsufficientFunds(_) => RejectReason::InsufficientFunds,
        LedgerError::AccountNotEnabled(_) => RejectReason::BlockedAccount,
        LedgerError::CurrencyMismatch { .. } => RejectReason::NotAllowedCurrency,
        LedgerError::SameAccount => RejectReason::ZeroAmount,
        LedgerError::Store(e) => return Err(e),
        other => {
            tracing::warn!(payment = %payment.id, error = %other, "payment rejected by the ledger");
            RejectReason::Narrative
        }
    })
}

/// Posts the payment's transfer under `idempotency_key` (the same key posts
/// once, however often it is retried): the transaction, or the ISO 20022
/// reason it was refused.
pub(crate) async fn post<R: LedgerRepository + PaymentRepository>(
    ledger: &Ledger<R>,
    payment: &Payment,
    idempotency_key: String,
) -> Result<Result<TransactionId, RejectReason>, StoreError> {
    let Some(account) = debtor_account(ledger, payment).await? else {
        return Ok(Err(RejectReason::IncorrectAccountNumber));
    };
    let order = TransferOrder {
        idempotency_key,
        debtor_account: account,
        creditor_iban: payment.creditor_iban.clone(),
        creditor_name: Some(payment.creditor_name.clone()),
        amount: payment.amount,
        remittance_information: payment.remittance.clone(),
        end_to_end_id: payment.end_to_end_id.clone(),
        bank_transaction_code: None,
    };
    match ledger.transfer(order).await {
        Ok(receipt) => Ok(Ok(receipt.transaction_id)),
        Err(e) => Ok(Err(reason_of(payment, e)?)),
    }
}

/// How long a settlement lease protects a settler before another node may
/// take the payment over (a node that stopped).
const SETTLE_LEASE: Duration = Duration::seconds(15);

/// Settles every payment left authorised but unposted for longer than
/// `grace` (a crash, or a node that stopped mid-way). Returns how many.
pub async fn settle_pending<R: LedgerRepository + PaymentRepository>(
    ledger: &Ledger<R>,
    grace: Duration,
) -> Result<usize, StoreError> {
    let stale = ledger
        .repo()
        .payments_in_status(PaymentStatus::AcceptedTechnical, ledger.now() - grace)
        .await?;
    for payment in &stale {
        let outcome = settle(ledger, payment).await?;
        tracing::info!(payment = %payment.id, ?outcome, "settled a payment left authorised");
    }
    Ok(stale.len())
}
