//! The payment lifecycle the PSU's decision drives: execute, cancel,
//! reject a scheduled payment.

use axum::http::StatusCode;
use axum::response::Response;
use fintechapi_domain::ids::PsuId;
use fintechapi_domain::oauth::{Authorization, AuthorizationStage};
use fintechapi_domain::payment::{Payment, PaymentStatus, PaymentUpdate};

use crate::error::BankError;
use crate::service::{BankService, BankStore};
use crate::session::back_to_tpp;

/// The PSU authorised the payment: an immediate one goes RCVD → ACTC and is
/// settled in the ledger (ACSC, or RJCT with an ISO 20022 reason), exactly
/// once; a future-dated one or a standing order goes RCVD → ACCP with the
/// scheduler's cursor on its first date (executed now if that is today). A
/// scheduled payment is refused at once (RJCT) when the debtor account is
/// not the PSU's (AC01) or a standing order has no date left (DT01).
pub(crate) async fn execute<R: BankStore>(
    service: &BankService<R>,
    payment: &Payment,
    psu: PsuId,
) -> Result<(), BankError> {
    let now = service.oauth.server.now();
    let first = match payment.execution.first_due(now.date()) {
        Ok(first) => first,
        Err(_) => return reject_scheduled(service, payment, psu, "DT01").await,
    };
    if first.is_some() {
        let own = service
            .oauth
            .server
            .repo()
            .account_by_iban(&payment.debtor_iban)
            .await?
            .is_some_and(|a| a.psu_id == Some(psu));
        if !own {
            return reject_scheduled(service, payment, psu, "AC01").await;
        }
    }
    let status = match first {
        Some(_) => PaymentStatus::AcceptedCustomerProfile,
        None => PaymentStatus::AcceptedTechnical,
    };
    let authorised = service
        .oauth
        .server
        .repo()
        .set_payment_status(
            payment.id,
            PaymentStatus::Received,
            status,
            PaymentUpdate {
                psu_id: Some(psu),
                next_execution: first,
                ..PaymentUpdate::default()
            },
            now,
        )
        .await?;
    if !authorised {
        return Err(BankError::page(
            StatusCode::CONFLICT,
            "This payment was already decided or cancelled.",
        ));
    }
    let authorised = Payment {
        psu_id: Some(psu),
        status,
        next_execution: first,
        ..payment.clone()
    };
    match first {
        Some(_) => {
            fintechapi_ledger::schedule::execute_next(&service.ledger, &authorised).await?;
        }
        None => {
            fintechapi_ledger::payments::settle(&service.ledger, &authorised).await?;
        }
    }
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
    let issuer = server.settings().issuer.clone();
    if !is_payer(authorization, payment) {
        return Err(not_the_payer());
    }
    if decision != Some("approve") {
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
        return Ok(back_to_tpp(
            authorization,
            &issuer,
            &[
                ("error", "access_denied"),
                ("error_description", "the PSU kept the payment"),
            ],
        ));
    }
    if !fintechapi_ledger::schedule::cancel(&service.ledger, payment).await? {
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
    Ok(back_to_tpp(authorization, &issuer, &[("code", &code)]))
}

/// A scheduled payment that cannot run: RJCT with its ISO 20022 reason.
pub(crate) async fn reject_scheduled<R: BankStore>(
    service: &BankService<R>,
    payment: &Payment,
    psu: PsuId,
    reason: &str,
) -> Result<(), BankError> {
    service
        .oauth
        .server
        .repo()
        .set_payment_status(
            payment.id,
            PaymentStatus::Received,
            PaymentStatus::Rejected,
            PaymentUpdate {
                psu_id: Some(psu),
                reason: Some(reason.into()),
                ..PaymentUpdate::default()
            },
            service.oauth.server.now(),
        )
        .await?;
    Ok(())
}
