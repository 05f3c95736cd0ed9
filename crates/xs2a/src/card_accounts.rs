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
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use fintechapi_domain::card::CardRepository;
use fintechapi_domain::card::{CardAccount, CardPayment};
use fintechapi_domain::consent::{AccountGrant, Consent, GrantedResource};
use fintechapi_domain::ids::TransactionId;
use fintechapi_domain::ledger::AccountEntry;
use fintechapi_domain::{Money, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::accounts::AccountLinks;
use crate::accounts::{live_consent, path_grant, vanished};
use crate::body::{Amount, Balance};
use crate::caller::Ais;
use crate::error::MessageCode;
use crate::transactions::{Report, TransactionsQuery, report_json};
use crate::{Xs2aError, Xs2aService, Xs2aStore, require_json_accepted};

fn not_covered(what: &str) -> Xs2aError {
    Xs2aError::new(
        MessageCode::ConsentInvalid,
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
        .cards()
        .card_account(grant.account)
        .await?
        .ok_or_else(|| vanished("card account"))?;
    Ok((card, grant))
}

fn amount_json(amount: Money) -> Value {
    json!(Amount::from(amount))
}

/// A card account as the consent shows it, with its balances when asked for.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CardDetails {
    #[serde(rename = "_links")]
    links: AccountLinks,
    #[serde(skip_serializing_if = "Option::is_none")]
    balances: Option<Vec<Balance>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    credit_limit: Option<Amount>,
    currency: &'static str,
    debit_accounting: bool,
    masked_pan: String,
    name: String,
    owner_name: String,
    product: String,
    resource_id: String,
    status: &'static str,
}

impl CardDetails {
    fn new(card: &CardAccount, grant: &AccountGrant) -> Self {
        let account = &card.account;
        Self {
            links: AccountLinks::granted(&format!("/v1/card-accounts/{}", account.id), grant),
            balances: None,
            credit_limit: card.credit_limit().map(Amount::from),
            currency: account.currency.code(),
            debit_accounting: false,
            masked_pan: card.masked_pan.as_str().to_owned(),
            name: account.name.clone(),
            owner_name: account.owner_name.clone(),
            product: account.product.clone(),
            resource_id: account.id.to_string(),
            status: account.status.as_str(),
        }
    }
}

/// The card account a balances or transactions report is about.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CardReference {
    currency: &'static str,
    masked_pan: String,
}

impl From<&CardAccount> for CardReference {
    fn from(card: &CardAccount) -> Self {
        Self {
            currency: card.account.currency.code(),
            masked_pan: card.masked_pan.as_str().to_owned(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CardList {
    card_accounts: Vec<CardDetails>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OneCard {
    card_account: CardDetails,
}

/// `GET /v1/card-accounts/{id}/balances`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CardBalances {
    balances: Vec<Balance>,
    card_account: CardReference,
    debit_accounting: bool,
}

async fn balances_of<R: Xs2aStore>(
    service: &Xs2aService<R>,
    card: &CardAccount,
) -> Result<Vec<Balance>, StoreError> {
    let balances = service.ledger.card_balances(card).await?;
    Ok(balances.iter().map(Balance::of_card).collect())
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
    query: Result<Query<WithBalance>, QueryRejection>,
) -> Response {
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
                MessageCode::ConsentInvalid,
                "withBalance asks for balances, which the consent does not cover",
            )
            .at("withBalance"));
        }
        // One query for the PSU's cards, not one per granted card.
        let held = match consent.psu_id {
            Some(psu) => service.cards().card_accounts_of_psu(psu).await?,
            None => Vec::new(),
        };
        let mut cards = Vec::with_capacity(grants.len());
        for grant in grants {
            let Some(card) = held.iter().find(|c| c.account.id == grant.account) else {
                continue;
            };
            let mut item = CardDetails::new(card, grant);
            if with_balance && grant.balances {
                item.balances = Some(balances_of(&service, card).await?);
            }
            cards.push(item);
        }
        Ok(Json(CardList {
            card_accounts: cards,
        })
        .into_response())
    }
    .await;
    caller.answer(result)
}

pub(crate) async fn details<R: Xs2aStore>(
    State(service): State<Arc<Xs2aService<R>>>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
    Ais(caller): Ais,
    query: Result<Query<WithBalance>, QueryRejection>,
) -> Response {
    let result = async {
        let Ok(Query(query)) = query else {
            return Err(Xs2aError::format("withBalance must be true or false").at("withBalance"));
        };
        let consent = live_consent(&service, &caller, &headers).await?;
        let (card, grant) = granted_card(&service, &consent, &account_id).await?;
        let mut item = CardDetails::new(&card, &grant);
        if query.with_balance == Some(true) {
            if !grant.balances {
                return Err(not_covered("balances").at("withBalance"));
            }
            item.balances = Some(balances_of(&service, &card).await?);
        }
        Ok(Json(OneCard { card_account: item }).into_response())
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
        let (card, grant) = granted_card(&service, &consent, &account_id).await?;
        if !grant.balances {
            return Err(not_covered("balances"));
        }
        let body = CardBalances {
            balances: balances_of(&service, &card).await?,
            card_account: CardReference::from(&card),
            debit_accounting: false,
        };
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
    Path(account_id): Path<String>,
    Ais(caller): Ais,
    query: Result<Query<TransactionsQuery>, QueryRejection>,
) -> Response {
    let result = async {
        let Ok(Query(query)) = query else {
            return Err(Xs2aError::format("the query string is malformed"));
        };
        require_json_accepted(&headers)?;
        let report = Report::parse(query, GrantedResource::CardAccount)?;
        // Checked before the consent, so a bad cursor costs no access.
        let page = report.page(service.pepper(), &account_id)?;
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
        let payments = service.cards().card_payments(&ids).await?;
        let item = |entry: &AccountEntry| {
            let payment = payments.get(&entry.transaction_id);
            card_transaction_json(&card, entry, payment, service.ledger.is_invoiced(entry))
        };
        let mut body = json!({
            "cardAccount": CardReference::from(&card),
            "debitAccounting": false,
            "cardTransactions": report_json(report.booking, &found.entries, links, item),
        });
        if report.with_balance {
            body["balances"] = json!(balances_of(&service, &card).await?);
        }
        found.complete(&service).await?;
        Ok(Json(body).into_response())
    }
    .await;
    caller.answer(result)
}
