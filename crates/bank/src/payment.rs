//! The PSU's decisions on payments, mapped from the ledger's payment
//! lifecycle (`fintechapi_ledger::lifecycle`) to pages: authorise, decline,
//! confirm a cancellation.

use axum::http::StatusCode;
use axum::response::Response;
use fintechapi_domain::ids::PsuId;
use fintechapi_domain::oauth::{Authorization, AuthorizationStage};
use fintechapi_domain::payment::{Payment, PaymentOutcome};
use fintechapi_ledger::lifecycle::{self, Cancellation};

use crate::error::BankError;
use crate::service::{BankService, BankStore};
use crate::session::back_to_tpp;

/// The PSU authorised the payment (`fintechapi_ledger::lifecycle::authorise`:
/// executed now or scheduled; a payment that cannot run is rejected, and the
/// TPP learns why from its status); on a joint account the approval of a
/// joint holder counts, and the payment waits (PATC) for the others. Only a
/// payment decided meanwhile, or an approver who does not hold the joint
/// account, is refused.
pub(crate) async fn execute<R: BankStore>(
    service: &BankService<R>,
    payment: &Payment,
    psu: PsuId,
) -> Result<(), BankError> {
    match lifecycle::authorise(&service.ledger, payment, psu).await? {
        PaymentOutcome::AlreadyDecided => Err(BankError::page(
            StatusCode::CONFLICT,
            "This payment was already decided or cancelled.",
        )),
        PaymentOutcome::NotAHolder => Err(not_a_holder()),
        _ => Ok(()),
    }
}

pub(crate) fn not_a_holder() -> BankError {
    BankError::page(
        StatusCode::FORBIDDEN,
        "This payment is drawn on a joint account you do not hold; only its holders can \
         approve it.",
    )
}

/// The PSU declined the payment: RJCT (DS02), and the authorization denied.
pub(crate) async fn decline<R: BankStore>(
    service: &BankService<R>,
    authorization: &Authorization,
    payment: &Payment,
) -> Result<(), BankError> {
    let psu = authorization.psu_id.ok_or_else(BankError::expired)?;
    // Declined twice or after a cancellation: the payment keeps its status.
    if lifecycle::decline(&service.ledger, payment, psu).await? == PaymentOutcome::NotAHolder {
        return Err(not_a_holder());
    }
    deny(service, authorization).await
}

/// The PSU said no: the authorization ends without a code.
pub(crate) async fn deny<R: BankStore>(
    service: &BankService<R>,
    authorization: &Authorization,
) -> Result<(), BankError> {
    let server = &service.oauth.server;
    server
        .repo()
        .advance_authorization(
            authorization.id,
            AuthorizationStage::Consent,
            AuthorizationStage::Denied,
            None,
            server.now(),
        )
        .await?;
    Ok(())
}

/// Only the PSU who authorised a payment may cancel it.
pub(crate) fn is_payer(authorization: &Authorization, payment: &Payment) -> bool {
    authorization.psu_id.is_some() && authorization.psu_id == payment.psu_id
}

pub(crate) fn not_the_payer() -> BankError {
    BankError::page(
        StatusCode::FORBIDDEN,
        "This payment was authorised by another customer; only they can cancel it.",
    )
}

/// The PSU decides on the TPP's request to cancel an authorised scheduled
/// payment: approved, it is cancelled before its next date (CANC).
pub(crate) async fn cancel_payment<R: BankStore>(
    service: &BankService<R>,
    authorization: &Authorization,
    payment: &Payment,
    decision: Option<&str>,
) -> Result<Response, BankError> {
    let server = &service.oauth.server;
    if !is_payer(authorization, payment) {
        return Err(not_the_payer());
    }
    if decision != Some("approve") {
        deny(service, authorization).await?;
        let params = [
            ("error", "access_denied"),
            ("error_description", "the PSU kept the payment"),
        ];
        return Ok(back_to_tpp(service, authorization, &params).await);
    }
    if lifecycle::confirm_cancellation(&service.ledger, payment).await?
        == Cancellation::NotCancellable
    {
        return Err(BankError::page(
            StatusCode::CONFLICT,
            "This payment is being executed right now, or has ended. Check its status in a \
             minute and ask again if it is still scheduled.",
        ));
    }
    let code = server
        .approve(authorization)
        .await
        .map_err(|_| BankError::expired())?
        .ok_or_else(BankError::expired)?;
    Ok(back_to_tpp(service, authorization, &[("code", &code)]).await)
}
