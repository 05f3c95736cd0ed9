//! Protection against inputs that cost more than they should, private
//! metrics and load shedding, over real TLS on both stores: every oversized
//! or overlong input is refused at once in its surface's format and stores
//! nothing; invented methods do not grow `/metrics`; an overloaded server
//! sheds with 503 and `Retry-After` while `/healthz` keeps answering.

use std::time::{Duration, Instant};

use crate::support::xs2a::Tpp;
use crate::support::{TestServer, config_for, json_of};
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

/// The issue's request: 125,000 empty parameters, just under the 1 MiB body limit.
fn huge_form() -> String {
    (0..125_000)
        .map(|i| format!("p{i}="))
        .collect::<Vec<_>>()
        .join("&")
}

async fn a_huge_or_overlong_oauth_form_is_refused_at_once_while_health_answers(db: TestDb) {
    let server = TestServer::start(db).await;
    let client = server.client();
    let post = |body: String| {
        client
            .post(server.url("/oauth2/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let started = Instant::now();
    let (huge, health) = tokio::join!(post(huge_form()), async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        client
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status()
    });
    let huge = huge.unwrap();
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = huge.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request", "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(health, StatusCode::OK);

    let many: String = (0..41)
        .map(|i| format!("p{i}=x"))
        .collect::<Vec<_>>()
        .join("&");
    let many = post(many).await.unwrap();
    assert_eq!(many.status(), StatusCode::BAD_REQUEST);
    let body: Value = many.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(body["error_description"], "more than 40 parameters");
    assert_eq!(server.db.count_rows("oauth_tokens").await, 0);
    server.stop().await;
}
both_stores!(a_huge_or_overlong_oauth_form_is_refused_at_once_while_health_answers);

async fn xs2a_bodies_over_their_bounds_get_tpp_messages_and_store_nothing(db: TestDb) {
    let server = TestServer::start(db).await;
    let tpp = Tpp::new(&server, &server.db, "ais,pis");
    let token = tpp.client_token().await;
    let refs: Vec<Value> = (0..101)
        .map(|_| json!({"iban": "DE02120300000000202051"}))
        .collect();
    let consent = json!({"access": {"accounts": refs}, "recurringIndicator": true, "validUntil": "2099-12-31", "frequencyPerDay": 4, "combinedServiceIndicator": false});
    let a = tpp.post("/v1/consents", &token, &[], &consent).await;
    a.assert_refusal(StatusCode::BAD_REQUEST, "FORMAT_ERROR", "access.accounts");

    let entry = json!({"instructedAmount": {"currency": "EUR", "amount": "1.00"}, "creditorName": "Payee", "creditorAccount": {"iban": "DE02120300000000202051"}});
    let bulk =
        json!({"debtorAccount": {"iban": "DE89370400440532013000"}, "payments": vec![entry; 501]});
    let a = tpp
        .post(
            "/v1/bulk-payments/sepa-credit-transfers",
            &token,
            &[("psu-ip-address", "192.0.2.1")],
            &bulk,
        )
        .await;
    a.assert_refusal(StatusCode::BAD_REQUEST, "FORMAT_ERROR", "payments");

    // Over the server's body limit: 413, still in the Berlin Group format.
    let big = tpp
        .http
        .post(server.url("/v1/consents"))
        .bearer_auth(&token)
        .header("x-request-id", uuid::Uuid::new_v4().to_string())
        .header("content-type", "application/json")
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = big.json().await.unwrap();
    assert_eq!(body["tppMessages"][0]["code"], "FORMAT_ERROR", "{body}");

    assert_eq!(
        (
            server.db.count_rows("consents").await,
            server.db.count_rows("payments").await
        ),
        (0, 0)
    );
    server.stop().await;
}
both_stores!(xs2a_bodies_over_their_bounds_get_tpp_messages_and_store_nothing);

async fn an_oversized_page_form_gets_an_html_page_and_creates_no_account(db: TestDb) {
    let server = TestServer::start(db).await;
    let resp = server
        .client()
        .post(server.url("/portal/signup"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "email=big%40example.com&password=x&display_name={}",
            "a".repeat(2 * 1024 * 1024)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(resp.text().await.unwrap().contains("too large"));
    assert_eq!(server.db.count_rows("users").await, 0);
    server.stop().await;
}
both_stores!(an_oversized_page_form_gets_an_html_page_and_creates_no_account);

async fn metrics_are_private_and_invented_methods_do_not_grow_them(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("metrics-token");
    let token = "metrics-scraper-token-0123456789abcdef";
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let mut config = config_for(&db);
    config.metrics.listen = Some("127.0.0.1:0".into());
    config.metrics.token_file = Some(token_file);
    let server = TestServer::start_with(db, config.clone()).await;
    let client = server.client();
    // The private listener: plain HTTP, everything in full.
    let private = format!("http://{}", server.metrics_addr.unwrap());
    let scrape = || async {
        reqwest::get(format!("{private}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };

    // The public listener: no metrics and no readiness detail for strangers.
    let public = client.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), StatusCode::UNAUTHORIZED);
    let wrong = client
        .get(server.url("/metrics"))
        .bearer_auth("guess")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let ready = json_of(client.get(server.url("/readyz"))).await;
    assert_eq!(ready, json!({"status": "ready"}));
    let detail = json_of(client.get(server.url("/readyz")).bearer_auth(token)).await;
    assert_eq!(detail["database"], "up");
    let private_ready: Value = reqwest::get(format!("{private}/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(private_ready["migrations"], "current");

    let invent = |i: usize| {
        let method = Method::from_bytes(format!("X{i}").as_bytes()).unwrap();
        client.request(method, server.url("/healthz")).send()
    };
    invent(0).await.unwrap();
    let before = scrape().await;
    for i in 1..=2_000 {
        invent(i).await.unwrap();
    }
    let after = scrape().await;
    assert_eq!(after.lines().count(), before.lines().count(), "{after}");
    assert!(
        after.len() < before.len() + 200,
        "{} → {}",
        before.len(),
        after.len()
    );
    assert!(
        after.contains(r#"method="other",route="/healthz""#),
        "{after}"
    );
    assert!(!after.contains("X1999"));
    let with_token = client
        .get(server.url("/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(with_token.status(), StatusCode::OK);
    server.stop().await;
}
both_stores!(metrics_are_private_and_invented_methods_do_not_grow_them);

async fn without_a_token_the_public_listener_serves_no_metrics(db: TestDb) {
    let server = TestServer::start(db).await;
    let resp = server.get("/metrics").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(
        !resp
            .text()
            .await
            .unwrap()
            .contains("fintechapi_http_requests")
    );
    server.stop().await;
}
both_stores!(without_a_token_the_public_listener_serves_no_metrics);

/// `fintechapi_http_requests_shed_total` as the metrics listener shows it.
async fn shed_total(metrics: &str) -> String {
    let text = reqwest::get(metrics).await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("fintechapi_http_requests_shed_total "))
        .unwrap_or_else(|| panic!("no shed counter in {text}"))
        .to_owned()
}

async fn an_overloaded_server_sheds_in_each_surfaces_format_and_health_still_answers(db: TestDb) {
    let mut config = config_for(&db);
    config.http.max_in_flight_requests = 1;
    config.http.queue_timeout_millis = 300;
    config.metrics.listen = Some("127.0.0.1:0".into());
    let server = TestServer::start_with(db, config).await;
    let metrics = format!("http://{}/metrics", server.metrics_addr.unwrap());
    assert_eq!(shed_total(&metrics).await, "0");
    // One request holds the only turn: its body never finishes arriving.
    let mut slow = crate::support::tls_connect(&server).await;
    slow.write_all(b"POST /oauth2/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ngrant_type=").await.unwrap();
    slow.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let client = server.client();
    let started = Instant::now();
    let xs2a = client.get(server.url("/v1/accounts")).send().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(xs2a.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(xs2a.headers()["retry-after"], "1");
    let body: Value = xs2a.json().await.unwrap();
    assert_eq!(
        body["tppMessages"][0]["code"], "SERVICE_UNAVAILABLE",
        "{body}"
    );
    let oauth = client
        .post(server.url("/oauth2/token"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(oauth.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(oauth.headers().contains_key("retry-after"));
    let body: Value = oauth.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    let page = client
        .get(server.url("/portal/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let health = client.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    // Each shed request is counted, health checks are not.
    assert_eq!(shed_total(&metrics).await, "3");

    // The turn comes back when the slow request ends.
    drop(slow);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let page = client
        .get(server.url("/portal/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    server.stop().await;
}
both_stores!(an_overloaded_server_sheds_in_each_surfaces_format_and_health_still_answers);

/// A client whose connections come from `address` (any of 127/8 reaches the server).
fn client_from(server: &TestServer, address: &str) -> reqwest::Client {
    fintechapi_testkit::https_client(&server.ca)
        .local_address(address.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn client_credentials(
    client: &reqwest::Client,
    server: &TestServer,
    key: &str,
    secret: &str,
) -> reqwest::Response {
    client
        .post(server.url("/oauth2/token"))
        .basic_auth(key, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
}

/// The RFC 6749 answer of a held request: 429 `slow_down`, saying what is
/// held and that it is temporary; its `Retry-After` in seconds.
async fn held(response: reqwest::Response, what: &str) -> u64 {
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "slow_down", "{body}");
    let description = body["error_description"].as_str().unwrap();
    assert!(description.contains(what), "{body}");
    assert!(description.contains("temporarily"), "{body}");
    assert!((1..=60).contains(&retry), "{retry}");
    retry
}

async fn failed_client_authentications_are_held_per_address_and_per_client_id(db: TestDb) {
    let server = TestServer::start(db).await;
    let (_, key_a, secret_a) = crate::support::xs2a::cli_app(&server.db, "ais");
    let api = crate::support::Api::developer(&server, "held@tpp.example").await;
    let (_, key_b, secret_b) = api.sandbox_app(&["AISP"], &["ais"]).await;

    // Per address (20 a minute): wrong secrets under ever new client ids.
    let guesser = client_from(&server, "127.0.0.2");
    for i in 0..20 {
        let resp = client_credentials(&guesser, &server, &format!("guess-{i}"), "wrong").await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "failure {i}");
    }
    let resp = client_credentials(&guesser, &server, &key_a, "wrong").await;
    held(resp, "from this address").await;
    // The right secret from that address is held too, on every endpoint,
    // before it is checked; from another address it works.
    let resp = client_credentials(&guesser, &server, &key_a, &secret_a).await;
    held(resp, "from this address").await;
    for path in ["/oauth2/par", "/oauth2/introspect", "/oauth2/revoke"] {
        let resp = guesser
            .post(server.url(path))
            .basic_auth(&key_a, Some(&secret_a))
            .form(&[("token", "x")])
            .send()
            .await
            .unwrap();
        held(resp, "from this address").await;
    }
    let elsewhere = client_from(&server, "127.0.0.3");
    let resp = client_credentials(&elsewhere, &server, &key_a, &secret_a).await;
    assert_eq!(resp.status(), StatusCode::OK);

    // Per client_id (10 a minute): held from every address, for a while.
    let attacker = client_from(&server, "127.0.0.4");
    for i in 0..10 {
        let resp = client_credentials(&attacker, &server, &key_b, "wrong").await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "failure {i}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client", "{body}");
    }
    let resp = client_credentials(&attacker, &server, &key_b, "wrong").await;
    held(resp, "for this client_id").await;
    let owner = client_from(&server, "127.0.0.5");
    let resp = client_credentials(&owner, &server, &key_b, &secret_b).await;
    let retry = held(resp, "for this client_id").await;
    // Another client from the attacker's address is not held: 11 failures
    // there are under the address's limit.
    let resp = client_credentials(&attacker, &server, &key_a, &secret_a).await;
    assert_eq!(resp.status(), StatusCode::OK);
    // The hold ends by itself.
    tokio::time::sleep(Duration::from_secs(retry)).await;
    let resp = client_credentials(&owner, &server, &key_b, &secret_b).await;
    assert_eq!(resp.status(), StatusCode::OK);
    server.stop().await;
}
both_stores!(failed_client_authentications_are_held_per_address_and_per_client_id);
