//! The Berlin Group Redirect SCA approach end to end over HTTPS, on both
//! stores: the TPP asks for it on the initiation with a registered
//! `TPP-Redirect-URI`, sends the PSU to `_links.scaRedirect`, the PSU
//! authenticates and decides on the bank's own pages, and the browser comes
//! back to the TPP's URI without a code; the TPP then reads with its own
//! client-credentials token and `Consent-ID`. And every way this must fail.

use std::sync::Arc;

use crate::support::xs2a::{Answer, NOK, REDIRECT, Tpp, psu_headers};
use crate::support::{
    Browser, SANDBOX_CODE, TestServer, config_for, demo_server, log_in, second_factor, urlencode,
};
use fintechapi_domain::ledger::{Account, LedgerRepository};
use fintechapi_domain::psu::PsuRepository;
use fintechapi_domain::{Clock, ManualClock, SystemClock};
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;
use serde_json::json;

async fn accounts_of(server: &TestServer, login: &str) -> Vec<Account> {
    let store = server.db.store().await;
    let (psu, _) = store.psu_by_login(login).await.unwrap().unwrap();
    store.accounts_of_psu(psu.id).await.unwrap()
}

fn iban(account: &Account) -> String {
    account.iban.as_ref().unwrap().as_str().to_owned()
}

async fn a_consent_authorised_by_redirect_is_read_with_the_client_token_and_consent_id(db: TestDb) {
    let server = demo_server(db).await;
    let tpp = Tpp::with_nok(&server, "Acme TPP GmbH", "ais,pis");
    let accounts = accounts_of(&server, "carol").await;
    let (first, second, third) = (&accounts[0], &accounts[1], &accounts[2]);
    let cc = tpp.client_token().await;

    let access =
        json!({"balances": [{"iban": iban(first)}], "transactions": [{"iban": iban(second)}]});
    let headers = [
        ("tpp-redirect-preferred", "true"),
        ("tpp-redirect-uri", REDIRECT),
    ];
    let created = tpp.consent_with(&cc, access, 2, &headers).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.headers["aspsp-sca-approach"], "REDIRECT");
    assert_eq!(
        (
            created.body["consentStatus"].as_str(),
            created.body["scaStatus"].as_str()
        ),
        (Some("received"), Some("received"))
    );
    let consent = created.body["consentId"].as_str().unwrap().to_owned();
    let links = &created.body["_links"];
    assert!(links.get("scaOAuth").is_none(), "{links}");
    assert_eq!(links["self"]["href"], format!("/v1/consents/{consent}"));
    assert_eq!(
        links["status"]["href"],
        format!("/v1/consents/{consent}/status")
    );
    let link = tpp.sca_link(&created);
    // The authorisation sub-resource exists from the start.
    let sca_status = links["scaStatus"]["href"].as_str().unwrap().to_owned();
    let listed = tpp
        .get(&format!("/v1/consents/{consent}/authorisations"), &cc, &[])
        .await;
    assert_eq!(
        format!(
            "/v1/consents/{consent}/authorisations/{}",
            listed.body["authorisationIds"][0].as_str().unwrap()
        ),
        sca_status
    );
    assert_eq!(
        tpp.get(&sca_status, &cc, &[]).await.body["scaStatus"],
        "received"
    );
    let with_psu = psu_headers(&consent);
    let early = tpp.get("/v1/accounts", &cc, &with_psu).await;
    assert_eq!(
        early.refusal(),
        (StatusCode::UNAUTHORIZED, Some("CONSENT_INVALID"), None),
        "not authorised yet"
    );

    // The PSU at the bank: the same pages as for the OAuth approach.
    let mut psu = Browser::new(&server);
    let screen = psu.authorise(&link, "carol", "carol-demo-2026").await;
    assert!(screen.body.contains("Acme TPP GmbH") && screen.body.contains("Budget App"));
    assert!(
        screen
            .body
            .contains(&first.iban.as_ref().unwrap().to_print_format())
    );
    assert!(
        !screen
            .body
            .contains(&third.iban.as_ref().unwrap().to_print_format())
    );
    assert_eq!(
        tpp.get(&sca_status, &cc, &[]).await.body["scaStatus"],
        "psuAuthenticated"
    );
    let approved = psu.decide(&screen, "approve").await;
    assert_eq!(
        (approved.status, approved.location.as_deref()),
        (StatusCode::SEE_OTHER, Some(REDIRECT)),
        "back to TPP-Redirect-URI exactly, no code: {}",
        approved.body
    );
    assert!(psu.cookies.is_empty(), "the bank's session ended");

    let status = tpp
        .get(&format!("/v1/consents/{consent}/status"), &cc, &[])
        .await;
    assert_eq!(status.body["consentStatus"], "valid");
    assert_eq!(
        tpp.get(&sca_status, &cc, &[]).await.body["scaStatus"],
        "finalised"
    );

    // The client's own token with Consent-ID reads exactly the consented accounts.
    let list = tpp.get("/v1/accounts", &cc, &with_psu).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let listed: Vec<&str> = list.body["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["iban"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [iban(first), iban(second)]);
    let balances = tpp
        .get(
            &format!("/v1/accounts/{}/balances", first.id),
            &cc,
            &with_psu,
        )
        .await;
    assert_eq!(balances.status, StatusCode::OK, "{}", balances.body);
    let not_granted = tpp
        .get(
            &format!("/v1/accounts/{}/balances", second.id),
            &cc,
            &with_psu,
        )
        .await;
    assert_eq!(not_granted.refusal().1, Some("CONSENT_INVALID"));
    let outside = tpp
        .get(
            &format!(
                "/v1/accounts/{}/transactions?bookingStatus=booked",
                third.id
            ),
            &cc,
            &with_psu,
        )
        .await;
    assert_eq!(outside.refusal().0, StatusCode::FORBIDDEN);
    let transactions = tpp
        .get(
            &format!(
                "/v1/accounts/{}/transactions?bookingStatus=booked",
                second.id
            ),
            &cc,
            &with_psu,
        )
        .await;
    assert_eq!(transactions.status, StatusCode::OK, "{}", transactions.body);

    // Without the PSU: frequencyPerDay (2) counts as for a PSU token.
    let unattended = [("consent-id", consent.as_str())];
    for _ in 0..2 {
        assert_eq!(
            tpp.get("/v1/accounts", &cc, &unattended).await.status,
            StatusCode::OK
        );
    }
    let third_today = tpp.get("/v1/accounts", &cc, &unattended).await;
    assert_eq!(
        third_today.refusal(),
        (StatusCode::TOO_MANY_REQUESTS, Some("ACCESS_EXCEEDED"), None)
    );

    // Not with a token for payments only, nor with another application's token.
    let pis_only = tpp.client_token_for(Some("pis")).await;
    assert_eq!(
        tpp.get("/v1/accounts", &pis_only, &with_psu)
            .await
            .refusal()
            .1,
        Some("CONSENT_INVALID")
    );
    let other = Tpp::with_nok(&server, "Other TPP SARL", "ais");
    let other_cc = other.client_token().await;
    assert_eq!(
        other
            .get("/v1/accounts", &other_cc, &with_psu)
            .await
            .refusal()
            .1,
        Some("CONSENT_INVALID")
    );
    // Nor with the client's token for a consent authorised with the OAuth approach.
    let oauth = tpp
        .consent_with(&cc, json!({"allPsd2": "allAccounts"}), 4, &[])
        .await;
    assert_eq!(oauth.headers["aspsp-sca-approach"], "REDIRECT");
    let oauth_id = oauth.body["consentId"].as_str().unwrap();
    let unbound = tpp
        .call(
            reqwest::Method::GET,
            "/v1/accounts",
            &cc,
            &[("consent-id", oauth_id), ("psu-ip-address", "192.0.2.7")],
            None,
        )
        .await;
    assert_eq!(unbound.refusal().1, Some("CONSENT_INVALID"));

    // The TPP ends the consent: the very next read is refused.
    let deleted = tpp
        .delete(&format!("/v1/consents/{consent}"), &cc, &[])
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let after = tpp.get("/v1/accounts", &cc, &with_psu).await;
    assert_eq!(
        after.refusal(),
        (StatusCode::UNAUTHORIZED, Some("CONSENT_INVALID"), None)
    );
    server.stop().await;
}
both_stores!(a_consent_authorised_by_redirect_is_read_with_the_client_token_and_consent_id);

async fn a_refusal_goes_to_the_nok_uri_and_rejects_the_consent(db: TestDb) {
    let server = demo_server(db).await;
    let tpp = Tpp::with_nok(&server, "Acme TPP GmbH", "ais");
    let cc = tpp.client_token().await;
    let (consent, link) = tpp
        .redirect_consent(
            &cc,
            json!({"allPsd2": "allAccounts"}),
            4,
            &[("tpp-nok-redirect-uri", NOK)],
        )
        .await;

    let mut psu = Browser::new(&server);
    let screen = psu.authorise(&link, "bob", "bob-demo-2026").await;
    // The consent form may end on either TPP origin (CSP form-action), nothing else.
    let raw = server
        .client()
        .get(server.url("/bank/consent"))
        .header(
            "cookie",
            format!("__Host-ftapi_psu={}", psu.cookies["__Host-ftapi_psu"]),
        )
        .send()
        .await
        .unwrap();
    let csp = raw.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("form-action 'self' https://acme.example https://errors.acme.example"),
        "{csp}"
    );
    let denied = psu.decide(&screen, "deny").await;
    assert_eq!(
        (denied.status, denied.location.as_deref()),
        (StatusCode::SEE_OTHER, Some(NOK)),
        "{}",
        denied.body
    );

    let status = tpp
        .get(&format!("/v1/consents/{consent}/status"), &cc, &[])
        .await;
    assert_eq!(status.body["consentStatus"], "rejected");
    let ids = tpp
        .get(&format!("/v1/consents/{consent}/authorisations"), &cc, &[])
        .await;
    let id = ids.body["authorisationIds"][0].as_str().unwrap().to_owned();
    let sca = tpp
        .get(
            &format!("/v1/consents/{consent}/authorisations/{id}"),
            &cc,
            &[],
        )
        .await;
    assert_eq!(sca.body["scaStatus"], "failed");
    let read = tpp
        .call(
            reqwest::Method::GET,
            "/v1/accounts",
            &cc,
            &psu_headers(&consent),
            None,
        )
        .await;
    assert_eq!(
        read.refusal(),
        (StatusCode::UNAUTHORIZED, Some("CONSENT_INVALID"), None)
    );

    // Without a NOK URI a refusal returns to TPP-Redirect-URI.
    let (_, link) = tpp
        .redirect_consent(&cc, json!({"allPsd2": "allAccounts"}), 4, &[])
        .await;
    let mut psu = Browser::new(&server);
    let screen = psu.authorise(&link, "bob", "bob-demo-2026").await;
    let denied = psu.decide(&screen, "deny").await;
    assert_eq!(
        (denied.status, denied.location.as_deref()),
        (StatusCode::SEE_OTHER, Some(REDIRECT))
    );
    server.stop().await;
}
both_stores!(a_refusal_goes_to_the_nok_uri_and_rejects_the_consent);

async fn only_registered_tpp_uris_are_accepted_and_without_the_preference_nothing_changes(
    db: TestDb,
) {
    let server = demo_server(db).await;
    let tpp = Tpp::with_nok(&server, "Acme TPP GmbH", "ais,pis");
    let cc = tpp.client_token().await;
    let access = || json!({"allPsd2": "allAccounts"});
    let redirect = |uri: &'static str| {
        [
            ("tpp-redirect-preferred", "true"),
            ("tpp-redirect-uri", uri),
        ]
    };

    for unregistered in [
        "https://evil.example/cb",
        "https://acme.example/cb?next=https://evil.example",
        "https://acme.example/cb/",
        "HTTPS://acme.example/cb",
    ] {
        let refused = tpp
            .consent_with(&cc, access(), 4, &redirect(unregistered))
            .await;
        assert_eq!(
            refused.refusal(),
            (
                StatusCode::BAD_REQUEST,
                Some("FORMAT_ERROR"),
                Some("TPP-Redirect-URI")
            ),
            "{unregistered}: {}",
            refused.body
        );
    }
    let nok = tpp
        .consent_with(
            &cc,
            access(),
            4,
            &[
                ("tpp-redirect-preferred", "true"),
                ("tpp-redirect-uri", REDIRECT),
                ("tpp-nok-redirect-uri", "https://evil.example/nok"),
            ],
        )
        .await;
    nok.assert_refusal(
        StatusCode::BAD_REQUEST,
        "FORMAT_ERROR",
        "TPP-Nok-Redirect-URI",
    );
    let missing = tpp
        .consent_with(&cc, access(), 4, &[("tpp-redirect-preferred", "true")])
        .await;
    assert_eq!(
        missing.refusal(),
        (
            StatusCode::BAD_REQUEST,
            Some("FORMAT_ERROR"),
            Some("TPP-Redirect-URI")
        ),
        "required with Redirect preferred"
    );
    let garbled = tpp
        .consent_with(
            &cc,
            access(),
            4,
            &[
                ("tpp-redirect-preferred", "yes"),
                ("tpp-redirect-uri", REDIRECT),
            ],
        )
        .await;
    garbled.assert_refusal(
        StatusCode::BAD_REQUEST,
        "FORMAT_ERROR",
        "TPP-Redirect-Preferred",
    );
    // Embedded and decoupled stay refused.
    let embedded = tpp
        .consent_with(&cc, access(), 4, &[("tpp-redirect-preferred", "false")])
        .await;
    embedded.assert_refusal(
        StatusCode::BAD_REQUEST,
        "SERVICE_INVALID",
        "TPP-Redirect-Preferred",
    );
    let decoupled = tpp
        .consent_with(&cc, access(), 4, &[("tpp-decoupled-preferred", "true")])
        .await;
    decoupled.assert_refusal(
        StatusCode::BAD_REQUEST,
        "SERVICE_INVALID",
        "TPP-Decoupled-Preferred",
    );
    assert_eq!(
        server.db.count_rows("consents").await,
        0,
        "no consent made by a refused request"
    );

    // A payment with an unregistered URI is refused before anything is made.
    let debtor = accounts_of(&server, "carol").await.remove(0);
    let payment = json!({"instructedAmount": {"currency": "EUR", "amount": "1.00"}, "debtorAccount": {"iban": iban(&debtor)}, "creditorName": "Landlord", "creditorAccount": {"iban": "DE02120300000000202051"}});
    let refused = tpp
        .post(
            "/v1/payments/sepa-credit-transfers",
            &cc,
            &[
                ("psu-ip-address", "192.0.2.7"),
                ("tpp-redirect-preferred", "true"),
                ("tpp-redirect-uri", "https://evil.example/cb"),
            ],
            &payment,
        )
        .await;
    refused.assert_refusal(StatusCode::BAD_REQUEST, "FORMAT_ERROR", "TPP-Redirect-URI");
    assert_eq!(server.db.count_rows("payments").await, 0);

    // Without the preference (or with only a URI) the OAuth approach, as before.
    for headers in [vec![], vec![("tpp-redirect-uri", REDIRECT)]] {
        let oauth = tpp.consent_with(&cc, access(), 4, &headers).await;
        assert_eq!(oauth.status, StatusCode::CREATED, "{}", oauth.body);
        assert_eq!(oauth.headers["aspsp-sca-approach"], "REDIRECT");
        assert_eq!(
            oauth.body["_links"]["scaOAuth"]["href"],
            format!("{}/.well-known/oauth-authorization-server", server.base_url)
        );
        assert!(
            oauth.body["_links"].get("scaRedirect").is_none()
                && oauth.body.get("scaStatus").is_none()
        );
        let consent = oauth.body["consentId"].as_str().unwrap();
        let none = tpp
            .get(&format!("/v1/consents/{consent}/authorisations"), &cc, &[])
            .await;
        assert_eq!(
            none.body,
            json!({"authorisationIds": []}),
            "no authorisation until a PAR"
        );
    }
    server.stop().await;
}
both_stores!(only_registered_tpp_uris_are_accepted_and_without_the_preference_nothing_changes);

async fn the_sca_redirect_link_opens_once_and_only_for_a_while(db: TestDb) {
    let clock = ManualClock::new(SystemClock.now());
    let server = crate::support::demo_server_at(db, &clock).await;
    let tpp = Tpp::with_nok(&server, "Acme TPP GmbH", "ais");
    let cc = tpp.client_token().await;
    let (_, link) = tpp
        .redirect_consent(&cc, json!({"allPsd2": "allAccounts"}), 4, &[])
        .await;

    let mut psu = Browser::new(&server);
    assert_eq!(
        psu.get(&link).await.location.as_deref(),
        Some("/bank/login")
    );
    let mut other = Browser::new(&server);
    let again = other.get(&link).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "the link works once");
    assert!(
        again.body.contains("already completed") && other.cookies.is_empty(),
        "{}",
        again.body
    );
    assert_eq!(
        psu.get(&link).await.status,
        StatusCode::BAD_REQUEST,
        "also for the browser that opened it"
    );
    // The OAuth door does not open it either: its token is no pushed request.
    let token = link.trim_start_matches("/bank/redirect?token=");
    let oauth = other
        .get(&format!(
            "/oauth2/authorize?client_id={}&request_uri={}",
            tpp.key,
            urlencode(token)
        ))
        .await;
    assert_eq!(oauth.status, StatusCode::BAD_REQUEST);
    for wrong in [
        "/bank/redirect?token=not-a-token",
        "/bank/redirect",
        "/bank/redirect?token=",
    ] {
        let page = other.get(wrong).await;
        assert_eq!(
            (page.status, page.location),
            (StatusCode::BAD_REQUEST, None),
            "{wrong}"
        );
    }
    // The first browser goes on; five idle minutes end its session, as on the OAuth path.
    assert_eq!(
        log_in(&mut psu, "alice", "alice-demo-2026")
            .await
            .location
            .as_deref(),
        Some("/bank/sca")
    );
    clock.advance(time::Duration::minutes(5) + time::Duration::seconds(1));
    let late = psu.get("/bank/sca").await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
    assert!(
        late.body.contains("5 minutes without activity"),
        "{}",
        late.body
    );

    // A link nobody opened within five minutes no longer opens.
    let cc = tpp.client_token().await;
    let (consent, link) = tpp
        .redirect_consent(&cc, json!({"allPsd2": "allAccounts"}), 4, &[])
        .await;
    clock.advance(time::Duration::minutes(5) + time::Duration::seconds(1));
    assert_eq!(
        Browser::new(&server).get(&link).await.status,
        StatusCode::BAD_REQUEST
    );

    // An explicit start gives a fresh link (Redirect only; OAuth starts with a pushed request).
    let cc = tpp.client_token().await;
    let path = format!("/v1/consents/{consent}/authorisations");
    let oauth = tpp.post(&path, &cc, &[], &json!({})).await;
    assert_eq!(
        oauth.refusal(),
        (StatusCode::BAD_REQUEST, Some("SERVICE_INVALID"), None),
        "{}",
        oauth.body
    );
    let started = tpp
        .post(
            &path,
            &cc,
            &[
                ("tpp-redirect-preferred", "true"),
                ("tpp-redirect-uri", REDIRECT),
            ],
            &json!({}),
        )
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.body);
    assert_eq!(
        (
            started.body["scaStatus"].as_str(),
            started.headers["aspsp-sca-approach"].to_str().unwrap()
        ),
        (Some("received"), "REDIRECT")
    );
    let authorisation = started.body["authorisationId"].as_str().unwrap();
    assert_eq!(
        started.body["_links"]["scaStatus"]["href"],
        format!("/v1/consents/{consent}/authorisations/{authorisation}")
    );
    let fresh = tpp.sca_link(&started);
    assert_ne!(fresh, link);
    assert_eq!(
        Browser::new(&server).get(&fresh).await.location.as_deref(),
        Some("/bank/login")
    );
    let listed = tpp.get(&path, &cc, &[]).await;
    assert!(
        listed.body["authorisationIds"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == authorisation),
        "{}",
        listed.body
    );
    server.stop().await;
}
both_stores!(the_sca_redirect_link_opens_once_and_only_for_a_while);

async fn a_payment_by_redirect_executes_once_and_the_ledger_moves_once(db: TestDb) {
    let server = demo_server(db).await;
    let tpp = Tpp::with_nok(&server, "Acme TPP GmbH", "pis");
    let cc = tpp.client_token().await;
    let store = server.db.store().await;
    let debtor = accounts_of(&server, "carol").await.remove(0);
    let before = debtor.balances.booked;

    let body = json!({"instructedAmount": {"currency": "EUR", "amount": "12.34"}, "debtorAccount": {"iban": iban(&debtor)}, "creditorName": "Corner Shop", "creditorAccount": {"iban": "DE02120300000000202051"}, "remittanceInformationUnstructured": "Invoice 42"});
    let request_id = uuid::Uuid::new_v4().to_string();
    let initiate = || {
        let req = tpp
            .http
            .post(format!("{}/v1/payments/sepa-credit-transfers", tpp.base))
            .bearer_auth(&cc)
            .header("x-request-id", &request_id)
            .header("psu-ip-address", "192.0.2.7")
            .header("tpp-redirect-preferred", "true")
            .header("tpp-redirect-uri", REDIRECT)
            .json(&body);
        async move { Answer::of(req.send().await.unwrap()).await }
    };
    let created = initiate().await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.headers["aspsp-sca-approach"], "REDIRECT");
    assert_eq!(
        (
            created.body["transactionStatus"].as_str(),
            created.body["scaStatus"].as_str()
        ),
        (Some("RCVD"), Some("received"))
    );
    let payment = created.body["paymentId"].as_str().unwrap().to_owned();
    let self_link = format!("/v1/payments/sepa-credit-transfers/{payment}");
    assert_eq!(created.body["_links"]["self"]["href"], self_link);
    let sca_status = created.body["_links"]["scaStatus"]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        sca_status.starts_with(&format!("{self_link}/authorisations/")),
        "{sca_status}"
    );
    let link = tpp.sca_link(&created);

    // Dynamic linking: the second-factor page shows what is paid to whom.
    let mut psu = Browser::new(&server);
    assert_eq!(
        psu.get(&link).await.location.as_deref(),
        Some("/bank/login")
    );
    log_in(&mut psu, "carol", "carol-demo-2026").await;
    let sca = psu.get("/bank/sca").await;
    assert!(
        sca.body.contains("12.34 EUR")
            && sca.body.contains("Corner Shop")
            && sca.body.contains("DE02 1203 0000 0000 2020 51"),
        "{}",
        sca.body
    );
    second_factor(&mut psu, SANDBOX_CODE).await;
    let screen = psu.get("/bank/consent").await;
    assert!(
        screen.body.contains("Approve this payment?") && screen.body.contains("Invoice 42"),
        "{}",
        screen.body
    );
    let approved = psu.decide(&screen, "approve").await;
    assert_eq!(
        (approved.status, approved.location.as_deref()),
        (StatusCode::SEE_OTHER, Some(REDIRECT)),
        "{}",
        approved.body
    );

    // The client's token reads status and payment as in the OAuth approach.
    let status = tpp.get(&format!("{self_link}/status"), &cc, &[]).await;
    assert_eq!(status.body["transactionStatus"], "ACSC", "{}", status.body);
    let read = tpp.get(&self_link, &cc, &[]).await;
    assert_eq!(
        (
            read.body["transactionStatus"].as_str(),
            read.body["creditorName"].as_str()
        ),
        (Some("ACSC"), Some("Corner Shop"))
    );
    assert_eq!(
        tpp.get(&sca_status, &cc, &[]).await.body["scaStatus"],
        "finalised"
    );
    let moved = store.account(debtor.id).await.unwrap().unwrap();
    assert_eq!(
        moved.balances.booked,
        before - 1234,
        "the ledger moved once"
    );

    // The same initiation again: the same payment, nothing new to authorise, nothing moves.
    let replay = initiate().await;
    assert_eq!(
        (
            replay.status,
            replay.body["paymentId"].as_str(),
            replay.body["transactionStatus"].as_str()
        ),
        (StatusCode::CREATED, Some(payment.as_str()), Some("ACSC"))
    );
    assert!(
        replay.body["_links"].get("scaRedirect").is_none(),
        "{}",
        replay.body
    );
    assert_eq!(
        Browser::new(&server).get(&link).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        store
            .account(debtor.id)
            .await
            .unwrap()
            .unwrap()
            .balances
            .booked,
        before - 1234
    );
    assert!(store.audit().await.unwrap().is_consistent());
    let cancel = tpp.delete(&self_link, &cc, &[]).await;
    assert_eq!(cancel.refusal().1, Some("CANCELLATION_INVALID"));
    server.stop().await;
}
both_stores!(a_payment_by_redirect_executes_once_and_the_ledger_moves_once);

async fn reads_with_the_client_token_end_180_days_after_the_psus_authentication(db: TestDb) {
    let clock = ManualClock::new(SystemClock.now());
    let mut config = config_for(&db);
    config.demo.seed = Some(true);
    // A bank that grants consents for a year: the SCA still has to be renewed after 180 days.
    config.xs2a.max_consent_days = 365;
    let server = TestServer::start_with_clock(db, config, Arc::new(clock.clone())).await;
    let tpp = Tpp::with_nok(&server, "Acme TPP GmbH", "ais");
    let cc = tpp.client_token().await;
    let (consent, link) = tpp
        .redirect_consent(&cc, json!({"allPsd2": "allAccounts"}), 4, &[])
        .await;
    let mut psu = Browser::new(&server);
    let screen = psu.authorise(&link, "alice", "alice-demo-2026").await;
    psu.decide(&screen, "approve").await;
    let present = psu_headers(&consent);

    clock.advance(time::Duration::days(180) - time::Duration::minutes(1));
    let cc = tpp.client_token().await;
    assert_eq!(
        tpp.get("/v1/accounts", &cc, &present).await.status,
        StatusCode::OK
    );
    clock.advance(time::Duration::minutes(2));
    let cc = tpp.client_token().await;
    let late = tpp.get("/v1/accounts", &cc, &present).await;
    assert_eq!(
        late.refusal(),
        (StatusCode::UNAUTHORIZED, Some("CONSENT_EXPIRED"), None)
    );
    let status = tpp
        .get(&format!("/v1/consents/{consent}/status"), &cc, &[])
        .await;
    assert_eq!(
        status.body["consentStatus"], "valid",
        "the consent runs to validUntil; only its use without a new SCA ends"
    );
    server.stop().await;
}
both_stores!(reads_with_the_client_token_end_180_days_after_the_psus_authentication);
