//! Keyset pages of a report: one index range per page.

use fintechapi_domain::ledger::{
    AccountEntry, EntryCursor, EntryFilter, LedgerRepository, PageStart,
};

use crate::Xs2aError;

use super::report::Page;

/// One page of a paged report, and whether newer and older entries lie beyond it.
pub(super) struct PageOfEntries {
    pub entries: Vec<AccountEntry>,
    pub newer: bool,
    pub older: bool,
}

pub(super) async fn page_of(
    repo: &impl LedgerRepository,
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

pub(super) fn position(entry: &AccountEntry) -> EntryCursor {
    EntryCursor {
        booking_date: entry.booking_date,
        entry_reference: entry.entry_reference,
    }
}
