//! Consents by Decoupled: approved in online banking and read with the
//! client token and `Consent-ID`; never shown to another PSU; started
//! explicitly; an unknown `PSU-ID` answered alike and shown to nobody.

use crate::support::xs2a::Tpp;
use crate::support::xs2a::{demo_tpp, psu_headers};
use crate::support::{SANDBOX_CODE, accounts_of, demo_server_at, iban};
use fintechapi_domain::{Clock, ManualClock, SystemClock};
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{FOR_CAROL, answer, decoupled_status_link, pending, sca, signed_in};

async fn a_consent_by_decoupled_is_approved_in_online_banking_and_read_with_the_client_token(
    db: TestDb,
) {
    let (server, tpp, cc) = demo_tpp(db, "ais").await;
    let accounts = accounts_of(&server, "carol").await;
    let (first, second, third) = (&accounts[0], &accounts[1], &accounts[2]);
    let access =
        json!({"balances": [{"iban": iban(first)}], "transactions": [{"iban": iban(second)}]});
    let created = tpp.consent_with(&cc, access, 2, &FOR_CAROL).await;
    let sca_status = decoupled_status_link(&created);
    assert_eq!(created.body["consentStatus"], "received");
    let consent = created.body["consentId"].as_str().unwrap().to_owned();
    assert_eq!(sca(&tpp, &cc, &sca_status).await, "received");
    let with_psu = psu_headers(&consent);
    let early = tpp.get("/v1/accounts", &cc, &with_psu).await;
    assert_eq!(
        early.refusal().1,
        Some("CONSENT_INVALID"),
        "not authorised yet"
    );

    // Another PSU never sees it, nor can open or answer it.
    let mut alice = signed_in(&server, "alice", "alice-demo-2026").await;
    assert!(pending(&mut alice).await.is_empty());
    let page = alice.get("/bank/online/approvals").await;
    page.assert_shows(&["No request is waiting for you."]);

    // Carol sees what is asked, by whom, and when.
    let mut carol = signed_in(&server, "carol", "carol-demo-2026").await;
    let listed = pending(&mut carol).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let item = &listed[0];
    assert_eq!(item["tpp"], "Acme TPP GmbH");
    assert_eq!(item["app"], "Budget App");
    assert_eq!(item["kind"], "Access to your accounts");
    let href = item["href"].as_str().unwrap().to_owned();
    let page = carol.get("/bank/online/approvals").await;
    page.assert_shows(&["Acme TPP GmbH", "Budget App", &href, "/bank/approvals.js"]);
    assert!(page.shows_iban(first) && page.shows_iban(second));
    assert!(!page.shows_iban(third));
    let foreign = alice.get(&href).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{}", foreign.body);
    let csrf = alice.get("/bank/online/approvals").await.csrf();
    let foreign = alice
        .submit(
            &href,
            &[("decision", "approve"), ("code", SANDBOX_CODE)],
            &csrf,
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{}", foreign.body);
    assert_eq!(sca(&tpp, &cc, &sca_status).await, "received");

    // Opening it starts the authorisation; a wrong code decides nothing.
    let confirm = carol.get(&href).await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.body);
    assert!(confirm.shows_iban(first));
    assert_eq!(sca(&tpp, &cc, &sca_status).await, "started");
    let wrong = carol
        .submit(
            &href,
            &[("decision", "approve"), ("code", "000000")],
            &confirm.csrf(),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.body);
    assert_eq!(sca(&tpp, &cc, &sca_status).await, "started");
    assert_eq!(tpp.consent_status(&cc, &consent).await, "received");

    let approved = answer(&mut carol, &href, "approve", SANDBOX_CODE).await;
    approved.assert_redirect("/bank/online/approvals?answered=approved");
    assert_eq!(sca(&tpp, &cc, &sca_status).await, "finalised");
    assert_eq!(tpp.consent_status(&cc, &consent).await, "valid");
    assert!(pending(&mut carol).await.is_empty());
    carol
        .get("/bank/online/approvals?answered=approved")
        .await
        .assert_shows(&["Approved.", "No request is waiting for you."]);
    let again = carol.get(&href).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "answered once");

    // The client's own token with Consent-ID reads exactly the consented accounts.
    let list = tpp.get("/v1/accounts", &cc, &with_psu).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(list.listed_ibans(), [iban(first), iban(second)]);
    server.stop().await;
}
both_stores!(a_consent_by_decoupled_is_approved_in_online_banking_and_read_with_the_client_token);

async fn a_declined_consent_is_rejected_and_its_authorisation_failed(db: TestDb) {
    let (server, tpp, cc) = demo_tpp(db, "ais").await;
    let created = tpp
        .consent_with(&cc, json!({"allPsd2": "allAccounts"}), 4, &FOR_CAROL)
        .await;
    let sca_status = decoupled_status_link(&created);
    let consent = created.body["consentId"].as_str().unwrap().to_owned();
    let mut carol = signed_in(&server, "carol", "carol-demo-2026").await;
    let href = pending(&mut carol).await[0]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    let declined = answer(&mut carol, &href, "decline", SANDBOX_CODE).await;
    declined.assert_redirect("/bank/online/approvals?answered=declined");
    assert_eq!(sca(&tpp, &cc, &sca_status).await, "failed");
    assert_eq!(tpp.consent_status(&cc, &consent).await, "rejected");
    let read = tpp.get("/v1/accounts", &cc, &psu_headers(&consent)).await;
    assert_eq!(read.refusal().1, Some("CONSENT_INVALID"));
    server.stop().await;
}
both_stores!(a_declined_consent_is_rejected_and_its_authorisation_failed);

async fn with_explicit_start_the_tpp_starts_the_authorisation(db: TestDb) {
    let (server, tpp, cc) = demo_tpp(db, "ais").await;
    let explicit = [
        FOR_CAROL[0],
        FOR_CAROL[1],
        ("tpp-explicit-authorisation-preferred", "true"),
    ];
    let created = tpp
        .consent_with(&cc, json!({"allPsd2": "allAccounts"}), 4, &explicit)
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.headers["aspsp-sca-approach"], "DECOUPLED");
    let consent = created.body["consentId"].as_str().unwrap().to_owned();
    let start = format!("/v1/consents/{consent}/authorisations");
    let links = &created.body["_links"];
    assert_eq!(links["startAuthorisation"]["href"], start.as_str());
    assert!(links.get("scaStatus").is_none(), "{links}");
    assert!(created.body.get("scaStatus").is_none(), "{}", created.body);
    let mut carol = signed_in(&server, "carol", "carol-demo-2026").await;
    assert!(pending(&mut carol).await.is_empty(), "nothing started yet");

    // The start, too, needs the PSU-ID.
    let anonymous = tpp
        .call(Method::POST, &start, &cc, &FOR_CAROL[..1], Some(&json!({})))
        .await;
    anonymous.assert_refusal(StatusCode::BAD_REQUEST, "FORMAT_ERROR", "PSU-ID");
    let started = tpp
        .call(Method::POST, &start, &cc, &FOR_CAROL, Some(&json!({})))
        .await;
    let sca_status = decoupled_status_link(&started);
    let id = started.body["authorisationId"].as_str().unwrap();
    assert_eq!(sca_status, format!("{start}/{id}"));
    let listed = pending(&mut carol).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let href = listed[0]["href"].as_str().unwrap().to_owned();
    assert!(href.ends_with(id), "{href}");
    answer(&mut carol, &href, "approve", SANDBOX_CODE)
        .await
        .assert_redirect("/bank/online/approvals?answered=approved");
    assert_eq!(sca(&tpp, &cc, &sca_status).await, "finalised");
    assert_eq!(tpp.consent_status(&cc, &consent).await, "valid");

    // Authorised: no further start.
    let late = tpp
        .call(Method::POST, &start, &cc, &FOR_CAROL, Some(&json!({})))
        .await;
    assert_eq!(late.refusal().1, Some("STATUS_INVALID"), "{}", late.body);
    server.stop().await;
}
both_stores!(with_explicit_start_the_tpp_starts_the_authorisation);

/// The keys of a JSON object, sorted.
fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

async fn an_unknown_psu_id_is_answered_alike_shown_to_nobody_and_expires(db: TestDb) {
    let clock = ManualClock::new(SystemClock.now());
    let server = demo_server_at(db, &clock).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let cc = tpp.client_token().await;
    let access = || json!({"allPsd2": "allAccounts"});
    let known = tpp.consent_with(&cc, access(), 4, &FOR_CAROL).await;
    let unknown_psu = [FOR_CAROL[0], ("psu-id", "nobody-banks-here")];
    let unknown = tpp.consent_with(&cc, access(), 4, &unknown_psu).await;
    let known_status = decoupled_status_link(&known);
    let unknown_status = decoupled_status_link(&unknown);
    assert_eq!(keys(&known.body), keys(&unknown.body));
    assert_eq!(keys(&known.body["_links"]), keys(&unknown.body["_links"]));
    assert_eq!(known.body["psuMessage"], unknown.body["psuMessage"]);

    let mut carol = signed_in(&server, "carol", "carol-demo-2026").await;
    assert_eq!(pending(&mut carol).await.len(), 1, "only her own request");
    let mut alice = signed_in(&server, "alice", "alice-demo-2026").await;
    assert!(pending(&mut alice).await.is_empty());

    // Polling the list is not activity: the idle timeout still ends the session.
    clock.advance(time::Duration::minutes(4));
    assert_eq!(pending(&mut carol).await.len(), 1);
    clock.advance(time::Duration::minutes(2));
    let ended = carol.get("/bank/online/approvals.json").await;
    assert_eq!(ended.status, StatusCode::BAD_REQUEST, "{}", ended.body);

    // Unanswered until the profile's expiry: both failed, and gone from the list.
    let profile: Value = server.get_json("/aspsp-profile").await;
    let minutes = profile["sca"]["decoupledExpiryMinutes"].as_i64().unwrap();
    clock.advance(time::Duration::minutes(minutes - 6));
    let cc = tpp.client_token().await;
    for link in [&known_status, &unknown_status] {
        assert_eq!(sca(&tpp, &cc, link).await, "failed");
    }
    let mut carol = signed_in(&server, "carol", "carol-demo-2026").await;
    assert!(pending(&mut carol).await.is_empty(), "expired");
    server.stop().await;
}
both_stores!(an_unknown_psu_id_is_answered_alike_shown_to_nobody_and_expires);

async fn for_a_bank_offered_consent_the_psu_ticks_the_accounts_when_approving(db: TestDb) {
    let (server, tpp, cc) = demo_tpp(db, "ais").await;
    let accounts = accounts_of(&server, "carol").await;
    let (first, second) = (&accounts[0], &accounts[1]);
    let access = json!({"accounts": [], "balances": []});
    let created = tpp.consent_with(&cc, access, 4, &FOR_CAROL).await;
    let sca_status = decoupled_status_link(&created);
    let consent = created.body["consentId"].as_str().unwrap().to_owned();
    let mut carol = signed_in(&server, "carol", "carol-demo-2026").await;
    let href = pending(&mut carol).await[0]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = carol.get(&href).await;
    page.assert_shows(&["Accounts the app may see", &first.id.to_string()]);

    // None ticked: asked again, and the second factor is not spent on it.
    let none = carol
        .submit(
            &href,
            &[("decision", "approve"), ("code", SANDBOX_CODE)],
            &page.csrf(),
        )
        .await;
    assert_eq!(none.status, StatusCode::BAD_REQUEST, "{}", none.body);
    none.assert_shows(&["Choose at least one account"]);
    assert_eq!(sca(&tpp, &cc, &sca_status).await, "started");

    let first_id = first.id.to_string();
    let ticked = [
        ("decision", "approve"),
        ("code", SANDBOX_CODE),
        ("account", first_id.as_str()),
    ];
    carol
        .submit(&href, &ticked, &page.csrf())
        .await
        .assert_redirect("/bank/online/approvals?answered=approved");
    assert_eq!(sca(&tpp, &cc, &sca_status).await, "finalised");
    let list = tpp.get("/v1/accounts", &cc, &psu_headers(&consent)).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(list.listed_ibans(), [iban(first)]);
    assert!(!list.listed_ibans().contains(&iban(second).as_str()));
    server.stop().await;
}
both_stores!(for_a_bank_offered_consent_the_psu_ticks_the_accounts_when_approving);
