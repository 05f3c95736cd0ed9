//! Signing baskets after the PSU's decision: each payment of an approved
//! basket is authorised (`lifecycle::authorise`), each of a declined one
//! rejected (`lifecycle::decline`), one conditional status change each, so
//! whoever comes first (the bank's page, or the settlement loop after a
//! crash) decides it and a payment is never executed twice.

use fintechapi_domain::StoreError;
use fintechapi_domain::basket::{BasketRepository, BasketStatus, SigningBasket};
use fintechapi_domain::ledger::LedgerRepository;
use fintechapi_domain::payment::{PaymentOutcome, PaymentRepository, PaymentStatus};
use time::Duration;

use crate::lifecycle;
use crate::service::Ledger;

/// How many unfinished baskets one pass takes up.
const BATCH: u32 = 100;

/// Applies a decided basket's decision to each of its payments still
/// awaiting one (RCVD). An open or deleted basket changes nothing.
pub async fn finish<R: LedgerRepository + PaymentRepository>(
    ledger: &Ledger<R>,
    basket: &SigningBasket,
) -> Result<Vec<PaymentOutcome>, StoreError> {
    let mut outcomes = Vec::with_capacity(basket.payments.len());
    for id in &basket.payments {
        let Some(payment) = ledger.repo().payment(*id).await? else {
            continue;
        };
        if payment.status != PaymentStatus::Received {
            continue;
        }
        let outcome = match (basket.status, basket.psu_id) {
            (BasketStatus::AcceptedTechnical, Some(psu)) => {
                lifecycle::authorise(ledger, &payment, psu).await?
            }
            (BasketStatus::Rejected, Some(psu)) => {
                lifecycle::decline(ledger, &payment, psu).await?
            }
            _ => continue,
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// Finishes the baskets decided more than `grace` ago whose payments a
/// crash left undecided. Returns how many baskets.
pub async fn finish_pending<R: LedgerRepository + PaymentRepository + BasketRepository>(
    ledger: &Ledger<R>,
    grace: Duration,
) -> Result<usize, StoreError> {
    let before = ledger.now() - grace;
    let unfinished = ledger.repo().unfinished_baskets(BATCH).await?;
    let mut finished = 0;
    for basket in unfinished.iter().filter(|b| b.status_changed_at <= before) {
        let outcomes = finish(ledger, basket).await?;
        tracing::info!(basket = %basket.id, ?outcomes, "finished a decided signing basket");
        finished += 1;
    }
    Ok(finished)
}
