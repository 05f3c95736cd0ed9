//! Card accounts over HTTPS on both stores: a TPP asks for a card by its
//! masked PAN (or its PAN, masked at once), the PSU approves it at the bank,
//! and the TPP reads exactly that card under `/v1/card-accounts` — list,
//! details, balances, transactions page by page — never a full PAN, never a
//! card outside the consent, with the ledger still balanced.

use crate::support::xs2a::{REDIRECT, Tpp, psu_headers};
use crate::support::{TestServer, demo_server, param, redirect_params};
use fintechapi_domain::card::{CardAccount, CardRepository};
use fintechapi_domain::ledger::LedgerRepository;
use fintechapi_domain::psu::PsuRepository;
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn card_of(server: &TestServer, login: &str) -> CardAccount {
    let store = server.db.store().await;
    let (psu, _) = store.psu_by_login(login).await.unwrap().unwrap();
    store.card_accounts_of_psu(psu.id).await.unwrap().remove(0)
}

/// The longest run of digits in `text`: a full PAN is 13 to 19 of them.
fn longest_digit_run(text: &str) -> usize {
    text.split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0)
}

fn decimal(v: &Value) -> i64 {
    let text = v["amount"].as_str().unwrap();
    let (whole, cents) = text.split_once('.').unwrap();
    let sign = if whole.starts_with('-') { -1 } else { 1 };
    whole.parse::<i64>().unwrap() * 100 + sign * cents.parse::<i64>().unwrap()
}

async fn a_consent_naming_the_card_by_masked_pan_reads_exactly_that_card(db: TestDb) {
    let server = demo_server(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let card = card_of(&server, "alice").await;
    let bobs = card_of(&server, "bob").await;
    let masked = card.masked_pan.as_str().to_owned();
    assert_eq!(masked, "525412******3241");

    let cc = tpp.client_token().await;
    let access = json!({"balances": [{"maskedPan": masked}], "transactions": [{"maskedPan": "525412xxxxxx3241"}]});
    let consent = tpp.consent(&cc, access, 4).await;
    let read = tpp.get(&format!("/v1/consents/{consent}"), &cc, &[]).await;
    assert_eq!(
        read.body["access"]["accounts"],
        json!([{"maskedPan": masked}]),
        "{}",
        read.body
    );
    let (psu, screen) = tpp
        .at_bank(&server, &consent, "alice", "alice-demo-2026")
        .await;
    assert!(
        screen.body.contains(&format!("card <code>{masked}</code>")),
        "{}",
        screen.body
    );
    assert!(screen.body.contains("balances, transactions"));
    assert!(
        !screen.body.contains("Girokonto"),
        "only the card is asked for"
    );
    let token = tpp.approve(psu, &screen, &[]).await;
    let id = card.account.id.to_string();
    let present = psu_headers(&consent);
    let mut seen = Vec::new();

    let list = tpp.get("/v1/card-accounts", &token, &present).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let cards = list.body["cardAccounts"].as_array().unwrap();
    assert_eq!(cards.len(), 1, "{}", list.body);
    let listed = &cards[0];
    assert_eq!(
        (listed["resourceId"].as_str(), listed["maskedPan"].as_str()),
        (Some(id.as_str()), Some(masked.as_str()))
    );
    assert_eq!(
        listed["creditLimit"],
        json!({"currency": "EUR", "amount": "3000.00"})
    );
    assert_eq!(
        (
            listed["currency"].as_str(),
            listed["debitAccounting"].as_bool(),
            listed["status"].as_str()
        ),
        (Some("EUR"), Some(false), Some("enabled"))
    );
    assert_eq!(
        listed["_links"]["transactions"]["href"],
        format!("/v1/card-accounts/{id}/transactions")
    );
    assert!(listed.get("balances").is_none());
    let with_balance = tpp
        .get("/v1/card-accounts?withBalance=true", &token, &present)
        .await;
    assert_eq!(
        with_balance.body["cardAccounts"][0]["balances"]
            .as_array()
            .map(Vec::len),
        Some(5),
        "{}",
        with_balance.body
    );
    let accounts = tpp.get("/v1/accounts", &token, &present).await;
    assert_eq!(
        accounts.body,
        json!({"accounts": []}),
        "a card is not a payment account under /v1/accounts"
    );
    let as_account = tpp
        .get(&format!("/v1/accounts/{id}"), &token, &present)
        .await;
    as_account.assert_tpp_message(StatusCode::FORBIDDEN, "CONSENT_INVALID");

    let details = tpp
        .get(
            &format!("/v1/card-accounts/{id}?withBalance=true"),
            &token,
            &present,
        )
        .await;
    assert_eq!(details.status, StatusCode::OK, "{}", details.body);
    assert_eq!(details.body["cardAccount"]["ownerName"], "Alice Schmidt");
    assert_eq!(
        details.body["cardAccount"]["balances"]
            .as_array()
            .map(Vec::len),
        Some(5)
    );

    let balances = tpp
        .get(
            &format!("/v1/card-accounts/{id}/balances"),
            &token,
            &present,
        )
        .await;
    assert_eq!(balances.status, StatusCode::OK, "{}", balances.body);
    assert_eq!(
        balances.body["cardAccount"],
        json!({"maskedPan": masked, "currency": "EUR"})
    );
    let of = |kind: &str| {
        balances.body["balances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["balanceType"] == kind)
            .unwrap_or_else(|| panic!("{kind}: {}", balances.body))
            .clone()
    };
    let stored = server
        .db
        .store()
        .await
        .account(card.account.id)
        .await
        .unwrap()
        .unwrap()
        .balances;
    assert_eq!(
        decimal(&of("interimBooked")["balanceAmount"]),
        stored.booked
    );
    assert_eq!(
        decimal(&of("closingBooked")["balanceAmount"])
            + decimal(&of("nonInvoiced")["balanceAmount"]),
        stored.booked
    );
    assert_eq!(
        decimal(&of("interimAvailable")["balanceAmount"]),
        300_000 + stored.booked + stored.pending_debits
    );
    assert_eq!(of("interimAvailable")["creditLimitIncluded"], true);
    assert!(stored.pending_debits < 0, "authorisations pending today");
    seen.extend([list.body, with_balance.body, details.body, balances.body]);

    // Booked transactions page by page, newest first, no entry twice.
    let first = tpp
        .get(
            &format!("/v1/card-accounts/{id}/transactions?bookingStatus=booked"),
            &token,
            &present,
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(
        first.body["cardAccount"],
        json!({"maskedPan": masked, "currency": "EUR"})
    );
    let report = &first.body["cardTransactions"];
    assert!(report.get("pending").is_none());
    assert_eq!(
        report["_links"]["cardAccount"]["href"],
        format!("/v1/card-accounts/{id}")
    );
    let page_one = report["booked"].as_array().unwrap().clone();
    assert_eq!(page_one.len(), 50);
    assert!(report["_links"].get("previous").is_none());
    let next = report["_links"]["next"]["href"]
        .as_str()
        .expect("a next page")
        .to_owned();
    assert!(
        next.starts_with(&format!(
            "/v1/card-accounts/{id}/transactions?bookingStatus=booked&cursor="
        )),
        "{next}"
    );
    let second = tpp.get(&next, &token, &present).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    let page_two = second.body["cardTransactions"]["booked"]
        .as_array()
        .unwrap()
        .clone();
    assert!(!page_two.is_empty());
    let links = &second.body["cardTransactions"]["_links"];
    assert_eq!(
        links["last"], report["_links"]["last"],
        "two pages: the second is the last"
    );
    let back = tpp
        .get(
            links["previous"]["href"].as_str().unwrap(),
            &token,
            &present,
        )
        .await;
    assert_eq!(
        back.body["cardTransactions"]["booked"].as_array(),
        Some(&page_one),
        "previous leads back to the first page"
    );
    let ids: Vec<i64> = page_one
        .iter()
        .chain(&page_two)
        .map(|t| t["cardTransactionId"].as_str().unwrap().parse().unwrap())
        .collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "no entry on two pages");
    let dates: Vec<&str> = page_one
        .iter()
        .chain(&page_two)
        .map(|t| t["bookingDate"].as_str().unwrap())
        .collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let purchase = page_one
        .iter()
        .find(|t| t.get("merchantCategoryCode").is_some())
        .unwrap();
    assert_eq!(purchase["maskedPAN"], masked.as_str());
    assert!(
        purchase["transactionAmount"]["amount"]
            .as_str()
            .unwrap()
            .starts_with('-'),
        "debits are negative"
    );
    assert!(
        purchase["transactionDate"].is_string()
            && purchase["cardAcceptorAddress"]["country"].is_string()
    );
    assert!(
        purchase["originalAmount"]["amount"]
            .as_str()
            .unwrap()
            .starts_with('-')
    );
    let abroad = page_one.iter().chain(&page_two).find(|t| {
        t["originalAmount"]["currency"]
            .as_str()
            .is_some_and(|c| c != "EUR")
    });
    assert!(
        abroad.is_some(),
        "a payment in another currency among the newest hundred"
    );
    let settlement = page_one
        .iter()
        .chain(&page_two)
        .find(|t| t.get("merchantCategoryCode").is_none())
        .expect("a statement collected");
    assert!(
        settlement["transactionDetails"]
            .as_str()
            .unwrap()
            .starts_with("Kreditkartenabrechnung")
    );
    assert!(
        !settlement["transactionAmount"]["amount"]
            .as_str()
            .unwrap()
            .starts_with('-')
    );
    assert!(
        page_two.iter().any(|t| t["invoiced"] == true),
        "older entries were on a statement"
    );
    seen.extend([first.body.clone(), second.body]);

    // entryReferenceFrom takes a cardTransactionId; dates bound the report; both adds pending.
    let oldest = page_one.last().unwrap()["cardTransactionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!(
        "/v1/card-accounts/{id}/transactions?bookingStatus=booked&entryReferenceFrom={oldest}"
    );
    let newer = tpp.get(&path, &token, &present).await;
    let newer_ids: Vec<i64> = newer.body["cardTransactions"]["booked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["cardTransactionId"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(newer_ids.len(), 49, "{}", newer.body);
    assert!(
        newer_ids
            .iter()
            .all(|r| *r > oldest.parse::<i64>().unwrap())
    );
    let day = page_one[10]["bookingDate"].as_str().unwrap();
    let path = format!(
        "/v1/card-accounts/{id}/transactions?bookingStatus=booked&dateFrom={day}&dateTo={day}"
    );
    let window = tpp.get(&path, &token, &present).await;
    let in_window = window.body["cardTransactions"]["booked"]
        .as_array()
        .unwrap();
    assert!(
        !in_window.is_empty() && in_window.iter().all(|t| t["bookingDate"] == day),
        "{}",
        window.body
    );
    assert!(
        window.body["cardTransactions"]["_links"]["first"]["href"]
            .as_str()
            .unwrap()
            .contains(&format!("dateFrom={day}"))
    );
    let both = tpp
        .get(
            &format!("/v1/card-accounts/{id}/transactions?bookingStatus=both&withBalance=true"),
            &token,
            &present,
        )
        .await;
    let pending = both.body["cardTransactions"]["pending"].as_array().unwrap();
    assert!(
        !pending.is_empty() && pending.iter().all(|t| t["invoiced"] == false),
        "{}",
        both.body
    );
    assert!(both.body["cardTransactions"]["booked"].is_array());
    assert_eq!(both.body["balances"].as_array().map(Vec::len), Some(5));
    let only_pending = tpp
        .get(
            &format!("/v1/card-accounts/{id}/transactions?bookingStatus=pending"),
            &token,
            &present,
        )
        .await;
    assert!(
        only_pending.body["cardTransactions"]
            .get("booked")
            .is_none()
    );
    assert_eq!(
        only_pending.body["cardTransactions"]["pending"].as_array(),
        Some(pending)
    );
    seen.extend([newer.body, window.body, both.body]);

    // deltaList: every booked entry once; the next delta report has nothing new.
    let delta = format!(
        "/v1/card-accounts/{id}/transactions?bookingStatus=booked&deltaList=true&itemsPerPage=100"
    );
    let all = tpp.get(&delta, &token, &present).await;
    let delta_ids: Vec<i64> = all.body["cardTransactions"]["booked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["cardTransactionId"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(delta_ids.len(), ids.len(), "{}", all.body);
    let mut delta_sorted = delta_ids.clone();
    delta_sorted.sort_unstable();
    assert_eq!(delta_sorted, unique, "the same entries as the pages");
    let again = tpp.get(&delta, &token, &present).await;
    assert_eq!(
        again.body["cardTransactions"]["booked"],
        json!([]),
        "{}",
        again.body
    );

    // Bad requests are the spec's errors, never a 500.
    let base = format!("/v1/card-accounts/{id}/transactions");
    for (query, status, expected) in [
        ("", StatusCode::BAD_REQUEST, "FORMAT_ERROR"),
        (
            "?bookingStatus=information",
            StatusCode::BAD_REQUEST,
            "PARAMETER_NOT_SUPPORTED",
        ),
        (
            "?bookingStatus=both&deltaList=true",
            StatusCode::BAD_REQUEST,
            "PARAMETER_NOT_SUPPORTED",
        ),
        (
            "?bookingStatus=booked&pageIndex=2",
            StatusCode::BAD_REQUEST,
            "PARAMETER_NOT_SUPPORTED",
        ),
        (
            "?bookingStatus=booked&deltaList=maybe",
            StatusCode::BAD_REQUEST,
            "FORMAT_ERROR",
        ),
        (
            "?bookingStatus=booked&dateFrom=2026-11-02&dateTo=2026-11-01",
            StatusCode::BAD_REQUEST,
            "PERIOD_INVALID",
        ),
        (
            "?bookingStatus=booked&dateFrom=yesterday",
            StatusCode::BAD_REQUEST,
            "FORMAT_ERROR",
        ),
        (
            "?bookingStatus=booked&entryReferenceFrom=abc",
            StatusCode::BAD_REQUEST,
            "FORMAT_ERROR",
        ),
        (
            "?bookingStatus=booked&cursor=nonsense",
            StatusCode::BAD_REQUEST,
            "FORMAT_ERROR",
        ),
    ] {
        let refused = tpp.get(&format!("{base}{query}"), &token, &present).await;
        assert_eq!(
            (refused.status, refused.tpp_message().0),
            (status, Some(expected)),
            "{query}: {}",
            refused.body
        );
    }

    // A card outside the consent, or no card at all, is refused.
    for other in [
        bobs.account.id.to_string(),
        "00000000-0000-4000-8000-000000000000".into(),
        "not-an-id".into(),
    ] {
        for suffix in ["", "/balances", "/transactions?bookingStatus=booked"] {
            let outside = tpp
                .get(
                    &format!("/v1/card-accounts/{other}{suffix}"),
                    &token,
                    &present,
                )
                .await;
            assert_eq!(
                (outside.status, outside.tpp_message().0),
                (StatusCode::FORBIDDEN, Some("CONSENT_INVALID")),
                "{other}{suffix}"
            );
        }
    }
    let no_consent_id = tpp.get("/v1/card-accounts", &token, &[]).await;
    no_consent_id.assert_tpp_message(StatusCode::BAD_REQUEST, "FORMAT_ERROR");
    let wrong_consent = tpp
        .get(
            "/v1/card-accounts",
            &token,
            &[("consent-id", "00000000-0000-4000-8000-000000000000")],
        )
        .await;
    wrong_consent.assert_tpp_message(StatusCode::UNAUTHORIZED, "CONSENT_INVALID");

    // Without the PSU: frequencyPerDay (4) accesses a day.
    let unattended = [("consent-id", consent.as_str())];
    for _ in 0..4 {
        let read = tpp
            .get(
                &format!("/v1/card-accounts/{id}/balances"),
                &token,
                &unattended,
            )
            .await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    }
    let fifth = tpp
        .get(
            &format!("/v1/card-accounts/{id}/balances"),
            &token,
            &unattended,
        )
        .await;
    fifth.assert_tpp_message(StatusCode::TOO_MANY_REQUESTS, "ACCESS_EXCEEDED");

    // Masked PANs only, wherever a card is named; no digit run as long as a PAN.
    for body in &seen {
        let text = body.to_string();
        assert!(longest_digit_run(&text) < 13, "a PAN-like number in {text}");
        assert!(text.contains(&masked));
    }
    let audit = server.db.store().await.audit().await.unwrap();
    assert!(audit.is_consistent(), "{audit:?}");
    server.stop().await;
}
both_stores!(a_consent_naming_the_card_by_masked_pan_reads_exactly_that_card);

async fn a_pan_is_masked_at_once_and_all_psd2_and_bank_offered_consents_cover_cards(db: TestDb) {
    let server = demo_server(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let cc = tpp.client_token().await;
    let alice = card_of(&server, "alice").await;
    let bob = card_of(&server, "bob").await;
    let carol = card_of(&server, "carol").await;

    // A full PAN in the request is stored and shown masked only.
    let pan = "5254121234563241";
    let consent = tpp
        .consent(&cc, json!({"accounts": [{"pan": pan}]}), 4)
        .await;
    let read = tpp.get(&format!("/v1/consents/{consent}"), &cc, &[]).await;
    assert_eq!(
        read.body["access"]["accounts"],
        json!([{"maskedPan": "525412******3241"}])
    );
    let stored = server
        .db
        .raw_strings("SELECT access FROM consents")
        .await
        .join(" ");
    assert!(
        !stored.contains(pan) && !read.body.to_string().contains(pan),
        "{stored}"
    );
    let access = json!({"accounts": [{"pan": "5254121234563242"}]});
    let invalid = tpp.consent_with(&cc, access, 4, &[]).await;
    invalid.assert_tpp_message(StatusCode::BAD_REQUEST, "FORMAT_ERROR");
    assert_eq!(
        invalid.body["tppMessages"][0]["path"],
        "access.accounts[0].pan"
    );
    assert!(!invalid.body.to_string().contains("5254121234563242"));
    let (psu, screen) = tpp
        .at_bank(&server, &consent, "alice", "alice-demo-2026")
        .await;
    assert!(screen.body.contains("card <code>525412******3241</code>"));
    let token = tpp.approve(psu, &screen, &[]).await;
    let present = psu_headers(&consent);
    let list = tpp.get("/v1/card-accounts", &token, &present).await;
    assert_eq!(
        list.body["cardAccounts"][0]["resourceId"],
        alice.account.id.to_string()
    );
    assert!(
        list.body["cardAccounts"][0]["_links"]
            .as_object()
            .unwrap()
            .is_empty(),
        "account details only"
    );
    let no_balances = tpp
        .get(
            &format!("/v1/card-accounts/{}/balances", alice.account.id),
            &token,
            &present,
        )
        .await;
    no_balances.assert_tpp_message(StatusCode::UNAUTHORIZED, "CONSENT_INVALID");

    // A card the PSU does not hold: the bank says so and the consent cannot be approved.
    let foreign = tpp
        .consent(
            &cc,
            json!({"accounts": [{"maskedPan": carol.masked_pan.as_str()}]}),
            4,
        )
        .await;
    let (mut psu, screen) = tpp
        .at_bank(&server, &foreign, "alice", "alice-demo-2026")
        .await;
    assert!(
        screen.body.contains(&format!(
            "card {}, which is not one of yours",
            carol.masked_pan
        )),
        "{}",
        screen.body
    );
    let refused = psu.decide(&screen, "approve").await;
    assert_eq!(
        param(
            &redirect_params(refused.location.as_deref().unwrap(), REDIRECT),
            "error"
        ),
        Some("access_denied")
    );

    // allPsd2: the card with balances and transactions, next to the payment accounts.
    let global = tpp.consent(&cc, json!({"allPsd2": "allAccounts"}), 4).await;
    let (psu, screen) = tpp.at_bank(&server, &global, "bob", "bob-demo-2026").await;
    assert!(
        screen
            .body
            .contains(&format!("card <code>{}</code>", bob.masked_pan))
    );
    let token = tpp.approve(psu, &screen, &[]).await;
    let present = psu_headers(&global);
    let cards = tpp
        .get("/v1/card-accounts?withBalance=true", &token, &present)
        .await;
    let listed = &cards.body["cardAccounts"][0];
    assert_eq!(
        listed["maskedPan"],
        bob.masked_pan.as_str(),
        "{}",
        cards.body
    );
    assert!(listed["balances"].is_array() && listed["_links"]["balances"].is_object());
    let accounts = tpp.get("/v1/accounts", &token, &present).await;
    let ibans: Vec<&Value> = accounts.body["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["iban"])
        .collect();
    assert_eq!(ibans.len(), 2, "{}", accounts.body);
    assert!(ibans.iter().all(|i| i.is_string()), "payment accounts only");
    let transactions = tpp
        .get(
            &format!(
                "/v1/card-accounts/{}/transactions?bookingStatus=booked",
                bob.account.id
            ),
            &token,
            &present,
        )
        .await;
    assert_eq!(transactions.status, StatusCode::OK, "{}", transactions.body);

    // Bank-offered: the PSU ticks only the card.
    let offered = tpp
        .consent(&cc, json!({"accounts": [], "transactions": []}), 4)
        .await;
    let (psu, screen) = tpp
        .at_bank(&server, &offered, "carol", "carol-demo-2026")
        .await;
    let card_id = carol.account.id.to_string();
    assert!(
        screen.body.contains(&format!(r#"value="{card_id}""#)),
        "{}",
        screen.body
    );
    let token = tpp.approve(psu, &screen, &[&card_id]).await;
    let present = psu_headers(&offered);
    let cards = tpp.get("/v1/card-accounts", &token, &present).await;
    assert_eq!(cards.body["cardAccounts"].as_array().unwrap().len(), 1);
    assert_eq!(
        cards.body["cardAccounts"][0]["resourceId"],
        card_id.as_str()
    );
    let accounts = tpp.get("/v1/accounts", &token, &present).await;
    assert_eq!(accounts.body, json!({"accounts": []}));
    let audit = server.db.store().await.audit().await.unwrap();
    assert!(audit.is_consistent(), "{audit:?}");
    server.stop().await;
}
both_stores!(a_pan_is_masked_at_once_and_all_psd2_and_bank_offered_consents_cover_cards);
