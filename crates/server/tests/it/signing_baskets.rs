//! Berlin Group signing baskets over HTTPS on both stores: two payments and
//! a consent authorised on one bank page with one second factor (each
//! payment executed once, the consent read with), the authenticator's answer
//! linked to all of the payments, a declined basket, a deletion before the
//! authorisation, every refusal, and a crash after the approval finished by
//! the settlement loop.

use crate::support::xs2a::{Answer, NOK, REDIRECT, Tpp, VERIFIER, psu_headers};
use crate::support::{
    Browser, SANDBOX_CODE, TestServer, accounts_of, booked_balance, challenge_on,
    enrol_authenticator, iban, log_in, second_factor,
};
use fintechapi_domain::basket::BasketRepository;
use fintechapi_domain::ledger::{Account, LedgerRepository};
use fintechapi_domain::payment::PaymentRepository;
use fintechapi_domain::psu::PsuRepository;
use fintechapi_domain::secret::pkce_s256;
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const BASKETS: &str = "/v1/signing-baskets";

/// The Redirect approach's headers of a basket's creation.
const BY_REDIRECT: [(&str, &str); 4] = [
    ("psu-ip-address", "192.0.2.7"),
    ("tpp-redirect-preferred", "true"),
    ("tpp-redirect-uri", REDIRECT),
    ("tpp-nok-redirect-uri", NOK),
];

/// The demo bank, Acme's app for account information and payments, its client token.
async fn acme(db: TestDb) -> (TestServer, Tpp, String) {
    let server = crate::support::demo_server(db).await;
    let tpp = Tpp::with_nok(&server, "Acme TPP GmbH", "ais,pis");
    let cc = tpp.client_token().await;
    (server, tpp, cc)
}

/// A payment of `amount` from `debtor` to `creditor`, initiated with
/// `headers` (none: the OAuth approach, nothing started); its id.
async fn payment(
    tpp: &Tpp,
    cc: &str,
    debtor: &Account,
    amount: &str,
    creditor: &str,
    headers: &[(&str, &str)],
) -> (String, Value) {
    let body = json!({"instructedAmount": {"currency": "EUR", "amount": amount}, "debtorAccount": {"iban": iban(debtor)}, "creditorName": creditor, "creditorAccount": {"iban": "DE02120300000000202051"}});
    let mut all = vec![("psu-ip-address", "192.0.2.7")];
    all.extend_from_slice(headers);
    let a = tpp
        .post("/v1/payments/sepa-credit-transfers", cc, &all, &body)
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    (a.body["paymentId"].as_str().unwrap().to_owned(), a.body)
}

/// A consent to read `account`'s balances (OAuth approach, nothing started).
async fn balances_consent(tpp: &Tpp, cc: &str, account: &Account) -> String {
    tpp.consent(cc, json!({"balances": [{"iban": iban(account)}]}), 4)
        .await
}

fn basket_body(payments: &[&str], consents: &[&str]) -> Value {
    let mut body = json!({});
    if !payments.is_empty() {
        body["paymentIds"] = json!(payments);
    }
    if !consents.is_empty() {
        body["consentIds"] = json!(consents);
    }
    body
}

async fn transaction_status(tpp: &Tpp, cc: &str, path: &str) -> Value {
    let a = tpp.get(&format!("{path}/status"), cc, &[]).await;
    assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.body);
    a.body["transactionStatus"].clone()
}

/// Asserts that the first `tppMessages` text mentions `text`.
#[track_caller]
fn says(a: &Answer, text: &str) {
    let said = a.body["tppMessages"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(said.contains(text), "{}", a.body);
}

fn payment_path(id: &str) -> String {
    format!("/v1/payments/sepa-credit-transfers/{id}")
}

async fn two_payments_and_a_consent_are_authorised_with_one_second_factor(db: TestDb) {
    let (server, tpp, cc) = acme(db).await;
    let store = server.db.store().await;
    let accounts = accounts_of(&server, "carol").await;
    let (debtor, other) = (&accounts[0], &accounts[2]);
    let before = debtor.balances.booked;
    let (rent, _) = payment(&tpp, &cc, debtor, "12.34", "Corner Shop", &[]).await;
    let (books, _) = payment(&tpp, &cc, debtor, "5.00", "Book Store", &[]).await;
    let consent = balances_consent(&tpp, &cc, other).await;

    let request_id = uuid::Uuid::new_v4().to_string();
    let body = basket_body(&[&rent, &books], &[&consent]);
    let create = || {
        tpp.call_as(
            &request_id,
            Method::POST,
            BASKETS,
            &cc,
            &BY_REDIRECT,
            Some(&body),
        )
    };
    let created = create().await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.headers["aspsp-sca-approach"], "REDIRECT");
    assert_eq!(created.body["transactionStatus"], "RCVD");
    let basket = created.body["basketId"].as_str().unwrap().to_owned();
    let own = format!("{BASKETS}/{basket}");
    assert_eq!(created.headers["location"], own);
    let links = &created.body["_links"];
    assert_eq!(links["self"]["href"], own);
    assert_eq!(links["status"]["href"], format!("{own}/status"));
    let sca_status = links["scaStatus"]["href"].as_str().unwrap().to_owned();
    assert!(
        sca_status.starts_with(&format!("{own}/authorisations/")),
        "{sca_status}"
    );
    assert_eq!(
        tpp.get(&sca_status, &cc, &[]).await.body["scaStatus"],
        "received"
    );
    let link = tpp.sca_link(&created);

    let read = tpp.get(&own, &cc, &[]).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body["payments"], json!([rent, books]));
    assert_eq!(read.body["consents"], json!([consent]));
    assert_eq!(read.body["transactionStatus"], "RCVD");

    // A basketed payment has no authorisation of its own, by any approach.
    let alone = tpp
        .post(
            &format!("{}/authorisations", payment_path(&rent)),
            &cc,
            &BY_REDIRECT,
            &json!({}),
        )
        .await;
    alone.assert_tpp_message(StatusCode::BAD_REQUEST, "SERVICE_INVALID");
    says(&alone, "signing basket");
    let pushed = tpp
        .form(
            "/oauth2/par",
            &[
                ("response_type", "code"),
                ("redirect_uri", REDIRECT),
                ("scope", &format!("PIS:{rent}")),
                ("code_challenge", &pkce_s256(VERIFIER)),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    pushed.assert_oauth_error(StatusCode::BAD_REQUEST, "invalid_scope");

    // One page for the second factor, listing both payments, one code.
    let mut psu = Browser::new(&server);
    psu.get(&link).await.assert_redirect("/bank/login");
    log_in(&mut psu, "carol", "carol-demo-2026").await;
    let sca = psu.get("/bank/sca").await;
    sca.assert_shows(&["12.34 EUR", "Corner Shop", "5.00 EUR", "Book Store"]);
    second_factor(&mut psu, SANDBOX_CODE)
        .await
        .assert_redirect("/bank/consent");
    // One decision page: both payments and what the consent grants.
    let screen = psu.get("/bank/consent").await;
    screen.assert_shows(&[
        "Approve these requests?",
        "Corner Shop",
        "Book Store",
        "balances",
    ]);
    assert!(screen.shows_iban(other), "{}", screen.body);
    assert_eq!(
        tpp.get(&sca_status, &cc, &[]).await.body["scaStatus"],
        "psuAuthenticated"
    );
    psu.decide(&screen, "approve")
        .await
        .assert_redirect(REDIRECT);

    assert_eq!(transaction_status(&tpp, &cc, &own).await, "ACTC");
    assert_eq!(
        tpp.get(&sca_status, &cc, &[]).await.body["scaStatus"],
        "finalised"
    );
    for id in [&rent, &books] {
        assert_eq!(
            transaction_status(&tpp, &cc, &payment_path(id)).await,
            "ACSC"
        );
    }
    assert_eq!(
        booked_balance(&server, debtor.id).await,
        before - 1234 - 500
    );
    assert_eq!(tpp.consent_status(&cc, &consent).await, "valid");
    // The consent reads as one authorised by Redirect: client token and Consent-ID.
    let balances = tpp
        .get(
            &format!("/v1/accounts/{}/balances", other.id),
            &cc,
            &psu_headers(&consent),
        )
        .await;
    assert_eq!(balances.status, StatusCode::OK, "{}", balances.body);

    // The same creation again: the same basket, decided, nothing to authorise.
    let replay = create().await;
    assert_eq!(
        (
            replay.status,
            replay.body["basketId"].as_str(),
            replay.body["transactionStatus"].as_str()
        ),
        (StatusCode::CREATED, Some(basket.as_str()), Some("ACTC"))
    );
    assert!(
        replay.body["_links"].get("scaRedirect").is_none(),
        "{}",
        replay.body
    );
    // The link worked once; the money moved once.
    assert_eq!(
        Browser::new(&server).get(&link).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        booked_balance(&server, debtor.id).await,
        before - 1234 - 500
    );
    assert!(store.audit().await.unwrap().is_consistent());
    // An authorised basket is not deleted.
    let delete = tpp.delete(&own, &cc, &[]).await;
    delete.assert_tpp_message(StatusCode::METHOD_NOT_ALLOWED, "CANCELLATION_INVALID");
    server.stop().await;
}
both_stores!(two_payments_and_a_consent_are_authorised_with_one_second_factor);

async fn a_declined_basket_rejects_every_entry(db: TestDb) {
    let (server, tpp, cc) = acme(db).await;
    let accounts = accounts_of(&server, "carol").await;
    let debtor = &accounts[0];
    let before = debtor.balances.booked;
    let (id, _) = payment(&tpp, &cc, debtor, "7.00", "Corner Shop", &[]).await;
    let consent = balances_consent(&tpp, &cc, debtor).await;
    let created = tpp
        .post(
            BASKETS,
            &cc,
            &BY_REDIRECT,
            &basket_body(&[&id], &[&consent]),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let own = format!("{BASKETS}/{}", created.body["basketId"].as_str().unwrap());

    let mut psu = Browser::new(&server);
    let screen = psu
        .authorise(&tpp.sca_link(&created), "carol", "carol-demo-2026")
        .await;
    psu.decide(&screen, "deny").await.assert_redirect(NOK);

    assert_eq!(transaction_status(&tpp, &cc, &own).await, "RJCT");
    assert_eq!(
        transaction_status(&tpp, &cc, &payment_path(&id)).await,
        "RJCT"
    );
    assert_eq!(tpp.consent_status(&cc, &consent).await, "rejected");
    assert_eq!(booked_balance(&server, debtor.id).await, before);
    server.stop().await;
}
both_stores!(a_declined_basket_rejects_every_entry);

/// A consent on the joint account needs each holder's own authorisation
/// (multilevel SCA), which one basket SCA is not: Dave's approval of the
/// basket declines it, and the consent is rejected, never valid.
async fn a_basket_with_a_joint_accounts_consent_is_declined(db: TestDb) {
    let (server, tpp, cc) = acme(db).await;
    let joint = accounts_of(&server, "dave").await.remove(0);
    let consent = balances_consent(&tpp, &cc, &joint).await;
    let created = tpp
        .post(BASKETS, &cc, &BY_REDIRECT, &basket_body(&[], &[&consent]))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let own = format!("{BASKETS}/{}", created.body["basketId"].as_str().unwrap());
    let mut psu = Browser::new(&server);
    let screen = psu
        .authorise(&tpp.sca_link(&created), "dave", "dave-demo-2026")
        .await;
    psu.decide(&screen, "approve").await.assert_redirect(NOK);
    assert_eq!(transaction_status(&tpp, &cc, &own).await, "RJCT");
    assert_eq!(tpp.consent_status(&cc, &consent).await, "rejected");
    server.stop().await;
}
both_stores!(a_basket_with_a_joint_accounts_consent_is_declined);

async fn a_basket_is_deleted_only_before_its_authorisation(db: TestDb) {
    let (server, tpp, cc) = acme(db).await;
    let debtor = accounts_of(&server, "carol").await.remove(0);
    let (id, _) = payment(&tpp, &cc, &debtor, "3.00", "Corner Shop", &[]).await;
    let mut explicit = BY_REDIRECT.to_vec();
    explicit.push(("tpp-explicit-authorisation-preferred", "true"));
    let first = tpp
        .post(BASKETS, &cc, &explicit, &basket_body(&[&id], &[]))
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let own = format!("{BASKETS}/{}", first.body["basketId"].as_str().unwrap());
    assert_eq!(
        first.body["_links"]["startAuthorisation"]["href"],
        format!("{own}/authorisations")
    );
    assert!(first.body["_links"].get("scaRedirect").is_none());
    let deleted = tpp.delete(&own, &cc, &[]).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    assert_eq!(transaction_status(&tpp, &cc, &own).await, "CANC");
    // The payment itself is untouched and free for another basket.
    assert_eq!(
        transaction_status(&tpp, &cc, &payment_path(&id)).await,
        "RCVD"
    );
    let second = tpp
        .post(BASKETS, &cc, &explicit, &basket_body(&[&id], &[]))
        .await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.body);
    let own = format!("{BASKETS}/{}", second.body["basketId"].as_str().unwrap());
    let started = tpp
        .post(
            &format!("{own}/authorisations"),
            &cc,
            &BY_REDIRECT,
            &json!({}),
        )
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.body);
    assert_eq!(started.body["scaStatus"], "received");
    let ids = tpp.authorisation_ids(&own, &cc).await;
    assert_eq!(ids, [started.body["authorisationId"].as_str().unwrap()]);
    // Once the PSU opened the link, the basket stays.
    let mut psu = Browser::new(&server);
    psu.get(&tpp.sca_link(&started))
        .await
        .assert_redirect("/bank/login");
    let refused = tpp.delete(&own, &cc, &[]).await;
    refused.assert_tpp_message(StatusCode::METHOD_NOT_ALLOWED, "CANCELLATION_INVALID");
    assert_eq!(transaction_status(&tpp, &cc, &own).await, "RCVD");
    server.stop().await;
}
both_stores!(a_basket_is_deleted_only_before_its_authorisation);

async fn every_basket_that_cannot_be_is_refused(db: TestDb) {
    let (server, tpp, cc) = acme(db).await;
    let debtor = accounts_of(&server, "carol").await.remove(0);
    let refusal = |body: Value, headers: Vec<(&'static str, &'static str)>| {
        let (tpp, cc) = (&tpp, &cc);
        async move { tpp.post(BASKETS, cc, &headers, &body).await }
    };
    let redirect = BY_REDIRECT.to_vec();

    // Another application's payment is unknown here.
    let other = Tpp::with_nok(&server, "Other TPP Ltd", "ais,pis");
    let other_cc = other.client_token().await;
    let (foreign, _) = payment(&other, &other_cc, &debtor, "1.00", "Corner Shop", &[]).await;
    let a = refusal(basket_body(&[&foreign], &[]), redirect.clone()).await;
    a.assert_refusal(StatusCode::BAD_REQUEST, "RESOURCE_UNKNOWN", "paymentIds[0]");

    // An unknown id, and a malformed one.
    let unknown = uuid::Uuid::new_v4().to_string();
    let a = refusal(basket_body(&[], &[&unknown]), redirect.clone()).await;
    a.assert_refusal(StatusCode::BAD_REQUEST, "RESOURCE_UNKNOWN", "consentIds[0]");
    let a = refusal(basket_body(&["not-an-id"], &[]), redirect.clone()).await;
    a.assert_refusal(StatusCode::BAD_REQUEST, "RESOURCE_UNKNOWN", "paymentIds[0]");

    // A payment authorised already, and one whose own authorisation started.
    let by_itself = [
        ("tpp-redirect-preferred", "true"),
        ("tpp-redirect-uri", REDIRECT),
    ];
    let (paid, created) = payment(&tpp, &cc, &debtor, "2.00", "Corner Shop", &by_itself).await;
    let link = created["_links"]["scaRedirect"]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    let (started, _) = payment(&tpp, &cc, &debtor, "2.50", "Corner Shop", &by_itself).await;
    let a = refusal(basket_body(&[&started], &[]), redirect.clone()).await;
    a.assert_refusal(
        StatusCode::CONFLICT,
        "REFERENCE_STATUS_INVALID",
        "paymentIds[0]",
    );
    let mut psu = Browser::new(&server);
    let screen = psu.authorise(&link, "carol", "carol-demo-2026").await;
    psu.decide(&screen, "approve")
        .await
        .assert_redirect(REDIRECT);
    let a = refusal(basket_body(&[&paid], &[]), redirect.clone()).await;
    a.assert_refusal(
        StatusCode::CONFLICT,
        "REFERENCE_STATUS_INVALID",
        "paymentIds[0]",
    );
    says(&a, "ACSC");

    // A joint account's payment: each holder authorises it on their own.
    let joint = accounts_of(&server, "dave").await.remove(0);
    let (shared, _) = payment(&tpp, &cc, &joint, "3.50", "Corner Shop", &[]).await;
    let a = refusal(basket_body(&[&shared], &[]), redirect.clone()).await;
    a.assert_refusal(
        StatusCode::CONFLICT,
        "REFERENCE_MIX_INVALID",
        "paymentIds[0]",
    );

    // A payment in another open basket.
    let (free, _) = payment(&tpp, &cc, &debtor, "4.00", "Corner Shop", &[]).await;
    let first = refusal(basket_body(&[&free], &[]), redirect.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let a = refusal(basket_body(&[&free], &[]), redirect.clone()).await;
    a.assert_refusal(
        StatusCode::CONFLICT,
        "REFERENCE_STATUS_INVALID",
        "paymentIds[0]",
    );

    // More than 20 entries, none at all, one named twice.
    let many: Vec<String> = (0..21).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let a = refusal(basket_body(&many, &[]), redirect.clone()).await;
    a.assert_tpp_message(StatusCode::BAD_REQUEST, "FORMAT_ERROR");
    says(&a, "at most 20");
    let a = refusal(json!({}), redirect.clone()).await;
    a.assert_tpp_message(StatusCode::BAD_REQUEST, "FORMAT_ERROR");
    let (twice, _) = payment(&tpp, &cc, &debtor, "4.50", "Corner Shop", &[]).await;
    let a = refusal(basket_body(&[&twice, &twice], &[]), redirect.clone()).await;
    a.assert_refusal(StatusCode::BAD_REQUEST, "FORMAT_ERROR", "paymentIds[1]");

    // Only the Redirect approach authorises a basket.
    let oauth = vec![("psu-ip-address", "192.0.2.7")];
    let a = refusal(basket_body(&[&twice], &[]), oauth).await;
    a.assert_tpp_message(StatusCode::BAD_REQUEST, "SERVICE_INVALID");
    says(&a, "Redirect");

    // The same X-Request-ID with another body.
    let request_id = uuid::Uuid::new_v4().to_string();
    let (one, _) = payment(&tpp, &cc, &debtor, "6.00", "Corner Shop", &[]).await;
    let (two, _) = payment(&tpp, &cc, &debtor, "6.50", "Corner Shop", &[]).await;
    for (id, expected) in [(&one, StatusCode::CREATED), (&two, StatusCode::BAD_REQUEST)] {
        let body = basket_body(&[id], &[]);
        let a = tpp
            .call_as(
                &request_id,
                Method::POST,
                BASKETS,
                &cc,
                &BY_REDIRECT,
                Some(&body),
            )
            .await;
        assert_eq!(a.status, expected, "{}", a.body);
    }
    server.stop().await;
}
both_stores!(every_basket_that_cannot_be_is_refused);

/// The 8-digit challenge of one payment's own authorisation.
fn lone_challenge(payment: &fintechapi_domain::payment::Payment) -> String {
    let digest = fintechapi_bank::passkey::payment_digest(payment);
    let first: [u8; 8] = digest[..8].try_into().unwrap();
    format!("{:08}", u64::from_be_bytes(first) % 100_000_000)
}

async fn the_second_factor_signs_all_of_the_baskets_payments_at_once(db: TestDb) {
    let (server, tpp, cc) = acme(db).await;
    let store = server.db.store().await;
    let seed = enrol_authenticator(&server, "carol").await;
    let debtor = accounts_of(&server, "carol").await.remove(0);
    let before = debtor.balances.booked;
    let (first, _) = payment(&tpp, &cc, &debtor, "8.00", "Corner Shop", &[]).await;
    let (second, _) = payment(&tpp, &cc, &debtor, "9.00", "Book Store", &[]).await;
    let created = tpp
        .post(
            BASKETS,
            &cc,
            &BY_REDIRECT,
            &basket_body(&[&first, &second], &[]),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);

    let mut psu = Browser::new(&server);
    psu.get(&tpp.sca_link(&created))
        .await
        .assert_redirect("/bank/login");
    log_in(&mut psu, "carol", "carol-demo-2026").await;
    let page = psu.get("/bank/sca").await;
    let challenge = challenge_on(&page.body);
    // Neither payment's own challenge: the answer to one of them is refused.
    let lone = store
        .payment(first.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_ne!(challenge, lone_challenge(&lone));
    let one_only = seed.ocra_response(&lone_challenge(&lone)).unwrap();
    let refused = psu
        .post("/bank/sca", &[("code", &one_only), ("csrf", &page.csrf())])
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    // The sandbox code does not stand in for the authenticator either.
    let page = psu.get("/bank/sca").await;
    let sandbox = psu
        .post(
            "/bank/sca",
            &[("code", SANDBOX_CODE), ("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(sandbox.status, StatusCode::UNAUTHORIZED, "{}", sandbox.body);
    let page = psu.get("/bank/sca").await;
    let answer = seed.ocra_response(&challenge_on(&page.body)).unwrap();
    psu.post("/bank/sca", &[("code", &answer), ("csrf", &page.csrf())])
        .await
        .assert_redirect("/bank/consent");
    let screen = psu.get("/bank/consent").await;
    psu.decide(&screen, "approve")
        .await
        .assert_redirect(REDIRECT);
    assert_eq!(booked_balance(&server, debtor.id).await, before - 800 - 900);
    server.stop().await;
}
both_stores!(the_second_factor_signs_all_of_the_baskets_payments_at_once);

async fn a_basket_approved_before_a_crash_is_finished_by_the_settlement_loop(db: TestDb) {
    let (server, tpp, cc) = acme(db).await;
    let store = server.db.store().await;
    let debtor = accounts_of(&server, "carol").await.remove(0);
    let before = debtor.balances.booked;
    let (first, _) = payment(&tpp, &cc, &debtor, "10.00", "Corner Shop", &[]).await;
    let (second, _) = payment(&tpp, &cc, &debtor, "11.00", "Book Store", &[]).await;
    let created = tpp
        .post(
            BASKETS,
            &cc,
            &BY_REDIRECT,
            &basket_body(&[&first, &second], &[]),
        )
        .await;
    let basket = created.body["basketId"].as_str().unwrap().to_owned();
    // The PSU's approval is stored, then the node dies before any payment.
    let (carol, _) = store.psu_by_login("carol").await.unwrap().unwrap();
    let now = fintechapi_domain::Clock::now(&fintechapi_domain::SystemClock);
    assert!(
        store
            .approve_basket(basket.parse().unwrap(), carol.id, Vec::new(), now)
            .await
            .unwrap()
    );
    for id in [&first, &second] {
        assert_eq!(
            transaction_status(&tpp, &cc, &payment_path(id)).await,
            "RCVD"
        );
    }
    // The settlement loop (every 2 s, for decisions older than 5 s) finishes it.
    let mut waited = 0;
    while booked_balance(&server, debtor.id).await != before - 2100 {
        assert!(waited < 200, "the loop did not finish the basket");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    for id in [&first, &second] {
        assert_eq!(
            transaction_status(&tpp, &cc, &payment_path(id)).await,
            "ACSC"
        );
    }
    // Later passes find nothing left: the money moved once.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(booked_balance(&server, debtor.id).await, before - 2100);
    assert!(store.unfinished_baskets(10).await.unwrap().is_empty());
    assert!(store.audit().await.unwrap().is_consistent());
    server.stop().await;
}
both_stores!(a_basket_approved_before_a_crash_is_finished_by_the_settlement_loop);
