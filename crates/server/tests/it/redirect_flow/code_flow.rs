//! The code flow end to end: consent, PAR with PKCE, the PSU's two factors
//! and approval, the code exchange, and reads of exactly the consented accounts.

use super::online_banking;
use crate::support::xs2a::{REDIRECT, Tpp, demo_tpp, psu_headers};
use crate::support::{
    Browser, SANDBOX_CODE, TestServer, demo_server, log_in, open, param, redirect_params,
    second_factor,
};
use fintechapi_domain::ledger::{Account, LedgerRepository};
use fintechapi_domain::psu::PsuRepository;
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;
use serde_json::json;

/// Carol holds three accounts in the demo bank.
async fn carol_accounts(server: &TestServer) -> Vec<Account> {
    let store = server.db.store().await;
    let (carol, _) = store.psu_by_login("carol").await.unwrap().unwrap();
    store.accounts_of_psu(carol.id).await.unwrap()
}

async fn the_full_redirect_flow_gives_a_token_that_reads_exactly_the_consented_accounts(
    db: TestDb,
) {
    let server = demo_server(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let accounts = carol_accounts(&server).await;
    assert_eq!(accounts.len(), 3);
    let (first, second, third) = (&accounts[0], &accounts[1], &accounts[2]);
    let iban = |a: &Account| a.iban.as_ref().unwrap().as_str().to_owned();

    let cc = tpp.client_token().await;
    let access = json!({"balances": [{"iban": iban(first)}], "transactions": [{"iban": iban(first)}, {"iban": iban(second)}]});
    let consent = tpp.consent(&cc, access, 4).await;
    assert_eq!(tpp.consent_status(&cc, &consent).await, "received");
    let request_uri = tpp.par(&consent).await;

    let mut psu = Browser::new(&server);
    open(&mut psu, &tpp.key, &request_uri).await;
    let login_page = psu.get("/bank/login").await;
    assert!(login_page.body.contains("Budget App") && login_page.body.contains("Acme TPP GmbH"));
    let wrong = log_in(&mut psu, "carol", "not her password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong
            .body
            .contains("The login name or the password is not right, or sign-in is paused")
    );
    let unknown = log_in(&mut psu, "mallory", "whatever").await;
    assert!(
        unknown
            .body
            .contains("The login name or the password is not right, or sign-in is paused"),
        "same message for an unknown login"
    );
    let ok = log_in(&mut psu, "carol", "carol-demo-2026").await;
    ok.assert_redirect("/bank/sca");
    let ok = second_factor(&mut psu, SANDBOX_CODE).await;
    ok.assert_redirect("/bank/consent");
    let screen = psu.get("/bank/consent").await;
    assert_eq!(screen.status, StatusCode::OK);
    assert!(screen.body.contains("Acme TPP GmbH") && screen.body.contains("AISP"));
    assert!(screen.shows_iban(first));
    assert!(screen.shows_iban(second));
    assert!(!screen.shows_iban(third));
    let approved = psu.decide(&screen, "approve").await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER, "{}", approved.body);
    let params = redirect_params(approved.location.as_deref().unwrap(), REDIRECT);
    assert_eq!(param(&params, "state"), Some("st-42"));
    assert_eq!(
        param(&params, "iss"),
        Some(server.base_url.as_str()),
        "RFC 9207"
    );
    let code = param(&params, "code").unwrap().to_owned();

    let tokens = tpp.exchange(&code).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    assert_eq!(tokens.body["scope"], format!("AIS:{consent}"));
    let access_token = tokens.body["access_token"].as_str().unwrap().to_owned();
    let refresh_token = tokens.body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(tpp.consent_status(&cc, &consent).await, "valid");
    // The authorisation sub-resource: one authorisation (the PAR), finalised.
    let resource = format!("/v1/consents/{consent}");
    let ids = tpp.authorisation_ids(&resource, &cc).await;
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(tpp.first_sca_status(&resource, &cc).await, "finalised");
    let explicit = tpp
        .post(&format!("{resource}/authorisations"), &cc, &[], &json!({}))
        .await;
    explicit.assert_tpp_message(StatusCode::BAD_REQUEST, "SERVICE_INVALID");
    let embedded = tpp
        .call(
            reqwest::Method::PUT,
            &format!("{resource}/authorisations/{}", ids[0]),
            &cc,
            &[],
            Some(&json!({"psuData": {"password": "x"}})),
        )
        .await;
    assert_eq!(embedded.status, StatusCode::BAD_REQUEST);

    // Exactly the consented accounts.
    let with_psu = psu_headers(&consent);
    let list = tpp.get("/v1/accounts", &access_token, &with_psu).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let listed = list.listed_ibans();
    assert_eq!(listed, [iban(first), iban(second)]);
    assert!(list.headers.contains_key("x-request-id"));
    let balances = tpp
        .get(
            &format!("/v1/accounts/{}/balances", first.id),
            &access_token,
            &with_psu,
        )
        .await;
    assert_eq!(balances.status, StatusCode::OK, "{}", balances.body);
    let types: Vec<&str> = balances.body["balances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["balanceType"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["closingBooked", "interimAvailable", "expected"]);
    let amount = balances.body["balances"][1]["balanceAmount"]["amount"]
        .as_str()
        .unwrap();
    assert_eq!(
        amount.split('.').nth(1).map(str::len),
        Some(2),
        "decimal string with the currency's exponent"
    );
    let not_covered = tpp
        .get(
            &format!("/v1/accounts/{}/balances", second.id),
            &access_token,
            &with_psu,
        )
        .await;
    not_covered.assert_tpp_message(StatusCode::UNAUTHORIZED, "CONSENT_INVALID");
    let booked = tpp
        .get(
            &format!(
                "/v1/accounts/{}/transactions?bookingStatus=booked",
                second.id
            ),
            &access_token,
            &with_psu,
        )
        .await;
    assert_eq!(booked.status, StatusCode::OK, "{}", booked.body);
    let entries = booked.body["transactions"]["booked"].as_array().unwrap();
    assert!(!entries.is_empty());
    assert!(booked.body["transactions"].get("pending").is_none());
    assert_eq!(
        booked.body["transactions"]["_links"]["account"]["href"],
        format!("/v1/accounts/{}", second.id)
    );
    // entryReferenceFrom: only what came after a known entry; all: with standing orders (none).
    let oldest = entries.last().unwrap()["entryReference"]
        .as_str()
        .unwrap()
        .to_owned();
    let newer = tpp
        .get(
            &format!(
                "/v1/accounts/{}/transactions?bookingStatus=all&entryReferenceFrom={oldest}",
                second.id
            ),
            &access_token,
            &with_psu,
        )
        .await;
    assert_eq!(newer.status, StatusCode::OK, "{}", newer.body);
    let newer_booked = newer.body["transactions"]["booked"].as_array().unwrap();
    assert!(newer_booked.iter().all(|e| {
        e["entryReference"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
            > oldest.parse::<i64>().unwrap()
    }));
    assert_eq!(newer.body["transactions"]["information"], json!([]));
    let path = format!(
        "/v1/accounts/{}/transactions?bookingStatus=booked&deltaList=true&entryReferenceFrom={oldest}",
        second.id
    );
    let delta = tpp.get(&path, &access_token, &with_psu).await;
    assert_eq!(
        (
            delta.body["tppMessages"][0]["code"].as_str(),
            delta.body["tppMessages"][0]["path"].as_str()
        ),
        (Some("PARAMETER_NOT_CONSISTENT"), Some("entryReferenceFrom")),
        "two delta accesses at once"
    );
    let with_balance = tpp
        .get(
            &format!(
                "/v1/accounts/{}/transactions?bookingStatus=booked&withBalance=true",
                first.id
            ),
            &access_token,
            &with_psu,
        )
        .await;
    assert_eq!(
        with_balance.body["balances"].as_array().map(Vec::len),
        Some(3),
        "{}",
        with_balance.body
    );
    let first_entry = &entries[0];
    let detail = tpp
        .get(
            &format!(
                "/v1/accounts/{}/transactions/{}",
                second.id,
                first_entry["transactionId"].as_str().unwrap()
            ),
            &access_token,
            &with_psu,
        )
        .await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.body);
    assert_eq!(
        &detail.body["transactionsDetails"], first_entry,
        "the spec's transactionsDetails"
    );
    let unknown = tpp
        .get(
            &format!(
                "/v1/accounts/{}/transactions/00000000-0000-4000-8000-000000000000",
                second.id
            ),
            &access_token,
            &with_psu,
        )
        .await;
    unknown.assert_tpp_message(StatusCode::NOT_FOUND, "RESOURCE_UNKNOWN");
    let outside = tpp
        .get(
            &format!(
                "/v1/accounts/{}/transactions?bookingStatus=booked",
                third.id
            ),
            &access_token,
            &with_psu,
        )
        .await;
    outside.assert_tpp_message(StatusCode::FORBIDDEN, "CONSENT_INVALID");
    let wrong_consent = tpp
        .get(
            "/v1/accounts",
            &access_token,
            &[("consent-id", "00000000-0000-4000-8000-000000000000")],
        )
        .await;
    assert_eq!(wrong_consent.status, StatusCode::UNAUTHORIZED);
    let cc_reads = tpp.get("/v1/accounts", &cc, &with_psu).await;
    assert_eq!(
        cc_reads.body["tppMessages"][0]["code"], "CONSENT_INVALID",
        "a client-credentials token reads no account"
    );

    // Refresh rotates; presenting the used refresh token again revokes the grant.
    let refreshed = tpp.refresh(&refresh_token).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    let new_access = refreshed.body["access_token"].as_str().unwrap().to_owned();
    assert_ne!(
        refreshed.body["refresh_token"].as_str().unwrap(),
        refresh_token
    );
    assert_eq!(
        tpp.get("/v1/accounts", &new_access, &with_psu).await.status,
        StatusCode::OK
    );
    let reuse = tpp.refresh(&refresh_token).await;
    reuse.assert_oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    let revoked = tpp.get("/v1/accounts", &new_access, &with_psu).await;
    revoked.assert_tpp_message(StatusCode::UNAUTHORIZED, "TOKEN_INVALID");
    assert!(
        revoked.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer error=\"invalid_token\"")
    );
    // The revoked grant ends its consent, and carol's online banking says so.
    let ended = tpp
        .get(&format!("/v1/consents/{consent}/status"), &cc, &[])
        .await;
    assert_eq!(ended.body["consentStatus"], "expired", "{}", ended.body);
    let mut carol = online_banking(&server, "carol", "carol-demo-2026").await;
    let listed = carol.get("/bank/online/consents").await;
    assert!(
        listed.body.contains("expired") && !listed.body.contains(">valid<"),
        "{}",
        listed.body
    );

    // A replayed code fails.
    let replay = tpp.exchange(&code).await;
    replay.assert_oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    server.stop().await;
}
both_stores!(the_full_redirect_flow_gives_a_token_that_reads_exactly_the_consented_accounts);

async fn an_available_accounts_with_balance_consent_lists_the_accounts_with_balances(db: TestDb) {
    let (server, tpp, cc) = demo_tpp(db, "ais").await;
    let consent = tpp
        .consent(
            &cc,
            json!({"availableAccountsWithBalance": "allAccounts"}),
            4,
        )
        .await;
    let tokens = tpp
        .tokens(&server, &consent, "carol", "carol-demo-2026")
        .await;
    let token = tokens.body["access_token"].as_str().unwrap().to_owned();
    let headers = psu_headers(&consent);
    let list = tpp
        .get("/v1/accounts?withBalance=true", &token, &headers)
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let accounts = list.body["accounts"].as_array().unwrap();
    assert!(
        !accounts.is_empty() && accounts.iter().all(|a| a["balances"].is_array()),
        "{}",
        list.body
    );
    // Transactions are not part of it.
    let id = accounts[0]["resourceId"].as_str().unwrap();
    let refused = tpp
        .get(
            &format!("/v1/accounts/{id}/transactions?bookingStatus=booked"),
            &token,
            &headers,
        )
        .await;
    assert_ne!(refused.status, StatusCode::OK);
    server.stop().await;
}
both_stores!(an_available_accounts_with_balance_consent_lists_the_accounts_with_balances);
