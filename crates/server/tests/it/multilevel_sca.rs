//! Multilevel SCA end to end over HTTPS, on both stores: a payment from the
//! demo joint account of Dave and Erin needs both holders' authorisations,
//! each its own sub-resource which the TPP starts explicitly (Redirect or
//! Decoupled), and executes once, after the last; a decline by either
//! rejects it; nobody else can approve it; Alice's own accounts are as before.
//! Likewise an account-information consent on the joint account: the first
//! holder's approval fixes its accounts and leaves it `partiallyAuthorised`
//! (no reads), the other's makes it `valid` (or `rejected`).

use crate::decoupled_approach::{answer, decoupled_status_link, pending, sca, signed_in};
use crate::support::xs2a::{Answer, REDIRECT, Tpp, psu_headers};
use crate::support::{
    Browser, SANDBOX_CODE, TestServer, accounts_of, booked_balance, demo_server, iban,
};
use fintechapi_domain::ledger::{Account, LedgerRepository};
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::{Method, StatusCode};
use serde_json::json;

const PAYMENTS: &str = "/v1/payments/sepa-credit-transfers";
const REDIRECTED: [(&str, &str); 2] = [
    ("tpp-redirect-preferred", "true"),
    ("tpp-redirect-uri", REDIRECT),
];

/// The demo bank, Acme's payment app with its redirect URIs, a client
/// token, and the joint account (Dave's and Erin's only account).
pub(crate) async fn joint_bank(db: TestDb) -> (TestServer, Tpp, String, Account) {
    let server = demo_server(db).await;
    let tpp = Tpp::with_nok(&server, "Acme TPP GmbH", "pis");
    let cc = tpp.client_token().await;
    let dave = accounts_of(&server, "dave").await;
    assert_eq!(
        dave,
        accounts_of(&server, "erin").await,
        "one joint account"
    );
    let joint = dave.into_iter().next().unwrap();
    (server, tpp, cc, joint)
}

/// A payment of 12.34 from `debtor`, its authorisation by `approach`.
async fn initiate(tpp: &Tpp, cc: &str, debtor: &Account, approach: &[(&str, &str)]) -> Answer {
    let body = json!({"instructedAmount": {"currency": "EUR", "amount": "12.34"}, "debtorAccount": {"iban": iban(debtor)}, "creditorName": "Corner Shop", "creditorAccount": {"iban": "DE02120300000000202051"}});
    let mut headers = vec![("psu-ip-address", "192.0.2.7")];
    headers.extend_from_slice(approach);
    let created = tpp
        .call(Method::POST, PAYMENTS, cc, &headers, Some(&body))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    created
}

/// A payment from the joint account: its initiation starts no
/// authorisation and only links where to start one (the spec's explicit
/// start for multilevel SCA). Its id.
pub(crate) async fn joint_payment(tpp: &Tpp, cc: &str, joint: &Account) -> String {
    let created = initiate(tpp, cc, joint, &REDIRECTED).await;
    assert_eq!(created.body["transactionStatus"], "RCVD");
    let payment = created.body["paymentId"].as_str().unwrap().to_owned();
    let links = &created.body["_links"];
    assert_eq!(
        links["startAuthorisation"]["href"],
        format!("{PAYMENTS}/{payment}/authorisations")
    );
    assert!(links.get("scaRedirect").is_none(), "{links}");
    assert!(links.get("scaStatus").is_none(), "{links}");
    payment
}

pub(crate) async fn status(tpp: &Tpp, cc: &str, payment: &str) -> String {
    let read = tpp
        .get(&format!("{PAYMENTS}/{payment}/status"), cc, &[])
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    read.body["transactionStatus"].as_str().unwrap().to_owned()
}

/// The TPP starts the next authorisation of `payment` with `approach`.
pub(crate) async fn start(tpp: &Tpp, cc: &str, payment: &str, approach: &[(&str, &str)]) -> Answer {
    let path = format!("{PAYMENTS}/{payment}/authorisations");
    let started = tpp
        .call(Method::POST, &path, cc, approach, Some(&json!({})))
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.body);
    started
}

/// The holder `login` approves the only request pending for them.
pub(crate) async fn approve_decoupled(server: &TestServer, login: &str, decision: &str) {
    let mut psu = signed_in(server, login, &format!("{login}-demo-2026")).await;
    let listed = pending(&mut psu).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let href = listed[0]["href"].as_str().unwrap().to_owned();
    let answered = answer(&mut psu, &href, decision, SANDBOX_CODE).await;
    let outcome = if decision == "approve" {
        "approved"
    } else {
        "declined"
    };
    answered.assert_redirect(&format!("/bank/online/approvals?answered={outcome}"));
}

async fn a_joint_payment_executes_once_after_both_holders_approved(db: TestDb) {
    let (server, tpp, cc, joint) = joint_bank(db).await;
    let before = joint.balances.booked;
    let payment = joint_payment(&tpp, &cc, &joint).await;
    let created = start(&tpp, &cc, &payment, &REDIRECTED).await;
    let first = created.body["_links"]["scaStatus"]["href"]
        .as_str()
        .unwrap()
        .to_owned();

    // Dave approves by Redirect: his authorisation is finalised, the payment
    // waits for Erin and nothing moves.
    let mut dave = Browser::new(&server);
    let screen = dave
        .authorise(&tpp.sca_link(&created), "dave", "dave-demo-2026")
        .await;
    screen.assert_shows(&[
        "12.34 EUR",
        "held jointly",
        "once every holder has approved",
    ]);
    dave.decide(&screen, "approve")
        .await
        .assert_redirect(REDIRECT);
    assert_eq!(sca(&tpp, &cc, &first).await, "finalised");
    assert_eq!(status(&tpp, &cc, &payment).await, "PATC");
    assert_eq!(booked_balance(&server, joint.id).await, before);

    // Dave again, on a next authorisation: still only his approval.
    let again = start(&tpp, &cc, &payment, &REDIRECTED).await;
    let mut dave = Browser::new(&server);
    let screen = dave
        .authorise(&tpp.sca_link(&again), "dave", "dave-demo-2026")
        .await;
    dave.decide(&screen, "approve")
        .await
        .assert_redirect(REDIRECT);
    assert_eq!(status(&tpp, &cc, &payment).await, "PATC");
    assert_eq!(booked_balance(&server, joint.id).await, before);

    // Alice holds no mandate on the account: refused, nothing changes.
    let foreign = start(&tpp, &cc, &payment, &REDIRECTED).await;
    let mut alice = Browser::new(&server);
    let screen = alice
        .authorise(&tpp.sca_link(&foreign), "alice", "alice-demo-2026")
        .await;
    let refused = alice.decide(&screen, "approve").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    refused.assert_shows(&["joint account you do not hold"]);
    let refused = alice.decide(&screen, "deny").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(status(&tpp, &cc, &payment).await, "PATC");

    // Erin, the last holder, by Decoupled: executed, debited once.
    let for_erin = [("tpp-decoupled-preferred", "true"), ("psu-id", "erin")];
    let last = start(&tpp, &cc, &payment, &for_erin).await;
    let last = decoupled_status_link(&last);
    approve_decoupled(&server, "erin", "approve").await;
    assert_eq!(sca(&tpp, &cc, &last).await, "finalised");
    assert_eq!(status(&tpp, &cc, &payment).await, "ACSC");
    assert_eq!(booked_balance(&server, joint.id).await, before - 1234);
    let late = tpp
        .call(
            Method::POST,
            &format!("{PAYMENTS}/{payment}/authorisations"),
            &cc,
            &for_erin,
            Some(&json!({})),
        )
        .await;
    assert_eq!(late.refusal().1, Some("STATUS_INVALID"), "{}", late.body);
    let store = server.db.store().await;
    assert!(store.audit().await.unwrap().is_consistent());
    server.stop().await;
}
both_stores!(a_joint_payment_executes_once_after_both_holders_approved);

async fn a_joint_payment_declined_by_the_second_holder_is_rejected(db: TestDb) {
    let (server, tpp, cc, joint) = joint_bank(db).await;
    let before = joint.balances.booked;
    let for_dave = [("tpp-decoupled-preferred", "true"), ("psu-id", "dave")];
    let payment = joint_payment(&tpp, &cc, &joint).await;
    start(&tpp, &cc, &payment, &for_dave).await;
    approve_decoupled(&server, "dave", "approve").await;
    assert_eq!(status(&tpp, &cc, &payment).await, "PATC");

    let for_erin = [("tpp-decoupled-preferred", "true"), ("psu-id", "erin")];
    let last = start(&tpp, &cc, &payment, &for_erin).await;
    let last = decoupled_status_link(&last);
    approve_decoupled(&server, "erin", "decline").await;
    assert_eq!(sca(&tpp, &cc, &last).await, "failed");
    assert_eq!(status(&tpp, &cc, &payment).await, "RJCT");
    assert_eq!(booked_balance(&server, joint.id).await, before);
    server.stop().await;
}
both_stores!(a_joint_payment_declined_by_the_second_holder_is_rejected);

/// Erin answers two authorisations of the last approval at the same time,
/// from two sessions: one executes the payment, the other finds it decided.
async fn racing_last_approvals_execute_the_payment_once(db: TestDb) {
    let (server, tpp, cc, joint) = joint_bank(db).await;
    let before = joint.balances.booked;
    let for_dave = [("tpp-decoupled-preferred", "true"), ("psu-id", "dave")];
    let payment = joint_payment(&tpp, &cc, &joint).await;
    start(&tpp, &cc, &payment, &for_dave).await;
    approve_decoupled(&server, "dave", "approve").await;

    let for_erin = [("tpp-decoupled-preferred", "true"), ("psu-id", "erin")];
    start(&tpp, &cc, &payment, &for_erin).await;
    start(&tpp, &cc, &payment, &for_erin).await;
    let mut erin = signed_in(&server, "erin", "erin-demo-2026").await;
    let mut twin = signed_in(&server, "erin", "erin-demo-2026").await;
    let listed = pending(&mut erin).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    let href = |n: usize| listed[n]["href"].as_str().unwrap().to_owned();
    let (one, two) = (href(0), href(1));
    let (csrf_one, csrf_two) = (erin.get(&one).await.csrf(), twin.get(&two).await.csrf());
    let form = [("decision", "approve"), ("code", SANDBOX_CODE)];
    let (a, b) = tokio::join!(
        erin.submit(&one, &form, &csrf_one),
        twin.submit(&two, &form, &csrf_two),
    );
    let approved = [&a, &b]
        .iter()
        .filter(|p| p.location.as_deref() == Some("/bank/online/approvals?answered=approved"))
        .count();
    assert_eq!(approved, 1, "{} {}\n{}", a.status, b.status, b.body);
    let loser = if a.status == StatusCode::SEE_OTHER {
        &b
    } else {
        &a
    };
    assert!(
        [StatusCode::CONFLICT, StatusCode::NOT_FOUND].contains(&loser.status),
        "{}: {}",
        loser.status,
        loser.body
    );
    assert_eq!(status(&tpp, &cc, &payment).await, "ACSC");
    assert_eq!(booked_balance(&server, joint.id).await, before - 1234);
    server.stop().await;
}
both_stores!(racing_last_approvals_execute_the_payment_once);

async fn a_sole_holders_payment_needs_one_approval(db: TestDb) {
    let (server, tpp, cc, _) = joint_bank(db).await;
    let alices = accounts_of(&server, "alice").await.remove(0);
    let before = alices.balances.booked;
    let for_alice = [("tpp-decoupled-preferred", "true"), ("psu-id", "alice")];
    let created = initiate(&tpp, &cc, &alices, &for_alice).await;
    decoupled_status_link(&created);
    let payment = created.body["paymentId"].as_str().unwrap().to_owned();
    approve_decoupled(&server, "alice", "approve").await;
    assert_eq!(status(&tpp, &cc, &payment).await, "ACSC");
    assert_eq!(booked_balance(&server, alices.id).await, before - 1234);
    server.stop().await;
}
both_stores!(a_sole_holders_payment_needs_one_approval);

const CONSENTS: &str = "/v1/consents";

/// The demo bank, Acme's account-information app, a client token and the
/// joint account.
async fn joint_ais_bank(db: TestDb) -> (TestServer, Tpp, String, Account) {
    let server = demo_server(db).await;
    let tpp = Tpp::with_nok(&server, "Acme TPP GmbH", "ais");
    let cc = tpp.client_token().await;
    let joint = accounts_of(&server, "dave").await.remove(0);
    (server, tpp, cc, joint)
}

/// A consent to the balances and transactions of `account`, its first
/// authorisation by `approach`: the creation's answer.
async fn consent_on(tpp: &Tpp, cc: &str, account: &Account, approach: &[(&str, &str)]) -> Answer {
    let access =
        json!({"balances": [{"iban": iban(account)}], "transactions": [{"iban": iban(account)}]});
    let created = tpp.consent_with(cc, access, 4, approach).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["consentStatus"], "received");
    created
}

fn consent_id(created: &Answer) -> String {
    created.body["consentId"].as_str().unwrap().to_owned()
}

/// The TPP starts the next authorisation of `consent` with `approach`.
async fn start_consent(tpp: &Tpp, cc: &str, consent: &str, approach: &[(&str, &str)]) -> Answer {
    let path = format!("{CONSENTS}/{consent}/authorisations");
    let started = tpp
        .call(Method::POST, &path, cc, approach, Some(&json!({})))
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.body);
    started
}

/// The consent's status as `GET …/status` and `GET /v1/consents/{id}` show it.
async fn consent_status(tpp: &Tpp, cc: &str, consent: &str) -> String {
    let read = tpp.get(&format!("{CONSENTS}/{consent}"), cc, &[]).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    let status = tpp.consent_status(cc, consent).await;
    assert_eq!(read.body["consentStatus"], status);
    status.as_str().unwrap().to_owned()
}

/// `GET /v1/accounts` under `consent` with the client's token.
async fn read_accounts(tpp: &Tpp, cc: &str, consent: &str) -> Answer {
    tpp.get("/v1/accounts", cc, &psu_headers(consent)).await
}

const FOR_DAVE: [(&str, &str); 2] = [("tpp-decoupled-preferred", "true"), ("psu-id", "dave")];
const FOR_ERIN: [(&str, &str); 2] = [("tpp-decoupled-preferred", "true"), ("psu-id", "erin")];

async fn a_joint_consent_is_valid_once_both_holders_approved(db: TestDb) {
    let (server, tpp, cc, joint) = joint_ais_bank(db).await;
    let created = consent_on(&tpp, &cc, &joint, &REDIRECTED).await;
    let consent = consent_id(&created);
    let first = created.body["_links"]["scaStatus"]["href"]
        .as_str()
        .unwrap()
        .to_owned();

    // Dave approves by Redirect: his authorisation is finalised, the consent
    // awaits Erin and serves no reads.
    let mut dave = Browser::new(&server);
    let screen = dave
        .authorise(&tpp.sca_link(&created), "dave", "dave-demo-2026")
        .await;
    assert!(screen.shows_iban(&joint));
    screen.assert_shows(&["held jointly", "once every holder has approved"]);
    dave.decide(&screen, "approve")
        .await
        .assert_redirect(REDIRECT);
    assert_eq!(sca(&tpp, &cc, &first).await, "finalised");
    assert_eq!(
        consent_status(&tpp, &cc, &consent).await,
        "partiallyAuthorised"
    );
    let refused = read_accounts(&tpp, &cc, &consent).await;
    assert_eq!(
        refused.refusal(),
        (StatusCode::UNAUTHORIZED, Some("CONSENT_INVALID"), None)
    );
    assert!(
        refused.body.to_string().contains("every holder"),
        "{}",
        refused.body
    );
    let mut listed = signed_in(&server, "dave", "dave-demo-2026").await;
    listed
        .get("/bank/online/consents")
        .await
        .assert_shows(&["partially authorised"]);

    // Dave again, on a next authorisation: still only his approval.
    approve_next(&server, &tpp, &cc, &consent, "dave").await;
    assert_eq!(
        consent_status(&tpp, &cc, &consent).await,
        "partiallyAuthorised"
    );

    // Alice holds no mandate on the joint account: refused, nothing changes.
    let foreign = start_consent(&tpp, &cc, &consent, &REDIRECTED).await;
    let mut alice = Browser::new(&server);
    let screen = alice
        .authorise(&tpp.sca_link(&foreign), "alice", "alice-demo-2026")
        .await;
    screen.assert_shows(&["joint account you do not hold"]);
    for decision in ["approve", "deny"] {
        let refused = alice.decide(&screen, decision).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
        refused.assert_shows(&["joint account you do not hold"]);
    }
    assert_eq!(
        consent_status(&tpp, &cc, &consent).await,
        "partiallyAuthorised"
    );

    // Erin, the last holder, by Decoupled, sees the accounts Dave's approval
    // fixed: valid, and the joint account reads.
    let last = start_consent(&tpp, &cc, &consent, &FOR_ERIN).await;
    let last = decoupled_status_link(&last);
    let mut erin = signed_in(&server, "erin", "erin-demo-2026").await;
    let waiting = pending(&mut erin).await;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    let print = joint.iban.as_ref().unwrap().to_print_format();
    assert!(
        waiting[0]["what"][0].as_str().unwrap().contains(&print),
        "{waiting:?}"
    );
    approve_decoupled(&server, "erin", "approve").await;
    assert_eq!(sca(&tpp, &cc, &last).await, "finalised");
    assert_eq!(consent_status(&tpp, &cc, &consent).await, "valid");
    let read = read_accounts(&tpp, &cc, &consent).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.listed_ibans(), [iban(&joint)]);
    let late = tpp
        .call(
            Method::POST,
            &format!("{CONSENTS}/{consent}/authorisations"),
            &cc,
            &FOR_ERIN,
            Some(&json!({})),
        )
        .await;
    assert_eq!(late.refusal().1, Some("STATUS_INVALID"), "{}", late.body);

    // Either holder may withdraw it in online banking: Erin does.
    let listed = erin.get("/bank/online/consents").await;
    listed.assert_shows(&["Withdraw access of"]);
    let withdrawn = erin.withdraw_consent(&consent, &listed).await;
    withdrawn.assert_shows(&["Access withdrawn"]);
    assert_eq!(consent_status(&tpp, &cc, &consent).await, "revokedByPsu");
    server.stop().await;
}
both_stores!(a_joint_consent_is_valid_once_both_holders_approved);

/// The TPP starts a Decoupled authorisation of `consent` for `login`, who
/// approves it in online banking.
async fn approve_next(server: &TestServer, tpp: &Tpp, cc: &str, consent: &str, login: &str) {
    let for_psu = [("tpp-decoupled-preferred", "true"), ("psu-id", login)];
    let started = start_consent(tpp, cc, consent, &for_psu).await;
    let link = decoupled_status_link(&started);
    approve_decoupled(server, login, "approve").await;
    assert_eq!(sca(tpp, cc, &link).await, "finalised");
}

async fn a_joint_consent_declined_by_the_second_holder_is_rejected(db: TestDb) {
    let (server, tpp, cc, joint) = joint_ais_bank(db).await;
    let consent = consent_id(&consent_on(&tpp, &cc, &joint, &FOR_DAVE).await);
    approve_decoupled(&server, "dave", "approve").await;
    assert_eq!(
        consent_status(&tpp, &cc, &consent).await,
        "partiallyAuthorised"
    );
    let last = start_consent(&tpp, &cc, &consent, &FOR_ERIN).await;
    let last = decoupled_status_link(&last);
    approve_decoupled(&server, "erin", "decline").await;
    assert_eq!(sca(&tpp, &cc, &last).await, "failed");
    assert_eq!(consent_status(&tpp, &cc, &consent).await, "rejected");
    let refused = read_accounts(&tpp, &cc, &consent).await;
    assert_eq!(
        refused.refusal().1,
        Some("CONSENT_INVALID"),
        "{}",
        refused.body
    );

    // The TPP may end a partially authorised consent.
    let ended = consent_id(&consent_on(&tpp, &cc, &joint, &FOR_DAVE).await);
    approve_decoupled(&server, "dave", "approve").await;
    let deleted = tpp.delete(&format!("{CONSENTS}/{ended}"), &cc, &[]).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    assert_eq!(consent_status(&tpp, &cc, &ended).await, "terminatedByTpp");
    server.stop().await;
}
both_stores!(a_joint_consent_declined_by_the_second_holder_is_rejected);

/// Erin answers two authorisations of the last approval at the same time,
/// from two sessions: one makes the consent valid, the other finds it
/// decided. The TPP is notified of each status change, once.
async fn racing_last_approvals_make_the_consent_valid_once(db: TestDb) {
    let (server, tpp, cc, joint) = joint_ais_bank(db).await;
    let notified = [
        FOR_DAVE[0],
        FOR_DAVE[1],
        ("tpp-notification-uri", "https://acme.example/notify"),
        ("tpp-notification-content-preferred", "status=PROCESS"),
    ];
    let created = consent_on(&tpp, &cc, &joint, &notified).await;
    assert_eq!(created.headers["aspsp-notification-support"], "true");
    let consent = consent_id(&created);
    approve_decoupled(&server, "dave", "approve").await;

    start_consent(&tpp, &cc, &consent, &FOR_ERIN).await;
    start_consent(&tpp, &cc, &consent, &FOR_ERIN).await;
    let mut erin = signed_in(&server, "erin", "erin-demo-2026").await;
    let mut twin = signed_in(&server, "erin", "erin-demo-2026").await;
    let listed = pending(&mut erin).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    let href = |n: usize| listed[n]["href"].as_str().unwrap().to_owned();
    let (one, two) = (href(0), href(1));
    let (csrf_one, csrf_two) = (erin.get(&one).await.csrf(), twin.get(&two).await.csrf());
    let form = [("decision", "approve"), ("code", SANDBOX_CODE)];
    let (a, b) = tokio::join!(
        erin.submit(&one, &form, &csrf_one),
        twin.submit(&two, &form, &csrf_two),
    );
    let approved = [&a, &b]
        .iter()
        .filter(|p| p.location.as_deref() == Some("/bank/online/approvals?answered=approved"))
        .count();
    assert_eq!(approved, 1, "{} {}\n{}", a.status, b.status, b.body);
    let loser = if a.status == StatusCode::SEE_OTHER {
        &b
    } else {
        &a
    };
    assert!(
        [StatusCode::CONFLICT, StatusCode::NOT_FOUND].contains(&loser.status),
        "{}: {}",
        loser.status,
        loser.body
    );
    assert_eq!(consent_status(&tpp, &cc, &consent).await, "valid");
    let changes = format!(
        "SELECT status FROM notifications WHERE resource_id = '{consent}' \
         AND attribute = 'consentStatus' ORDER BY id"
    );
    assert_eq!(
        server.db.raw_strings(&changes).await,
        ["partiallyAuthorised", "valid"],
        "one change to valid"
    );
    server.stop().await;
}
both_stores!(racing_last_approvals_make_the_consent_valid_once);

/// The OAuth approach: the first holder's code is exchanged for a token
/// that reads nothing until the last holder approved, and then reads.
async fn a_joint_consent_by_oauth_reads_once_the_last_holder_approved(db: TestDb) {
    let (server, tpp, cc, joint) = joint_ais_bank(db).await;
    let consent = consent_id(&consent_on(&tpp, &cc, &joint, &[]).await);
    let tokens = tpp
        .tokens(&server, &consent, "dave", "dave-demo-2026")
        .await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    let token = tokens.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        consent_status(&tpp, &cc, &consent).await,
        "partiallyAuthorised"
    );
    let early = tpp
        .get("/v1/accounts", &token, &psu_headers(&consent))
        .await;
    early.assert_tpp_message(StatusCode::UNAUTHORIZED, "CONSENT_INVALID");

    approve_next(&server, &tpp, &cc, &consent, "erin").await;
    assert_eq!(consent_status(&tpp, &cc, &consent).await, "valid");
    let read = tpp
        .get("/v1/accounts", &token, &psu_headers(&consent))
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.listed_ibans(), [iban(&joint)]);
    server.stop().await;
}
both_stores!(a_joint_consent_by_oauth_reads_once_the_last_holder_approved);

async fn a_sole_holders_consent_needs_one_approval(db: TestDb) {
    let (server, tpp, cc, _) = joint_ais_bank(db).await;
    let alices = accounts_of(&server, "alice").await.remove(0);
    let for_alice = [("tpp-decoupled-preferred", "true"), ("psu-id", "alice")];
    let consent = consent_id(&consent_on(&tpp, &cc, &alices, &for_alice).await);
    approve_decoupled(&server, "alice", "approve").await;
    assert_eq!(consent_status(&tpp, &cc, &consent).await, "valid");
    let read = read_accounts(&tpp, &cc, &consent).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.listed_ibans(), [iban(&alices)]);
    server.stop().await;
}
both_stores!(a_sole_holders_consent_needs_one_approval);
