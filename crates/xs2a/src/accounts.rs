//! Account information under a valid consent: the checks every account read
//! makes, and the account list, details and balances (transactions live in
//! `transactions`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::consent::{AccountGrant, Consent, ConsentStatus};
use fintechapi_domain::ids::AccountId;
use fintechapi_domain::ledger::Account;
use fintechapi_domain::registry::ApiProduct;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{Caller, RequestLine, Xs2aError, Xs2aService, Xs2aStore, header_text};

/// The consent the caller's token is bound to (or, Redirect approach, the
/// client's token names with `Consent-ID`), checked for this call: the
/// `Consent-ID` header matches, the consent is valid today, and an access
/// without the PSU (no `PSU-IP-Address`) is within `frequencyPerDay`.
pub(crate) async fn live_consent<R: Xs2aStore>(
    service: &Xs2aService<R>,
    caller: &Caller,
    headers: &HeaderMap,
) -> Result<Consent, Xs2aError> {
    let unauthorised = |code, text: &str| Xs2aError::new(StatusCode::UNAUTHORIZED, code, text);
    let bound = match caller.grant.consent {
        Some(bound) => bound,
        None => crate::approach::redirect_consent(service, caller, headers).await?,
    };
    let Some(header) = header_text(headers, "consent-id") else {
        return Err(Xs2aError::format("the Consent-ID header is missing").at("Consent-ID"));
    };
    if header != bound.to_string() {
        return Err(unauthorised(
            "CONSENT_INVALID",
            "Consent-ID is not the consent this token was granted for",
        )
        .at("Consent-ID"));
    }
    let server = &service.oauth.server;
    let repo = server.repo();
    let consent = repo
        .consent(bound)
        .await?
        .ok_or_else(|| Xs2aError::consent_unknown().at("Consent-ID"))?;
    let today = server.now().date();
    in_force(&consent, today)?;
    if header_text(headers, "psu-ip-address").is_none()
        && !repo
            .count_unattended_access(consent.id, today, consent.frequency_per_day)
            .await?
    {
        return Err(Xs2aError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "ACCESS_EXCEEDED",
            format!(
                "the consent allows {} accesses a day without the PSU; send PSU-IP-Address when the PSU is present",
                consent.frequency_per_day
            ),
        ));
    }
    Ok(consent)
}

/// A consent that can be used today: valid, not expired (401 otherwise).
pub(crate) fn in_force(consent: &Consent, today: time::Date) -> Result<(), Xs2aError> {
    let unauthorised = |code, text: String| Xs2aError::new(StatusCode::UNAUTHORIZED, code, text);
    match consent.status_on(today) {
        ConsentStatus::Valid => Ok(()),
        ConsentStatus::Expired => Err(unauthorised(
            "CONSENT_EXPIRED",
            "the consent expired (validUntil)".into(),
        )),
        other => Err(unauthorised(
            "CONSENT_INVALID",
            format!("the consent is {other}"),
        )),
    }
}

/// The grant `lookup` finds in the consent for the account the path names
/// (a `noun`: "account", "card account"); 403 when there is none.
pub(crate) fn path_grant(
    consent: &Consent,
    id: &str,
    lookup: fn(&Consent, AccountId) -> Option<&AccountGrant>,
    noun: &str,
) -> Result<AccountGrant, Xs2aError> {
    id.parse::<AccountId>()
        .ok()
        .and_then(|id| lookup(consent, id).copied())
        .ok_or_else(|| {
            Xs2aError::new(
                StatusCode::FORBIDDEN,
                "CONSENT_INVALID",
                format!("the {noun} is not covered by the consent"),
            )
            .at("account-id")
        })
}

/// The path's `noun` was granted but is gone from the ledger.
pub(crate) fn vanished(noun: &str) -> Xs2aError {
    Xs2aError::resource_unknown(format!("the {noun} no longer exists")).at("account-id")
}

/// The account addressed by the path, if the consent grants it.
pub(crate) async fn granted_account<R: Xs2aStore>(
    service: &Xs2aService<R>,
    consent: &Consent,
    id: &str,
) -> Result<(Account, AccountGrant), Xs2aError> {
    let grant = path_grant(consent, id, Consent::grant_for, "account")?;
    let account = service
        .oauth
        .server
        .repo()
        .account(grant.account)
        .await?
        .ok_or_else(|| vanished("account"))?;
    Ok((account, grant))
}

fn account_json(account: &Account, grant: &AccountGrant) -> Value {
    let base = format!("/v1/accounts/{}", account.id);
    let mut links = serde_json::Map::new();
    if grant.balances {
        links.insert(
            "balances".into(),
            json!({"href": format!("{base}/balances")}),
        );
    }
    if grant.transactions {
        links.insert(
            "transactions".into(),
            json!({"href": format!("{base}/transactions")}),
        );
    }
    let mut out = json!({
        "resourceId": account.id.to_string(),
        "currency": account.currency.code(),
        "name": account.name,
        "product": account.product,
        "cashAccountType": account.cash_account_type,
        "status": account.status.as_str(),
        "bic": account.bic,
        "ownerName": account.owner_name,
        "_links": links,
    });
    if let Some(iban) = &account.iban {
        out["iban"] = json!(iban.as_str());
    }
    out
}

pub(crate) fn account_reference(account: &Account) -> Value {
    let mut out = json!({"currency": account.currency.code()});
    if let Some(iban) = &account.iban {
        out["iban"] = json!(iban.as_str());
    }
    out
}

pub(crate) async fn balances_json<R: Xs2aStore>(
    service: &Xs2aService<R>,
    account: &Account,
) -> Result<Value, Xs2aError> {
    let balances = service.ledger.balances(account).await?;
    Ok(balances
        .iter()
        .map(|b| {
            json!({
                "balanceAmount": {"currency": b.amount.currency().code(), "amount": b.amount.to_decimal_string()},
                "balanceType": b.balance_type.code(),
                "referenceDate": b.reference_date.to_string(),
            })
        })
        .collect())
}

#[derive(Deserialize)]
pub(crate) struct WithBalance {
    #[serde(rename = "withBalance")]
    with_balance: Option<bool>,
}

pub(crate) async fn list<R: Xs2aStore>(
    State(service): State<Arc<Xs2aService<R>>>,
    headers: HeaderMap,
    line: RequestLine,
    query: Result<Query<WithBalance>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let caller = match service.caller(&headers, &line, ApiProduct::Ais).await {
        Ok(c) => c,
        Err(response) => return response,
    };
    let result = async {
        let Ok(Query(query)) = query else {
            return Err(Xs2aError::format("withBalance must be true or false").at("withBalance"));
        };
        let consent = live_consent(&service, &caller, &headers).await?;
        let with_balance = query.with_balance.unwrap_or(false);
        if with_balance && !consent.grants.iter().any(|g| g.balances) {
            return Err(Xs2aError::new(
                StatusCode::UNAUTHORIZED,
                "CONSENT_INVALID",
                "withBalance asks for balances, which the consent does not cover",
            )
            .at("withBalance"));
        }
        // One query for the PSU's accounts, not one per granted account.
        let held = match consent.psu_id {
            Some(psu) => service.oauth.server.repo().accounts_of_psu(psu).await?,
            None => Vec::new(),
        };
        let mut accounts = Vec::with_capacity(consent.grants.len());
        for grant in &consent.grants {
            let Some(account) = held.iter().find(|a| a.id == grant.account) else {
                continue;
            };
            let mut item = account_json(account, grant);
            if with_balance && grant.balances {
                item["balances"] = balances_json(&service, account).await?;
            }
            accounts.push(item);
        }
        Ok(Json(json!({ "accounts": accounts })).into_response())
    }
    .await;
    caller.answer(result)
}

pub(crate) async fn details<R: Xs2aStore>(
    State(service): State<Arc<Xs2aService<R>>>,
    headers: HeaderMap,
    line: RequestLine,
    Path(account_id): Path<String>,
    query: Result<Query<WithBalance>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let caller = match service.caller(&headers, &line, ApiProduct::Ais).await {
        Ok(c) => c,
        Err(response) => return response,
    };
    let result = async {
        let Ok(Query(query)) = query else {
            return Err(Xs2aError::format("withBalance must be true or false").at("withBalance"));
        };
        let consent = live_consent(&service, &caller, &headers).await?;
        let (account, grant) = granted_account(&service, &consent, &account_id).await?;
        let mut item = account_json(&account, &grant);
        if query.with_balance == Some(true) {
            if !grant.balances {
                return Err(Xs2aError::new(
                    StatusCode::UNAUTHORIZED,
                    "CONSENT_INVALID",
                    "the consent does not cover this account's balances",
                )
                .at("withBalance"));
            }
            item["balances"] = balances_json(&service, &account).await?;
        }
        Ok(Json(json!({ "account": item })).into_response())
    }
    .await;
    caller.answer(result)
}

pub(crate) async fn balances<R: Xs2aStore>(
    State(service): State<Arc<Xs2aService<R>>>,
    headers: HeaderMap,
    line: RequestLine,
    Path(account_id): Path<String>,
) -> Response {
    let caller = match service.caller(&headers, &line, ApiProduct::Ais).await {
        Ok(c) => c,
        Err(response) => return response,
    };
    let result = async {
        let consent = live_consent(&service, &caller, &headers).await?;
        let (account, grant) = granted_account(&service, &consent, &account_id).await?;
        if !grant.balances {
            return Err(Xs2aError::new(
                StatusCode::UNAUTHORIZED,
                "CONSENT_INVALID",
                "the consent does not cover this account's balances",
            ));
        }
        let body = json!({
            "account": account_reference(&account),
            "balances": balances_json(&service, &account).await?,
        });
        Ok(Json(body).into_response())
    }
    .await;
    caller.answer(result)
}
