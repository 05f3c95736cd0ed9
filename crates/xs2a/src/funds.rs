//! Confirmation of funds (PIIS): whether an account of this bank covers an
//! amount now, against its available balance. Nothing else is disclosed.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::Currency;
use fintechapi_domain::iban::Iban;
use fintechapi_domain::ledger::AccountKind;
use fintechapi_domain::money::Money;
use fintechapi_domain::registry::ApiProduct;
use serde_json::{Value, json};

use crate::{Repo, RequestLine, Xs2aError, Xs2aService};

pub(crate) async fn confirm<R: Repo>(
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

/// Signing baskets are not offered yet: every basket path says so.
pub(crate) async fn signing_baskets() -> Response {
    Xs2aError::new(
        StatusCode::BAD_REQUEST,
        "SERVICE_INVALID",
        "signing baskets are not offered by this ASPSP",
    )
    .into_response()
}
