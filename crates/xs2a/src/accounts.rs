//! Account information under a valid consent: list, details, balances and
//! transactions, with keyset paging over the ledger's entries.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::consent::{AccountGrant, Consent, ConsentStatus};
use fintechapi_domain::ids::AccountId;
use fintechapi_domain::ledger::{Account, AccountEntry, EntryCursor, EntryQuery, EntryStatus};
use fintechapi_domain::registry::ApiProduct;
use serde::Deserialize;
use serde_json::{Value, json};
use time::Date;
use time::macros::format_description;

use crate::{Caller, Repo, RequestLine, Xs2aError, Xs2aService, header_text};

const PAGE_SIZE: u32 = 50;

/// The consent the caller's token is bound to (or, Redirect approach, the
/// client's token names with `Consent-ID`), checked for this call: the
/// `Consent-ID` header matches, the consent is valid today, and an access
/// without the PSU (no `PSU-IP-Address`) is within `frequencyPerDay`.
async fn live_consent<R: Repo>(
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
    match consent.status_on(today) {
        ConsentStatus::Valid => {}
        ConsentStatus::Expired => {
            return Err(unauthorised(
                "CONSENT_EXPIRED",
                "the consent expired (validUntil)",
            ));
        }
        other => {
            return Err(unauthorised(
                "CONSENT_INVALID",
                &format!("the consent is {other}"),
            ));
        }
    }
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

/// The account addressed by the path, if the consent grants it.
async fn granted_account<R: Repo>(
    service: &Xs2aService<R>,
    consent: &Consent,
    id: &str,
) -> Result<(Account, AccountGrant), Xs2aError> {
    let outside = || {
        Xs2aError::new(
            StatusCode::FORBIDDEN,
            "CONSENT_INVALID",
            "the account is not covered by the consent",
        )
        .at("account-id")
    };
    let id: AccountId = id.parse().map_err(|_| outside())?;
    let grant = *consent.grant_for(id).ok_or_else(outside)?;
    let account = service
        .oauth
        .server
        .repo()
        .account(id)
        .await?
        .ok_or_else(|| {
            Xs2aError::resource_unknown("the account no longer exists").at("account-id")
        })?;
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

fn account_reference(account: &Account) -> Value {
    let mut out = json!({"currency": account.currency.code()});
    if let Some(iban) = &account.iban {
        out["iban"] = json!(iban.as_str());
    }
    out
}

async fn balances_json<R: Repo>(
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

pub(crate) async fn list<R: Repo>(
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

pub(crate) async fn details<R: Repo>(
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

pub(crate) async fn balances<R: Repo>(
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

#[derive(Deserialize)]
pub(crate) struct TransactionsQuery {
    #[serde(rename = "bookingStatus")]
    booking_status: Option<String>,
    #[serde(rename = "dateFrom")]
    date_from: Option<String>,
    #[serde(rename = "dateTo")]
    date_to: Option<String>,
    #[serde(rename = "entryReferenceFrom")]
    entry_reference_from: Option<String>,
    #[serde(rename = "deltaList")]
    delta_list: Option<bool>,
    #[serde(rename = "withBalance")]
    with_balance: Option<bool>,
    /// Opaque keyset cursor of the next page.
    after: Option<String>,
}

fn parse_date(text: &Option<String>, path: &str) -> Result<Option<Date>, Xs2aError> {
    text.as_deref()
        .map(|t| {
            Date::parse(t, format_description!("[year]-[month]-[day]")).map_err(|_| {
                Xs2aError::format(format!("{path} must be an ISO date (YYYY-MM-DD)"))
                    .at(path.to_owned())
            })
        })
        .transpose()
}

fn parse_cursor(text: &str) -> Option<EntryCursor> {
    let (date, reference) = text.split_once('_')?;
    Some(EntryCursor {
        booking_date: Date::parse(date, format_description!("[year]-[month]-[day]")).ok()?,
        entry_reference: reference.parse().ok()?,
    })
}

fn transaction_json(entry: &AccountEntry) -> Value {
    let mut out = json!({
        "transactionId": entry.transaction_id.to_string(),
        "entryReference": entry.entry_reference.to_string(),
        "bookingDate": entry.booking_date.to_string(),
        "valueDate": entry.value_date.to_string(),
        "transactionAmount": {"currency": entry.amount.currency().code(), "amount": entry.amount.to_decimal_string()},
        "bankTransactionCode": entry.bank_transaction_code,
    });
    let party = |out: &mut Value,
                 name_key: &str,
                 account_key: &str,
                 party: &fintechapi_domain::ledger::Party| {
        if let Some(name) = &party.name {
            out[name_key] = json!(name);
        }
        if let Some(iban) = &party.iban {
            out[account_key] = json!({"iban": iban.as_str()});
        }
    };
    party(&mut out, "creditorName", "creditorAccount", &entry.creditor);
    party(&mut out, "debtorName", "debtorAccount", &entry.debtor);
    if let Some(text) = &entry.remittance_information {
        out["remittanceInformationUnstructured"] = json!(text);
    }
    if let Some(id) = &entry.end_to_end_id {
        out["endToEndId"] = json!(id);
    }
    out
}

pub(crate) async fn transactions<R: Repo>(
    State(service): State<Arc<Xs2aService<R>>>,
    headers: HeaderMap,
    line: RequestLine,
    Path(account_id): Path<String>,
    query: Result<Query<TransactionsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let caller = match service.caller(&headers, &line, ApiProduct::Ais).await {
        Ok(c) => c,
        Err(response) => return response,
    };
    let result = async {
        let Ok(Query(query)) = query else {
            return Err(Xs2aError::format("the query string is malformed"));
        };
        // `information` lists standing orders, of which the ledger holds none.
        let (booked, pending, information) = match query.booking_status.as_deref() {
            Some("booked") => (true, false, false),
            Some("pending") => (false, true, false),
            Some("both") => (true, true, false),
            Some("information") => (false, false, true),
            Some("all") => (true, true, true),
            Some(other) => {
                return Err(Xs2aError::new(
                    StatusCode::BAD_REQUEST,
                    "PARAMETER_NOT_SUPPORTED",
                    format!("bookingStatus {other:?} is not one of booked, pending, both, information, all"),
                )
                .at("bookingStatus"));
            }
            None => return Err(Xs2aError::format("bookingStatus is required").at("bookingStatus")),
        };
        if query.delta_list == Some(true) {
            return Err(Xs2aError::new(
                StatusCode::BAD_REQUEST,
                "PARAMETER_NOT_SUPPORTED",
                "deltaList is not offered; use entryReferenceFrom with the last entryReference you read",
            )
            .at("deltaList"));
        }
        let reference_above = match &query.entry_reference_from {
            None => None,
            Some(text) => Some(text.parse::<i64>().map_err(|_| {
                Xs2aError::format("entryReferenceFrom must be an entryReference this ASPSP issued")
                    .at("entryReferenceFrom")
            })?),
        };
        let date_from = parse_date(&query.date_from, "dateFrom")?;
        let date_to = parse_date(&query.date_to, "dateTo")?;
        if let (Some(from), Some(to)) = (date_from, date_to)
            && from > to
        {
            return Err(Xs2aError::new(
                StatusCode::BAD_REQUEST,
                "PERIOD_INVALID",
                "dateFrom is after dateTo",
            )
            .at("dateFrom"));
        }
        let after = match &query.after {
            None => None,
            Some(text) => Some(parse_cursor(text).ok_or_else(|| {
                Xs2aError::format("after is not a cursor this ASPSP issued").at("after")
            })?),
        };
        let consent = live_consent(&service, &caller, &headers).await?;
        let (account, grant) = granted_account(&service, &consent, &account_id).await?;
        if !grant.transactions {
            return Err(Xs2aError::new(
                StatusCode::UNAUTHORIZED,
                "CONSENT_INVALID",
                "the consent does not cover this account's transactions",
            ));
        }
        let repo = service.oauth.server.repo();
        let status = match (booked, pending) {
            (true, false) => Some(EntryStatus::Booked),
            (false, true) => Some(EntryStatus::Pending),
            _ => None,
        };
        // One more than a page tells whether a next page exists.
        let mut entries = if booked || pending {
            repo.entries(EntryQuery {
                account: account.id,
                status,
                date_from,
                date_to,
                reference_above,
                after,
                limit: PAGE_SIZE + 1,
            })
            .await?
        } else {
            Vec::new()
        };
        let next = (entries.len() > PAGE_SIZE as usize).then(|| {
            entries.truncate(PAGE_SIZE as usize);
            entries
                .last()
                .map(|e| format!("{}_{}", e.booking_date, e.entry_reference))
        });
        let base = format!("/v1/accounts/{}", account.id);
        let mut keep = vec![(
            "bookingStatus",
            query.booking_status.clone().unwrap_or_default(),
        )];
        if let Some(d) = &query.date_from {
            keep.push(("dateFrom", d.clone()));
        }
        if let Some(d) = &query.date_to {
            keep.push(("dateTo", d.clone()));
        }
        if let Some(r) = &query.entry_reference_from {
            keep.push(("entryReferenceFrom", r.clone()));
        }
        let link = |extra: Option<&str>| {
            let mut q: Vec<String> = keep.iter().map(|(k, v)| format!("{k}={v}")).collect();
            if let Some(cursor) = extra {
                q.push(format!("after={cursor}"));
            }
            json!({"href": format!("{base}/transactions?{}", q.join("&"))})
        };
        let mut links = json!({"account": {"href": base}, "first": link(None)});
        if let Some(Some(cursor)) = &next {
            links["next"] = link(Some(cursor));
        }
        let mut report = json!({"_links": links});
        let (booked_list, pending_list): (Vec<&AccountEntry>, Vec<&AccountEntry>) = entries
            .iter()
            .partition(|e| e.status == EntryStatus::Booked);
        if booked {
            report["booked"] = booked_list.into_iter().map(transaction_json).collect();
        }
        if pending {
            report["pending"] = pending_list.into_iter().map(transaction_json).collect();
        }
        if information {
            report["information"] = json!([]);
        }
        let mut body = json!({"account": account_reference(&account), "transactions": report});
        if query.with_balance == Some(true) {
            if !grant.balances {
                return Err(Xs2aError::new(
                    StatusCode::UNAUTHORIZED,
                    "CONSENT_INVALID",
                    "withBalance asks for balances, which the consent does not cover",
                )
                .at("withBalance"));
            }
            body["balances"] = balances_json(&service, &account).await?;
        }
        Ok(Json(body).into_response())
    }
    .await;
    caller.answer(result)
}

pub(crate) async fn transaction<R: Repo>(
    State(service): State<Arc<Xs2aService<R>>>,
    headers: HeaderMap,
    line: RequestLine,
    Path((account_id, transaction_id)): Path<(String, String)>,
) -> Response {
    let caller = match service.caller(&headers, &line, ApiProduct::Ais).await {
        Ok(c) => c,
        Err(response) => return response,
    };
    let result = async {
        let consent = live_consent(&service, &caller, &headers).await?;
        let (account, grant) = granted_account(&service, &consent, &account_id).await?;
        if !grant.transactions {
            return Err(Xs2aError::new(
                StatusCode::UNAUTHORIZED,
                "CONSENT_INVALID",
                "the consent does not cover this account's transactions",
            ));
        }
        let unknown = || {
            Xs2aError::resource_unknown("no such transaction on this account").at("transactionId")
        };
        let id = transaction_id.parse().map_err(|_| unknown())?;
        let entry = service
            .oauth
            .server
            .repo()
            .entry(account.id, id)
            .await?
            .ok_or_else(unknown)?;
        Ok(Json(json!({ "transactionsDetails": transaction_json(&entry) })).into_response())
    }
    .await;
    caller.answer(result)
}
