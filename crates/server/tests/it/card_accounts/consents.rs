//! A PAN masked at once, a card the PSU does not hold, and the cards
//! under allPsd2 and bank-offered consents.

use crate::support::xs2a::{REDIRECT, demo_tpp};
use crate::support::{param, redirect_params};
use fintechapi_domain::ledger::LedgerRepository;
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::card_of;

async fn a_pan_is_masked_at_once_and_all_psd2_and_bank_offered_consents_cover_cards(db: TestDb) {
    let (server, tpp, cc) = demo_tpp(db, "ais").await;
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
    let reader = tpp.reader(&token, &consent);
    let list = reader.get("/v1/card-accounts").await;
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
    let no_balances = reader
        .get(&format!("/v1/card-accounts/{}/balances", alice.account.id))
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
    let reader = tpp.reader(&token, &global);
    let cards = reader.get("/v1/card-accounts?withBalance=true").await;
    let listed = &cards.body["cardAccounts"][0];
    assert_eq!(
        listed["maskedPan"],
        bob.masked_pan.as_str(),
        "{}",
        cards.body
    );
    assert!(listed["balances"].is_array() && listed["_links"]["balances"].is_object());
    let accounts = reader.get("/v1/accounts").await;
    let ibans: Vec<&Value> = accounts.body["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["iban"])
        .collect();
    assert_eq!(ibans.len(), 2, "{}", accounts.body);
    assert!(ibans.iter().all(|i| i.is_string()), "payment accounts only");
    let transactions = reader
        .get(&format!(
            "/v1/card-accounts/{}/transactions?bookingStatus=booked",
            bob.account.id
        ))
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
    let reader = tpp.reader(&token, &offered);
    let cards = reader.get("/v1/card-accounts").await;
    assert_eq!(cards.body["cardAccounts"].as_array().unwrap().len(), 1);
    assert_eq!(
        cards.body["cardAccounts"][0]["resourceId"],
        card_id.as_str()
    );
    let accounts = reader.get("/v1/accounts").await;
    assert_eq!(accounts.body, json!({"accounts": []}));
    let audit = server.db.store().await.audit().await.unwrap();
    assert!(audit.is_consistent(), "{audit:?}");
    server.stop().await;
}
both_stores!(a_pan_is_masked_at_once_and_all_psd2_and_bank_offered_consents_cover_cards);
