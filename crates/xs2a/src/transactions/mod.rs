//! Transaction reports of an account: `GET /v1/accounts/{id}/transactions`
//! and the details of one transaction. Card accounts' reports
//! (`card_accounts`) are paged by the same [`Report`].
//!
//! A report runs newest first (booking date, then entry reference) and is paged
//! by keyset: `_links` `first`, `next`, `previous` and `last` name their page
//! by an opaque `cursor`, a position sealed with the server's key and bound to
//! the account and the filter, so every page is one index range and a cursor
//! cannot be forged or carried over to another report.
//!
//! `deltaList=true` reports the booked entries after the greatest entry
//! reference an earlier delta report returned to the consent for the account
//! (all of them the first time), oldest first in pages of `itemsPerPage`, and
//! then moves that mark; `next` asks for the following batch.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use fintechapi_domain::consent::GrantedResource;
use fintechapi_domain::ledger::{AccountEntry, EntryStatus, LedgerRepository};
use serde_json::{Value, json};

use crate::accounts::{balances_of, granted_account, live_consent};
use crate::body::AccountReference;
use crate::caller::Ais;
use crate::error::MessageCode;
use crate::{Repo, Xs2aError, Xs2aService};

mod paging;
mod report;

pub(crate) use report::{BookingStatus, Report, TransactionsQuery};

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

/// The `transactions` object of a report holding `entries` (newest first),
/// each shown by `item`.
pub(crate) fn report_json(
    booking: BookingStatus,
    entries: &[AccountEntry],
    links: Value,
    item: impl Fn(&AccountEntry) -> Value,
) -> Value {
    let mut report = json!({"_links": links});
    let (booked, pending): (Vec<&AccountEntry>, Vec<&AccountEntry>) = entries
        .iter()
        .partition(|e| e.status == EntryStatus::Booked);
    if booking.booked() {
        report["booked"] = booked.into_iter().map(&item).collect();
    }
    if booking.pending() {
        report["pending"] = pending.into_iter().map(&item).collect();
    }
    if booking.information() {
        report["information"] = json!([]);
    }
    report
}

pub(crate) async fn list<R: Repo>(
    State(service): State<Arc<Xs2aService<R>>>,
    headers: HeaderMap,
    Path(account_id): Path<String>,
    Ais(caller): Ais,
    query: Result<Query<TransactionsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let result = async {
        let Ok(Query(query)) = query else {
            return Err(Xs2aError::format("the query string is malformed"));
        };
        let report = Report::parse(query, GrantedResource::Account)?;
        // Checked before the consent, so a bad cursor costs no access.
        let page = report.page(service.pepper(), &account_id)?;
        let consent = live_consent(&service, &caller, &headers).await?;
        let (account, grant) = granted_account(&service, &consent, &account_id).await?;
        if !grant.transactions {
            return Err(Xs2aError::new(
                MessageCode::ConsentInvalid,
                "the consent does not cover this account's transactions",
            ));
        }
        if report.with_balance && !grant.balances {
            return Err(Xs2aError::new(
                MessageCode::ConsentInvalid,
                "withBalance asks for balances, which the consent does not cover",
            )
            .at("withBalance"));
        }
        let mut links = json!({"account": {"href": format!("/v1/accounts/{}", account.id)}});
        let found = report
            .entries(&service, consent.id, account.id, page, &mut links)
            .await?;
        let mut body = json!({
            "account": AccountReference::from(&account),
            "transactions": report_json(report.booking, &found.entries, links, transaction_json),
        });
        if report.with_balance {
            body["balances"] = json!(balances_of(&service, &account).await?);
        }
        found.complete(&service).await?;
        Ok(Json(body).into_response())
    }
    .await;
    caller.answer(result)
}

pub(crate) async fn details<R: Repo>(
    State(service): State<Arc<Xs2aService<R>>>,
    headers: HeaderMap,
    Path((account_id, transaction_id)): Path<(String, String)>,
    Ais(caller): Ais,
) -> Response {
    let result = async {
        let consent = live_consent(&service, &caller, &headers).await?;
        let (account, grant) = granted_account(&service, &consent, &account_id).await?;
        if !grant.transactions {
            return Err(Xs2aError::new(
                MessageCode::ConsentInvalid,
                "the consent does not cover this account's transactions",
            ));
        }
        let unknown = || {
            Xs2aError::resource_unknown("no such transaction on this account").at("transactionId")
        };
        let id = transaction_id.parse().map_err(|_| unknown())?;
        let entry = service
            .accounts()
            .entry(account.id, id)
            .await?
            .ok_or_else(unknown)?;
        Ok(Json(json!({ "transactionsDetails": transaction_json(&entry) })).into_response())
    }
    .await;
    caller.answer(result)
}
