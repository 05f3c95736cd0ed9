//! Account information under a valid consent: the checks every account read
//! makes, and the account list, details and balances (transactions live in
//! `transactions`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::consent::ConsentRepository;
use fintechapi_domain::consent::{AccountGrant, Consent, ConsentStatus};
use fintechapi_domain::ids::AccountId;
use fintechapi_domain::ledger::Account;
use fintechapi_domain::ledger::LedgerRepository;
use serde::{Deserialize, Serialize};

use crate::body::{AccountReference, Balance, Href};
use crate::caller::Ais;
use crate::error::MessageCode;
use crate::{Caller, Xs2aError, Xs2aService, Xs2aStore, header_text, psu_ip_address};

/// The consent the caller's token is bound to (or, Redirect approach, the
/// client's token names with `Consent-ID`), checked for this call: the
/// `Consent-ID` header is there (400 without it, whatever the token) and
/// matches, the consent is valid today, a one-off consent is used up by this
/// read, and an access without the PSU (no `PSU-IP-Address`) is within
/// `frequencyPerDay`.
pub(crate) async fn live_consent<R: Xs2aStore>(
    service: &Xs2aService<R>,
    caller: &Caller,
    headers: &HeaderMap,
) -> Result<Consent, Xs2aError> {
    let Some(header) = header_text(headers, "consent-id") else {
        return Err(Xs2aError::format("the Consent-ID header is missing").at("Consent-ID"));
    };
    // Checked before it can exempt the read from the daily count.
    let psu_present = psu_ip_address(headers)?.is_some();
    let bound = match caller.grant.consent {
        Some(bound) => bound,
        None => crate::approach::redirect_consent(service, caller, headers).await?,
    };
    if header != bound.to_string() {
        return Err(Xs2aError::consent_invalid(
            "Consent-ID is not the consent this token was granted for",
        )
        .at("Consent-ID"));
    }
    let consent = service
        .consents()
        .consent(bound)
        .await?
        .ok_or_else(|| Xs2aError::consent_unknown().at("Consent-ID"))?;
    let now = service.now();
    let today = now.date();
    in_force(&consent, today)?;
    if !consent.recurring {
        // `recurringIndicator: false` is "for one access to the account data":
        // the first read that reaches here is that access, whether the PSU is
        // present or not; the consent is `expired` from then on. One
        // conditional update, so of two concurrent reads one gets it.
        let used = service
            .consents()
            .set_consent_status(
                consent.id,
                &[ConsentStatus::Valid],
                ConsentStatus::Expired,
                now,
            )
            .await?;
        return if used { Ok(consent) } else { Err(used_up()) };
    }
    if !psu_present
        && !service
            .consents()
            .count_unattended_access(consent.id, today, consent.frequency_per_day)
            .await?
    {
        return Err(Xs2aError::new(
            MessageCode::AccessExceeded,
            format!(
                "the consent allows {} accesses a day without the PSU; send PSU-IP-Address when the PSU is present",
                consent.frequency_per_day
            ),
        ));
    }
    Ok(consent)
}

fn used_up() -> Xs2aError {
    Xs2aError::new(
        MessageCode::ConsentExpired,
        "the one-off consent (recurringIndicator false) was used by an earlier read",
    )
}

/// A consent that can be used today: valid, not expired (401 otherwise).
pub(crate) fn in_force(consent: &Consent, today: time::Date) -> Result<(), Xs2aError> {
    match consent.status_on(today) {
        ConsentStatus::Valid => Ok(()),
        ConsentStatus::Expired if !consent.recurring && today <= consent.valid_until => {
            Err(used_up())
        }
        ConsentStatus::Expired => Err(Xs2aError::new(
            MessageCode::ConsentExpired,
            "the consent expired (validUntil)",
        )),
        other => Err(Xs2aError::consent_invalid(format!(
            "the consent is {other}"
        ))),
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
                MessageCode::ConsentInvalid,
                format!("the {noun} is not covered by the consent"),
            )
            // Kept as before; the spec pairs CONSENT_INVALID with 401.
            .with_status(StatusCode::FORBIDDEN)
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
        .accounts()
        .account(grant.account)
        .await?
        .ok_or_else(|| vanished("account"))?;
    Ok((account, grant))
}

/// An account as the consent shows it, with its balances when asked for.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AccountDetails {
    #[serde(rename = "_links")]
    links: AccountLinks,
    #[serde(skip_serializing_if = "Option::is_none")]
    balances: Option<Vec<Balance>>,
    bic: String,
    cash_account_type: String,
    currency: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    iban: Option<String>,
    name: String,
    owner_name: String,
    product: String,
    resource_id: String,
    status: &'static str,
}

/// The reports the consent grants on an account (or card account).
#[derive(Serialize)]
pub(crate) struct AccountLinks {
    #[serde(skip_serializing_if = "Option::is_none")]
    balances: Option<Href>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transactions: Option<Href>,
}

impl AccountLinks {
    /// The links under `base` (the resource's path) that `grant` allows.
    pub(crate) fn granted(base: &str, grant: &AccountGrant) -> Self {
        Self {
            balances: grant.balances.then(|| Href::to(format!("{base}/balances"))),
            transactions: grant
                .transactions
                .then(|| Href::to(format!("{base}/transactions"))),
        }
    }
}

impl AccountDetails {
    fn new(account: &Account, grant: &AccountGrant) -> Self {
        Self {
            links: AccountLinks::granted(&format!("/v1/accounts/{}", account.id), grant),
            balances: None,
            bic: account.bic.clone(),
            cash_account_type: account.cash_account_type.clone(),
            currency: account.currency.code(),
            iban: account.iban.as_ref().map(|i| i.as_str().to_owned()),
            name: account.name.clone(),
            owner_name: account.owner_name.clone(),
            product: account.product.clone(),
            resource_id: account.id.to_string(),
            status: account.status.as_str(),
        }
    }
}

#[derive(Serialize)]
struct AccountList {
    accounts: Vec<AccountDetails>,
}

#[derive(Serialize)]
struct OneAccount {
    account: AccountDetails,
}

/// `GET /v1/accounts/{id}/balances`.
#[derive(Serialize)]
struct AccountBalances {
    account: AccountReference,
    balances: Vec<Balance>,
}

pub(crate) async fn balances_of<R: Xs2aStore>(
    service: &Xs2aService<R>,
    account: &Account,
) -> Result<Vec<Balance>, Xs2aError> {
    let balances = service.ledger.balances(account).await?;
    Ok(balances.iter().map(Balance::of_account).collect())
}

#[derive(Deserialize)]
pub(crate) struct WithBalance {
    #[serde(rename = "withBalance")]
    with_balance: Option<bool>,
}

pub(crate) async fn list<R: Xs2aStore>(
    State(service): State<Arc<Xs2aService<R>>>,
    headers: HeaderMap,
    Ais(caller): Ais,
    query: Result<Query<WithBalance>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let result = async {
        let Ok(Query(query)) = query else {
            return Err(Xs2aError::format("withBalance must be true or false").at("withBalance"));
        };
        let consent = live_consent(&service, &caller, &headers).await?;
        let with_balance = query.with_balance.unwrap_or(false);
        if with_balance && !consent.grants.iter().any(|g| g.balances) {
            return Err(Xs2aError::new(
                MessageCode::ConsentInvalid,
                "withBalance asks for balances, which the consent does not cover",
            )
            .at("withBalance"));
        }
        // One query for the PSU's accounts, not one per granted account.
        let held = match consent.psu_id {
            Some(psu) => service.accounts().accounts_of_psu(psu).await?,
            None => Vec::new(),
        };
        let mut accounts = Vec::with_capacity(consent.grants.len());
        for grant in &consent.grants {
            let Some(account) = held.iter().find(|a| a.id == grant.account) else {
                continue;
            };
            let mut item = AccountDetails::new(account, grant);
            if with_balance && grant.balances {
                item.balances = Some(balances_of(&service, account).await?);
            }
            accounts.push(item);
        }
        Ok(Json(AccountList { accounts }).into_response())
    }
    .await;
    caller.answer(result)
}

pub(crate) async fn details<R: Xs2aStore>(
    State(service): State<Arc<Xs2aService<R>>>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
    Ais(caller): Ais,
    query: Result<Query<WithBalance>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let result = async {
        let Ok(Query(query)) = query else {
            return Err(Xs2aError::format("withBalance must be true or false").at("withBalance"));
        };
        let consent = live_consent(&service, &caller, &headers).await?;
        let (account, grant) = granted_account(&service, &consent, &account_id).await?;
        let mut item = AccountDetails::new(&account, &grant);
        if query.with_balance == Some(true) {
            if !grant.balances {
                return Err(Xs2aError::new(
                    MessageCode::ConsentInvalid,
                    "the consent does not cover this account's balances",
                )
                .at("withBalance"));
            }
            item.balances = Some(balances_of(&service, &account).await?);
        }
        Ok(Json(OneAccount { account: item }).into_response())
    }
    .await;
    caller.answer(result)
}

pub(crate) async fn balances<R: Xs2aStore>(
    State(service): State<Arc<Xs2aService<R>>>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
    Ais(caller): Ais,
) -> Response {
    let result = async {
        let consent = live_consent(&service, &caller, &headers).await?;
        let (account, grant) = granted_account(&service, &consent, &account_id).await?;
        if !grant.balances {
            return Err(Xs2aError::new(
                MessageCode::ConsentInvalid,
                "the consent does not cover this account's balances",
            ));
        }
        let body = AccountBalances {
            account: AccountReference::from(&account),
            balances: balances_of(&service, &account).await?,
        };
        Ok(Json(body).into_response())
    }
    .await;
    caller.answer(result)
}
