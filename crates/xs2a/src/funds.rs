//! Confirmation of funds (PIIS): whether an account of this bank covers an
//! amount now, against its available balance. Nothing else is disclosed, and
//! only for an account whose holder allowed this TPP to ask (PSD2 Art.
//! 65(1)(c)): a valid funds-confirmation consent, bound to the token or named
//! by `Consent-ID`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use fintechapi_domain::Currency;
use fintechapi_domain::consent::Consent;
use fintechapi_domain::consent::ConsentRepository;
use fintechapi_domain::iban::Iban;
use fintechapi_domain::ledger::{AccountKind, LedgerRepository};
use fintechapi_domain::money::Money;
use serde::Serialize;
use serde_json::Value;

use crate::caller::Piis;
use crate::error::MessageCode;
use crate::{Caller, Xs2aError, Xs2aService, Xs2aStore, header_text};

/// `POST /v1/funds-confirmations`: the account and the amount asked about.
struct FundsRequest {
    iban: Iban,
    amount: Money,
}

impl FundsRequest {
    fn parse(body: &[u8]) -> Result<Self, Xs2aError> {
        let body: Value = serde_json::from_slice(body)
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
        Ok(Self { iban, amount })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FundsConfirmation {
    funds_available: bool,
}

pub(crate) async fn confirm<R: Xs2aStore>(
    State(service): State<Arc<Xs2aService<R>>>,
    headers: HeaderMap,
    Piis(caller): Piis,
    body: Bytes,
) -> Response {
    let result = async {
        let request = FundsRequest::parse(&body)?;
        let funds_available = funds_available(&service, &caller, &headers, &request).await?;
        Ok(Json(FundsConfirmation { funds_available }).into_response())
    }
    .await;
    caller.answer(result)
}

/// Whether the account covers the amount now, asked under the holder's
/// consent; the ledger's overdraft rule decides ([`Account::covers`](fintechapi_domain::ledger::Account::covers)).
async fn funds_available<R: Xs2aStore>(
    service: &Xs2aService<R>,
    caller: &Caller,
    headers: &HeaderMap,
    request: &FundsRequest,
) -> Result<bool, Xs2aError> {
    piis_consent(service, caller, headers, &request.iban).await?;
    let account = service
        .accounts()
        .account_by_iban(&request.iban)
        .await?
        .filter(|a| a.kind == AccountKind::Customer)
        .ok_or_else(|| {
            Xs2aError::new(
                MessageCode::ResourceUnknown,
                "the account is not an account of this ASPSP",
            )
            .in_request()
            .at("account.iban")
        })?;
    Ok(account.covers(request.amount))
}

/// The PSU's funds-confirmation consent that covers `iban` for this caller.
async fn piis_consent<R: Xs2aStore>(
    service: &Xs2aService<R>,
    caller: &Caller,
    headers: &HeaderMap,
    iban: &Iban,
) -> Result<Consent, Xs2aError> {
    let not_activated = || {
        Xs2aError::new(
            MessageCode::NoPiisActivation,
            "the account holder has not allowed this TPP to confirm funds on this account: \
             obtain a funds_confirmation consent (authorization_details) and send its Consent-ID",
        )
    };
    let named = header_text(headers, "consent-id");
    let id = match (caller.grant.funds_consent, named) {
        (Some(bound), Some(named)) if named != bound.to_string() => {
            return Err(Xs2aError::consent_invalid(
                "Consent-ID is not the consent this token was granted for",
            )
            .at("Consent-ID"));
        }
        (Some(bound), _) => bound,
        (None, Some(named)) => named.parse().map_err(|_| unknown_consent())?,
        (None, None) => return Err(not_activated().at("Consent-ID")),
    };
    let consent = service
        .consents()
        .consent(id)
        .await?
        .filter(|c| c.application_id == caller.grant.application_id && c.funds_account().is_some())
        .ok_or_else(unknown_consent)?;
    crate::accounts::in_force(&consent, service.now().date())?;
    if consent.funds_account() != Some(iban) {
        return Err(not_activated().at("account.iban"));
    }
    Ok(consent)
}

/// An unknown consent named in the `Consent-ID` header: 400 (the spec's
/// status when the id comes in a header, 403 when in the path).
fn unknown_consent() -> Xs2aError {
    Xs2aError::consent_unknown().in_request().at("Consent-ID")
}
