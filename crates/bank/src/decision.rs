//! The PSU's decision and the way back to the TPP.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fintechapi_domain::consent::{AccountGrant, ConsentStatus};
use fintechapi_domain::ids::ConsentId;
use fintechapi_domain::oauth::{Authorization, AuthorizationStage, ScaApproach};
use fintechapi_domain::payment::Payment;
use fintechapi_oauth::server::ScopedResource;

use crate::error::{BankError, secured};
use crate::factors::{PaymentAsk, payment_asked};
use crate::pages::{AccountLine, consent_page, form_targets};
use crate::payment::{cancel_payment, decline, deny, execute};
use crate::service::{BankService, BankStore};
use crate::session::{AtConsent, PsuPost, back_to_tpp};

/// The PSU approved: the OAuth approach issues the code for the TPP's token;
/// the Redirect and Decoupled approaches finalise the authorisation without one.
pub(crate) async fn approved<R: BankStore>(
    service: &BankService<R>,
    authorization: &Authorization,
) -> Result<Response, BankError> {
    match authorization.flow.approach() {
        ScaApproach::Redirect => return crate::redirect::approved(service, authorization).await,
        ScaApproach::Decoupled => return crate::decoupled::approved(service, authorization).await,
        ScaApproach::OAuth => {}
    }
    let server = &service.oauth.server;
    let code = server
        .approve(authorization)
        .await
        .map_err(|_| BankError::expired())?
        .ok_or_else(BankError::expired)?;
    Ok(back_to_tpp(service, authorization, &[("code", &code)]).await)
}

/// The PSU refused, or the request cannot be granted: `access_denied` for
/// the OAuth approach, the NOK URI for the Redirect approach, back to the
/// pending approvals for the Decoupled approach.
pub(crate) async fn refused<R: BankStore>(
    service: &BankService<R>,
    authorization: &Authorization,
    description: &str,
) -> Response {
    match authorization.flow.approach() {
        ScaApproach::Redirect => return crate::redirect::back_to_tpp(authorization, false),
        ScaApproach::Decoupled => return crate::decoupled::declined(),
        ScaApproach::OAuth => {}
    }
    let params = [
        ("error", "access_denied"),
        ("error_description", description),
    ];
    back_to_tpp(service, authorization, &params).await
}

/// The PSU's answer on the consent or payment page.
pub(crate) async fn decide<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    post: PsuPost<AtConsent, Vec<(String, String)>>,
) -> Result<Response, BankError> {
    let PsuPost { session, form, .. } = post;
    let value = |name: &str| {
        form.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let approve = value("decision") == Some("approve");
    let authorization = &session.authorization;
    match authorization.scope {
        ScopedResource::Identity => {
            return decide_identity(&service, authorization, approve).await;
        }
        ScopedResource::Basket(id) => {
            return crate::basket::decide(&service, authorization, id, approve).await;
        }
        _ => {}
    }
    match payment_asked(&service, authorization).await? {
        Some(PaymentAsk::Cancel(payment)) => {
            cancel_payment(&service, authorization, &payment, value("decision")).await
        }
        Some(PaymentAsk::Pay(payment)) => {
            decide_payment(&service, authorization, &payment, approve).await
        }
        None => {
            let chosen = form.iter().filter(|(n, _)| n == "account");
            let chosen: Vec<&str> = chosen.map(|(_, v)| v.as_str()).collect();
            decide_consent(&service, authorization, &session.csrf, approve, &chosen).await
        }
    }
}

/// A payment approved is executed; declined, it is rejected.
pub(crate) async fn decide_payment<R: BankStore>(
    service: &BankService<R>,
    authorization: &Authorization,
    payment: &Payment,
    approve: bool,
) -> Result<Response, BankError> {
    if !approve {
        decline(service, authorization, payment).await?;
        return Ok(refused(service, authorization, "the PSU declined the payment").await);
    }
    let psu = authorization.psu_id.ok_or_else(BankError::expired)?;
    execute(service, payment, psu).await?;
    approved(service, authorization).await
}

/// A consent approved on the accounts `chosen` (where the PSU chooses) is
/// authorised, or partially while joint holders have yet to approve; denied
/// (by any holder), or naming an account the PSU does not hold, rejected.
/// `csrf`: the token of the consent page shown again when none was chosen.
pub(crate) async fn decide_consent<R: BankStore>(
    service: &BankService<R>,
    authorization: &Authorization,
    csrf: &str,
    approve: bool,
    chosen: &[&str],
) -> Result<Response, BankError> {
    let mut page = consent_page(service, authorization, csrf).await?;
    if page.consent.status == ConsentStatus::PartiallyAuthorised && page.problem.is_some() {
        return Err(crate::consent::not_a_holder());
    }
    if !approve || page.problem.is_some() {
        return deny_consent(
            service,
            authorization,
            page.consent.id,
            page.problem.is_some(),
        )
        .await;
    }
    let lines = page.lines.iter();
    let grants: Vec<AccountGrant> = if page.choose {
        let lines = lines.filter(|l| chosen.contains(&l.account.id.to_string().as_str()));
        lines.map(AccountLine::grant).collect()
    } else {
        lines.map(AccountLine::grant).collect()
    };
    if grants.is_empty() {
        page.problem = Some("Choose at least one account, or deny the request.".into());
        let target = form_targets(authorization);
        let page = (StatusCode::BAD_REQUEST, page).into_response();
        return Ok(secured(page, target.as_deref()));
    }
    let psu = authorization.psu_id.ok_or_else(BankError::expired)?;
    crate::consent::authorise(service, &page.consent, psu, grants).await?;
    approved(service, authorization).await
}

/// The consent is rejected and the authorization denied; the TPP learns why.
async fn deny_consent<R: BankStore>(
    service: &BankService<R>,
    authorization: &Authorization,
    consent: ConsentId,
    foreign_account: bool,
) -> Result<Response, BankError> {
    let server = &service.oauth.server;
    let (repo, now) = (server.repo(), server.now());
    server
        .set_consent_status(
            consent,
            &[ConsentStatus::Received, ConsentStatus::PartiallyAuthorised],
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
    let description = if foreign_account {
        "the consent names an account the PSU does not hold"
    } else {
        "the PSU denied the request"
    };
    Ok(refused(service, authorization, description).await)
}

/// OpenID Connect alone: approved, the code (and with it the ID token);
/// denied, `access_denied`.
async fn decide_identity<R: BankStore>(
    service: &BankService<R>,
    authorization: &Authorization,
    approve: bool,
) -> Result<Response, BankError> {
    if approve {
        return approved(service, authorization).await;
    }
    deny(service, authorization).await?;
    Ok(refused(service, authorization, "the PSU denied the sign-in").await)
}
