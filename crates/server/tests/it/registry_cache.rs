//! Client authentication is served from each node's cache of the registry,
//! and an operator's change still stops the very next request: on the node
//! that made it at once, on another node (PostgreSQL) as soon as the
//! database's announcement arrives. The same holds for the valid consents
//! account reads are served from.

use crate::support::xs2a::{Tpp, cli_app, psu_headers};
use crate::support::{
    Api, Browser, Node, SANDBOX_CODE, TestServer, config_for, demo_config, json_of, operator,
};
use fintechapi_testkit::{Backend, TestDb, both_stores};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// A client-credentials token request at `base`: its status.
async fn token(client: &reqwest::Client, base: &str, key: &str, secret: &str) -> StatusCode {
    client
        .post(format!("{base}/oauth2/token"))
        .basic_auth(key, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .status()
}

/// An XS2A read with `access_token`: the first `tppMessages` code, if refused.
async fn xs2a_code(server: &TestServer, access_token: &str) -> Option<String> {
    let resp = server
        .client()
        .get(server.url("/v1/accounts"))
        .bearer_auth(access_token)
        .header("x-request-id", uuid::Uuid::new_v4().to_string())
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    body["tppMessages"][0]["code"].as_str().map(str::to_owned)
}

/// The operator sets the application's status in the admin console of `at`.
async fn set_status(ops: &mut Browser, app_id: &str, status: &str) {
    let csrf = ops.get("/admin").await.csrf();
    let page = ops
        .submit(
            &format!("/admin/apps/{app_id}/status"),
            &[("status", status)],
            &csrf,
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
}

async fn a_suspension_or_a_revocation_stops_the_very_next_request(db: TestDb) {
    let server = TestServer::start(db).await;
    let client = server.client();
    let api = Api::developer(&server, "cache@tpp.example").await;
    let (app_id, key, secret) = api.sandbox_app(&["AISP"], &["ais"]).await;
    // The second request is served from the cache.
    for _ in 0..2 {
        assert_eq!(
            token(&client, &server.base_url, &key, &secret).await,
            StatusCode::OK
        );
    }
    let resp = json_of(
        client
            .post(server.url("/oauth2/token"))
            .basic_auth(&key, Some(&secret))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    let access = resp["access_token"].as_str().unwrap().to_owned();
    let standing = xs2a_code(&server, &access).await;
    assert_ne!(
        standing.as_deref(),
        Some("TOKEN_INVALID"),
        "the token is good"
    );
    assert_eq!(
        xs2a_code(&server, &access).await,
        standing,
        "and stays so from the cache"
    );

    // The operator suspends the application: the next requests are refused.
    let mut ops = operator(&server).await;
    set_status(&mut ops, &app_id, "suspended").await;
    assert_eq!(
        token(&client, &server.base_url, &key, &secret).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        xs2a_code(&server, &access).await.as_deref(),
        Some("TOKEN_INVALID")
    );
    set_status(&mut ops, &app_id, "active").await;
    assert_eq!(
        token(&client, &server.base_url, &key, &secret).await,
        StatusCode::OK
    );
    assert_eq!(xs2a_code(&server, &access).await, standing);

    // The developer revokes the credential: the next request is refused.
    let (status, app) = api
        .call(Method::GET, &format!("/applications/{app_id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{app}");
    let credential = app["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == key.as_str())
        .expect("the credential is listed");
    let path = format!(
        "/applications/{app_id}/credentials/{}",
        credential["id"].as_str().unwrap()
    );
    assert_eq!(
        api.call(Method::DELETE, &path, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        token(&client, &server.base_url, &key, &secret).await,
        StatusCode::UNAUTHORIZED
    );
    server.stop().await;
}
both_stores!(a_suspension_or_a_revocation_stops_the_very_next_request);

/// Polls `base` with token requests until one answers `want`.
async fn within_a_second(
    client: &reqwest::Client,
    base: &str,
    (key, secret): (&str, &str),
    want: StatusCode,
    what: &str,
) {
    crate::support::within_a_second(what, || async move {
        let got = token(client, base, key, secret).await;
        (got != want).then(|| format!("{base} still answers {got}, not {want}"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_nodes_change_reaches_this_nodes_cache_within_a_second() {
    let db = TestDb::create(Backend::Postgres).await;
    let (app_id, key, secret) = cli_app(&db, "ais");
    let config = config_for(&db);
    let b = Node::start(config.clone()).await;
    let a = TestServer::start_with(db, config).await;
    let client = a.client();

    // Node B serves the client, from its cache after the first request.
    for _ in 0..3 {
        assert_eq!(
            token(&client, &b.base_url, &key, &secret).await,
            StatusCode::OK
        );
    }
    // An operator suspends the application on node A.
    let client_auth = (key.as_str(), secret.as_str());
    let mut ops = operator(&a).await;
    set_status(&mut ops, &app_id, "suspended").await;
    within_a_second(
        &client,
        &b.base_url,
        client_auth,
        StatusCode::UNAUTHORIZED,
        "suspended on node A",
    )
    .await;
    // And serves it again once reactivated.
    set_status(&mut ops, &app_id, "active").await;
    within_a_second(
        &client,
        &b.base_url,
        client_auth,
        StatusCode::OK,
        "reactivated on node A",
    )
    .await;
    for _ in 0..3 {
        assert_eq!(
            token(&client, &b.base_url, &key, &secret).await,
            StatusCode::OK
        );
    }

    // A suspension written by another process (`fintechapi admin`) too.
    crate::support::cli_app_status(&a.db, "suspend", &app_id);
    within_a_second(
        &client,
        &b.base_url,
        client_auth,
        StatusCode::UNAUTHORIZED,
        "suspended by the CLI",
    )
    .await;
    b.stop().await;
    a.stop().await;
}

/// An account read on node B with `token` under `consent`: the first
/// `tppMessages` code if refused.
async fn read_on(b: &Node, tpp: &Tpp, token: &str, consent: &str) -> Option<String> {
    let answer = tpp
        .http
        .get(format!("{}/v1/accounts", b.base_url))
        .bearer_auth(token)
        .header("x-request-id", uuid::Uuid::new_v4().to_string());
    let answer = psu_headers(consent)
        .into_iter()
        .fold(answer, |request, (name, value)| request.header(name, value))
        .send()
        .await
        .unwrap();
    if answer.status() == StatusCode::OK {
        return None;
    }
    let body: Value = answer.json().await.unwrap();
    Some(
        body["tppMessages"][0]["code"]
            .as_str()
            .unwrap_or("?")
            .to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consent_withdrawn_on_one_node_stops_reads_on_another_within_a_second() {
    let db = TestDb::create(Backend::Postgres).await;
    let config = demo_config(&db);
    let b = Node::start(config.clone()).await;
    let a = TestServer::start_with(db, config).await;
    let tpp = Tpp::new(&a, &a.db, "ais");
    let cc = tpp.client_token().await;
    let access = || serde_json::json!({"allPsd2": "allAccounts"});
    let (mut first, mut second) = (String::new(), String::new());
    for consent in [&mut first, &mut second] {
        *consent = tpp.consent(&cc, access(), 4).await;
    }
    let mut tokens = Vec::new();
    for consent in [&first, &second] {
        let issued = tpp.tokens(&a, consent, "alice", "alice-demo-2026").await;
        tokens.push(issued.body["access_token"].as_str().unwrap().to_owned());
    }

    // Node B serves both, from its cache after the first read.
    for _ in 0..3 {
        assert_eq!(read_on(&b, &tpp, &tokens[0], &first).await, None);
        assert_eq!(read_on(&b, &tpp, &tokens[1], &second).await, None);
    }
    // Alice withdraws the first in online banking on node A.
    let mut alice = Browser::new(&a);
    alice.online_login("alice", "alice-demo-2026").await;
    alice.online_second_factor(SANDBOX_CODE).await;
    let list = alice.get("/bank/online/consents").await;
    let withdrawn = alice.withdraw_consent(&first, &list).await;
    assert!(
        withdrawn.body.contains("Access withdrawn"),
        "{}",
        withdrawn.body
    );
    let (node, token, consent) = (&b, &tokens[0], &first);
    let tpp_ref = &tpp;
    crate::support::within_a_second("withdrawn on node A", move || async move {
        read_on(node, tpp_ref, token, consent)
            .await
            .is_none()
            .then(|| "still read".to_owned())
    })
    .await;
    assert_eq!(
        read_on(&b, &tpp, &tokens[0], &first).await.as_deref(),
        Some("CONSENT_INVALID")
    );
    // The TPP ends the second on node A.
    let ended = tpp
        .call(
            Method::DELETE,
            &format!("/v1/consents/{second}"),
            &cc,
            &[],
            None,
        )
        .await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT, "{}", ended.body);
    let (node, token, consent) = (&b, &tokens[1], &second);
    let tpp_ref = &tpp;
    crate::support::within_a_second("terminated on node A", move || async move {
        read_on(node, tpp_ref, token, consent)
            .await
            .is_none()
            .then(|| "still read".to_owned())
    })
    .await;
    b.stop().await;
    a.stop().await;
}
