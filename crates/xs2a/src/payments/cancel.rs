//! The TPP's cancellation of a payment (`DELETE`): at once while nobody has
//! authorised it, through the PSU's cancellation authorisation once an
//! authorised scheduled payment waits for its dates, never after execution
//! or rejection.

use fintechapi_domain::StoreError;
use fintechapi_domain::payment::{Payment, PaymentRepository, PaymentStatus, PaymentUpdate};
use time::OffsetDateTime;

/// What a cancellation came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cancellation {
    /// Not yet authorised: cancelled now (CANC), 204.
    Cancelled,
    /// Authorised and scheduled (ACCP): the PSU must authorise the
    /// cancellation, 202 with the OAuth link.
    AwaitsAuthorisation,
    /// Executed, rejected or cancelled already: refused.
    NotCancellable,
}

pub(crate) async fn cancel(
    payments: &impl PaymentRepository,
    payment: &Payment,
    now: OffsetDateTime,
) -> Result<Cancellation, StoreError> {
    if payment.status == PaymentStatus::AcceptedCustomerProfile
        && payments
            .request_payment_cancellation(payment.id, now)
            .await?
    {
        return Ok(Cancellation::AwaitsAuthorisation);
    }
    let cancelled = payments
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
