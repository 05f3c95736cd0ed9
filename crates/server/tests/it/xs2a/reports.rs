//! Transaction reports paged by keyset links and sealed cursors, and delta
//! reports (`deltaList`).

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fintechapi_domain::ledger::{Account, EntryFilter, EntryStatus, LedgerRepository, PageStart};
use fintechapi_domain::{Clock, Currency, Money, SystemClock};
use fintechapi_ledger::{Ledger, TransferOrder};
use fintechapi_storage::Store;
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{account_of, iban, reader};
use crate::support::xs2a::Tpp;
use crate::support::{TestServer, demo_server};

/// The entry references of a report's booked list, as listed.
fn booked_refs(body: &Value) -> Vec<String> {
    body["transactions"]["booked"]
        .as_array()
        .unwrap_or_else(|| panic!("a booked list: {body}"))
        .iter()
        .map(|e| e["entryReference"].as_str().unwrap().to_owned())
        .collect()
}

/// The demo bank with an AIS TPP, its store and alice's first account.
async fn alices_bank(db: TestDb) -> (TestServer, Tpp, Store, Account) {
    let server = demo_server(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let store = server.db.store().await;
    let account = account_of(&store, "alice").await;
    (server, tpp, store, account)
}

/// The references of the ledger's booked entries of `account` (since
/// `from`), newest first: what the reports must add up to.
async fn booked_since(store: &Store, account: &Account, from: Option<time::Date>) -> Vec<String> {
    let filter = EntryFilter {
        account: account.id,
        status: Some(EntryStatus::Booked),
        date_from: from,
        date_to: None,
        reference_above: None,
    };
    store
        .entries(&filter, PageStart::Newest, 100_000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.entry_reference.to_string())
        .collect()
}

fn link(body: &Value, name: &str) -> Option<String> {
    body["transactions"]["_links"][name]["href"]
        .as_str()
        .map(str::to_owned)
}

async fn transaction_pages_cover_every_booked_entry_once_forward_and_back_and_last_is_where_next_ends(
    db: TestDb,
) {
    let (server, tpp, store, account) = alices_bank(db).await;
    let alice = reader(
        &server,
        &tpp,
        "alice",
        json!({"balances": [{"iban": iban(&account)}], "transactions": [{"iban": iban(&account)}]}),
    )
    .await;

    // What the pages must add up to: the ledger's booked entries since dateFrom, newest first.
    let from = SystemClock.today() - time::Duration::days(200);
    let expected = booked_since(&store, &account, Some(from)).await;
    assert!(
        expected.len() > 12,
        "enough history for several pages: {}",
        expected.len()
    );
    // About four pages, the last one shorter unless the count divides evenly.
    let size = expected.len() / 4 + 1;
    let start = format!(
        "/v1/accounts/{}/transactions?bookingStatus=booked&dateFrom={from}&withBalance=true&itemsPerPage={size}",
        account.id
    );

    let mut pages = Vec::new();
    let mut next = Some(start.clone());
    while let Some(path) = next {
        let page = alice.ok(&path).await;
        next = link(&page, "next");
        pages.push(page);
    }
    let forward: Vec<Vec<String>> = pages.iter().map(booked_refs).collect();
    assert_eq!(
        forward.concat(),
        expected,
        "next visits every entry once, in order"
    );
    assert!(
        forward[..forward.len() - 1].iter().all(|p| p.len() == size),
        "full pages until the last"
    );
    assert!(
        link(&pages[0], "previous").is_none(),
        "nothing before the first page"
    );
    for page in &pages {
        for name in ["first", "next", "previous", "last"] {
            if let Some(href) = link(page, name) {
                for kept in [
                    "bookingStatus=booked",
                    &format!("dateFrom={from}"),
                    "withBalance=true",
                    &format!("itemsPerPage={size}"),
                ] {
                    assert!(href.contains(kept), "{name} keeps {kept}: {href}");
                }
            }
        }
        assert_eq!(
            page["balances"].as_array().map(Vec::len),
            Some(3),
            "withBalance on every page"
        );
        assert!(page["transactions"].get("pending").is_none());
    }
    assert_eq!(link(&pages[1], "first"), Some(start.clone()));

    // last is the page next ends on; previous walks back over the same pages.
    let last = alice.ok(&link(&pages[0], "last").unwrap()).await;
    assert_eq!(booked_refs(&last), *forward.last().unwrap());
    assert!(link(&last, "next").is_none());
    let mut backward = vec![booked_refs(&last)];
    let mut previous = link(&last, "previous");
    while let Some(path) = previous {
        let page = alice.ok(&path).await;
        previous = link(&page, "previous");
        backward.insert(0, booked_refs(&page));
    }
    assert_eq!(
        backward, forward,
        "previous visits the same pages back to the first"
    );

    // A cursor is the server's: forged, garbled or carried to another filter it is refused.
    let next_href = link(&pages[0], "next").unwrap();
    let (before_cursor, cursor) = next_href.split_once("cursor=").unwrap();
    let (payload, tag) = cursor.split_once('.').unwrap();
    let position = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let (head, reference) = position.rsplit_once('|').unwrap();
    let moved = format!("{head}|{}", reference.parse::<i64>().unwrap() - 1);
    let forged = format!(
        "{before_cursor}cursor={}.{tag}",
        URL_SAFE_NO_PAD.encode(moved)
    );
    let other_filter = next_href.replace("bookingStatus=booked", "bookingStatus=both");
    let truncated = &next_href[..next_href.len() - 3];
    for bad in [
        forged,
        other_filter,
        truncated.to_owned(),
        format!("{start}&cursor=42"),
        format!("{start}&cursor=%FF%FE.x"),
    ] {
        let refused = alice.get(&bad).await;
        refused.assert_refusal(StatusCode::BAD_REQUEST, "FORMAT_ERROR", "cursor");
    }
    let numbered = alice.get(&format!("{start}&pageIndex=2")).await;
    numbered.assert_refusal(
        StatusCode::BAD_REQUEST,
        "PARAMETER_NOT_SUPPORTED",
        "pageIndex",
    );
    let too_many = alice
        .get(&format!(
            "/v1/accounts/{}/transactions?bookingStatus=booked&itemsPerPage=1000",
            account.id
        ))
        .await;
    assert_eq!(
        too_many.tpp_message(),
        (Some("FORMAT_ERROR"), Some("itemsPerPage"))
    );
    server.stop().await;
}
both_stores!(
    transaction_pages_cover_every_booked_entry_once_forward_and_back_and_last_is_where_next_ends
);

async fn a_delta_report_holds_only_what_was_booked_since_the_last_delta_report(db: TestDb) {
    let (server, tpp, store, account) = alices_bank(db).await;
    let access = json!({"transactions": [{"iban": iban(&account)}]});
    let alice = reader(&server, &tpp, "alice", access.clone()).await;
    let delta = format!(
        "/v1/accounts/{}/transactions?bookingStatus=booked&deltaList=true",
        account.id
    );
    let history = booked_since(&store, &account, None).await;
    assert!(
        history.len() > 50,
        "more than one delta batch: {}",
        history.len()
    );

    // The first delta report is the whole booked history, in batches, the oldest first.
    let mut reported: Vec<String> = Vec::new();
    let mut next = Some(delta.clone());
    while let Some(path) = next {
        let batch = alice.ok(&path).await;
        assert!(
            link(&batch, "first").is_none() && link(&batch, "last").is_none(),
            "a delta report is not paged by cursor"
        );
        next = link(&batch, "next");
        reported.splice(0..0, booked_refs(&batch));
    }
    assert_eq!(reported, history);
    assert_eq!(
        booked_refs(&alice.ok(&delta).await),
        Vec::<String>::new(),
        "nothing new, nothing reported"
    );

    // A transfer booked now is in the next delta report, and only there.
    let ledger = Ledger::new(store.clone(), Arc::new(SystemClock));
    let now = TransferOrder {
        idempotency_key: "delta-report-1".into(),
        amount: Money::from_minor(1_23, Currency::EUR),
        ..order_from(&account)
    };
    let receipt = ledger.transfer(now).await.unwrap();
    let fresh = alice.ok(&delta).await;
    let booked = fresh["transactions"]["booked"].as_array().unwrap();
    assert_eq!(booked.len(), 1, "{fresh}");
    assert_eq!(
        booked[0]["transactionId"],
        receipt.transaction_id.to_string()
    );
    assert_eq!(booked[0]["transactionAmount"]["amount"], "-1.23");
    assert_eq!(booked_refs(&alice.ok(&delta).await), Vec::<String>::new());

    // Combinations that contradict a delta report are refused and move nothing.
    let refusals = [
        (
            format!("{delta}&dateFrom=2026-01-01"),
            "PARAMETER_NOT_CONSISTENT",
            "dateFrom",
        ),
        (
            format!("{delta}&dateTo=2099-01-01"),
            "PARAMETER_NOT_CONSISTENT",
            "dateTo",
        ),
        (
            format!("{delta}&entryReferenceFrom=1"),
            "PARAMETER_NOT_CONSISTENT",
            "entryReferenceFrom",
        ),
        (
            format!("{delta}&cursor=x"),
            "PARAMETER_NOT_CONSISTENT",
            "cursor",
        ),
        (
            delta.replace("bookingStatus=booked", "bookingStatus=both"),
            "PARAMETER_NOT_SUPPORTED",
            "bookingStatus",
        ),
        (
            delta.replace("deltaList=true", "deltaList=yes"),
            "FORMAT_ERROR",
            "deltaList",
        ),
    ];
    for (path, code, at) in refusals {
        let refused = alice.get(&path).await;
        refused.assert_refusal(StatusCode::BAD_REQUEST, code, at);
    }
    let later = TransferOrder {
        idempotency_key: "delta-report-2".into(),
        amount: Money::from_minor(4_56, Currency::EUR),
        ..order_from(&account)
    };
    ledger.transfer(later).await.unwrap();
    assert_eq!(
        alice.ok(&delta).await["transactions"]["booked"][0]["transactionAmount"]["amount"],
        "-4.56"
    );

    // Each consent keeps its own mark: a new consent's first delta report starts at the beginning.
    let again = reader(&server, &tpp, "alice", access).await;
    let first_batch = again.ok(&delta).await;
    assert_eq!(
        booked_refs(&first_batch).last(),
        history.last(),
        "the oldest entry first"
    );
    server.stop().await;
}
both_stores!(a_delta_report_holds_only_what_was_booked_since_the_last_delta_report);

/// A transfer from `account` to another bank; key and amount to be set.
fn order_from(account: &Account) -> TransferOrder {
    TransferOrder {
        idempotency_key: String::new(),
        debtor_account: account.id,
        creditor_iban: "DE89370400440532013000".parse().unwrap(),
        creditor_name: Some("Bookshop".into()),
        amount: Money::from_minor(1, Currency::EUR),
        remittance_information: None,
        end_to_end_id: None,
        bank_transaction_code: None,
    }
}
