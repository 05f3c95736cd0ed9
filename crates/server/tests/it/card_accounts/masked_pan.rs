//! A consent naming a card by its masked PAN reads exactly that card:
//! list, details, balances, transactions page by page.

use crate::support::demo_server;
use crate::support::xs2a::Tpp;
use fintechapi_domain::ledger::LedgerRepository;
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;
use serde_json::json;

use super::{booked_ids, card_of, decimal, longest_digit_run};

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
    let alice = tpp.reader(&token, &consent);
    let mut seen = Vec::new();

    let list = alice.get("/v1/card-accounts").await;
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
    let with_balance = alice.get("/v1/card-accounts?withBalance=true").await;
    assert_eq!(
        with_balance.body["cardAccounts"][0]["balances"]
            .as_array()
            .map(Vec::len),
        Some(5),
        "{}",
        with_balance.body
    );
    let accounts = alice.get("/v1/accounts").await;
    assert_eq!(
        accounts.body,
        json!({"accounts": []}),
        "a card is not a payment account under /v1/accounts"
    );
    let as_account = alice.get(&format!("/v1/accounts/{id}")).await;
    as_account.assert_tpp_message(StatusCode::FORBIDDEN, "CONSENT_INVALID");

    let details = alice
        .get(&format!("/v1/card-accounts/{id}?withBalance=true"))
        .await;
    assert_eq!(details.status, StatusCode::OK, "{}", details.body);
    assert_eq!(details.body["cardAccount"]["ownerName"], "Alice Schmidt");
    assert_eq!(
        details.body["cardAccount"]["balances"]
            .as_array()
            .map(Vec::len),
        Some(5)
    );

    let balances = alice.get(&format!("/v1/card-accounts/{id}/balances")).await;
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
    let first = alice
        .get(&format!(
            "/v1/card-accounts/{id}/transactions?bookingStatus=booked"
        ))
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
    let second = alice.get(&next).await;
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
    let back = alice.get(links["previous"]["href"].as_str().unwrap()).await;
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
    let newer = alice.get(&path).await;
    let newer_ids: Vec<i64> = booked_ids(&newer.body);
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
    let window = alice.get(&path).await;
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
    let both = alice
        .get(&format!(
            "/v1/card-accounts/{id}/transactions?bookingStatus=both&withBalance=true"
        ))
        .await;
    let pending = both.body["cardTransactions"]["pending"].as_array().unwrap();
    assert!(
        !pending.is_empty() && pending.iter().all(|t| t["invoiced"] == false),
        "{}",
        both.body
    );
    assert!(both.body["cardTransactions"]["booked"].is_array());
    assert_eq!(both.body["balances"].as_array().map(Vec::len), Some(5));
    let only_pending = alice
        .get(&format!(
            "/v1/card-accounts/{id}/transactions?bookingStatus=pending"
        ))
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
    let all = alice.get(&delta).await;
    let delta_ids: Vec<i64> = booked_ids(&all.body);
    assert_eq!(delta_ids.len(), ids.len(), "{}", all.body);
    let mut delta_sorted = delta_ids.clone();
    delta_sorted.sort_unstable();
    assert_eq!(delta_sorted, unique, "the same entries as the pages");
    let again = alice.get(&delta).await;
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
        let refused = alice.get(&format!("{base}{query}")).await;
        refused.assert_tpp_message(status, expected);
    }

    // A card outside the consent, or no card at all, is refused.
    for other in [
        bobs.account.id.to_string(),
        "00000000-0000-4000-8000-000000000000".into(),
        "not-an-id".into(),
    ] {
        for suffix in ["", "/balances", "/transactions?bookingStatus=booked"] {
            let outside = alice
                .get(&format!("/v1/card-accounts/{other}{suffix}"))
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
