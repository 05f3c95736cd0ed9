//! The PSU's decision and the way back to the TPP.

use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::consent::{AccountGrant, ConsentStatus};
use fintechapi_domain::oauth::{Authorization, AuthorizationStage, ScaApproach};

use crate::error::{BankError, parsed, secured};
use crate::factors::{PaymentAsk, payment_asked};
use crate::pages::{AccountLine, consent_page, form_targets};
use crate::payment::{cancel_payment, decline, execute};
use crate::service::{BankService, BankStore};
use crate::session::{back_to_tpp, check_post, session};

/// The PSU approved: the OAuth approach issues the code for the TPP's token;
/// the Redirect approach finalises the authorisation without one.
pub(crate) async fn approved<R: BankStore>(
    service: &BankService<R>,
    authorization: &Authorization,
) -> Result<Response, BankError> {
    if authorization.flow.approach() == ScaApproach::Redirect {
        return crate::redirect::approved(service, authorization).await;
    }
    let server = &service.oauth.server;
    let code = server
        .approve(authorization)
        .await
        .map_err(|_| BankError::expired())?
        .ok_or_else(BankError::expired)?;
    Ok(back_to_tpp(
        authorization,
        &server.settings().issuer,
        &[("code", &code)],
    ))
}

/// The PSU refused, or the request cannot be granted: `access_denied` for
/// the OAuth approach, the NOK URI for the Redirect approach.
pub(crate) fn refused(authorization: &Authorization, issuer: &str, description: &str) -> Response {
    if authorization.flow.approach() == ScaApproach::Redirect {
        return crate::redirect::back_to_tpp(authorization, false);
    }
    back_to_tpp(
        authorization,
        issuer,
        &[
            ("error", "access_denied"),
            ("error_description", description),
        ],
    )
}

pub(crate) async fn decide<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, BankError> {
    let session = session(&service, &headers, AuthorizationStage::Consent).await?;
    let pairs = parsed(form)?;
    let value = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    check_post(&headers, &uri, value("csrf").unwrap_or_default(), &session)?;
    let server = &service.oauth.server;
    let repo = server.repo();
    let authorization = &session.authorization;
    let issuer = server.settings().issuer.clone();
    let payment = match payment_asked(&service, authorization).await? {
        Some(PaymentAsk::Cancel(payment)) => {
            return cancel_payment(&service, authorization, &payment, value("decision")).await;
        }
        Some(PaymentAsk::Pay(payment)) => Some(payment),
        None => None,
    };
    if let Some(payment) = payment {
        if value("decision") != Some("approve") {
            decline(&service, authorization, &payment).await?;
            return Ok(refused(
                authorization,
                &issuer,
                "the PSU declined the payment",
            ));
        }
        let psu = authorization.psu_id.ok_or_else(BankError::expired)?;
        execute(&service, &payment, psu).await?;
        return approved(&service, authorization).await;
    }
    let page = consent_page(&service, &session).await?;
    let now = server.now();
    let consent_id = page.consent.id;

    if value("decision") != Some("approve") || page.problem.is_some() {
        repo.set_consent_status(
            consent_id,
            &[ConsentStatus::Received],
            ConsentStatus::Rejected,
            now,
        )
        .await?;
        repo.advance_authorization(
            authorization.id,
            AuthorizationStage::Consent,
            AuthorizationStage::Denied,
            None,
            now,
        )
        .await?;
        let description = page.problem.as_deref().map_or(
            "the PSU denied the request",
            |_| "the consent names an account the PSU does not hold",
        );
        return Ok(refused(authorization, &issuer, description));
    }

    let grants: Vec<AccountGrant> = if page.choose {
        let chosen: Vec<&str> = pairs
            .iter()
            .filter(|(n, _)| n == "account")
            .map(|(_, v)| v.as_str())
            .collect();
        page.lines
            .iter()
            .filter(|l| chosen.contains(&l.account.id.to_string().as_str()))
            .map(AccountLine::grant)
            .collect()
    } else {
        page.lines.iter().map(AccountLine::grant).collect()
    };
    if grants.is_empty() {
        let mut page = page;
        page.problem = Some("Choose at least one account, or deny the request.".into());
        let target = form_targets(authorization);
        return Ok(secured(
            (StatusCode::BAD_REQUEST, page).into_response(),
            target.as_deref(),
        ));
    }
    let psu = authorization.psu_id.ok_or_else(BankError::expired)?;
    if !repo.authorise_consent(consent_id, psu, grants, now).await? {
        return Err(BankError::page(
            StatusCode::CONFLICT,
            "This consent was already decided or withdrawn by the app.",
        ));
    }
    approved(&service, authorization).await
}
