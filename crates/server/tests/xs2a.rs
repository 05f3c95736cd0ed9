//! XS2A over HTTPS on both stores: transaction reports paged by keyset links
//! and sealed cursors, delta reports (`deltaList`), and the 24-hour
//! idempotency of `X-Request-ID` on consents and payments, also under
//! concurrent duplicates.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

mod support;

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fintechapi_domain::ledger::{Account, EntryFilter, EntryStatus, LedgerRepository, PageStart};
use fintechapi_domain::psu::PsuRepository;
use fintechapi_domain::{Clock, Currency, ManualClock, Money, SystemClock};
use fintechapi_ledger::{Ledger, TransferOrder};
use fintechapi_storage::Store;
use fintechapi_testkit::both_stores;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::xs2a::{Answer, Tpp};
use support::{TestServer, demo_server};

const PSU_PRESENT: &str = "192.0.2.7";

/// The first account of a demo PSU.
async fn account_of(store: &Store, login: &str) -> Account {
    let (psu, _) = store.psu_by_login(login).await.unwrap().unwrap();
    store.accounts_of_psu(psu.id).await.unwrap().remove(0)
}

fn iban(account: &Account) -> String {
    account.iban.as_ref().unwrap().as_str().to_owned()
}

/// The entry references of a report's booked list, as listed.
fn booked_refs(body: &Value) -> Vec<String> {
    body["transactions"]["booked"]
        .as_array()
        .unwrap_or_else(|| panic!("a booked list: {body}"))
        .iter()
        .map(|e| e["entryReference"].as_str().unwrap().to_owned())
        .collect()
}

fn link(body: &Value, name: &str) -> Option<String> {
    body["transactions"]["_links"][name]["href"]
        .as_str()
        .map(str::to_owned)
}

/// A reader of one account under one consent, with the PSU present (no daily limit).
struct Reader<'a> {
    tpp: &'a Tpp,
    token: String,
    consent: String,
}

impl Reader<'_> {
    async fn get(&self, path: &str) -> Answer {
        let headers = [
            ("consent-id", self.consent.as_str()),
            ("psu-ip-address", PSU_PRESENT),
        ];
        self.tpp
            .call(Method::GET, path, &self.token, &headers, None)
            .await
    }

    async fn ok(&self, path: &str) -> Value {
        let a = self.get(path).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.body);
        a.body
    }
}

async fn reader<'a>(server: &TestServer, tpp: &'a Tpp, login: &str, access: Value) -> Reader<'a> {
    let cc = tpp.client_token().await;
    let consent = tpp.consent(&cc, access).await;
    let token = tpp
        .authorise(server, &consent, login, &format!("{login}-demo-2026"))
        .await;
    Reader {
        tpp,
        token,
        consent,
    }
}

both_stores! {
    async fn transaction_pages_cover_every_booked_entry_once_forward_and_back_and_last_is_where_next_ends(db) {
        let server = demo_server(db).await;
        let tpp = Tpp::new(&server, &server.db, "ais");
        let store = server.db.store().await;
        let account = account_of(&store, "alice").await;
        let alice = reader(&server, &tpp, "alice", json!({"balances": [{"iban": iban(&account)}], "transactions": [{"iban": iban(&account)}]})).await;

        // What the pages must add up to: the ledger's booked entries since dateFrom, newest first.
        let from = SystemClock.today() - time::Duration::days(200);
        let filter = EntryFilter { account: account.id, status: Some(EntryStatus::Booked), date_from: Some(from), date_to: None, reference_above: None };
        let expected: Vec<String> = store.entries(&filter, PageStart::Newest, 100_000).await.unwrap().iter().map(|e| e.entry_reference.to_string()).collect();
        assert!(expected.len() > 12, "enough history for several pages: {}", expected.len());
        // About four pages, the last one shorter unless the count divides evenly.
        let size = expected.len() / 4 + 1;
        let start = format!("/v1/accounts/{}/transactions?bookingStatus=booked&dateFrom={from}&withBalance=true&itemsPerPage={size}", account.id);

        let mut pages = Vec::new();
        let mut next = Some(start.clone());
        while let Some(path) = next {
            let page = alice.ok(&path).await;
            next = link(&page, "next");
            pages.push(page);
        }
        let forward: Vec<Vec<String>> = pages.iter().map(booked_refs).collect();
        assert_eq!(forward.concat(), expected, "next visits every entry once, in order");
        assert!(forward[..forward.len() - 1].iter().all(|p| p.len() == size), "full pages until the last");
        assert!(link(&pages[0], "previous").is_none(), "nothing before the first page");
        for page in &pages {
            for name in ["first", "next", "previous", "last"] {
                if let Some(href) = link(page, name) {
                    for kept in ["bookingStatus=booked", &format!("dateFrom={from}"), "withBalance=true", &format!("itemsPerPage={size}")] {
                        assert!(href.contains(kept), "{name} keeps {kept}: {href}");
                    }
                }
            }
            assert_eq!(page["balances"].as_array().map(Vec::len), Some(3), "withBalance on every page");
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
        assert_eq!(backward, forward, "previous visits the same pages back to the first");

        // A cursor is the server's: forged, garbled or carried to another filter it is refused.
        let next_href = link(&pages[0], "next").unwrap();
        let (before_cursor, cursor) = next_href.split_once("cursor=").unwrap();
        let (payload, tag) = cursor.split_once('.').unwrap();
        let position = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        let (head, reference) = position.rsplit_once('|').unwrap();
        let moved = format!("{head}|{}", reference.parse::<i64>().unwrap() - 1);
        let forged = format!("{before_cursor}cursor={}.{tag}", URL_SAFE_NO_PAD.encode(moved));
        let other_filter = next_href.replace("bookingStatus=booked", "bookingStatus=both");
        let truncated = &next_href[..next_href.len() - 3];
        for bad in [forged, other_filter, truncated.to_owned(), format!("{start}&cursor=42"), format!("{start}&cursor=%FF%FE.x")] {
            let refused = alice.get(&bad).await;
            assert_eq!((refused.status, refused.tpp_message()), (StatusCode::BAD_REQUEST, (Some("FORMAT_ERROR"), Some("cursor"))), "{bad}: {}", refused.body);
        }
        let numbered = alice.get(&format!("{start}&pageIndex=2")).await;
        assert_eq!((numbered.status, numbered.tpp_message()), (StatusCode::BAD_REQUEST, (Some("PARAMETER_NOT_SUPPORTED"), Some("pageIndex"))));
        let too_many = alice.get(&format!("/v1/accounts/{}/transactions?bookingStatus=booked&itemsPerPage=1000", account.id)).await;
        assert_eq!(too_many.tpp_message(), (Some("FORMAT_ERROR"), Some("itemsPerPage")));
        server.stop().await;
    }
}

both_stores! {
    async fn a_delta_report_holds_only_what_was_booked_since_the_last_delta_report(db) {
        let server = demo_server(db).await;
        let tpp = Tpp::new(&server, &server.db, "ais");
        let store = server.db.store().await;
        let account = account_of(&store, "alice").await;
        let access = json!({"transactions": [{"iban": iban(&account)}]});
        let alice = reader(&server, &tpp, "alice", access.clone()).await;
        let delta = format!("/v1/accounts/{}/transactions?bookingStatus=booked&deltaList=true", account.id);
        let all_booked = EntryFilter { account: account.id, status: Some(EntryStatus::Booked), date_from: None, date_to: None, reference_above: None };
        let history: Vec<String> = store.entries(&all_booked, PageStart::Newest, 100_000).await.unwrap().iter().map(|e| e.entry_reference.to_string()).collect();
        assert!(history.len() > 50, "more than one delta batch: {}", history.len());

        // The first delta report is the whole booked history, in batches, the oldest first.
        let mut reported: Vec<String> = Vec::new();
        let mut next = Some(delta.clone());
        while let Some(path) = next {
            let batch = alice.ok(&path).await;
            assert!(link(&batch, "first").is_none() && link(&batch, "last").is_none(), "a delta report is not paged by cursor");
            next = link(&batch, "next");
            reported.splice(0..0, booked_refs(&batch));
        }
        assert_eq!(reported, history);
        assert_eq!(booked_refs(&alice.ok(&delta).await), Vec::<String>::new(), "nothing new, nothing reported");

        // A transfer booked now is in the next delta report, and only there.
        let ledger = Ledger::new(store.clone(), Arc::new(SystemClock));
        let now = TransferOrder { idempotency_key: "delta-report-1".into(), amount: Money::from_minor(1_23, Currency::EUR), ..order_from(&account) };
        let receipt = ledger.transfer(now).await.unwrap();
        let fresh = alice.ok(&delta).await;
        let booked = fresh["transactions"]["booked"].as_array().unwrap();
        assert_eq!(booked.len(), 1, "{fresh}");
        assert_eq!(booked[0]["transactionId"], receipt.transaction_id.to_string());
        assert_eq!(booked[0]["transactionAmount"]["amount"], "-1.23");
        assert_eq!(booked_refs(&alice.ok(&delta).await), Vec::<String>::new());

        // Combinations that contradict a delta report are refused and move nothing.
        let refusals = [
            (format!("{delta}&dateFrom=2026-01-01"), "PARAMETER_NOT_CONSISTENT", "dateFrom"),
            (format!("{delta}&dateTo=2099-01-01"), "PARAMETER_NOT_CONSISTENT", "dateTo"),
            (format!("{delta}&entryReferenceFrom=1"), "PARAMETER_NOT_CONSISTENT", "entryReferenceFrom"),
            (format!("{delta}&cursor=x"), "PARAMETER_NOT_CONSISTENT", "cursor"),
            (delta.replace("bookingStatus=booked", "bookingStatus=both"), "PARAMETER_NOT_SUPPORTED", "bookingStatus"),
            (delta.replace("deltaList=true", "deltaList=yes"), "FORMAT_ERROR", "deltaList"),
        ];
        for (path, code, at) in refusals {
            let refused = alice.get(&path).await;
            assert_eq!((refused.status, refused.tpp_message()), (StatusCode::BAD_REQUEST, (Some(code), Some(at))), "{path}: {}", refused.body);
        }
        let later = TransferOrder { idempotency_key: "delta-report-2".into(), amount: Money::from_minor(4_56, Currency::EUR), ..order_from(&account) };
        ledger.transfer(later).await.unwrap();
        assert_eq!(alice.ok(&delta).await["transactions"]["booked"][0]["transactionAmount"]["amount"], "-4.56");

        // Each consent keeps its own mark: a new consent's first delta report starts at the beginning.
        let again = reader(&server, &tpp, "alice", access).await;
        let first_batch = again.ok(&delta).await;
        assert_eq!(booked_refs(&first_batch).last(), history.last(), "the oldest entry first");
        server.stop().await;
    }
}

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

fn consent_body(access: Value) -> Value {
    json!({"access": access, "recurringIndicator": true, "validUntil": "2099-12-31", "frequencyPerDay": 4})
}

fn payment_body(debtor: &Account, amount: &str) -> Value {
    json!({"instructedAmount": {"currency": "EUR", "amount": amount}, "debtorAccount": {"iban": iban(debtor)}, "creditorName": "Landlord", "creditorAccount": {"iban": "DE02120300000000202051"}})
}

async fn count(server: &TestServer, table: &str) -> String {
    server
        .db
        .raw_strings(&format!("SELECT CAST(COUNT(*) AS TEXT) FROM {table}"))
        .await
        .remove(0)
}

both_stores! {
    async fn an_x_request_id_names_one_consent_and_one_payment_for_24_hours(db) {
        let clock = ManualClock::new(SystemClock.now());
        let server = support::demo_server_at(db, &clock).await;
        let tpp = Tpp::new(&server, &server.db, "ais,pis");
        let debtor = account_of(&server.db.store().await, "bob").await;
        let request_id = uuid::Uuid::new_v4().to_string();
        let consent = consent_body(json!({"allPsd2": "allAccounts"}));
        let other_consent = consent_body(json!({"availableAccounts": "allAccounts"}));
        let payment = payment_body(&debtor, "10.00");
        let other_payment = payment_body(&debtor, "11.00");
        let payments = "/v1/payments/sepa-credit-transfers";
        // Both resources with the one X-Request-ID; the ids created, or the refusal.
        let post = |body: &Value, path: &'static str| {
            let (tpp, request_id, body) = (&tpp, request_id.clone(), body.clone());
            async move {
                let token = tpp.client_token().await;
                tpp.call_as(&request_id, Method::POST, path, &token, &[("psu-ip-address", PSU_PRESENT)], Some(&body)).await
            }
        };
        let created = |a: &Answer, key: &str| {
            assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
            a.body[key].as_str().unwrap().to_owned()
        };

        let first_consent = created(&post(&consent, "/v1/consents").await, "consentId");
        let first_payment = created(&post(&payment, payments).await, "paymentId");

        // A second before the day is over: the first answer again, another body refused.
        clock.advance(time::Duration::hours(24) - time::Duration::seconds(1));
        assert_eq!(created(&post(&consent, "/v1/consents").await, "consentId"), first_consent);
        assert_eq!(created(&post(&payment, payments).await, "paymentId"), first_payment);
        for (body, path) in [(&other_consent, "/v1/consents"), (&other_payment, payments)] {
            let refused = post(body, path).await;
            assert_eq!((refused.status, refused.tpp_message()), (StatusCode::BAD_REQUEST, (Some("FORMAT_ERROR"), Some("X-Request-ID"))), "{path}: {}", refused.body);
            assert!(refused.body["tppMessages"][0]["text"].as_str().unwrap().contains("24 hours"));
        }
        assert_eq!((count(&server, "consents").await, count(&server, "payments").await), ("1".into(), "1".into()));

        // 24 hours after the first use the X-Request-ID creates anew, and names the new ones.
        clock.advance(time::Duration::seconds(1));
        let second_consent = created(&post(&consent, "/v1/consents").await, "consentId");
        let second_payment = created(&post(&payment, payments).await, "paymentId");
        assert_ne!(second_consent, first_consent);
        assert_ne!(second_payment, first_payment);
        clock.advance(time::Duration::hours(1));
        assert_eq!(created(&post(&consent, "/v1/consents").await, "consentId"), second_consent);
        assert_eq!(created(&post(&payment, payments).await, "paymentId"), second_payment);
        assert_eq!(post(&other_consent, "/v1/consents").await.tpp_message(), (Some("FORMAT_ERROR"), Some("X-Request-ID")));
        assert_eq!((count(&server, "consents").await, count(&server, "payments").await), ("2".into(), "2".into()));

        // The first ones are still there, unchanged.
        let cc = tpp.client_token().await;
        let read = tpp.call(Method::GET, &format!("/v1/consents/{first_consent}"), &cc, &[], None).await;
        assert_eq!((read.status, read.body["consentStatus"].as_str()), (StatusCode::OK, Some("received")));
        let status = tpp.call(Method::GET, &format!("{payments}/{first_payment}/status"), &cc, &[], None).await;
        assert_eq!((status.status, status.body["transactionStatus"].as_str()), (StatusCode::OK, Some("RCVD")));
        server.stop().await;
    }
}

both_stores! {
    async fn concurrent_duplicates_of_one_request_create_one_consent_and_one_payment(db) {
        let server = demo_server(db).await;
        let tpp = Tpp::new(&server, &server.db, "ais,pis");
        let cc = tpp.client_token().await;
        let debtor = account_of(&server.db.store().await, "bob").await;
        for (path, body, key) in [
            ("/v1/consents", consent_body(json!({"allPsd2": "allAccounts"})), "consentId"),
            ("/v1/payments/sepa-credit-transfers", payment_body(&debtor, "3.00"), "paymentId"),
        ] {
            let request_id = uuid::Uuid::new_v4().to_string();
            let send = || tpp.call_as(&request_id, Method::POST, path, &cc, &[("psu-ip-address", PSU_PRESENT)], Some(&body));
            let (a, b, c, d, e, f) = tokio::join!(send(), send(), send(), send(), send(), send());
            let ids: Vec<String> = [a, b, c, d, e, f].iter().map(|r| {
                assert_eq!(r.status, StatusCode::CREATED, "{path}: {}", r.body);
                r.body[key].as_str().unwrap().to_owned()
            }).collect();
            assert!(ids.iter().all(|id| *id == ids[0]), "{path}: one resource for all: {ids:?}");
        }
        assert_eq!((count(&server, "consents").await, count(&server, "payments").await), ("1".into(), "1".into()));
        server.stop().await;
    }
}
