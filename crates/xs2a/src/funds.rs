//! Confirmation of funds (PIIS): whether an account of this bank covers an
//! amount now, against its available balance. Nothing else is disclosed, and
//! only for an account whose holder allowed this TPP to ask (PSD2 Art.
//! 65(1)(c)): a valid funds-confirmation consent, bound to the token or named
//! by `Consent-ID`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::Currency;
use fintechapi_domain::consent::Consent;
use fintechapi_domain::iban::Iban;
use fintechapi_domain::ledger::AccountKind;
use fintechapi_domain::money::Money;
use fintechapi_domain::registry::ApiProduct;
use serde_json::{Value, json};

use crate::{Caller, RequestLine, Xs2aError, Xs2aService, Xs2aStore, header_text};

pub(crate) async fn confirm<R: Xs2aStore>(
    State(service): State<Arc<Xs2aService<R>>>,
    headers: HeaderMap,
    line: RequestLine,
    body: Bytes,
) -> Response {
    let caller = match service.caller(&headers, &line, ApiProduct::Piis).await {
        Ok(c) => c,
        Err(response) => return response,
    };
    let result = async {
        let body: Value = serde_json::from_slice(&body)
            .map_err(|e| Xs2aError::format(format!("the body is not valid JSON: {e}")))?;
        let iban: Iban = body["account"]["iban"]
            .as_str()
            .ok_or_else(|| Xs2aError::format("account.iban is required").at("account.iban"))?
            .parse()
            .map_err(|e: fintechapi_domain::iban::InvalidIban| {
                Xs2aError::format(e.to_string()).at("account.iban")
            })?;
        let currency = body["instructedAmount"]["currency"]
            .as_str()
            .unwrap_or_default();
        if currency != "EUR" {
            return Err(Xs2aError::format("accounts here hold EUR").at("instructedAmount.currency"));
        }
        let amount = body["instructedAmount"]["amount"]
            .as_str()
            .ok_or_else(|| {
                Xs2aError::format("instructedAmount.amount is required")
                    .at("instructedAmount.amount")
            })
            .and_then(|a| {
                Money::parse_decimal(a, Currency::EUR)
                    .map_err(|e| Xs2aError::format(e.to_string()).at("instructedAmount.amount"))
            })?;
        if !amount.is_positive() {
            return Err(
                Xs2aError::format("amount must be greater than zero").at("instructedAmount.amount")
            );
        }
        piis_consent(&service, &caller, &headers, &iban).await?;
        let account = service
            .oauth
            .server
            .repo()
            .account_by_iban(&iban)
            .await?
            .filter(|a| a.kind == AccountKind::Customer)
            .ok_or_else(|| {
                Xs2aError::new(
                    StatusCode::BAD_REQUEST,
                    "RESOURCE_UNKNOWN",
                    "the account is not an account of this ASPSP",
                )
                .at("account.iban")
            })?;
        let limit = account.overdraft_limit.unwrap_or(0);
        let available = account.balances.available() + limit;
        Ok(Json(json!({ "fundsAvailable": available >= amount.minor() })).into_response())
    }
    .await;
    caller.answer(result)
}

/// The PSU's funds-confirmation consent that covers `iban` for this caller.
async fn piis_consent<R: Xs2aStore>(
    service: &Xs2aService<R>,
    caller: &Caller,
    headers: &HeaderMap,
    iban: &Iban,
) -> Result<Consent, Xs2aError> {
    let unauthorised = |code, text: &str| Xs2aError::new(StatusCode::UNAUTHORIZED, code, text);
    let not_activated = || {
        Xs2aError::new(
            StatusCode::BAD_REQUEST,
            "NO_PIIS_ACTIVATION",
            "the account holder has not allowed this TPP to confirm funds on this account: \
             obtain a funds_confirmation consent (authorization_details) and send its Consent-ID",
        )
    };
    let named = header_text(headers, "consent-id");
    let id = match (caller.grant.funds_consent, named) {
        (Some(bound), Some(named)) if named != bound.to_string() => {
            return Err(unauthorised(
                "CONSENT_INVALID",
                "Consent-ID is not the consent this token was granted for",
            )
            .at("Consent-ID"));
        }
        (Some(bound), _) => bound,
        (None, Some(named)) => named.parse().map_err(|_| unknown_consent())?,
        (None, None) => return Err(not_activated().at("Consent-ID")),
    };
    let server = &service.oauth.server;
    let consent = server
        .repo()
        .consent(id)
        .await?
        .filter(|c| c.application_id == caller.grant.application_id && c.funds_account().is_some())
        .ok_or_else(unknown_consent)?;
    crate::accounts::in_force(&consent, server.now().date())?;
    if consent.funds_account() != Some(iban) {
        return Err(not_activated().at("account.iban"));
    }
    Ok(consent)
}

/// An unknown consent named in the `Consent-ID` header: 400 (the spec's
/// status when the id comes in a header, 403 when in the path).
fn unknown_consent() -> Xs2aError {
    Xs2aError {
        status: StatusCode::BAD_REQUEST,
        ..Xs2aError::consent_unknown()
    }
    .at("Consent-ID")
}

/// Signing baskets are not offered yet: every basket path says so.
pub(crate) async fn signing_baskets() -> Response {
    Xs2aError::new(
        StatusCode::BAD_REQUEST,
        "SERVICE_INVALID",
        "signing baskets are not offered by this ASPSP",
    )
    .into_response()
}
