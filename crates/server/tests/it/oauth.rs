//! The OAuth authorization server over HTTPS, on both stores: discovery,
//! client credentials for a `basic` client made by `fintechapi admin app
//! create`, introspection, revocation, RFC 6749 errors, and the per-application
//! usage statistics and plan throttling those calls feed.

use crate::support::xs2a::cli_app;
use crate::support::{Api, TestServer, cli_app_status, config_for};
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, RETRY_AFTER, WWW_AUTHENTICATE};
use serde_json::Value;

type FormPairs<'a> = &'a [(&'a str, &'a str)];

async fn post_form(
    server: &TestServer,
    path: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut req = server.client().post(server.url(path)).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

async fn a_basic_client_gets_introspects_and_revokes_a_client_credentials_token(db: TestDb) {
    let (app_id, key, secret) = cli_app(&db, "ais,pis");
    let config = config_for(&db);
    let server = TestServer::start_with(db, config).await;

    let meta: Value = server
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(meta["issuer"], server.base_url);
    assert_eq!(
        meta["token_endpoint"],
        format!("{}/oauth2/token", server.base_url)
    );
    assert_eq!(
        meta["introspection_endpoint"],
        format!("{}/oauth2/introspect", server.base_url)
    );
    assert_eq!(
        meta["revocation_endpoint"],
        format!("{}/oauth2/revoke", server.base_url)
    );
    assert_eq!(
        meta["grant_types_supported"],
        serde_json::json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    assert_eq!(
        meta["authorization_endpoint"],
        format!("{}/oauth2/authorize", server.base_url)
    );
    assert_eq!(
        meta["pushed_authorization_request_endpoint"],
        format!("{}/oauth2/par", server.base_url)
    );
    assert_eq!(meta["require_pushed_authorization_requests"], true);
    assert_eq!(
        meta["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
    assert_eq!(
        meta["token_endpoint_auth_methods_supported"],
        serde_json::json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "tls_client_auth"
        ])
    );

    // client_secret_basic
    let (status, headers, issued) = post_form(
        &server,
        "/oauth2/token",
        Some((&key, &secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    assert_eq!(headers[CACHE_CONTROL], "no-store");
    assert_eq!(issued["token_type"], "Bearer");
    assert_eq!(issued["expires_in"], 300);
    assert_eq!(issued["scope"], "ais pis");
    let token = issued["access_token"].as_str().unwrap().to_owned();

    // client_secret_post, narrower scope
    let (status, _, narrow) = post_form(
        &server,
        "/oauth2/token",
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &key),
            ("client_secret", &secret),
            ("scope", "ais"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{narrow}");
    assert_eq!(narrow["scope"], "ais");

    let (status, _, active) = post_form(
        &server,
        "/oauth2/introspect",
        Some((&key, &secret)),
        &[("token", &token)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["client_id"], key.as_str());
    assert_eq!(active["scope"], "ais pis");
    assert_eq!(active["iss"], server.base_url);
    assert!(active["exp"].as_i64().unwrap() > active["iat"].as_i64().unwrap());

    let (status, _, _) = post_form(
        &server,
        "/oauth2/revoke",
        Some((&key, &secret)),
        &[("token", &token), ("token_type_hint", "access_token")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, inactive) = post_form(
        &server,
        "/oauth2/introspect",
        Some((&key, &secret)),
        &[("token", &token)],
    )
    .await;
    assert_eq!(inactive, serde_json::json!({"active": false}));
    // Revoking an unknown token is not an error (RFC 7009 §2.2).
    assert_eq!(
        post_form(
            &server,
            "/oauth2/revoke",
            Some((&key, &secret)),
            &[("token", "nonsense")]
        )
        .await
        .0,
        StatusCode::OK
    );

    // Tokens are stored only as keyed hashes.
    let stored = server
        .db
        .raw_strings("SELECT token_hash FROM oauth_tokens")
        .await;
    assert_eq!(stored.len(), 2);
    // Each under its issue time (twelve hex digits after the prefix), then
    // the keyed hash: the token's random part is nowhere.
    let (stamp, random) = token["ftat_".len()..].split_at(12);
    assert!(
        stored
            .iter()
            .all(|h| !h.contains(random) && h.len() == 12 + 43),
        "{stored:?}"
    );
    assert!(stored.iter().any(|h| h.starts_with(stamp)), "{stored:?}");

    // Wrong secret: invalid_client 401 with a Basic challenge.
    let (status, headers, wrong) = post_form(
        &server,
        "/oauth2/token",
        Some((&key, "cs_wrong")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong["error"], "invalid_client");
    assert!(
        headers[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    let (status, _, none) = post_form(
        &server,
        "/oauth2/token",
        None,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(
        (status, none["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );

    // Precise RFC 6749 errors, never a 500.
    let cases: [(FormPairs, bool, &str); 7] = [
        (
            &[
                ("grant_type", "client_credentials"),
                ("client_secret", &secret),
            ],
            true,
            "invalid_request",
        ),
        (
            &[
                ("grant_type", "client_credentials"),
                ("grant_type", "client_credentials"),
            ],
            true,
            "invalid_request",
        ),
        (&[], true, "invalid_request"),
        (
            &[("grant_type", "password")],
            true,
            "unsupported_grant_type",
        ),
        (
            &[
                ("grant_type", "authorization_code"),
                ("code", "nope"),
                ("redirect_uri", "https://acme.example/cb"),
                ("code_verifier", "x"),
            ],
            true,
            "invalid_grant",
        ),
        (
            &[("grant_type", "client_credentials"), ("scope", "piis")],
            true,
            "invalid_scope",
        ),
        (
            &[("grant_type", "client_credentials"), ("scope", "accounts")],
            true,
            "invalid_scope",
        ),
    ];
    for (form, basic, error) in cases {
        let (status, _, body) = post_form(
            &server,
            "/oauth2/token",
            basic.then_some((key.as_str(), secret.as_str())),
            form,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form:?}: {body}");
        assert_eq!(body["error"], error, "{form:?}: {body}");
        assert!(body["error_description"].as_str().unwrap().len() > 10);
    }
    let json_body = server
        .client()
        .post(server.url("/oauth2/token"))
        .basic_auth(&key, Some(&secret))
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_body.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        json_body.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );

    // A suspended application gets no token from the next request on.
    let live = post_form(
        &server,
        "/oauth2/token",
        Some((&key, &secret)),
        &[("grant_type", "client_credentials")],
    )
    .await
    .2["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The CLI is another process: on PostgreSQL this node hears of the change
    // by NOTIFY, within milliseconds, so the checks wait up to two seconds.
    cli_app_status(&server.db, "suspend", &app_id);
    let token_status = || async {
        let (status, _, body) = post_form(
            &server,
            "/oauth2/token",
            Some((&key, &secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
        (status, body["error"].as_str().map(str::to_owned))
    };
    let refused = (StatusCode::UNAUTHORIZED, Some("invalid_client".to_owned()));
    assert_eq!(within_two_seconds(&refused, token_status).await, refused);
    cli_app_status(&server.db, "unsuspend", &app_id);
    let active = || async {
        post_form(
            &server,
            "/oauth2/introspect",
            Some((&key, &secret)),
            &[("token", &live)],
        )
        .await
        .2["active"]
            .clone()
    };
    assert_eq!(within_two_seconds(&Value::Bool(true), active).await, true);
    server.stop().await;
}

/// Asks `check` until it answers `wanted`, for two seconds at most; the last answer.
async fn within_two_seconds<T: PartialEq, F: Future<Output = T>>(
    wanted: &T,
    check: impl Fn() -> F,
) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let answer = check().await;
        if answer == *wanted || std::time::Instant::now() > deadline {
            return answer;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
both_stores!(a_basic_client_gets_introspects_and_revokes_a_client_credentials_token);

async fn usage_statistics_and_plan_throttling_come_from_the_token_endpoint(db: TestDb) {
    let server = TestServer::start(db).await;
    let api = Api::developer(&server, "metered@tpp.example").await;
    let (app_id, key, secret) = api.sandbox_app(&["AISP"], &["ais"]).await;

    // 60 calls at once against the sandbox plan's 25 per second.
    let calls: Vec<_> = (0..60)
        .map(|_| {
            let request = server
                .client()
                .post(server.url("/oauth2/token"))
                .basic_auth(&key, Some(&secret))
                .form(&[("grant_type", "client_credentials")]);
            tokio::spawn(async move {
                let resp = request.send().await.unwrap();
                let (status, headers) = (resp.status(), resp.headers().clone());
                (status, headers, resp.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap());
    }
    let ok = answers.iter().filter(|a| a.0 == StatusCode::OK).count();
    let throttled: Vec<_> = answers
        .iter()
        .filter(|a| a.0 == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(ok + throttled.len(), 60);
    assert!(ok >= 25, "the plan's burst is admitted: {ok}");
    assert!(!throttled.is_empty(), "60 simultaneous calls exceed 25/s");
    assert_eq!(throttled[0].2["error"], "slow_down");
    assert!(throttled[0].1.contains_key(RETRY_AFTER));
    // One client error, and one call by nobody (no valid credentials): not attributed.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        post_form(
            &server,
            "/oauth2/token",
            Some((&key, &secret)),
            &[("grant_type", "client_credentials"), ("scope", "pis")]
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post_form(
            &server,
            "/oauth2/token",
            Some((&key, "cs_wrong")),
            &[("grant_type", "client_credentials")]
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );

    let (status, report) = api
        .call(
            reqwest::Method::GET,
            &format!("/applications/{app_id}/usage?days=7"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["days"].as_array().unwrap().len(), 7);
    assert_eq!(report["total_calls"], 61);
    assert_eq!(report["total_throttled"], throttled.len());
    let today = &report["days"][6];
    assert_eq!(today["success"], ok);
    assert_eq!(today["client_error"], 1);
    assert_eq!(today["throttled"], throttled.len());
    let line = &report["endpoints"][0];
    assert_eq!(line["api"], "oauth");
    assert_eq!(line["endpoint"], "POST /oauth2/token");
    assert_eq!(line["calls"], 61);
    assert!(line["p50_ms"].as_f64().unwrap() > 0.0);
    assert!(line["p95_ms"].as_f64().unwrap() >= line["p50_ms"].as_f64().unwrap());
    assert_eq!(
        api.call(
            reqwest::Method::GET,
            &format!("/applications/{app_id}/usage?days=5"),
            None
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );

    // The same numbers as a page with a server-rendered SVG chart, and as CSV.
    let mut browser = crate::support::Browser::new(&server);
    browser
        .log_in("metered@tpp.example", crate::support::PASSWORD)
        .await;
    let page = browser.get(&format!("/portal/apps/{app_id}/usage")).await;
    assert_eq!(page.status, StatusCode::OK);
    page.assert_shows(&["<svg", "API calls per day"]);
    assert!(
        page.body.contains(&format!(": {ok} 2xx</title>")),
        "{}",
        page.body
    );
    assert!(page.body.contains("<code>POST /oauth2/token</code>"));
    let csv = browser
        .get(&format!("/portal/apps/{app_id}/usage.csv?days=7"))
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.body
            .starts_with("day,api,endpoint,status_class,calls,throttled,p50_ms,p95_ms\n")
    );
    let today = report["to"].as_str().unwrap();
    assert!(
        csv.body
            .contains(&format!("{today},oauth,POST /oauth2/token,2xx,{ok},0,")),
        "{}",
        csv.body
    );
    assert!(
        csv.body.contains(&format!(
            "{today},oauth,POST /oauth2/token,4xx,{},{},",
            throttled.len() + 1,
            throttled.len()
        )),
        "{}",
        csv.body
    );

    // Nobody else sees it.
    let other = Api::developer(&server, "nosy@tpp.example").await;
    assert_eq!(
        other
            .call(
                reqwest::Method::GET,
                &format!("/applications/{app_id}/usage"),
                None
            )
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    server.stop().await;
}
both_stores!(usage_statistics_and_plan_throttling_come_from_the_token_endpoint);

/// The record of a client-credentials `ais` token of `app_id`, stored as the
/// token endpoint stores one, under `hash`, live from `issued.0` to `issued.1`.
fn ais_access_token(
    hash: fintechapi_domain::secret::KeyedHash,
    app_id: &str,
    client_id: &str,
    issued: (time::OffsetDateTime, time::OffsetDateTime),
) -> fintechapi_domain::oauth::TokenRecord {
    fintechapi_domain::oauth::TokenRecord {
        hash,
        kind: fintechapi_domain::oauth::TokenKind::Access,
        application_id: app_id.parse().unwrap(),
        client_id: client_id.to_owned(),
        scope: "ais".into(),
        authorization_id: None,
        authorization_details: None,
        dpop_jkt: None,
        mtls_x5t: None,
        issued_at: issued.0,
        expires_at: issued.1,
        revoked_at: None,
    }
}

/// A token issued before keys carried the issue time is stored under its bare
/// keyed hash: after the upgrade it still introspects, authorises an XS2A
/// call and is revoked.
async fn a_token_stored_before_stamped_keys_still_works(db: TestDb) {
    use fintechapi_domain::oauth::TokenRepository;
    use fintechapi_domain::secret::Pepper;
    use fintechapi_domain::{Clock, SystemClock};
    use time::Duration;

    let (app_id, key, secret) = cli_app(&db, "ais");
    // The pepper the CLI generated in the data directory.
    let config = config_for(&db);
    let pepper = Pepper::from_bytes(&std::fs::read(config.pepper_path()).unwrap()).unwrap();
    let old = "ftat_q3Jx8WbV0hTz5mKpL2yR7nCdE4sGuA9fYiNoX1vBe6w";
    let now = SystemClock.now();
    db.store()
        .await
        .insert_tokens(&[ais_access_token(
            pepper.hash(old),
            &app_id,
            &key,
            (now - Duration::minutes(1), now + Duration::minutes(4)),
        )])
        .await
        .unwrap();
    let server = TestServer::start_with(db, config).await;
    let token_form = [("token", old)];
    let introspect = || {
        post_form(
            &server,
            "/oauth2/introspect",
            Some((&key, &secret)),
            &token_form,
        )
    };

    let (status, _, active) = introspect().await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["client_id"], key.as_str());
    let tpp = crate::support::xs2a::Tpp::with_credentials(&server, key.clone(), secret.clone());
    let consent = tpp
        .consent_with(old, serde_json::json!({"allPsd2": "allAccounts"}), 4, &[])
        .await;
    assert_eq!(consent.status, StatusCode::CREATED, "{}", consent.body);

    let (status, _, _) = post_form(
        &server,
        "/oauth2/revoke",
        Some((&key, &secret)),
        &[("token", old)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(introspect().await.2, serde_json::json!({"active": false}));
    let refused = tpp
        .consent_with(old, serde_json::json!({"allPsd2": "allAccounts"}), 4, &[])
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    server.stop().await;
}
both_stores!(a_token_stored_before_stamped_keys_still_works);

/// The housekeeping job's pruning deletes in bounded statements until nothing
/// expired is left: every expired token and JWT id goes, however many batches
/// that takes, and nothing live does.
async fn expired_tokens_and_jwt_ids_are_pruned_in_bounded_batches_and_live_ones_kept(db: TestDb) {
    use fintechapi_domain::oauth::TokenRepository;
    use fintechapi_domain::secret::Pepper;
    use fintechapi_domain::{Clock, SystemClock};
    use time::Duration;

    let (app_id, key, _) = cli_app(&db, "ais");
    let store = db.store().await;
    let pepper = Pepper::from_bytes(&[9; 32]).unwrap();
    let now = SystemClock.now();
    let token = |name: String, expires_at| {
        ais_access_token(
            pepper.hash(&name),
            &app_id,
            &key,
            (now - Duration::hours(2), expires_at),
        )
    };
    for i in 0..7 {
        store
            .insert_tokens(&[token(format!("expired-{i}"), now - Duration::hours(1))])
            .await
            .unwrap();
        store
            .remember_jti(
                &pepper.hash(&format!("jti-{i}")),
                now - Duration::minutes(1),
            )
            .await
            .unwrap();
    }
    store
        .insert_tokens(&[token("live".into(), now + Duration::hours(1))])
        .await
        .unwrap();
    store
        .remember_jti(&pepper.hash("live-jti"), now + Duration::minutes(1))
        .await
        .unwrap();

    // Seven expired of each, two rows a statement: four statements each.
    assert_eq!(store.prune_tokens(now, 2).await.unwrap(), 14);
    assert_eq!(db.count_rows("oauth_tokens").await, 1);
    assert_eq!(db.count_rows("seen_jtis").await, 1);
    assert!(
        store
            .token_by_hash(&pepper.hash("live"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        !store
            .remember_jti(&pepper.hash("live-jti"), now)
            .await
            .unwrap(),
        "a live JWT id is still remembered"
    );
    assert_eq!(store.prune_tokens(now, 2).await.unwrap(), 0);
}
both_stores!(expired_tokens_and_jwt_ids_are_pruned_in_bounded_batches_and_live_ones_kept);
