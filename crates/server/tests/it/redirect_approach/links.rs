//! The TPP's redirect URIs (registered ones only) and the `scaRedirect`
//! link: it opens once, and only for a while.

use crate::support::xs2a::REDIRECT;
use crate::support::{Browser, accounts_of, iban, log_in, urlencode};
use fintechapi_domain::{Clock, ManualClock, SystemClock};
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;
use serde_json::json;

use super::{acme, acme_on, all_accounts};

async fn only_registered_tpp_uris_are_accepted_and_without_the_preference_nothing_changes(
    db: TestDb,
) {
    let (server, tpp, cc) = acme(db, "ais,pis").await;
    let access = || all_accounts();
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
    // Embedded stays refused; Decoupled needs PSU-ID.
    let embedded = tpp
        .consent_with(
            &cc,
            access(),
            4,
            &[
                ("tpp-redirect-preferred", "false"),
                ("tpp-decoupled-preferred", "false"),
            ],
        )
        .await;
    embedded.assert_refusal(
        StatusCode::BAD_REQUEST,
        "SERVICE_INVALID",
        "TPP-Decoupled-Preferred",
    );
    for asked in [
        ("tpp-redirect-preferred", "false"),
        ("tpp-decoupled-preferred", "true"),
    ] {
        let anonymous = tpp.consent_with(&cc, access(), 4, &[asked]).await;
        anonymous.assert_refusal(StatusCode::BAD_REQUEST, "FORMAT_ERROR", "PSU-ID");
    }
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
        assert_eq!(oauth.body["_links"]["scaOAuth"]["href"], tpp.metadata_url());
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
    let (server, tpp, cc) = acme_on(server, "ais").await;
    let (_, link) = tpp.redirect_consent(&cc, all_accounts(), 4, &[]).await;

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
    let (consent, link) = tpp.redirect_consent(&cc, all_accounts(), 4, &[]).await;
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
