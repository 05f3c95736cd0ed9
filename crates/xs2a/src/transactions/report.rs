//! The query of a transaction report, checked into a [`Report`], its pages
//! and sealed cursors, and the entries it answers with.

use fintechapi_domain::consent::DeltaReportRepository;
use fintechapi_domain::consent::GrantedResource;
use fintechapi_domain::date::parse_iso_date;
use fintechapi_domain::ids::{AccountId, ConsentId};
use fintechapi_domain::ledger::{
    AccountEntry, EntryCursor, EntryFilter, EntryStatus, LedgerRepository,
};
use fintechapi_domain::secret::Pepper;
use fintechapi_domain::signed;
use serde::Deserialize;
use time::Date;

use crate::body::Href;
use crate::error::MessageCode;
use crate::{Xs2aError, Xs2aService, Xs2aStore};

use super::ReportLinks;
use super::paging::{page_of, position};

pub(crate) const DEFAULT_PAGE_SIZE: u32 = 50;
pub(crate) const MAX_PAGE_SIZE: u32 = 100;

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
    /// The values an account report takes; a card account's, without `information`.
    pub(crate) const ALL: [Self; 5] = [
        Self::Booked,
        Self::Pending,
        Self::Both,
        Self::Information,
        Self::All,
    ];

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

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Booked => "booked",
            Self::Pending => "pending",
            Self::Both => "both",
            Self::Information => "information",
            Self::All => "all",
        }
    }

    pub(super) fn booked(self) -> bool {
        matches!(self, Self::Booked | Self::Both | Self::All)
    }

    pub(super) fn pending(self) -> bool {
        matches!(self, Self::Pending | Self::Both | Self::All)
    }

    pub(super) fn information(self) -> bool {
        matches!(self, Self::Information | Self::All)
    }

    /// A card account has no standing orders to report as `information`.
    pub(crate) fn for_cards(self) -> bool {
        !self.information()
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
                booking_date: parse_iso_date(date?)?,
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
        parse_iso_date(t).ok_or_else(|| {
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
    Xs2aError::new(MessageCode::ParameterNotConsistent, text).at(path)
}

/// A checked transactions query of an account or a card account.
#[derive(Debug)]
pub(crate) struct Report {
    resource: GrantedResource,
    pub booking: BookingStatus,
    pub date_from: Option<Date>,
    pub date_to: Option<Date>,
    pub reference_from: Option<i64>,
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
                Xs2aError::new(MessageCode::ParameterNotSupported, format!("bookingStatus {text:?} is not one of booked, pending, both, information, all"))
                .at("bookingStatus")
            })?,
        };
        if resource == GrantedResource::CardAccount && !booking.for_cards() {
            return Err(Xs2aError::new(
                MessageCode::ParameterNotSupported,
                "a card account reports bookingStatus booked, pending or both",
            )
            .at("bookingStatus"));
        }
        let date_from = parse_date(q.date_from.as_deref(), "dateFrom")?;
        let date_to = parse_date(q.date_to.as_deref(), "dateTo")?;
        if let (Some(from), Some(to)) = (date_from, date_to)
            && from > to
        {
            return Err(
                Xs2aError::new(MessageCode::PeriodInvalid, "dateFrom is after dateTo")
                    .at("dateFrom"),
            );
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
                MessageCode::ParameterNotSupported,
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
                    MessageCode::ParameterNotSupported,
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

    /// The account's entries the query selects; None for standing orders only.
    pub(crate) fn filter(&self, account: AccountId) -> Option<EntryFilter> {
        self.booking.entries().map(|status| EntryFilter {
            account,
            status,
            date_from: self.date_from,
            date_to: self.date_to,
            reference_above: self.reference_from,
        })
    }

    /// Refuses what a report written as one document (camt, MT940) cannot
    /// honour: pages (`cursor`, `itemsPerPage`) and `deltaList`.
    pub(crate) fn as_document(&self, format: &str) -> Result<(), Xs2aError> {
        let refused = [
            (self.cursor.is_some(), "cursor"),
            (self.items_per_page.is_some(), "itemsPerPage"),
            (self.delta, "deltaList"),
        ];
        match refused.iter().find(|(given, _)| *given) {
            Some((_, path)) => Err(Xs2aError::new(
                MessageCode::ParameterNotSupported,
                format!(
                    "a {format} report is one document, neither paged nor a delta list: \
                     leave out {path} or ask for application/json"
                ),
            )
            .at(*path)),
            None => Ok(()),
        }
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
    fn link(&self, pepper: &Pepper, account: AccountId, page: Page) -> Href {
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
        Href::to(format!(
            "{}/{account}/transactions?{}",
            self.path(),
            query.join("&")
        ))
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
        links: &mut ReportLinks,
    ) -> Result<ReportPage, Xs2aError> {
        let pepper = service.pepper();
        let size = self.page_size();
        let mut delta_mark = None;
        let entries = if self.delta {
            let mark = service.delta_marks().delta_mark(consent, account).await?;
            let mut entries = service
                .accounts()
                .booked_entries_after(account, mark.unwrap_or(0), size + 1)
                .await?;
            if entries.len() > size as usize {
                entries.truncate(size as usize);
                links.next = Some(self.link(pepper, account, Page::First));
            }
            delta_mark = entries
                .last()
                .map(|e| (consent, account, e.entry_reference));
            entries.reverse();
            entries
        } else if let Some(filter) = self.filter(account) {
            let found = page_of(service.accounts(), &filter, page, size).await?;
            links.first = Some(self.link(pepper, account, Page::First));
            if let (true, Some(newest)) = (found.newer, found.entries.first()) {
                links.previous = Some(self.link(pepper, account, Page::Previous(position(newest))));
            }
            if let (true, Some(oldest)) = (found.older, found.entries.last()) {
                links.next = Some(self.link(pepper, account, Page::Next(position(oldest))));
            }
            links.last = Some(self.link(pepper, account, Page::Last));
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
            service
                .delta_marks()
                .advance_delta_mark(consent, account, reference, service.now())
                .await?;
        }
        Ok(())
    }
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
