//! Codes, tokens and consents over time: replayed and failed exchanges, expiry,
//! idempotent creation, and the daily frequency without the PSU.

use crate::support::xs2a::{Answer, REDIRECT, Tpp, VERIFIER, demo_tpp, psu_headers};
use crate::support::{TestServer, demo_server};
use fintechapi_domain::{Clock, ManualClock, SystemClock};
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn a_replayed_code_revokes_the_tokens_issued_from_it_and_a_deleted_consent_stops_reads(
    db: TestDb,
) {
    let (server, tpp, cc) = demo_tpp(db, "ais").await;
    let consent = tpp.consent(&cc, json!({"allPsd2": "allAccounts"}), 4).await;
    let request_uri = tpp.par(&consent).await;
    let code = tpp
        .code(&server, &request_uri, "bob", "bob-demo-2026")
        .await;
    let tokens = tpp.exchange(&code).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    let access_token = tokens.body["access_token"].as_str().unwrap().to_owned();
    let with_psu = psu_headers(&consent);
    let list = tpp
        .get("/v1/accounts?withBalance=true", &access_token, &with_psu)
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert!(
        list.body["accounts"][0]["balances"].is_array(),
        "allPsd2 covers balances"
    );

    let replay = tpp.exchange(&code).await;
    assert_eq!(replay.body["error"], "invalid_grant");
    let after = tpp.get("/v1/accounts", &access_token, &with_psu).await;
    assert_eq!(
        after.status,
        StatusCode::UNAUTHORIZED,
        "tokens from a replayed code are revoked"
    );
    let refresh = tpp
        .refresh(tokens.body["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(refresh.body["error"], "invalid_grant");
    // No new grant can revive the consent (only a received one is authorised): it ends.
    let ended = tpp
        .get(&format!("/v1/consents/{consent}/status"), &cc, &[])
        .await;
    assert_eq!(ended.body["consentStatus"], "expired", "{}", ended.body);

    // A consent the TPP deletes: terminatedByTpp, its token stops reading, a second delete is STATUS_INVALID.
    let consent = tpp.consent(&cc, json!({"allPsd2": "allAccounts"}), 4).await;
    let tokens = tpp.tokens(&server, &consent, "bob", "bob-demo-2026").await;
    let access_token = tokens.body["access_token"].as_str().unwrap().to_owned();
    let with_psu = psu_headers(&consent);
    let reads = tpp.get("/v1/accounts", &access_token, &with_psu).await;
    assert_eq!(reads.status, StatusCode::OK, "{}", reads.body);
    let deleted = tpp
        .delete(&format!("/v1/consents/{consent}"), &cc, &[])
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let stopped = tpp.get("/v1/accounts", &access_token, &with_psu).await;
    assert_eq!(stopped.status, StatusCode::UNAUTHORIZED, "{}", stopped.body);
    let again = tpp
        .delete(&format!("/v1/consents/{consent}"), &cc, &[])
        .await;
    again.assert_tpp_message(StatusCode::CONFLICT, "STATUS_INVALID");
    let read = tpp.get(&format!("/v1/consents/{consent}"), &cc, &[]).await;
    assert_eq!(read.body["consentStatus"], "terminatedByTpp");
    assert_eq!(read.body["access"], json!({"allPsd2": "allAccounts"}));
    server.stop().await;
}
both_stores!(a_replayed_code_revokes_the_tokens_issued_from_it_and_a_deleted_consent_stops_reads);

async fn a_failed_code_exchange_does_not_spend_the_code_and_only_its_client_can_replay_it(
    db: TestDb,
) {
    let server = demo_server(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let out = crate::support::fintechapi(
        &server.db,
        &[
            "admin",
            "app",
            "create",
            "--org",
            "Other TPP Ltd",
            "--name",
            "Other App",
            "--redirect-uri",
            REDIRECT,
            "--products",
            "ais",
            "--json",
        ],
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let stranger = Tpp {
        http: server.client(),
        base: server.base_url.clone(),
        key: json["client_id"].as_str().unwrap().to_owned(),
        secret: json["client_secret"].as_str().unwrap().to_owned(),
    };
    let cc = tpp.client_token().await;
    let consent = tpp.consent(&cc, json!({"allPsd2": "allAccounts"}), 4).await;
    let code = tpp
        .code(&server, &tpp.par(&consent).await, "bob", "bob-demo-2026")
        .await;
    let exchange = |who: &Tpp, redirect: &str, verifier: &str| {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
        ];
        let req = who
            .http
            .post(format!("{}/oauth2/token", who.base))
            .basic_auth(&who.key, Some(&who.secret))
            .form(&form);
        async move { Answer::of(req.send().await.unwrap()).await }
    };
    let other_verifier = "another-pkce-code-verifier-of-fifty-characters-0123";
    for (who, redirect, verifier) in [
        (&stranger, REDIRECT, VERIFIER),
        (&tpp, REDIRECT, other_verifier),
        (&tpp, "https://acme.example/other", VERIFIER),
    ] {
        let failed = exchange(who, redirect, verifier).await;
        failed.assert_oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let tokens = tpp.exchange(&code).await;
    assert_eq!(
        tokens.status,
        StatusCode::OK,
        "the code survived the failed attempts: {}",
        tokens.body
    );
    let token = tokens.body["access_token"].as_str().unwrap().to_owned();
    let with_psu = psu_headers(&consent);

    // Another client presenting the spent code neither gets tokens nor revokes the grant.
    let foreign = exchange(&stranger, REDIRECT, VERIFIER).await;
    assert_eq!(foreign.body["error"], "invalid_grant");
    assert_eq!(
        tpp.get("/v1/accounts", &token, &with_psu).await.status,
        StatusCode::OK
    );
    // Its own client replaying it revokes what was issued from it.
    let replay = tpp.exchange(&code).await;
    replay.assert_error_describes("already used");
    assert_eq!(
        tpp.get("/v1/accounts", &token, &with_psu).await.status,
        StatusCode::UNAUTHORIZED
    );
    server.stop().await;
}
both_stores!(a_failed_code_exchange_does_not_spend_the_code_and_only_its_client_can_replay_it);

async fn a_consent_expires_after_valid_until_and_its_refresh_token_with_it(db: TestDb) {
    let clock = ManualClock::new(SystemClock.now());
    let server = crate::support::demo_server_at(db, &clock).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let cc = tpp.client_token().await;
    let today = clock.now().date();
    let tomorrow = today.next_day().unwrap().to_string();
    let body = json!({"access": {"allPsd2": "allAccounts"}, "recurringIndicator": true, "validUntil": tomorrow, "frequencyPerDay": 4, "combinedServiceIndicator": false});
    let created = tpp.post("/v1/consents", &cc, &[], &body).await;
    let consent = created.body["consentId"].as_str().unwrap().to_owned();
    let tokens = tpp
        .tokens(&server, &consent, "alice", "alice-demo-2026")
        .await;
    let refresh = tokens.body["refresh_token"].as_str().unwrap().to_owned();
    let read = tpp.get(&format!("/v1/consents/{consent}"), &cc, &[]).await;
    assert_eq!(
        (
            read.body["consentStatus"].as_str(),
            read.body["validUntil"].as_str()
        ),
        (Some("valid"), Some(tomorrow.as_str()))
    );

    // Two days later the consent is expired; its refresh token died with it.
    clock.advance(time::Duration::days(2));
    let cc = tpp.client_token().await;
    assert_eq!(tpp.consent_status(&cc, &consent).await, "expired");
    let renewed = tpp.refresh(&refresh).await;
    assert_eq!(renewed.body["error"], "invalid_grant");
    server.stop().await;
}
both_stores!(a_consent_expires_after_valid_until_and_its_refresh_token_with_it);

async fn the_same_x_request_id_and_body_create_one_consent(db: TestDb) {
    let server = TestServer::start(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let cc = tpp.client_token().await;
    let request_id = uuid::Uuid::new_v4().to_string();
    let create = |access: Value| {
        let body = json!({"access": access, "recurringIndicator": true, "validUntil": "2099-12-31", "frequencyPerDay": 4, "combinedServiceIndicator": false});
        let req = tpp
            .http
            .post(format!("{}/v1/consents", tpp.base))
            .bearer_auth(&cc)
            .header("x-request-id", &request_id)
            .json(&body);
        async move { Answer::of(req.send().await.unwrap()).await }
    };
    let first = create(json!({"allPsd2": "allAccounts"})).await;
    let again = create(json!({"allPsd2": "allAccounts"})).await;
    assert_eq!(
        (first.status, again.status),
        (StatusCode::CREATED, StatusCode::CREATED)
    );
    assert_eq!(first.body, again.body, "the first answer again");
    assert_eq!(again.headers["x-request-id"], request_id.as_str());
    let other = create(json!({"availableAccounts": "allAccounts"})).await;
    assert_eq!(
        (other.status, other.tpp_message().1),
        (StatusCode::BAD_REQUEST, Some("X-Request-ID"))
    );
    assert_eq!(server.db.count_rows("consents").await, 1);
    let missing = tpp
        .http
        .post(format!("{}/v1/consents", tpp.base))
        .bearer_auth(&cc)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        missing.status(),
        StatusCode::BAD_REQUEST,
        "X-Request-ID is required"
    );
    server.stop().await;
}
both_stores!(the_same_x_request_id_and_body_create_one_consent);

async fn access_without_the_psu_counts_against_frequency_per_day(db: TestDb) {
    let clock = ManualClock::new(fintechapi_domain::SystemClock.now());
    let server = crate::support::demo_server_at(db, &clock).await;
    let tpp = Tpp::new(&server, &server.db, "ais");
    let cc = tpp.client_token().await;
    let consent = tpp.consent(&cc, json!({"allPsd2": "allAccounts"}), 4).await;
    let tokens = tpp
        .tokens(&server, &consent, "alice", "alice-demo-2026")
        .await;
    let token = tokens.body["access_token"].as_str().unwrap().to_owned();
    let unattended = [("consent-id", consent.as_str())];
    for _ in 0..4 {
        assert_eq!(
            tpp.get("/v1/accounts", &token, &unattended).await.status,
            StatusCode::OK
        );
    }
    let fifth = tpp.get("/v1/accounts", &token, &unattended).await;
    fifth.assert_tpp_message(StatusCode::TOO_MANY_REQUESTS, "ACCESS_EXCEEDED");
    let present = psu_headers(&consent);
    assert_eq!(
        tpp.get("/v1/accounts", &token, &present).await.status,
        StatusCode::OK,
        "with the PSU present there is no daily limit"
    );
    // The next day the count starts again; the access token lived minutes, the refresh token did not.
    clock.advance(time::Duration::days(1));
    assert_eq!(
        tpp.get("/v1/accounts", &token, &unattended).await.status,
        StatusCode::UNAUTHORIZED
    );
    let refreshed = tpp
        .refresh(tokens.body["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    let token = refreshed.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        tpp.get("/v1/accounts", &token, &unattended).await.status,
        StatusCode::OK
    );
    server.stop().await;
}
both_stores!(access_without_the_psu_counts_against_frequency_per_day);
