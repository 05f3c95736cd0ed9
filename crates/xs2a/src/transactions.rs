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
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::consent::GrantedResource;
use fintechapi_domain::ids::{AccountId, ConsentId};
use fintechapi_domain::ledger::{
    AccountEntry, EntryCursor, EntryFilter, EntryStatus, LedgerRepository, PageStart,
};
use fintechapi_domain::registry::ApiProduct;
use fintechapi_domain::secret::Pepper;
use fintechapi_domain::signed;
use serde::Deserialize;
use serde_json::{Value, json};
use time::Date;
use time::macros::format_description;

use crate::accounts::{account_reference, balances_json, granted_account, live_consent};
use crate::{RequestLine, Xs2aError, Xs2aService, Xs2aStore};

const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 100;

/// The query as sent; every value is checked by [`Report::parse`] so that each
/// problem names its parameter.
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
    delta_list: Option<String>,
    #[serde(rename = "withBalance")]
    with_balance: Option<String>,
    #[serde(rename = "itemsPerPage")]
    items_per_page: Option<String>,
    #[serde(rename = "pageIndex")]
    page_index: Option<String>,
    /// The page, as a link of an earlier report names it.
    cursor: Option<String>,
}

/// Berlin Group `bookingStatus`. `information` lists standing orders, of
/// which the ledger holds none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BookingStatus {
    Booked,
    Pending,
    Both,
    Information,
    All,
}

impl BookingStatus {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "booked" => Self::Booked,
            "pending" => Self::Pending,
            "both" => Self::Both,
            "information" => Self::Information,
            "all" => Self::All,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Booked => "booked",
            Self::Pending => "pending",
            Self::Both => "both",
            Self::Information => "information",
            Self::All => "all",
        }
    }

    fn booked(self) -> bool {
        matches!(self, Self::Booked | Self::Both | Self::All)
    }

    fn pending(self) -> bool {
        matches!(self, Self::Pending | Self::Both | Self::All)
    }

    fn information(self) -> bool {
        matches!(self, Self::Information | Self::All)
    }

    /// The ledger entries asked for: None for standing orders only.
    fn entries(self) -> Option<Option<EntryStatus>> {
        match (self.booked(), self.pending()) {
            (true, true) => Some(None),
            (true, false) => Some(Some(EntryStatus::Booked)),
            (false, true) => Some(Some(EntryStatus::Pending)),
            (false, false) => None,
        }
    }
}

/// A page of a paged report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Page {
    First,
    /// The entries older than this position.
    Next(EntryCursor),
    /// The entries newer than this position.
    Previous(EntryCursor),
    /// The oldest entries, as many as the page that `next` ends on holds.
    Last,
}

impl Page {
    /// What the cursor of this page carries; the first page needs none.
    fn payload(self) -> Option<String> {
        match self {
            Page::First => None,
            Page::Next(c) => Some(format!("n|{}|{}", c.booking_date, c.entry_reference)),
            Page::Previous(c) => Some(format!("p|{}|{}", c.booking_date, c.entry_reference)),
            Page::Last => Some("l".into()),
        }
    }

    fn from_payload(text: &str) -> Option<Self> {
        let mut parts = text.split('|');
        let kind = parts.next()?;
        let position = |date: Option<&str>, reference: Option<&str>| {
            Some(EntryCursor {
                booking_date: Date::parse(date?, format_description!("[year]-[month]-[day]"))
                    .ok()?,
                entry_reference: reference?.parse().ok()?,
            })
        };
        let page = match kind {
            "l" => Page::Last,
            "n" => Page::Next(position(parts.next(), parts.next())?),
            "p" => Page::Previous(position(parts.next(), parts.next())?),
            _ => return None,
        };
        parts.next().is_none().then_some(page)
    }
}

fn parse_date(text: Option<&str>, path: &'static str) -> Result<Option<Date>, Xs2aError> {
    text.map(|t| {
        Date::parse(t, format_description!("[year]-[month]-[day]")).map_err(|_| {
            Xs2aError::format(format!("{path} must be an ISO date (YYYY-MM-DD)")).at(path)
        })
    })
    .transpose()
}

fn parse_flag(text: Option<&str>, path: &'static str) -> Result<bool, Xs2aError> {
    match text {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(Xs2aError::format(format!("{path} must be true or false")).at(path)),
    }
}

fn inconsistent(path: &'static str, text: &str) -> Xs2aError {
    Xs2aError::new(StatusCode::BAD_REQUEST, "PARAMETER_NOT_CONSISTENT", text).at(path)
}

/// A checked transactions query of an account or a card account.
#[derive(Debug)]
pub(crate) struct Report {
    resource: GrantedResource,
    pub booking: BookingStatus,
    date_from: Option<Date>,
    date_to: Option<Date>,
    reference_from: Option<i64>,
    delta: bool,
    pub with_balance: bool,
    items_per_page: Option<u32>,
    cursor: Option<String>,
}

impl Report {
    pub(crate) fn parse(
        q: TransactionsQuery,
        resource: GrantedResource,
    ) -> Result<Self, Xs2aError> {
        let booking = match q.booking_status.as_deref() {
            None => return Err(Xs2aError::format("bookingStatus is required").at("bookingStatus")),
            Some(text) => BookingStatus::parse(text).ok_or_else(|| {
                Xs2aError::new(
                    StatusCode::BAD_REQUEST,
                    "PARAMETER_NOT_SUPPORTED",
                    format!("bookingStatus {text:?} is not one of booked, pending, both, information, all"),
                )
                .at("bookingStatus")
            })?,
        };
        if resource == GrantedResource::CardAccount && booking.information() {
            return Err(Xs2aError::new(
                StatusCode::BAD_REQUEST,
                "PARAMETER_NOT_SUPPORTED",
                "a card account reports bookingStatus booked, pending or both",
            )
            .at("bookingStatus"));
        }
        let date_from = parse_date(q.date_from.as_deref(), "dateFrom")?;
        let date_to = parse_date(q.date_to.as_deref(), "dateTo")?;
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
        let reference_from = q
            .entry_reference_from
            .as_deref()
            .map(|text| {
                text.parse::<i64>().map_err(|_| {
                    Xs2aError::format(
                        "entryReferenceFrom must be an entryReference this ASPSP issued",
                    )
                    .at("entryReferenceFrom")
                })
            })
            .transpose()?;
        let delta = parse_flag(q.delta_list.as_deref(), "deltaList")?;
        let with_balance = parse_flag(q.with_balance.as_deref(), "withBalance")?;
        let items_per_page = q
            .items_per_page
            .as_deref()
            .map(|text| {
                text.parse::<u32>()
                    .ok()
                    .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
                    .ok_or_else(|| {
                        Xs2aError::format(format!(
                            "itemsPerPage must be an integer from 1 to {MAX_PAGE_SIZE}"
                        ))
                        .at("itemsPerPage")
                    })
            })
            .transpose()?;
        if q.page_index.is_some() {
            return Err(Xs2aError::new(
                StatusCode::BAD_REQUEST,
                "PARAMETER_NOT_SUPPORTED",
                "pages are not numbered here: follow the first, next, previous and last links",
            )
            .at("pageIndex"));
        }
        if delta {
            // entryReferenceFrom is the other delta access, and a period or a
            // page would cut entries out of what the next delta report skips.
            let conflicts = [
                (q.entry_reference_from.is_some(), "entryReferenceFrom"),
                (q.date_from.is_some(), "dateFrom"),
                (q.date_to.is_some(), "dateTo"),
                (q.cursor.is_some(), "cursor"),
            ];
            if let Some((_, path)) = conflicts.iter().find(|(given, _)| *given) {
                return Err(inconsistent(
                    path,
                    &format!(
                        "deltaList reports every booked entry since the last delta report: do not combine it with {path}"
                    ),
                ));
            }
            if booking != BookingStatus::Booked {
                return Err(Xs2aError::new(
                    StatusCode::BAD_REQUEST,
                    "PARAMETER_NOT_SUPPORTED",
                    "deltaList is offered for bookingStatus booked: pending entries are not final",
                )
                .at("bookingStatus"));
            }
        }
        Ok(Self {
            resource,
            booking,
            date_from,
            date_to,
            reference_from,
            delta,
            with_balance,
            items_per_page,
            cursor: q.cursor,
        })
    }

    fn page_size(&self) -> u32 {
        self.items_per_page.unwrap_or(DEFAULT_PAGE_SIZE)
    }

    /// Where the account's reports live.
    fn path(&self) -> &'static str {
        match self.resource {
            GrantedResource::Account => "/v1/accounts",
            GrantedResource::CardAccount => "/v1/card-accounts",
        }
    }

    /// What a cursor is bound to: the account and everything that selects entries.
    fn binding(&self, account_id: &str) -> String {
        let report = match self.resource {
            GrantedResource::Account => "transactions",
            GrantedResource::CardAccount => "card-transactions",
        };
        format!(
            "{report}|{account_id}|{}|{:?}|{:?}|{:?}",
            self.booking.as_str(),
            self.date_from,
            self.date_to,
            self.reference_from
        )
    }

    /// The page the cursor names; a cursor this server did not issue for this
    /// account and filter is refused.
    pub(crate) fn page(&self, pepper: &Pepper, account_id: &str) -> Result<Page, Xs2aError> {
        let Some(cursor) = &self.cursor else {
            return Ok(Page::First);
        };
        signed::open(pepper, &self.binding(account_id), cursor)
            .as_deref()
            .and_then(Page::from_payload)
            .ok_or_else(|| {
                Xs2aError::format(
                    "cursor is not one this ASPSP issued for this account and these parameters: follow the report's _links",
                )
                .at("cursor")
            })
    }

    /// A link to `page` of this report, keeping its parameters.
    fn link(&self, pepper: &Pepper, account: AccountId, page: Page) -> Value {
        let mut query = vec![format!("bookingStatus={}", self.booking.as_str())];
        if let Some(d) = self.date_from {
            query.push(format!("dateFrom={d}"));
        }
        if let Some(d) = self.date_to {
            query.push(format!("dateTo={d}"));
        }
        if let Some(r) = self.reference_from {
            query.push(format!("entryReferenceFrom={r}"));
        }
        if self.delta {
            query.push("deltaList=true".into());
        }
        if self.with_balance {
            query.push("withBalance=true".into());
        }
        if let Some(n) = self.items_per_page {
            query.push(format!("itemsPerPage={n}"));
        }
        if let Some(payload) = page.payload() {
            let cursor = signed::sign(pepper, &self.binding(&account.to_string()), &payload);
            query.push(format!("cursor={cursor}"));
        }
        json!({"href": format!("{}/{account}/transactions?{}", self.path(), query.join("&"))})
    }

    /// The entries of `page` on `account`, newest first, with the report's
    /// links added to `links`: `first`, `previous`, `next` and `last`, or a
    /// delta report's `next`.
    pub(crate) async fn entries<R: Xs2aStore>(
        &self,
        service: &Xs2aService<R>,
        consent: ConsentId,
        account: AccountId,
        page: Page,
        links: &mut Value,
    ) -> Result<ReportPage, Xs2aError> {
        let repo = service.oauth.server.repo();
        let pepper = service.oauth.server.pepper();
        let size = self.page_size();
        let mut delta_mark = None;
        let entries = if self.delta {
            let mark = repo.delta_mark(consent, account).await?;
            let mut entries = repo
                .booked_entries_after(account, mark.unwrap_or(0), size + 1)
                .await?;
            if entries.len() > size as usize {
                entries.truncate(size as usize);
                links["next"] = self.link(pepper, account, Page::First);
            }
            delta_mark = entries
                .last()
                .map(|e| (consent, account, e.entry_reference));
            entries.reverse();
            entries
        } else if let Some(status) = self.booking.entries() {
            let filter = EntryFilter {
                account,
                status,
                date_from: self.date_from,
                date_to: self.date_to,
                reference_above: self.reference_from,
            };
            let found = page_of(repo, &filter, page, size).await?;
            links["first"] = self.link(pepper, account, Page::First);
            if let (true, Some(newest)) = (found.newer, found.entries.first()) {
                links["previous"] = self.link(pepper, account, Page::Previous(position(newest)));
            }
            if let (true, Some(oldest)) = (found.older, found.entries.last()) {
                links["next"] = self.link(pepper, account, Page::Next(position(oldest)));
            }
            links["last"] = self.link(pepper, account, Page::Last);
            found.entries
        } else {
            Vec::new()
        };
        Ok(ReportPage {
            entries,
            delta_mark,
        })
    }
}

/// The entries a report answers with.
pub(crate) struct ReportPage {
    pub entries: Vec<AccountEntry>,
    /// Consent, account and the greatest entry reference of a delta report.
    delta_mark: Option<(ConsentId, AccountId, i64)>,
}

impl ReportPage {
    /// Called once the answer is complete: the next delta report starts after it.
    pub(crate) async fn complete<R: Xs2aStore>(
        &self,
        service: &Xs2aService<R>,
    ) -> Result<(), Xs2aError> {
        if let Some((consent, account, reference)) = self.delta_mark {
            let server = &service.oauth.server;
            server
                .repo()
                .advance_delta_mark(consent, account, reference, server.now())
                .await?;
        }
        Ok(())
    }
}

/// One page of a paged report, and whether newer and older entries lie beyond it.
struct PageOfEntries {
    entries: Vec<AccountEntry>,
    newer: bool,
    older: bool,
}

async fn page_of<R: LedgerRepository>(
    repo: &R,
    filter: &EntryFilter,
    page: Page,
    size: u32,
) -> Result<PageOfEntries, Xs2aError> {
    let size_usize = size as usize;
    // One more than a page tells whether the report goes on that way. A page
    // reached from a cursor has entries on the cursor's side: the cursor's own.
    Ok(match page {
        Page::First | Page::Next(_) => {
            let start = match page {
                Page::Next(c) => PageStart::After(c),
                _ => PageStart::Newest,
            };
            let mut entries = repo.entries(filter, start, size + 1).await?;
            let older = entries.len() > size_usize;
            entries.truncate(size_usize);
            PageOfEntries {
                entries,
                newer: page != Page::First,
                older,
            }
        }
        Page::Previous(c) => {
            let mut entries = repo.entries(filter, PageStart::Before(c), size + 1).await?;
            let newer = entries.len() > size_usize;
            if newer {
                entries.remove(0);
            }
            PageOfEntries {
                entries,
                newer,
                older: true,
            }
        }
        Page::Last => {
            // The page `next` ends on: what is left over after full pages.
            let count = repo.count_entries(filter).await?;
            let tail = match count {
                0 => 0,
                n => (n - 1) % u64::from(size) + 1,
            };
            let entries = repo
                .entries(
                    filter,
                    PageStart::Oldest,
                    u32::try_from(tail).unwrap_or(size),
                )
                .await?;
            PageOfEntries {
                entries,
                newer: count > tail,
                older: false,
            }
        }
    })
}

fn position(entry: &AccountEntry) -> EntryCursor {
    EntryCursor {
        booking_date: entry.booking_date,
        entry_reference: entry.entry_reference,
    }
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

pub(crate) async fn list<R: Xs2aStore>(
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
        let report = Report::parse(query, GrantedResource::Account)?;
        let server = &service.oauth.server;
        // Checked before the consent, so a bad cursor costs no access.
        let page = report.page(server.pepper(), &account_id)?;
        let consent = live_consent(&service, &caller, &headers).await?;
        let (account, grant) = granted_account(&service, &consent, &account_id).await?;
        if !grant.transactions {
            return Err(Xs2aError::new(
                StatusCode::UNAUTHORIZED,
                "CONSENT_INVALID",
                "the consent does not cover this account's transactions",
            ));
        }
        if report.with_balance && !grant.balances {
            return Err(Xs2aError::new(
                StatusCode::UNAUTHORIZED,
                "CONSENT_INVALID",
                "withBalance asks for balances, which the consent does not cover",
            )
            .at("withBalance"));
        }
        let mut links = json!({"account": {"href": format!("/v1/accounts/{}", account.id)}});
        let found = report
            .entries(&service, consent.id, account.id, page, &mut links)
            .await?;
        let mut body = json!({
            "account": account_reference(&account),
            "transactions": report_json(report.booking, &found.entries, links, transaction_json),
        });
        if report.with_balance {
            body["balances"] = balances_json(&service, &account).await?;
        }
        found.complete(&service).await?;
        Ok(Json(body).into_response())
    }
    .await;
    caller.answer(result)
}

pub(crate) async fn details<R: Xs2aStore>(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_survives_its_payload_and_nothing_else_parses() {
        let at = EntryCursor {
            booking_date: time::macros::date!(2026 - 11 - 25),
            entry_reference: 42,
        };
        for page in [Page::Next(at), Page::Previous(at), Page::Last] {
            assert_eq!(Page::from_payload(&page.payload().unwrap()), Some(page));
        }
        assert_eq!(Page::First.payload(), None);
        for bad in [
            "",
            "f",
            "x",
            "n",
            "n|2026-11-25",
            "n|2026-13-01|1",
            "p|2026-11-25|x",
            "l|1",
            "n|2026-11-25|1|2",
        ] {
            assert_eq!(Page::from_payload(bad), None, "{bad:?}");
        }
    }
}
