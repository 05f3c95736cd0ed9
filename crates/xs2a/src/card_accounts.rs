//! Card account information under a valid consent: list, details, balances
//! and transactions under `/v1/card-accounts`, with the consent checks of the
//! account endpoints.
//!
//! A card account is named by its masked PAN only. Debits are reported
//! negative (`debitAccounting: false`). Transaction reports are paged and
//! delta-reported by the accounts' [`Report`]; a card transaction's
//! `cardTransactionId` is its entry reference, so `entryReferenceFrom` takes it.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::card::{CardAccount, CardPayment};
use fintechapi_domain::consent::{AccountGrant, Consent, GrantedResource};
use fintechapi_domain::ids::TransactionId;
use fintechapi_domain::ledger::AccountEntry;
use fintechapi_domain::registry::ApiProduct;
use fintechapi_domain::{Money, StoreError};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::accounts::{live_consent, path_grant, vanished};
use crate::transactions::{Report, TransactionsQuery, report_json};
use crate::{RequestLine, Xs2aError, Xs2aService, Xs2aStore};

fn not_covered(what: &str) -> Xs2aError {
    Xs2aError::new(
        StatusCode::UNAUTHORIZED,
        "CONSENT_INVALID",
        format!("the consent does not cover this card account's {what}"),
    )
}

/// The card account addressed by the path, if the consent grants it.
async fn granted_card<R: Xs2aStore>(
    service: &Xs2aService<R>,
    consent: &Consent,
    id: &str,
) -> Result<(CardAccount, AccountGrant), Xs2aError> {
    let grant = path_grant(consent, id, Consent::card_grant_for, "card account")?;
    let card = service
        .oauth
        .server
        .repo()
        .card_account(grant.account)
        .await?
        .ok_or_else(|| vanished("card account"))?;
    Ok((card, grant))
}

fn amount_json(amount: Money) -> Value {
    json!({"currency": amount.currency().code(), "amount": amount.to_decimal_string()})
}

fn card_json(card: &CardAccount, grant: &AccountGrant) -> Value {
    let account = &card.account;
    let base = format!("/v1/card-accounts/{}", account.id);
    let mut links = Map::new();
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
    json!({
        "resourceId": account.id.to_string(),
        "maskedPan": card.masked_pan.as_str(),
        "currency": account.currency.code(),
        "ownerName": account.owner_name,
        "name": account.name,
        "product": account.product,
        "debitAccounting": false,
        "status": account.status.as_str(),
        "creditLimit": amount_json(card.credit_limit()),
        "_links": links,
    })
}

fn card_reference(card: &CardAccount) -> Value {
    json!({"maskedPan": card.masked_pan.as_str(), "currency": card.account.currency.code()})
}

async fn balances_json<R: Xs2aStore>(
    service: &Xs2aService<R>,
    card: &CardAccount,
) -> Result<Value, StoreError> {
    let balances = service.ledger.card_balances(card).await?;
    Ok(balances
        .iter()
        .map(|b| {
            json!({
                "balanceAmount": amount_json(b.amount),
                "balanceType": b.balance_type.code(),
                "creditLimitIncluded": b.credit_limit_included,
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
    query: Result<Query<WithBalance>, QueryRejection>,
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
        let grants: Vec<&AccountGrant> = consent
            .grants
            .iter()
            .filter(|g| g.resource == GrantedResource::CardAccount)
            .collect();
        let with_balance = query.with_balance.unwrap_or(false);
        if with_balance && !grants.iter().any(|g| g.balances) {
            return Err(Xs2aError::new(
                StatusCode::UNAUTHORIZED,
                "CONSENT_INVALID",
                "withBalance asks for balances, which the consent does not cover",
            )
            .at("withBalance"));
        }
        // One query for the PSU's cards, not one per granted card.
        let held = match consent.psu_id {
            Some(psu) => {
                service
                    .oauth
                    .server
                    .repo()
                    .card_accounts_of_psu(psu)
                    .await?
            }
            None => Vec::new(),
        };
        let mut cards = Vec::with_capacity(grants.len());
        for grant in grants {
            let Some(card) = held.iter().find(|c| c.account.id == grant.account) else {
                continue;
            };
            let mut item = card_json(card, grant);
            if with_balance && grant.balances {
                item["balances"] = balances_json(&service, card).await?;
            }
            cards.push(item);
        }
        Ok(Json(json!({ "cardAccounts": cards })).into_response())
    }
    .await;
    caller.answer(result)
}

pub(crate) async fn details<R: Xs2aStore>(
    State(service): State<Arc<Xs2aService<R>>>,
    headers: HeaderMap,
    line: RequestLine,
    Path(account_id): Path<String>,
    query: Result<Query<WithBalance>, QueryRejection>,
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
        let (card, grant) = granted_card(&service, &consent, &account_id).await?;
        let mut item = card_json(&card, &grant);
        if query.with_balance == Some(true) {
            if !grant.balances {
                return Err(not_covered("balances").at("withBalance"));
            }
            item["balances"] = balances_json(&service, &card).await?;
        }
        Ok(Json(json!({ "cardAccount": item })).into_response())
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
        let (card, grant) = granted_card(&service, &consent, &account_id).await?;
        if !grant.balances {
            return Err(not_covered("balances"));
        }
        let body = json!({
            "cardAccount": card_reference(&card),
            "debitAccounting": false,
            "balances": balances_json(&service, &card).await?,
        });
        Ok(Json(body).into_response())
    }
    .await;
    caller.answer(result)
}

fn card_transaction_json(
    card: &CardAccount,
    entry: &AccountEntry,
    payment: Option<&CardPayment>,
    invoiced: bool,
) -> Value {
    let mut out = json!({
        "cardTransactionId": entry.entry_reference.to_string(),
        "bookingDate": entry.booking_date.to_string(),
        "valueDate": entry.value_date.to_string(),
        "transactionAmount": amount_json(entry.amount),
        "invoiced": invoiced,
    });
    match payment {
        Some(payment) => {
            // The original amount carries the sign of the amount billed.
            let original = payment.original_amount;
            let signed = original.minor() * entry.amount.minor().signum();
            out["transactionDate"] = json!(payment.transaction_date.to_string());
            out["originalAmount"] = amount_json(Money::from_minor(signed, original.currency()));
            out["cardAcceptorAddress"] =
                json!({"townName": payment.merchant.city, "country": payment.merchant.country});
            out["merchantCategoryCode"] = json!(payment.merchant.category_code);
            out["maskedPAN"] = json!(card.masked_pan.as_str());
            out["transactionDetails"] = json!(payment.merchant.name);
        }
        None => {
            if let Some(text) = &entry.remittance_information {
                out["transactionDetails"] = json!(text);
            }
        }
    }
    out
}

pub(crate) async fn transactions<R: Xs2aStore>(
    State(service): State<Arc<Xs2aService<R>>>,
    headers: HeaderMap,
    line: RequestLine,
    Path(account_id): Path<String>,
    query: Result<Query<TransactionsQuery>, QueryRejection>,
) -> Response {
    let caller = match service.caller(&headers, &line, ApiProduct::Ais).await {
        Ok(c) => c,
        Err(response) => return response,
    };
    let result = async {
        let Ok(Query(query)) = query else {
            return Err(Xs2aError::format("the query string is malformed"));
        };
        let report = Report::parse(query, GrantedResource::CardAccount)?;
        let server = &service.oauth.server;
        // Checked before the consent, so a bad cursor costs no access.
        let page = report.page(server.pepper(), &account_id)?;
        let consent = live_consent(&service, &caller, &headers).await?;
        let (card, grant) = granted_card(&service, &consent, &account_id).await?;
        if !grant.transactions {
            return Err(not_covered("transactions"));
        }
        if report.with_balance && !grant.balances {
            return Err(not_covered("balances").at("withBalance"));
        }
        let id = card.account.id;
        let mut links = json!({"cardAccount": {"href": format!("/v1/card-accounts/{id}")}});
        let found = report
            .entries(&service, consent.id, id, page, &mut links)
            .await?;
        // The card payments of the whole page in one query.
        let ids: Vec<TransactionId> = found.entries.iter().map(|e| e.transaction_id).collect();
        let payments = server.repo().card_payments(&ids).await?;
        let item = |entry: &AccountEntry| {
            let payment = payments.get(&entry.transaction_id);
            card_transaction_json(&card, entry, payment, service.ledger.is_invoiced(entry))
        };
        let mut body = json!({
            "cardAccount": card_reference(&card),
            "debitAccounting": false,
            "cardTransactions": report_json(report.booking, &found.entries, links, item),
        });
        if report.with_balance {
            body["balances"] = balances_json(&service, &card).await?;
        }
        found.complete(&service).await?;
        Ok(Json(body).into_response())
    }
    .await;
    caller.answer(result)
}
