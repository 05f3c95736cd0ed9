//! Slow and dribbling clients.

use std::time::{Duration, Instant};

use super::healthy;
use crate::support::{TestServer, config_for};
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn slow_header_and_slow_body_clients_do_not_keep_a_normal_client_waiting(db: TestDb) {
    let mut config = config_for(&db);
    config.http.header_read_timeout_secs = 2;
    config.http.body_read_timeout_secs = 2;
    // The body timeout is per read, so a dribbled body is bounded by the request timeout.
    config.http.request_timeout_secs = 3;
    let server = TestServer::start_with(db, config).await;
    let mut slow = Vec::new();
    for i in 0..60 {
        let mut tls = crate::support::tls_connect(&server).await;
        let start: &[u8] = if i % 2 == 0 {
            b"GET /healthz HTTP/1.1\r\nHost: local"
        } else {
            b"POST /oauth2/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\ngrant_type="
        };
        tls.write_all(start).await.unwrap();
        slow.push(tokio::spawn(async move {
            let opened = Instant::now();
            // One byte every 300 ms until the server cuts the connection off.
            while opened.elapsed() < Duration::from_secs(15) {
                if tls.write_all(b"x").await.is_err() || tls.flush().await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            let mut rest = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(1), tls.read_to_end(&mut rest)).await;
            (
                i % 2 == 0,
                opened.elapsed(),
                String::from_utf8_lossy(&rest)
                    .lines()
                    .next()
                    .map(str::to_owned),
            )
        }));
    }
    for _ in 0..20 {
        healthy(&server).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for connection in slow {
        let (headers, held, answer) = connection.await.unwrap();
        let kind = if headers { "slow-header" } else { "slow-body" };
        assert!(
            held < Duration::from_secs(6),
            "a {kind} client was held {held:?}; answer {answer:?}"
        );
        assert!(
            !answer
                .as_deref()
                .unwrap_or_default()
                .starts_with("HTTP/1.1 500"),
            "{kind}: {answer:?}"
        );
    }
    healthy(&server).await;
    server.stop().await;
}
both_stores!(slow_header_and_slow_body_clients_do_not_keep_a_normal_client_waiting);

async fn a_dribbled_body_is_cut_off_at_the_body_deadline_in_each_surfaces_format(db: TestDb) {
    let mut config = config_for(&db);
    config.http.body_timeout_millis = 1500;
    // Long enough that only the whole-body deadline can end these requests.
    config.http.body_read_timeout_secs = 20;
    config.http.request_timeout_secs = 30;
    let server = TestServer::start_with(db, config).await;
    let mut dribblers = Vec::new();
    for (path, content_type) in [
        ("/oauth2/token", "application/x-www-form-urlencoded"),
        ("/v1/payments/sepa-credit-transfers", "application/json"),
    ] {
        let mut tls = crate::support::tls_connect(&server).await;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\nContent-Length: 1000\r\n\r\n"
        );
        tls.write_all(head.as_bytes()).await.unwrap();
        dribblers.push(tokio::spawn(async move {
            let opened = Instant::now();
            // One byte every 200 ms, far from the 1000 announced.
            let mut answer = Vec::new();
            loop {
                let mut buf = [0u8; 4096];
                tokio::select! {
                    read = tls.read(&mut buf) => match read {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            answer.extend_from_slice(&buf[..n]);
                            if answer.windows(4).any(|w| w == b"\r\n\r\n") { break; }
                        }
                    },
                    () = tokio::time::sleep(Duration::from_millis(200)) => {
                        if opened.elapsed() > Duration::from_secs(15) { break; }
                        if tls.write_all(b"x").await.is_err() || tls.flush().await.is_err() { break; }
                    }
                }
            }
            // The rest of the error body.
            let mut rest = [0u8; 4096];
            if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(500), tls.read(&mut rest)).await {
                answer.extend_from_slice(&rest[..n]);
            }
            (opened.elapsed(), String::from_utf8_lossy(&answer).into_owned())
        }));
    }
    // Meanwhile the server answers its health check at once.
    let client = server.client();
    for _ in 0..5 {
        let started = Instant::now();
        let resp = client.get(server.url("/healthz")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "healthz took {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (held, oauth) = dribblers.remove(0).await.unwrap();
    assert!(
        held >= Duration::from_millis(1400) && held < Duration::from_secs(4),
        "held {held:?}: {oauth}"
    );
    assert!(oauth.starts_with("HTTP/1.1 408"), "{oauth}");
    assert!(oauth.contains(r#""error":"invalid_request""#), "{oauth}");
    let (held, xs2a) = dribblers.remove(0).await.unwrap();
    assert!(held < Duration::from_secs(4), "held {held:?}: {xs2a}");
    assert!(xs2a.starts_with("HTTP/1.1 408"), "{xs2a}");
    assert!(xs2a.contains("tppMessages"), "{xs2a}");
    healthy(&server).await;
    server.stop().await;
}
both_stores!(a_dribbled_body_is_cut_off_at_the_body_deadline_in_each_surfaces_format);

// ---------------------------------------------------------------- huge inputs
