//! Consents by Redirect: read with the client token and `Consent-ID`, a
//! refusal sent to the NOK URI, and the 180 days after the PSU's SCA.

use std::sync::Arc;

use crate::support::xs2a::{NOK, REDIRECT, Tpp, psu_headers};
use crate::support::{Browser, TestServer, accounts_of, config_for, iban};
use fintechapi_domain::{Clock, ManualClock, SystemClock};
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;
use serde_json::json;

use super::{acme, acme_on, all_accounts};

async fn a_consent_authorised_by_redirect_is_read_with_the_client_token_and_consent_id(db: TestDb) {
    let (server, tpp, cc) = acme(db, "ais,pis").await;
    let accounts = accounts_of(&server, "carol").await;
    let (first, second, third) = (&accounts[0], &accounts[1], &accounts[2]);

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
    assert!(screen.shows_iban(first));
    assert!(!screen.shows_iban(third));
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

    assert_eq!(tpp.consent_status(&cc, &consent).await, "valid");
    assert_eq!(
        tpp.get(&sca_status, &cc, &[]).await.body["scaStatus"],
        "finalised"
    );

    // The client's own token with Consent-ID reads exactly the consented accounts.
    let list = tpp.get("/v1/accounts", &cc, &with_psu).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let listed = list.listed_ibans();
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
    let oauth = tpp.consent_with(&cc, all_accounts(), 4, &[]).await;
    assert_eq!(oauth.headers["aspsp-sca-approach"], "REDIRECT");
    let oauth_id = oauth.body["consentId"].as_str().unwrap();
    let unbound = tpp
        .get(
            "/v1/accounts",
            &cc,
            &[("consent-id", oauth_id), ("psu-ip-address", "192.0.2.7")],
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
    let (server, tpp, cc) = acme(db, "ais").await;
    let (consent, link) = tpp
        .redirect_consent(&cc, all_accounts(), 4, &[("tpp-nok-redirect-uri", NOK)])
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
    denied.assert_redirect(NOK);

    assert_eq!(tpp.consent_status(&cc, &consent).await, "rejected");
    let resource = format!("/v1/consents/{consent}");
    assert_eq!(tpp.first_sca_status(&resource, &cc).await, "failed");
    let read = tpp.get("/v1/accounts", &cc, &psu_headers(&consent)).await;
    assert_eq!(
        read.refusal(),
        (StatusCode::UNAUTHORIZED, Some("CONSENT_INVALID"), None)
    );

    // Without a NOK URI a refusal returns to TPP-Redirect-URI.
    let (_, link) = tpp.redirect_consent(&cc, all_accounts(), 4, &[]).await;
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

async fn reads_with_the_client_token_end_180_days_after_the_psus_authentication(db: TestDb) {
    let clock = ManualClock::new(SystemClock.now());
    let mut config = config_for(&db);
    config.demo.seed = Some(true);
    // A bank that grants consents for a year: the SCA still has to be renewed after 180 days.
    config.xs2a.max_consent_days = 365;
    let server = TestServer::start_with_clock(db, config, Arc::new(clock.clone())).await;
    let (server, tpp, cc) = acme_on(server, "ais").await;
    let (consent, link) = tpp.redirect_consent(&cc, all_accounts(), 4, &[]).await;
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
    assert_eq!(
        tpp.consent_status(&cc, &consent).await,
        "valid",
        "the consent runs to validUntil; only its use without a new SCA ends"
    );
    server.stop().await;
}
both_stores!(reads_with_the_client_token_end_180_days_after_the_psus_authentication);
