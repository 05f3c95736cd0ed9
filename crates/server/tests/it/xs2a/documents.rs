//! An account's transaction report read as JSON, as a camt document
//! (`Accept: application/xml`) and as an MT940 statement (`Accept:
//! text/plain`): every booked entry is in each, with its amount, sign, dates,
//! reference and counterparty, and the documents' balances add up.

use fintechapi_domain::ids::TransactionId;
use fintechapi_domain::ledger::{EntryStatus, LedgerRepository, NewTransfer, Party};
use fintechapi_domain::psu::PsuRepository;
use fintechapi_domain::{Clock, Currency, Money, SystemClock};
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{PSU_PRESENT, account_of, iban, reader};
use crate::support::demo_server;
use crate::support::xs2a::{Answer, Reader};

/// A booked entry as the JSON report shows it.
#[derive(Debug)]
struct Booked {
    reference: String,
    /// Minor units, negative for a debit.
    minor: i64,
    booking_date: String,
    value_date: String,
    counterparty: String,
    counterparty_iban: Option<String>,
}

fn minor(amount: &str) -> i64 {
    let (whole, cents) = amount.trim_start_matches('-').split_once('.').unwrap();
    let magnitude = whole.parse::<i64>().unwrap() * 100 + cents.parse::<i64>().unwrap();
    if amount.starts_with('-') {
        -magnitude
    } else {
        magnitude
    }
}

fn booked(body: &Value) -> Vec<Booked> {
    body["transactions"]["booked"]
        .as_array()
        .unwrap_or_else(|| panic!("a booked list: {body}"))
        .iter()
        .map(|e| {
            let minor = minor(e["transactionAmount"]["amount"].as_str().unwrap());
            let (name, account) = match minor < 0 {
                true => ("creditorName", "creditorAccount"),
                false => ("debtorName", "debtorAccount"),
            };
            Booked {
                reference: e["entryReference"].as_str().unwrap().to_owned(),
                minor,
                booking_date: e["bookingDate"].as_str().unwrap().to_owned(),
                value_date: e["valueDate"].as_str().unwrap().to_owned(),
                counterparty: e[name].as_str().unwrap_or_else(|| panic!("{e}")).to_owned(),
                counterparty_iban: e[account]["iban"].as_str().map(str::to_owned),
            }
        })
        .collect()
}

async fn read(alice: &Reader<'_>, path: &str, accept: &str) -> Answer {
    let headers = [
        ("consent-id", alice.consent.as_str()),
        ("psu-ip-address", PSU_PRESENT),
        ("accept", accept),
    ];
    alice.tpp.get(path, &alice.token, &headers).await
}

/// The text of the first `<tag>` in `xml`, unescaped.
fn element(xml: &str, tag: &str) -> Option<String> {
    let start = xml.find(&format!("<{tag}"))?;
    let rest = &xml[start..];
    let open_end = rest.find('>')? + 1;
    let close = rest.find(&format!("</{tag}>"))?;
    Some(
        rest[open_end..close]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// A camt balance of type `code` in minor units, signed.
fn camt_balance(xml: &str, code: &str) -> Option<i64> {
    let at = xml.find(&format!("<Cd>{code}</Cd>"))?;
    let rest = &xml[at..];
    let sign = match element(rest, "CdtDbtInd")?.as_str() {
        "DBIT" => -1,
        _ => 1,
    };
    Some(sign * minor(&element(rest, "Amt")?))
}

/// German umlauts as MT940's X character set writes them.
fn transliterated(text: &str) -> String {
    text.replace('ä', "ae")
        .replace('ö', "oe")
        .replace('ü', "ue")
        .replace('Ä', "Ae")
        .replace('Ö', "Oe")
        .replace('Ü', "Ue")
        .replace('ß', "ss")
        .replace('&', "+")
}

/// `D25,50` / `C100,00` in minor units, signed.
fn mt940_amount(mark: &str, amount: &str) -> i64 {
    let magnitude = minor(&amount.replace(',', "."));
    if mark == "D" { -magnitude } else { magnitude }
}

/// `:60F:`/`:62F:` content: `C261101EUR123,45` in minor units.
fn mt940_balance(field: &str) -> i64 {
    let (mark, rest) = field.split_at(1);
    mt940_amount(mark, &rest[9..])
}

fn yymmdd(date: &str) -> String {
    date[2..].replace('-', "")
}

async fn every_booked_entry_is_in_the_json_the_camt_and_the_mt940_report(db: TestDb) {
    let server = demo_server(db).await;
    let tpp = crate::support::xs2a::Tpp::new(&server, &server.db, "ais");
    let store = server.db.store().await;
    let account = account_of(&store, "alice").await;
    let alice = reader(
        &server,
        &tpp,
        "alice",
        json!({"balances": [{"iban": iban(&account)}], "transactions": [{"iban": iban(&account)}]}),
    )
    .await;
    let today = SystemClock.today();
    let (from, to) = (
        today - time::Duration::days(120),
        today - time::Duration::days(1),
    );
    let path = format!(
        "/v1/accounts/{}/transactions?bookingStatus=booked&dateFrom={from}&dateTo={to}",
        account.id
    );

    // JSON, every page.
    let mut expected = Vec::new();
    let mut next = Some(format!("{path}&itemsPerPage=100"));
    while let Some(page) = next {
        let body = alice.ok(&page).await;
        expected.extend(booked(&body));
        next = body["transactions"]["_links"]["next"]["href"]
            .as_str()
            .map(str::to_owned);
    }
    assert!(expected.len() > 5, "enough history: {}", expected.len());
    assert!(
        expected.iter().any(|e| e.minor < 0) && expected.iter().any(|e| e.minor > 0),
        "debits and credits"
    );

    // camt: booked entries of a closed period with balances granted are a camt.053 statement.
    let camt = read(&alice, &path, "application/xml").await;
    assert_eq!(camt.status, StatusCode::OK, "{}", camt.text);
    assert_eq!(camt.headers["content-type"], "application/xml");
    let xml = &camt.text;
    assert!(
        xml.contains("xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\""),
        "{xml}"
    );
    assert_eq!(
        element(xml, "IBAN").as_deref(),
        Some(iban(&account).as_str())
    );
    let entries: Vec<&str> = xml.split("<Ntry>").skip(1).collect();
    assert_eq!(entries.len(), expected.len(), "one Ntry per booked entry");
    for e in &expected {
        let ntry = entries
            .iter()
            .find(|n| element(n, "NtryRef").as_deref() == Some(e.reference.as_str()))
            .unwrap_or_else(|| panic!("entry {} in the camt: {xml}", e.reference));
        let sign = match element(ntry, "CdtDbtInd").as_deref() {
            Some("DBIT") => -1,
            Some("CRDT") => 1,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            sign * minor(&element(ntry, "Amt").unwrap()),
            e.minor,
            "{ntry}"
        );
        assert_eq!(element(ntry, "Sts").as_deref(), Some("<Cd>BOOK</Cd>"));
        assert_eq!(
            element(ntry, "BookgDt").as_deref(),
            Some(format!("<Dt>{}</Dt>", e.booking_date).as_str())
        );
        assert_eq!(
            element(ntry, "ValDt").as_deref(),
            Some(format!("<Dt>{}</Dt>", e.value_date).as_str())
        );
        let role = if e.minor < 0 { "Cdtr" } else { "Dbtr" };
        let party = element(ntry, role).unwrap_or_else(|| panic!("{role} in {ntry}"));
        assert_eq!(
            element(&party, "Nm").as_deref(),
            Some(e.counterparty.as_str())
        );
        if let Some(other) = &e.counterparty_iban {
            let account = element(ntry, &format!("{role}Acct")).unwrap();
            assert_eq!(element(&account, "IBAN").as_ref(), Some(other));
        }
    }
    let opening = camt_balance(xml, "OPBD").unwrap();
    let closing = camt_balance(xml, "CLBD").unwrap();
    let sum: i64 = expected.iter().map(|e| e.minor).sum();
    assert_eq!(opening + sum, closing, "the statement adds up");
    // Its period ends yesterday: it closes on the account's closingBooked balance.
    let balances = alice
        .ok(&format!("/v1/accounts/{}/balances", account.id))
        .await;
    let closing_booked = balances["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["balanceType"] == "closingBooked")
        .unwrap_or_else(|| panic!("{balances}"));
    assert_eq!(
        closing,
        minor(closing_booked["balanceAmount"]["amount"].as_str().unwrap())
    );

    // MT940: the same entries between the same balances.
    let mt940 = read(&alice, &path, "text/plain").await;
    assert_eq!(mt940.status, StatusCode::OK, "{}", mt940.text);
    assert_eq!(mt940.headers["content-type"], "text/plain");
    let text = &mt940.text;
    assert!(text.is_ascii(), "{text}");
    assert!(text.ends_with("\r\n-"), "{text}");
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines[1], format!(":25:{}", iban(&account)));
    let field = |tag: &str| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(tag))
            .unwrap_or_else(|| panic!("{tag} in {text}"))
    };
    assert_eq!(mt940_balance(field(":60F:")), opening);
    assert_eq!(mt940_balance(field(":62F:")), closing);
    assert_eq!(&field(":60F:")[1..7], yymmdd(&from.to_string()));
    assert_eq!(&field(":62F:")[1..7], yymmdd(&to.to_string()));
    let statement_lines: Vec<&str> = text.split("\r\n:61:").skip(1).collect();
    assert_eq!(statement_lines.len(), expected.len(), "{text}");
    for e in &expected {
        let line = statement_lines
            .iter()
            .find(|l| {
                l.lines()
                    .next()
                    .is_some_and(|first| first.ends_with(&format!("//{}", e.reference)))
            })
            .unwrap_or_else(|| panic!("entry {} in the MT940: {text}", e.reference));
        let first = line.lines().next().unwrap();
        assert!(first.starts_with(&yymmdd(&e.value_date)), "{first}");
        assert_eq!(&first[6..10], &yymmdd(&e.booking_date)[2..], "{first}");
        let mark_and_amount = &first[10..first.find('N').unwrap()];
        let (mark, amount) = mark_and_amount.split_at(1);
        assert_eq!(mt940_amount(mark, amount), e.minor, "{first}");
        let information: String = line
            .split(":86:")
            .nth(1)
            .unwrap_or_else(|| panic!(":86: of {line}"))
            .split("\r\n:")
            .next()
            .unwrap()
            .replace("\r\n", "");
        assert!(
            information.contains(&format!("/NAME/{}", transliterated(&e.counterparty))),
            "{information}"
        );
        if let Some(other) = &e.counterparty_iban {
            assert!(
                information.contains(&format!("/IBAN/{other}")),
                "{information}"
            );
        }
    }
    let statement_sum: i64 = statement_lines
        .iter()
        .map(|l| {
            let first = l.lines().next().unwrap();
            let (mark, amount) = first[10..first.find('N').unwrap()].split_at(1);
            mt940_amount(mark, amount)
        })
        .sum();
    assert_eq!(mt940_balance(field(":60F:")) + statement_sum, closing);

    // An open period, or pending entries asked for, is a camt.052 report.
    let report = format!(
        "/v1/accounts/{}/transactions?bookingStatus=both&dateFrom={from}&withBalance=true",
        account.id
    );
    let json = alice.ok(&format!("{report}&itemsPerPage=100")).await;
    assert!(
        json["transactions"]["_links"].get("next").is_none(),
        "one page"
    );
    let both = json["transactions"]["booked"].as_array().unwrap().len()
        + json["transactions"]["pending"].as_array().unwrap().len();
    let camt052 = read(&alice, &report, "application/xml").await;
    assert_eq!(camt052.status, StatusCode::OK, "{}", camt052.text);
    assert!(
        camt052
            .text
            .contains("camt.052.001.08\"><BkToCstmrAcctRpt>")
    );
    assert_eq!(camt052.text.matches("<Ntry>").count(), both);
    for code in ["CLBD", "ITAV", "XPCD"] {
        assert!(camt_balance(&camt052.text, code).is_some(), "{code}");
    }
    // An Accept that admits JSON keeps JSON.
    let json_kept = read(&alice, &report, "text/plain;q=0.9, */*;q=0.1").await;
    assert_eq!(json_kept.headers["content-type"], "application/json");
    server.stop().await;
}
both_stores!(every_booked_entry_is_in_the_json_the_camt_and_the_mt940_report);

async fn a_document_is_refused_what_it_cannot_hold_and_what_the_consent_does_not_grant(db: TestDb) {
    let server = demo_server(db).await;
    let tpp = crate::support::xs2a::Tpp::new(&server, &server.db, "ais");
    let store = server.db.store().await;
    let account = account_of(&store, "alice").await;
    let alice = reader(
        &server,
        &tpp,
        "alice",
        json!({"transactions": [{"iban": iban(&account)}]}),
    )
    .await;
    let today = SystemClock.today();
    let base = format!("/v1/accounts/{}/transactions", account.id);
    let closed = format!(
        "{base}?bookingStatus=booked&dateFrom={}&dateTo={}",
        today - time::Duration::days(60),
        today - time::Duration::days(1)
    );

    // Without balances granted, a closed period is still a report, not a statement; MT940 needs them.
    let camt = read(&alice, &closed, "application/xml").await;
    assert_eq!(camt.status, StatusCode::OK, "{}", camt.text);
    assert!(camt.text.contains("camt.052.001.08"), "{}", camt.text);
    assert!(!camt.text.contains("<Bal>"), "{}", camt.text);
    let mt940 = read(&alice, &closed, "text/plain").await;
    mt940.assert_tpp_message(StatusCode::UNAUTHORIZED, "CONSENT_INVALID");
    let with_balance = read(
        &alice,
        &format!("{closed}&withBalance=true"),
        "application/xml",
    )
    .await;
    with_balance.assert_refusal(StatusCode::UNAUTHORIZED, "CONSENT_INVALID", "withBalance");

    // What a document cannot honour.
    for (query, accept, path) in [
        ("bookingStatus=both", "text/plain", "bookingStatus"),
        (
            "bookingStatus=booked&entryReferenceFrom=1",
            "text/plain",
            "entryReferenceFrom",
        ),
        (
            "bookingStatus=booked&itemsPerPage=10",
            "application/xml",
            "itemsPerPage",
        ),
        (
            "bookingStatus=booked&deltaList=true",
            "application/xml",
            "deltaList",
        ),
        ("bookingStatus=booked&cursor=x", "text/plain", "cursor"),
    ] {
        let refused = read(&alice, &format!("{base}?{query}"), accept).await;
        refused.assert_refusal(StatusCode::BAD_REQUEST, "PARAMETER_NOT_SUPPORTED", path);
    }
    // One document holds at most 1,000 entries: 1,000 on one day, one more the next.
    let (psu, _) = store.psu_by_login("alice").await.unwrap().unwrap();
    let savings = store.accounts_of_psu(psu.id).await.unwrap().remove(1);
    let day = today - time::Duration::days(3000);
    let transfers = (0..1001)
        .map(|n| NewTransfer {
            idempotency_key: format!("bound:{n}"),
            transaction_id: TransactionId::random(),
            debit: account.id,
            credit: savings.id,
            amount: Money::from_minor(1, Currency::EUR),
            status: EntryStatus::Booked,
            booking_date: if n < 1000 {
                day
            } else {
                day.next_day().unwrap()
            },
            value_date: day,
            debtor: Party::default(),
            creditor: Party::default(),
            remittance_information: None,
            end_to_end_id: None,
            bank_transaction_code: "PMNT-ICDT-BOOK".into(),
            created_at: SystemClock.now(),
        })
        .collect();
    store.post_transfers(transfers).await.unwrap();
    let one_day = format!("{base}?bookingStatus=booked&dateFrom={day}&dateTo={day}");
    let full = read(&alice, &one_day, "application/xml").await;
    assert_eq!(full.status, StatusCode::OK, "{}", full.text);
    assert_eq!(full.text.matches("<Ntry>").count(), 1000);
    let two_days = format!(
        "{base}?bookingStatus=booked&dateFrom={day}&dateTo={}",
        day.next_day().unwrap()
    );
    let over = read(&alice, &two_days, "application/xml").await;
    over.assert_refusal(StatusCode::BAD_REQUEST, "PERIOD_INVALID", "dateFrom");

    // No offered type, a card account's report or one transaction: 406.
    let none = read(&alice, &closed, "text/html, application/pdf").await;
    none.assert_refusal(
        StatusCode::NOT_ACCEPTABLE,
        "REQUESTED_FORMATS_INVALID",
        "Accept",
    );
    let card = read(
        &alice,
        "/v1/card-accounts/00000000-0000-0000-0000-000000000000/transactions?bookingStatus=booked",
        "application/xml",
    )
    .await;
    card.assert_tpp_message(StatusCode::NOT_ACCEPTABLE, "REQUESTED_FORMATS_INVALID");

    // Without the PSU, documents and JSON count against the same frequencyPerDay (4).
    let consent = alice.consent.as_str();
    for accept in [
        "application/xml",
        "application/json",
        "application/xml",
        "application/xml",
    ] {
        let headers = [("consent-id", consent), ("accept", accept)];
        let a = tpp.get(&closed, &alice.token, &headers).await;
        assert_eq!(a.status, StatusCode::OK, "{accept}: {}", a.text);
    }
    let headers = [("consent-id", consent), ("accept", "application/xml")];
    let fifth = tpp.get(&closed, &alice.token, &headers).await;
    fifth.assert_tpp_message(StatusCode::TOO_MANY_REQUESTS, "ACCESS_EXCEEDED");
    server.stop().await;
}
both_stores!(a_document_is_refused_what_it_cannot_hold_and_what_the_consent_does_not_grant);
