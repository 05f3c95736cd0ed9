//! Settlement of authorised payment initiations, exactly once: the ledger
//! posting carries the payment's id as idempotency key, and the status moves
//! ACTC → ACSC (or RJCT) in one conditional update. A crash between the
//! authorisation and the posting leaves the payment at ACTC; [`settle_pending`]
//! (run at start and periodically, on every node) finishes it.

use fintechapi_domain::StoreError;
use fintechapi_domain::ids::TransactionId;
use fintechapi_domain::ledger::{LedgerError, LedgerRepository};
use fintechapi_domain::payment::{Payment, PaymentRepository, PaymentStatus, PaymentUpdate};
use time::Duration;

use crate::service::{Ledger, TransferOrder};

/// Posts an authorised (ACTC) payment and records the outcome; returns the
/// status it ended in. Safe to call again and from several nodes.
pub async fn settle<R: LedgerRepository + PaymentRepository>(
    ledger: &Ledger<R>,
    payment: &Payment,
) -> Result<PaymentStatus, StoreError> {
    let (to, update) = match post(ledger, payment, format!("payment:{}", payment.id)).await? {
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
    };
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
    Ok(to)
}

/// Posts the payment's transfer under `idempotency_key` (the same key posts
/// once, however often it is retried): the transaction, or the ISO 20022
/// reason it was refused.
pub(crate) async fn post<R: LedgerRepository + PaymentRepository>(
    ledger: &Ledger<R>,
    payment: &Payment,
    idempotency_key: String,
) -> Result<Result<TransactionId, String>, StoreError> {
    let repo = ledger.repo();
    let debtor = match payment.psu_id {
        Some(psu) => repo
            .account_by_iban(&payment.debtor_iban)
            .await?
            .filter(|a| a.psu_id == Some(psu)),
        None => None,
    };
    // AC01: the debtor account is not one of the authorising PSU's.
    let Some(account) = debtor else {
        return Ok(Err("AC01".into()));
    };
    let order = TransferOrder {
        idempotency_key,
        debtor_account: account.id,
        creditor_iban: payment.creditor_iban.clone(),
        creditor_name: Some(payment.creditor_name.clone()),
        amount: payment.amount,
        remittance_information: payment.remittance.clone(),
        end_to_end_id: payment.end_to_end_id.clone(),
        bank_transaction_code: None,
    };
    let reason = match ledger.transfer(order).await {
        Ok(receipt) => return Ok(Ok(receipt.transaction_id)),
        Err(LedgerError::InsufficientFunds(_)) => "AM04",
        Err(LedgerError::AccountNotEnabled(_)) => "AC06",
        Err(LedgerError::CurrencyMismatch { .. }) => "AM03",
        Err(LedgerError::SameAccount) => "AM01",
        Err(LedgerError::Store(e)) => return Err(e),
        Err(other) => {
            tracing::warn!(payment = %payment.id, error = %other, "payment rejected by the ledger");
            "NARR"
        }
    };
    Ok(Err(reason.into()))
}

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
        let status = settle(ledger, payment).await?;
        tracing::info!(payment = %payment.id, status = %status, "settled a payment left authorised");
    }
    Ok(stale.len())
}
