//! An account's transaction report as a document, chosen by `Accept` (Berlin
//! Group IG 1.3.x, `getTransactionList`): ISO 20022 camt.052.001.08 or
//! camt.053.001.08 as `application/xml`, SWIFT MT940 as `text/plain`. An
//! `Accept` that admits JSON keeps JSON (`transactions::account_report`).
//!
//! Which camt message: the spec leaves it to the ASPSP "due to the chosen
//! parameters, specifically on the chosen dates relative to the time of the
//! request". A camt.053 statement is final, so it is answered only when it
//! can be: booked entries only (`bookingStatus=booked`, no
//! `entryReferenceFrom`) over a closed period (`dateTo` before today) with
//! the balances granted, since a statement must carry its opening and closing
//! balances. Everything else (pending entries, a period reaching today, no
//! balances granted) is a camt.052 account report, which may hold pending
//! entries and carries balances only for `withBalance`.
//!
//! MT940 is a statement: booked entries only, between its opening (`:60F:`)
//! and closing (`:62F:`) balances, so it needs the balances granted.
//!
//! One document per request, not paged: it holds every entry the query
//! selects, at most [`MAX_DOCUMENT_ENTRIES`]; a period holding more is
//! refused (`PERIOD_INVALID`) so that no statement is ever cut short.
//! `cursor`, `itemsPerPage` and `deltaList` are refused. The consent checks,
//! the count against `frequencyPerDay` and the balance grant are the JSON
//! report's (`live_consent`, `with_transactions`).

mod camt;
mod mt940;

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::Money;
use fintechapi_domain::consent::GrantedResource;
use fintechapi_domain::ledger::{Account, AccountEntry, EntryStatus, LedgerRepository, PageStart};
use fintechapi_ledger::BalanceType;
use time::Date;

use crate::accounts::live_consent;
use crate::caller::Ais;
use crate::error::MessageCode;
use crate::granted::{self, Granted, with_transactions};
use crate::transactions::{BookingStatus, Report, TransactionsQuery};
use crate::{Caller, Xs2aError, Xs2aService, Xs2aStore, quality};

pub(crate) const CAMT_MEDIA_TYPE: &str = "application/xml";
pub(crate) const MT940_MEDIA_TYPE: &str = "text/plain";
/// The media types of an account's transaction report, JSON first.
pub(crate) const REPORT_MEDIA_TYPES: [&str; 3] = [
    crate::profile::ANSWER_MEDIA_TYPES[0],
    CAMT_MEDIA_TYPE,
    MT940_MEDIA_TYPE,
];
pub(crate) const CAMT_REPORT: &str = "camt.052.001.08";
pub(crate) const CAMT_STATEMENT: &str = "camt.053.001.08";
/// When a camt report is a camt.053 statement (`camt_statement` in [`write`]), as the profile says it.
pub(crate) const CAMT_STATEMENT_WHEN: &str = "bookingStatus=booked without entryReferenceFrom, \
     dateTo before today and the account's balances granted: the report is final";
/// The most entries one document holds.
pub(crate) const MAX_DOCUMENT_ENTRIES: u32 = 1_000;

/// The documents a transaction report can be written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Document {
    Camt,
    Mt940,
}

impl Document {
    fn name(self) -> &'static str {
        match self {
            Document::Camt => "camt",
            Document::Mt940 => "MT940",
        }
    }

    fn media_type(self) -> &'static str {
        match self {
            Document::Camt => CAMT_MEDIA_TYPE,
            Document::Mt940 => MT940_MEDIA_TYPE,
        }
    }
}

/// How an account's transaction report is answered: JSON whenever `Accept`
/// admits it, else the document it weighs higher (camt on a tie), else 406.
pub(crate) fn negotiate(headers: &HeaderMap) -> Result<Option<Document>, Xs2aError> {
    if quality(headers, REPORT_MEDIA_TYPES[0]).is_some() {
        return Ok(None);
    }
    match (
        quality(headers, CAMT_MEDIA_TYPE),
        quality(headers, MT940_MEDIA_TYPE),
    ) {
        (Some(camt), Some(mt940)) if mt940 > camt => Ok(Some(Document::Mt940)),
        (Some(_), _) => Ok(Some(Document::Camt)),
        (None, Some(_)) => Ok(Some(Document::Mt940)),
        (None, None) => Err(Xs2aError::new(
            MessageCode::RequestedFormatsInvalid,
            "an account's transaction report is answered in application/json, \
             application/xml (camt.052, camt.053) or text/plain (MT940)",
        )
        .at("Accept")),
    }
}

/// `GET /v1/accounts/{account-id}/transactions` (not a card account's, not one transaction's).
pub(crate) fn is_account_report(method: &Method, path: &str) -> bool {
    if *method != Method::GET || !path.ends_with("/transactions") {
        return false;
    }
    let mut segments = path.split('/');
    matches!(
        (segments.next(), segments.next(), segments.next(), segments.next(), segments.next(), segments.next()),
        (Some(""), Some("v1"), Some("accounts"), Some(id), Some("transactions"), None) if !id.is_empty()
    )
}

/// `GET /v1/accounts/{account-id}/transactions` in the format `Accept` asks for.
pub(crate) async fn transactions<R: Xs2aStore>(
    State(service): State<Arc<Xs2aService<R>>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Ais(caller): Ais,
    query: Result<Query<TransactionsQuery>, QueryRejection>,
) -> Response {
    let document = match negotiate(&headers) {
        Ok(Some(document)) => document,
        Ok(None) => {
            return granted::transactions::<Account, R>(
                State(service),
                headers,
                Path(id),
                Ais(caller),
                query,
            )
            .await;
        }
        Err(e) => return caller.answer(Err(e)),
    };
    let result = write(&service, &caller, &headers, &id, query, document).await;
    caller.answer(result)
}

/// A balance as a document writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DocumentBalance {
    /// ISO 20022 ExternalBalanceType1Code.
    pub code: &'static str,
    pub amount: Money,
    pub date: Date,
}

/// What either document is written from.
pub(crate) struct Contents<'a> {
    pub account: &'a Account,
    /// Oldest first, as statements list them.
    pub entries: &'a [AccountEntry],
    /// The period covered, whole days.
    pub from: Date,
    pub to: Date,
    /// The current balances asked for with `withBalance` (camt.052).
    pub balances: Vec<DocumentBalance>,
}

/// A statement's booked balances: at the start of its first day and the end of its last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Statement {
    pub opening: Money,
    pub closing: Money,
}

/// A value a document cannot carry.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum DocumentError {
    #[error("an amount of this report has more digits than {0} carries")]
    AmountTooLarge(&'static str),
    #[error("the statement's closing balance is beyond what an amount holds")]
    BalanceOverflow,
}

impl From<DocumentError> for Xs2aError {
    fn from(e: DocumentError) -> Self {
        Xs2aError::new(
            MessageCode::RequestedFormatsInvalid,
            format!("{e}: ask for application/json"),
        )
        .at("Accept")
    }
}

async fn write<R: Xs2aStore>(
    service: &Xs2aService<R>,
    caller: &Caller,
    headers: &HeaderMap,
    id: &str,
    query: Result<Query<TransactionsQuery>, QueryRejection>,
    document: Document,
) -> Result<Response, Xs2aError> {
    let Ok(Query(query)) = query else {
        return Err(Xs2aError::format("the query string is malformed"));
    };
    let report = Report::parse(query, GrantedResource::Account)?;
    // Checked before the consent, so a query no document answers costs no access.
    report.as_document(document.name())?;
    if document == Document::Mt940 {
        if report.booking != BookingStatus::Booked {
            return Err(Xs2aError::new(
                MessageCode::ParameterNotSupported,
                "an MT940 statement holds booked entries only: ask bookingStatus=booked, \
                 or application/xml (camt.052) for pending entries",
            )
            .at("bookingStatus"));
        }
        if report.reference_from.is_some() {
            return Err(Xs2aError::new(
                MessageCode::ParameterNotSupported,
                "an MT940 statement covers whole days between two balances: leave out entryReferenceFrom",
            )
            .at("entryReferenceFrom"));
        }
    }
    let consent = live_consent(service, caller, headers).await?;
    let (account, grant) = with_transactions::<Account, R>(service, &consent, id).await?;
    if report.with_balance && !grant.balances {
        return Err(Xs2aError::new(
            MessageCode::ConsentInvalid,
            Account::REPORT_BALANCES_NOT_COVERED,
        )
        .at("withBalance"));
    }
    if document == Document::Mt940 && !grant.balances {
        return Err(Xs2aError::new(
            MessageCode::ConsentInvalid,
            "an MT940 statement carries opening and closing balances, which the consent does not cover",
        ));
    }
    let mut entries = match report.filter(account.id) {
        Some(filter) => {
            service
                .accounts()
                .entries(&filter, PageStart::Newest, MAX_DOCUMENT_ENTRIES + 1)
                .await?
        }
        None => Vec::new(),
    };
    if entries.len() > MAX_DOCUMENT_ENTRIES as usize {
        return Err(Xs2aError::new(
            MessageCode::PeriodInvalid,
            format!(
                "the period holds more than {MAX_DOCUMENT_ENTRIES} entries, the most one document holds: \
                 ask for a shorter period, or for application/json pages"
            ),
        )
        .at("dateFrom"));
    }
    entries.reverse();

    let now = service.now();
    let today = now.date();
    let to = report
        .date_to
        .unwrap_or_else(|| report.date_from.map_or(today, |from| from.max(today)));
    let from = report
        .date_from
        .or_else(|| entries.first().map(|e| e.booking_date))
        .unwrap_or(to)
        .min(to);
    let closed = report.date_to.is_some_and(|to| to < today);
    let booked_days = report.booking == BookingStatus::Booked && report.reference_from.is_none();
    let camt_statement = booked_days && closed && grant.balances;
    let balances = match document == Document::Camt && report.with_balance && !camt_statement {
        true => service
            .ledger
            .balances(&account)
            .await?
            .iter()
            .map(|b| DocumentBalance {
                code: balance_code(b.balance_type),
                amount: b.amount,
                date: b.reference_date,
            })
            .collect(),
        false => Vec::new(),
    };
    let contents = Contents {
        account: &account,
        entries: &entries,
        from,
        to,
        balances,
    };
    let body = match document {
        Document::Mt940 => mt940::write(&contents, statement(service, &contents).await?)?,
        Document::Camt => {
            let statement = match camt_statement {
                true => Some(statement(service, &contents).await?),
                false => None,
            };
            camt::write(&contents, statement, now, service.pepper())?
        }
    };
    Ok(([(CONTENT_TYPE, document.media_type())], body).into_response())
}

/// The opening and closing booked balances of a statement of `contents`'s
/// booked entries. The opening balance is settled (nothing is booked on a
/// past day any more); the closing one follows from the entries listed, so
/// the two always add up, even while a posting lands.
async fn statement<R: Xs2aStore>(
    service: &Xs2aService<R>,
    contents: &Contents<'_>,
) -> Result<Statement, Xs2aError> {
    let account = contents.account;
    let opening = service
        .accounts()
        .booked_before(account.id, contents.from)
        .await?;
    let closing = contents
        .entries
        .iter()
        .filter(|e| e.status == EntryStatus::Booked)
        .try_fold(opening, |sum, e| sum.checked_add(e.amount.minor()))
        .ok_or(DocumentError::BalanceOverflow)?;
    Ok(Statement {
        opening: Money::from_minor(opening, account.currency),
        closing: Money::from_minor(closing, account.currency),
    })
}

/// ISO 20022's balance type of a Berlin Group balance (IG 1.3.x's mapping).
fn balance_code(balance: BalanceType) -> &'static str {
    match balance {
        BalanceType::ClosingBooked => "CLBD",
        BalanceType::InterimBooked => "ITBD",
        BalanceType::NonInvoiced => "NOTI",
        BalanceType::InterimAvailable => "ITAV",
        BalanceType::Expected => "XPCD",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::header::ACCEPT,
            value.parse().unwrap_or_else(|_| panic!("{value}")),
        );
        headers
    }

    #[test]
    fn json_wins_whenever_admitted_then_the_heavier_document() {
        for json in ["", "*/*", "application/*", "application/json, text/plain"] {
            let headers = if json.is_empty() {
                HeaderMap::new()
            } else {
                accept(json)
            };
            assert_eq!(negotiate(&headers), Ok(None), "{json:?}");
        }
        for (asked, document) in [
            ("application/xml", Document::Camt),
            ("text/plain", Document::Mt940),
            ("text/*", Document::Mt940),
            ("application/xml, text/plain", Document::Camt),
            ("application/xml;q=0.5, text/plain", Document::Mt940),
            ("application/json;q=0, application/xml", Document::Camt),
            ("*/*, application/json;q=0, text/plain;q=0", Document::Camt),
        ] {
            assert_eq!(negotiate(&accept(asked)), Ok(Some(document)), "{asked}");
        }
        for refused in ["text/html", "application/pdf", "text/plain;q=0"] {
            let e = negotiate(&accept(refused)).err();
            assert_eq!(
                e.map(|e| e.code),
                Some(MessageCode::RequestedFormatsInvalid),
                "{refused}"
            );
        }
    }

    #[test]
    fn only_an_accounts_report_is_a_document() {
        assert!(is_account_report(
            &Method::GET,
            "/v1/accounts/x/transactions"
        ));
        for (method, path) in [
            (Method::POST, "/v1/accounts/x/transactions"),
            (Method::GET, "/v1/card-accounts/x/transactions"),
            (Method::GET, "/v1/accounts/x/transactions/y"),
            (Method::GET, "/v1/accounts//transactions"),
            (Method::GET, "/v1/accounts/x/balances"),
        ] {
            assert!(!is_account_report(&method, path), "{method} {path}");
        }
    }
}
