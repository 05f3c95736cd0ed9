//! XS2A over HTTPS on both stores: transaction reports paged by keyset links
//! and sealed cursors, delta reports (`deltaList`), and the 24-hour
//! idempotency of `X-Request-ID` on consents and payments, also under
//! concurrent duplicates.

use std::sync::Arc;

use crate::support::xs2a::{Answer, Tpp};
use crate::support::{TestServer, demo_server};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fintechapi_domain::ledger::{Account, EntryFilter, EntryStatus, LedgerRepository, PageStart};
use fintechapi_domain::psu::PsuRepository;
use fintechapi_domain::{Clock, Currency, ManualClock, Money, SystemClock};
use fintechapi_ledger::{Ledger, TransferOrder};
use fintechapi_storage::Store;
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

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
        self.tpp.get(path, &self.token, &headers).await
    }

    async fn ok(&self, path: &str) -> Value {
        let a = self.get(path).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.body);
        a.body
    }
}

async fn reader<'a>(server: &TestServer, tpp: &'a Tpp, login: &str, access: Value) -> Reader<'a> {
    let cc = tpp.client_token().await;
    let consent = tpp.consent(&cc, access, 4).await;
    let token = tpp
        .authorise(server, &consent, login, &format!("{login}-demo-2026"))
        .await;
    Reader {
        tpp,
        token,
        consent,
    }
}

async fn transaction_pages_cover_every_booked_entry_once_forward_and_back_and_last_is_where_next_ends(
    db: TestDb,
) {
    let server = demo_server(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let store = server.db.store().await;
    let account = account_of(&store, "alice").await;
    let alice = reader(
        &server,
        &tpp,
        "alice",
        json!({"balances": [{"iban": iban(&account)}], "transactions": [{"iban": iban(&account)}]}),
    )
    .await;

    // What the pages must add up to: the ledger's booked entries since dateFrom, newest first.
    let from = SystemClock.today() - time::Duration::days(200);
    let filter = EntryFilter {
        account: account.id,
        status: Some(EntryStatus::Booked),
        date_from: Some(from),
        date_to: None,
        reference_above: None,
    };
    let expected: Vec<String> = store
        .entries(&filter, PageStart::Newest, 100_000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.entry_reference.to_string())
        .collect();
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
        assert_eq!(
            (refused.status, refused.tpp_message()),
            (
                StatusCode::BAD_REQUEST,
                (Some("FORMAT_ERROR"), Some("cursor"))
            ),
            "{bad}: {}",
            refused.body
        );
    }
    let numbered = alice.get(&format!("{start}&pageIndex=2")).await;
    assert_eq!(
        (numbered.status, numbered.tpp_message()),
        (
            StatusCode::BAD_REQUEST,
            (Some("PARAMETER_NOT_SUPPORTED"), Some("pageIndex"))
        )
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
    let server = demo_server(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let store = server.db.store().await;
    let account = account_of(&store, "alice").await;
    let access = json!({"transactions": [{"iban": iban(&account)}]});
    let alice = reader(&server, &tpp, "alice", access.clone()).await;
    let delta = format!(
        "/v1/accounts/{}/transactions?bookingStatus=booked&deltaList=true",
        account.id
    );
    let all_booked = EntryFilter {
        account: account.id,
        status: Some(EntryStatus::Booked),
        date_from: None,
        date_to: None,
        reference_above: None,
    };
    let history: Vec<String> = store
        .entries(&all_booked, PageStart::Newest, 100_000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.entry_reference.to_string())
        .collect();
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
        assert_eq!(
            (refused.status, refused.tpp_message()),
            (StatusCode::BAD_REQUEST, (Some(code), Some(at))),
            "{path}: {}",
            refused.body
        );
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

fn consent_body(access: Value) -> Value {
    json!({"access": access, "recurringIndicator": true, "validUntil": "2099-12-31", "frequencyPerDay": 4, "combinedServiceIndicator": false})
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

async fn an_x_request_id_names_one_consent_and_one_payment_for_24_hours(db: TestDb) {
    let clock = ManualClock::new(SystemClock.now());
    let server = crate::support::demo_server_at(db, &clock).await;
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
            tpp.call_as(
                &request_id,
                Method::POST,
                path,
                &token,
                &[("psu-ip-address", PSU_PRESENT)],
                Some(&body),
            )
            .await
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
    assert_eq!(
        created(&post(&consent, "/v1/consents").await, "consentId"),
        first_consent
    );
    assert_eq!(
        created(&post(&payment, payments).await, "paymentId"),
        first_payment
    );
    for (body, path) in [(&other_consent, "/v1/consents"), (&other_payment, payments)] {
        let refused = post(body, path).await;
        assert_eq!(
            (refused.status, refused.tpp_message()),
            (
                StatusCode::BAD_REQUEST,
                (Some("FORMAT_ERROR"), Some("X-Request-ID"))
            ),
            "{path}: {}",
            refused.body
        );
        assert!(
            refused.body["tppMessages"][0]["text"]
                .as_str()
                .unwrap()
                .contains("24 hours")
        );
    }
    assert_eq!(
        (
            count(&server, "consents").await,
            count(&server, "payments").await
        ),
        ("1".into(), "1".into())
    );

    // 24 hours after the first use the X-Request-ID creates anew, and names the new ones.
    clock.advance(time::Duration::seconds(1));
    let second_consent = created(&post(&consent, "/v1/consents").await, "consentId");
    let second_payment = created(&post(&payment, payments).await, "paymentId");
    assert_ne!(second_consent, first_consent);
    assert_ne!(second_payment, first_payment);
    clock.advance(time::Duration::hours(1));
    assert_eq!(
        created(&post(&consent, "/v1/consents").await, "consentId"),
        second_consent
    );
    assert_eq!(
        created(&post(&payment, payments).await, "paymentId"),
        second_payment
    );
    assert_eq!(
        post(&other_consent, "/v1/consents").await.tpp_message(),
        (Some("FORMAT_ERROR"), Some("X-Request-ID"))
    );
    assert_eq!(
        (
            count(&server, "consents").await,
            count(&server, "payments").await
        ),
        ("2".into(), "2".into())
    );

    // The first ones are still there, unchanged.
    let cc = tpp.client_token().await;
    let read = tpp
        .get(&format!("/v1/consents/{first_consent}"), &cc, &[])
        .await;
    assert_eq!(
        (read.status, read.body["consentStatus"].as_str()),
        (StatusCode::OK, Some("received"))
    );
    let status = tpp
        .get(&format!("{payments}/{first_payment}/status"), &cc, &[])
        .await;
    assert_eq!(
        (status.status, status.body["transactionStatus"].as_str()),
        (StatusCode::OK, Some("RCVD"))
    );
    server.stop().await;
}
both_stores!(an_x_request_id_names_one_consent_and_one_payment_for_24_hours);

async fn concurrent_duplicates_of_one_request_create_one_consent_and_one_payment(db: TestDb) {
    let server = demo_server(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais,pis");
    let cc = tpp.client_token().await;
    let debtor = account_of(&server.db.store().await, "bob").await;
    for (path, body, key) in [
        (
            "/v1/consents",
            consent_body(json!({"allPsd2": "allAccounts"})),
            "consentId",
        ),
        (
            "/v1/payments/sepa-credit-transfers",
            payment_body(&debtor, "3.00"),
            "paymentId",
        ),
    ] {
        let request_id = uuid::Uuid::new_v4().to_string();
        let send = || {
            tpp.call_as(
                &request_id,
                Method::POST,
                path,
                &cc,
                &[("psu-ip-address", PSU_PRESENT)],
                Some(&body),
            )
        };
        let (a, b, c, d, e, f) = tokio::join!(send(), send(), send(), send(), send(), send());
        let ids: Vec<String> = [a, b, c, d, e, f]
            .iter()
            .map(|r| {
                assert_eq!(r.status, StatusCode::CREATED, "{path}: {}", r.body);
                r.body[key].as_str().unwrap().to_owned()
            })
            .collect();
        assert!(
            ids.iter().all(|id| *id == ids[0]),
            "{path}: one resource for all: {ids:?}"
        );
    }
    assert_eq!(
        (
            count(&server, "consents").await,
            count(&server, "payments").await
        ),
        ("1".into(), "1".into())
    );
    server.stop().await;
}
both_stores!(concurrent_duplicates_of_one_request_create_one_consent_and_one_payment);

/// A consent of `body` authorised by `login` at the bank: (consent id, PSU token).
async fn authorised(server: &TestServer, tpp: &Tpp, login: &str, body: &Value) -> (String, String) {
    let cc = tpp.client_token().await;
    let created = tpp
        .call(Method::POST, "/v1/consents", &cc, &[], Some(body))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let consent = created.body["consentId"].as_str().unwrap().to_owned();
    let token = tpp
        .authorise(server, &consent, login, &format!("{login}-demo-2026"))
        .await;
    (consent, token)
}

/// The first tppMessage's text.
fn text(a: &Answer) -> &str {
    a.body["tppMessages"][0]["text"]
        .as_str()
        .unwrap_or_default()
}

async fn every_xs2a_call_needs_the_tpps_own_x_request_id_as_a_uuid(db: TestDb) {
    let server = demo_server(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais,pis");
    let cc = tpp.client_token().await;
    let (consent, psu_token) = authorised(
        &server,
        &tpp,
        "alice",
        &consent_body(json!({"allPsd2": "allAccounts"})),
    )
    .await;
    let send =
        |method: Method, path: &str, token: &str, request_id: Option<&str>, body: Option<Value>| {
            let mut req = tpp
                .http
                .request(method, format!("{}{path}", tpp.base))
                .bearer_auth(token)
                .header("consent-id", &consent)
                .header("psu-ip-address", PSU_PRESENT);
            if let Some(id) = request_id {
                req = req.header("x-request-id", id);
            }
            if let Some(body) = body {
                req = req.json(&body);
            }
            async move { Answer::of(req.send().await.unwrap()).await }
        };
    // Without it, or with anything but a UUID: 400 before anything happens,
    // also on the routes that refuse every request.
    let calls = [
        (
            Method::GET,
            "/v1/accounts".to_owned(),
            psu_token.as_str(),
            None,
        ),
        (
            Method::POST,
            "/v1/consents".to_owned(),
            cc.as_str(),
            Some(consent_body(json!({"allPsd2": "allAccounts"}))),
        ),
        (
            Method::GET,
            format!("/v1/consents/{consent}"),
            cc.as_str(),
            None,
        ),
        (
            Method::PUT,
            format!("/v1/consents/{consent}/authorisations/x"),
            cc.as_str(),
            Some(json!({})),
        ),
        (
            Method::POST,
            "/v1/signing-baskets".to_owned(),
            cc.as_str(),
            Some(json!({})),
        ),
    ];
    for (method, path, token, body) in calls {
        for request_id in [None, Some("not-a-uuid"), Some("12345")] {
            let refused = send(method.clone(), &path, token, request_id, body.clone()).await;
            assert_eq!(
                (refused.status, refused.tpp_message()),
                (
                    StatusCode::BAD_REQUEST,
                    (Some("FORMAT_ERROR"), Some("X-Request-ID"))
                ),
                "{method} {path} {request_id:?}: {}",
                refused.body
            );
        }
    }
    assert_eq!(
        count(&server, "consents").await,
        "1",
        "no consent made without an X-Request-ID"
    );
    let id = uuid::Uuid::new_v4().to_string();
    let read = send(Method::GET, "/v1/accounts", &psu_token, Some(&id), None).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    server.stop().await;
}
both_stores!(every_xs2a_call_needs_the_tpps_own_x_request_id_as_a_uuid);

async fn psu_ip_address_is_checked_before_it_lifts_the_daily_limit_and_a_one_off_consent_serves_one_read(
    db: TestDb,
) {
    let server = demo_server(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let cc = tpp.client_token().await;
    let once = json!({"access": {"allPsd2": "allAccounts"}, "recurringIndicator": false, "validUntil": "2099-12-31", "frequencyPerDay": 1, "combinedServiceIndicator": false});
    let mut more = once.clone();
    more["frequencyPerDay"] = json!(4);
    let refused = tpp
        .call(Method::POST, "/v1/consents", &cc, &[], Some(&more))
        .await;
    assert_eq!(
        (refused.status, refused.tpp_message()),
        (
            StatusCode::BAD_REQUEST,
            (Some("FORMAT_ERROR"), Some("frequencyPerDay"))
        )
    );

    // A recurring consent with one access a day without the PSU.
    let mut daily = once.clone();
    daily["recurringIndicator"] = json!(true);
    let (consent, token) = authorised(&server, &tpp, "alice", &daily).await;
    let read = |ip: Option<&'static str>| {
        let (tpp, token, consent) = (&tpp, token.clone(), consent.clone());
        async move {
            let mut headers = vec![("consent-id", consent.as_str())];
            headers.extend(ip.map(|ip| ("psu-ip-address", ip)));
            tpp.get("/v1/accounts", &token, &headers).await
        }
    };
    for bad in ["not-an-ip", "192.0.2.300", "192.0.2.7, 10.0.0.1", ""] {
        let refused = read(Some(bad)).await;
        assert_eq!(
            (refused.status, refused.tpp_message()),
            (
                StatusCode::BAD_REQUEST,
                (Some("FORMAT_ERROR"), Some("PSU-IP-Address"))
            ),
            "{bad:?}: {}",
            refused.body
        );
    }
    assert_eq!(
        read(None).await.status,
        StatusCode::OK,
        "the one access without the PSU; the refusals above counted none"
    );
    assert_eq!(read(None).await.tpp_message().0, Some("ACCESS_EXCEEDED"));
    assert_eq!(read(Some(PSU_PRESENT)).await.status, StatusCode::OK);
    assert_eq!(
        read(Some("2001:db8::7")).await.status,
        StatusCode::OK,
        "an IPv6 PSU"
    );

    // A one-off consent: its first read is its one access, PSU present or not.
    let (consent, token) = authorised(&server, &tpp, "bob", &once).await;
    let headers = [
        ("consent-id", consent.as_str()),
        ("psu-ip-address", PSU_PRESENT),
    ];
    let first = tpp.get("/v1/accounts", &token, &headers).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let account = first.body["accounts"][0]["resourceId"]
        .as_str()
        .unwrap()
        .to_owned();
    for path in [
        "/v1/accounts".to_owned(),
        format!("/v1/accounts/{account}/balances"),
    ] {
        let used = tpp.get(&path, &token, &headers).await;
        assert_eq!(
            (used.status, used.tpp_message().0),
            (StatusCode::UNAUTHORIZED, Some("CONSENT_EXPIRED")),
            "{path}: {}",
            used.body
        );
        assert!(text(&used).contains("one-off"), "{}", used.body);
    }
    let status = tpp
        .get(&format!("/v1/consents/{consent}/status"), &cc, &[])
        .await;
    assert_eq!(status.body["consentStatus"], "expired");
    server.stop().await;
}
both_stores!(
    psu_ip_address_is_checked_before_it_lifts_the_daily_limit_and_a_one_off_consent_serves_one_read
);

async fn refusals_follow_the_spec_error_model(db: TestDb) {
    let server = demo_server(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais,pis");
    let cc = tpp.client_token().await;
    let debtor = account_of(&server.db.store().await, "bob").await;
    let payments = "/v1/payments/sepa-credit-transfers";
    let psu = [("psu-ip-address", PSU_PRESENT)];

    // Amounts: the spec's pattern has at most 14 integer digits; a text quoting input stays within 500 characters.
    let most = tpp
        .call(
            Method::POST,
            payments,
            &cc,
            &psu,
            Some(&payment_body(&debtor, "99999999999999.99")),
        )
        .await;
    assert_eq!(most.status, StatusCode::CREATED, "{}", most.body);
    for amount in ["100000000000000", "123456789012345.00"] {
        let refused = tpp
            .call(
                Method::POST,
                payments,
                &cc,
                &psu,
                Some(&payment_body(&debtor, amount)),
            )
            .await;
        assert_eq!(
            (refused.status, refused.tpp_message()),
            (
                StatusCode::BAD_REQUEST,
                (Some("FORMAT_ERROR"), Some("instructedAmount.amount"))
            ),
            "{amount}: {}",
            refused.body
        );
    }
    let long = format!("1.{}", "5".repeat(2000));
    let refused = tpp
        .call(
            Method::POST,
            payments,
            &cc,
            &psu,
            Some(&payment_body(&debtor, &long)),
        )
        .await;
    assert_eq!(
        refused.tpp_message(),
        (Some("FORMAT_ERROR"), Some("instructedAmount.amount"))
    );
    assert_eq!(text(&refused).chars().count(), 500, "{}", text(&refused));

    // A cancelled payment cannot be cancelled again: 405.
    let id = most.body["paymentId"].as_str().unwrap();
    let cancel = tpp.delete(&format!("{payments}/{id}"), &cc, &[]).await;
    assert_eq!(cancel.status, StatusCode::NO_CONTENT);
    let again = tpp.delete(&format!("{payments}/{id}"), &cc, &[]).await;
    assert_eq!(
        (again.status, again.tpp_message().0),
        (StatusCode::METHOD_NOT_ALLOWED, Some("CANCELLATION_INVALID")),
        "{}",
        again.body
    );

    // combinedServiceIndicator is required.
    let mut body = consent_body(json!({"allPsd2": "allAccounts"}));
    body.as_object_mut()
        .unwrap()
        .remove("combinedServiceIndicator");
    let refused = tpp
        .call(Method::POST, "/v1/consents", &cc, &[], Some(&body))
        .await;
    assert_eq!(
        (refused.status, refused.tpp_message()),
        (
            StatusCode::BAD_REQUEST,
            (Some("FORMAT_ERROR"), Some("combinedServiceIndicator"))
        )
    );

    // Account reads: a client token without Consent-ID is a malformed request;
    // with one it did not authorise by Redirect, the consent is invalid and
    // the 401 says how to authenticate.
    let consent = tpp.consent(&cc, json!({"allPsd2": "allAccounts"}), 4).await;
    let missing = tpp.get("/v1/accounts", &cc, &[]).await;
    assert_eq!(
        (missing.status, missing.tpp_message()),
        (
            StatusCode::BAD_REQUEST,
            (Some("FORMAT_ERROR"), Some("Consent-ID"))
        )
    );
    let invalid = tpp
        .http
        .get(format!("{}/v1/accounts", tpp.base))
        .bearer_auth(&cc)
        .header("x-request-id", uuid::Uuid::new_v4().to_string())
        .header("consent-id", &consent)
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), StatusCode::UNAUTHORIZED);
    let challenge = invalid.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\""),
        "{challenge}"
    );
    assert_eq!(
        invalid.json::<Value>().await.unwrap()["tppMessages"][0]["code"],
        "CONSENT_INVALID"
    );

    // RFC 6750 §3.1: no token, no error code in the challenge; a bad token, invalid_token.
    let no_token = tpp
        .http
        .get(format!("{}/v1/accounts", tpp.base))
        .header("x-request-id", uuid::Uuid::new_v4().to_string())
        .header("consent-id", &consent)
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);
    let challenge = no_token.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer") && !challenge.contains("error"),
        "{challenge}"
    );
    let bad = tpp
        .call(
            Method::GET,
            "/v1/accounts",
            "no-such-token",
            &[("consent-id", &consent)],
            None,
        )
        .await;
    assert_eq!(
        (bad.status, bad.tpp_message().0),
        (StatusCode::UNAUTHORIZED, Some("TOKEN_INVALID"))
    );

    // The router's own refusals under /v1 are tppMessages too.
    let unknown = tpp.get("/v1/no-such-service", &cc, &[]).await;
    assert_eq!(
        (unknown.status, unknown.tpp_message().0),
        (StatusCode::NOT_FOUND, Some("RESOURCE_UNKNOWN")),
        "{}",
        unknown.body
    );
    let method = tpp.delete("/v1/accounts", &cc, &[]).await;
    assert_eq!(method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(method.tpp_message().0.is_some(), "{}", method.body);
    let big = json!({"access": {"allPsd2": "x".repeat(2 * 1024 * 1024)}});
    let too_large = tpp
        .call(Method::POST, "/v1/consents", &cc, &[], Some(&big))
        .await;
    assert_eq!(
        (too_large.status, too_large.tpp_message().0),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("FORMAT_ERROR")),
        "{}",
        too_large.body
    );
    server.stop().await;
}
both_stores!(refusals_follow_the_spec_error_model);

async fn formats_not_produced_are_refused_with_406(db: TestDb) {
    let server = demo_server(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais,pis");
    let cc = tpp.client_token().await;
    let debtor = account_of(&server.db.store().await, "bob").await;
    let payments = "/v1/payments/sepa-credit-transfers";
    let created = tpp
        .call(
            Method::POST,
            payments,
            &cc,
            &[("psu-ip-address", PSU_PRESENT)],
            Some(&payment_body(&debtor, "5.00")),
        )
        .await;
    let status = format!(
        "{payments}/{}/status",
        created.body["paymentId"].as_str().unwrap()
    );
    for accept in [
        "application/xml",
        "text/plain",
        "application/json;q=0, application/xml",
    ] {
        let refused = tpp
            .call(Method::GET, &status, &cc, &[("accept", accept)], None)
            .await;
        assert_eq!(
            (refused.status, refused.tpp_message()),
            (
                StatusCode::NOT_ACCEPTABLE,
                (Some("REQUESTED_FORMATS_INVALID"), Some("Accept"))
            ),
            "{accept}: {}",
            refused.body
        );
    }
    for accept in [
        "*/*",
        "application/json",
        "application/xml;q=0.9, application/json",
        "application/*",
    ] {
        let served = tpp
            .call(Method::GET, &status, &cc, &[("accept", accept)], None)
            .await;
        assert_eq!(
            (served.status, served.body["transactionStatus"].as_str()),
            (StatusCode::OK, Some("RCVD")),
            "{accept}"
        );
    }

    let account = account_of(&server.db.store().await, "alice").await;
    let alice = reader(
        &server,
        &tpp,
        "alice",
        json!({"transactions": [{"iban": iban(&account)}]}),
    )
    .await;
    let transactions = format!(
        "/v1/accounts/{}/transactions?bookingStatus=booked",
        account.id
    );
    let headers = [
        ("consent-id", alice.consent.as_str()),
        ("psu-ip-address", PSU_PRESENT),
    ];
    for accept in ["text/plain", "application/xml"] {
        let refused = tpp
            .call(
                Method::GET,
                &transactions,
                &alice.token,
                &[headers[0], headers[1], ("accept", accept)],
                None,
            )
            .await;
        assert_eq!(
            (refused.status, refused.tpp_message().0),
            (
                StatusCode::NOT_ACCEPTABLE,
                Some("REQUESTED_FORMATS_INVALID")
            ),
            "{accept}: {}",
            refused.body
        );
    }
    let served = tpp
        .call(
            Method::GET,
            &transactions,
            &alice.token,
            &[headers[0], headers[1], ("accept", "application/json")],
            None,
        )
        .await;
    assert_eq!(served.status, StatusCode::OK, "{}", served.body);
    server.stop().await;
}
both_stores!(formats_not_produced_are_refused_with_406);
