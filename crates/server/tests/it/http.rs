//! The HTTPS surface of `fintechapi serve`, over real TLS, on both stores.

use std::time::Duration;

use crate::support::{TestServer, config_for};
use fintechapi_testkit::{TestDb, both_stores};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A server with the operators' metrics listener on an ephemeral port.
async fn with_metrics_listener(db: TestDb) -> TestServer {
    let mut config = config_for(&db);
    config.metrics.listen = Some("127.0.0.1:0".into());
    TestServer::start_with(db, config).await
}

async fn health_answers_over_http1_and_http2_verified_with_the_dev_ca(db: TestDb) {
    let server = TestServer::start(db).await;
    assert!(server.ca.ends_with("tls/dev-ca.pem"));
    let h2 = server.get("/healthz").await;
    assert_eq!(h2.status(), 200);
    assert_eq!(h2.version(), reqwest::Version::HTTP_2);
    let h1 = fintechapi_testkit::https_client(&server.ca)
        .http1_only()
        .build()
        .unwrap()
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(h1.status(), 200);
    assert_eq!(h1.version(), reqwest::Version::HTTP_11);
    // Also by IP address: the certificate names 127.0.0.1 too.
    let by_ip = server
        .client()
        .get(format!("https://127.0.0.1:{}/healthz", server.port))
        .send()
        .await
        .unwrap();
    assert_eq!(by_ip.status(), 200);
    assert_eq!(
        h1.json::<serde_json::Value>().await.unwrap()["status"],
        "ok"
    );
    server.stop().await;
}
both_stores!(health_answers_over_http1_and_http2_verified_with_the_dev_ca);

async fn readiness_reports_the_database_and_migrations_to_operators_only(db: TestDb) {
    let server = with_metrics_listener(db).await;
    let resp = server.get("/readyz").await;
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "ready"}));
    let private = format!("http://{}/readyz", server.metrics_addr.unwrap());
    let body: serde_json::Value = reqwest::get(private).await.unwrap().json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"status": "ready", "database": "up", "migrations": "current", "limits": "memory"})
    );
    server.stop().await;
}
both_stores!(readiness_reports_the_database_and_migrations_to_operators_only);

async fn metrics_count_requests_by_route_and_status(db: TestDb) {
    let server = with_metrics_listener(db).await;
    let client = server.client();
    for _ in 0..3 {
        client.get(server.url("/healthz")).send().await.unwrap();
    }
    client
        .get(server.url("/no/such/path/123"))
        .send()
        .await
        .unwrap();
    let private = format!("http://{}/metrics", server.metrics_addr.unwrap());
    let text = reqwest::get(private).await.unwrap().text().await.unwrap();
    assert!(
        text.contains(
            r#"fintechapi_http_requests_total{method="GET",route="/healthz",status="200"} 3"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"route="unmatched",status="404"} 1"#),
        "{text}"
    );
    assert!(
        !text.contains("/no/such/path"),
        "raw paths must not become labels"
    );
    assert!(
        text.contains("fintechapi_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        text.contains("fintechapi_db_pool_max_connections"),
        "{text}"
    );
    server.stop().await;
}
both_stores!(metrics_count_requests_by_route_and_status);

async fn every_response_carries_a_request_id_and_a_given_one_is_echoed(db: TestDb) {
    let server = TestServer::start(db).await;
    let client = server.client();
    let resp = client.get(server.url("/healthz")).send().await.unwrap();
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let given = "99391c7e-ad88-49ec-a2ad-99ddcb1f7721";
    let resp = client
        .get(server.url("/healthz"))
        .header("X-Request-ID", given)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], given);
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let missing = client.get(server.url("/nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["content-type"], "application/json");
    assert!(missing.headers().contains_key("x-request-id"));
    server.stop().await;
}
both_stores!(every_response_carries_a_request_id_and_a_given_one_is_echoed);

async fn plain_http_on_the_port_gets_no_http_answer(db: TestDb) {
    let server = TestServer::start(db).await;
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut buf)).await;
    assert!(
        !buf.starts_with(b"HTTP/"),
        "got an HTTP answer: {:?}",
        String::from_utf8_lossy(&buf)
    );
    server.stop().await;
}
both_stores!(plain_http_on_the_port_gets_no_http_answer);

async fn a_client_that_stops_mid_headers_is_cut_off(db: TestDb) {
    let mut config = config_for(&db);
    config.http.header_read_timeout_secs = 1;
    let server = TestServer::start_with(db, config).await;
    let mut tls = crate::support::tls_connect(&server).await;
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: local")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server kept a half-sent request open");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"));
    server.stop().await;
}
both_stores!(a_client_that_stops_mid_headers_is_cut_off);

async fn an_idle_keep_alive_connection_is_closed(db: TestDb) {
    let mut config = config_for(&db);
    config.http.request_timeout_secs = 1;
    config.http.idle_timeout_secs = 2;
    let server = TestServer::start_with(db, config).await;
    let mut tls = crate::support::tls_connect(&server).await;
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0_u8; 512];
    let n = tls.read(&mut first).await.unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "idle connection stayed open");
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "closed too early: {:?}",
        started.elapsed()
    );
    server.stop().await;
}
both_stores!(an_idle_keep_alive_connection_is_closed);

#[tokio::test]
async fn hsts_covers_subdomains_only_when_configured() {
    let hsts = |server: &TestServer| {
        let client = server.client();
        let url = server.url("/healthz");
        async move {
            let resp = client.get(url).send().await.unwrap();
            resp.headers()["strict-transport-security"]
                .to_str()
                .unwrap()
                .to_owned()
        }
    };
    let db = fintechapi_testkit::TestDb::create(fintechapi_testkit::Backend::Sqlite).await;
    let server = TestServer::start(db).await;
    assert_eq!(hsts(&server).await, "max-age=31536000");
    server.stop().await;

    let db = fintechapi_testkit::TestDb::create(fintechapi_testkit::Backend::Sqlite).await;
    let mut config = config_for(&db);
    config.http.hsts_include_subdomains = true;
    let server = TestServer::start_with(db, config).await;
    assert_eq!(hsts(&server).await, "max-age=31536000; includeSubDomains");
    server.stop().await;
}
