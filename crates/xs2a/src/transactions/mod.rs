//! Transaction reports of an account: the body of
//! `GET /v1/accounts/{id}/transactions` (its handler is `granted`'s) and the
//! details of one transaction. Card accounts' reports (`card_accounts`) are
//! paged by the same [`Report`].
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
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use fintechapi_domain::ledger::{Account, AccountEntry, EntryStatus, LedgerRepository, Party};
use serde::Serialize;

use crate::accounts::live_consent;
use crate::body::{AccountReference, Amount, Balance, Href, IbanRef};
use crate::caller::Ais;
use crate::granted::{ReportRead, with_transactions};
use crate::{Xs2aError, Xs2aService, Xs2aStore};

mod paging;
mod report;

pub(crate) use report::{
    BookingStatus, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Report, ReportPage, TransactionsQuery,
};

/// One transaction of an account's report, or its details.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Transaction<'a> {
    bank_transaction_code: &'a str,
    booking_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    creditor_account: Option<IbanRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    creditor_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    debtor_account: Option<IbanRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    debtor_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_to_end_id: Option<&'a str>,
    entry_reference: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    remittance_information_unstructured: Option<&'a str>,
    transaction_amount: Amount,
    transaction_id: String,
    value_date: String,
}

fn iban_of(party: &Party) -> Option<IbanRef> {
    party.iban.as_ref().map(|iban| IbanRef {
        iban: iban.as_str().to_owned(),
    })
}

fn transaction_json(entry: &AccountEntry) -> Transaction<'_> {
    Transaction {
        bank_transaction_code: &entry.bank_transaction_code,
        booking_date: entry.booking_date.to_string(),
        creditor_account: iban_of(&entry.creditor),
        creditor_name: entry.creditor.name.as_deref(),
        debtor_account: iban_of(&entry.debtor),
        debtor_name: entry.debtor.name.as_deref(),
        end_to_end_id: entry.end_to_end_id.as_deref(),
        entry_reference: entry.entry_reference.to_string(),
        remittance_information_unstructured: entry.remittance_information.as_deref(),
        transaction_amount: entry.amount.into(),
        transaction_id: entry.transaction_id.to_string(),
        value_date: entry.value_date.to_string(),
    }
}

/// The `_links` of a report: the account it is about, and its pages.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReportLinks {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<Href>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_account: Option<Href>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<Href>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<Href>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<Href>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<Href>,
}

/// The `transactions` object of a report: its page links, and the booked
/// and pending entries (newest first) when asked for.
#[derive(Serialize)]
pub(crate) struct TransactionReport<'a, T> {
    #[serde(rename = "_links")]
    links: &'a ReportLinks,
    #[serde(skip_serializing_if = "Option::is_none")]
    booked: Option<Vec<T>>,
    /// Standing orders, of which the ledger holds none.
    #[serde(skip_serializing_if = "Option::is_none")]
    information: Option<Vec<T>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pending: Option<Vec<T>>,
}

/// The report holding `entries` (newest first), each shown by `item`.
pub(crate) fn report_json<'a, T>(
    booking: BookingStatus,
    entries: &'a [AccountEntry],
    links: &'a ReportLinks,
    item: impl Fn(&'a AccountEntry) -> T,
) -> TransactionReport<'a, T> {
    let (booked, pending): (Vec<&AccountEntry>, Vec<&AccountEntry>) = entries
        .iter()
        .partition(|e| e.status == EntryStatus::Booked);
    TransactionReport {
        links,
        booked: booking
            .booked()
            .then(|| booked.into_iter().map(&item).collect()),
        information: booking.information().then(Vec::new),
        pending: booking
            .pending()
            .then(|| pending.into_iter().map(&item).collect()),
    }
}

/// `GET /v1/accounts/{id}/transactions`.
#[derive(Serialize)]
struct AccountTransactions<'a> {
    account: AccountReference,
    #[serde(skip_serializing_if = "Option::is_none")]
    balances: Option<&'a [Balance]>,
    transactions: TransactionReport<'a, Transaction<'a>>,
}

/// The answer to an account's transaction report.
pub(crate) fn account_report(read: &ReportRead<Account>) -> Response {
    let body = AccountTransactions {
        account: AccountReference::from(&read.resource),
        balances: read.balances.as_deref(),
        transactions: read.transactions(transaction_json),
    };
    Json(body).into_response()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TransactionDetails<'a> {
    transactions_details: Transaction<'a>,
}

pub(crate) async fn details<R: Xs2aStore>(
    State(service): State<Arc<Xs2aService<R>>>,
    headers: HeaderMap,
    Path((account_id, transaction_id)): Path<(String, String)>,
    Ais(caller): Ais,
) -> Response {
    let result = async {
        let consent = live_consent(&service, &caller, &headers).await?;
        let (account, _) = with_transactions::<Account, R>(&service, &consent, &account_id).await?;
        let unknown = || {
            Xs2aError::resource_unknown("no such transaction on this account").at("transactionId")
        };
        let id = transaction_id.parse().map_err(|_| unknown())?;
        let entry = service
            .accounts()
            .entry(account.id, id)
            .await?
            .ok_or_else(unknown)?;
        let body = TransactionDetails {
            transactions_details: transaction_json(&entry),
        };
        Ok(Json(body).into_response())
    }
    .await;
    caller.answer(result)
}

#[cfg(test)]
mod tests {
    use fintechapi_domain::ids::TransactionId;
    use fintechapi_domain::{Currency, Money};
    use serde_json::json;
    use time::macros::date;

    use super::*;
    use crate::body::assert_sorted_like_json_value;

    #[test]
    fn a_report_keeps_its_fields_and_their_order() {
        let iban = "DE02120300000000202051".parse().ok();
        let entry = AccountEntry {
            entry_reference: 7,
            transaction_id: TransactionId::random(),
            status: EntryStatus::Booked,
            amount: Money::from_minor(-2_550, Currency::EUR),
            booking_date: date!(2026 - 11 - 25),
            value_date: date!(2026 - 11 - 25),
            debtor: Party::default(),
            creditor: Party {
                name: Some("Payee".into()),
                iban,
            },
            remittance_information: Some("Invoice 42".into()),
            end_to_end_id: None,
            bank_transaction_code: "PMNT-ICDT-ESCT".into(),
        };
        let links = ReportLinks {
            first: Some(Href::to("/x")),
            ..ReportLinks::default()
        };
        let report = report_json(
            BookingStatus::Both,
            std::slice::from_ref(&entry),
            &links,
            transaction_json,
        );
        assert_sorted_like_json_value(&report);
        let value = serde_json::to_value(&report).expect("serialisable");
        assert_eq!(value["pending"], json!([]));
        assert_eq!(value.get("information"), None);
        assert_eq!(
            value["booked"][0],
            json!({"bankTransactionCode": "PMNT-ICDT-ESCT", "bookingDate": "2026-11-25",
                "creditorAccount": {"iban": "DE02120300000000202051"}, "creditorName": "Payee",
                "entryReference": "7", "remittanceInformationUnstructured": "Invoice 42",
                "transactionAmount": {"amount": "-25.50", "currency": "EUR"},
                "transactionId": entry.transaction_id.to_string(), "valueDate": "2026-11-25"})
        );
    }
}
