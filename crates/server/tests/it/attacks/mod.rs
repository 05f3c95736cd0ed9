//! The attack corpus, against the real server over TLS, on both stores: XSS
//! in every text input and reflected parameter, CR/LF and control characters
//! in every header-reaching value, cross-origin and token-less form posts,
//! slow clients, and huge inputs. After each: the right error, no 500,
//! nothing stored, the server healthy. Payloads live in this directory.

mod cross_origin;
mod escaping;
mod header_injection;
mod huge_inputs;
mod slow_clients;

use std::time::{Duration, Instant};

use crate::support::{Page, TestServer};
use reqwest::StatusCode;

/// The lines of a payload file, comments and blank lines left out.
fn payloads(text: &'static str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            l.replace("\\r", "\r")
                .replace("\\n", "\n")
                .replace("\\t", "\t")
                .replace("\\0", "\0")
                .replace("\\x0b", "\x0b")
                .replace("\\x7f", "\x7f")
        })
        .collect()
}

fn xss() -> Vec<String> {
    payloads(include_str!("xss.txt"))
}

fn crlf() -> Vec<String> {
    payloads(include_str!("crlf.txt"))
}

/// Fails if any payload appears as sent in `page`.
fn escaped(page: &Page, payloads: &[String], what: &str) {
    assert!(
        page.status.as_u16() < 500,
        "{what}: {} {}",
        page.status,
        page.body
    );
    for payload in payloads {
        assert!(
            !page.body.contains(payload.as_str()),
            "{what} shows {payload:?} unescaped: {}",
            page.body
        );
    }
}

/// `/healthz` answers, and quickly: the server survived.
async fn healthy(server: &TestServer) {
    let started = Instant::now();
    let resp = server
        .client()
        .get(server.url("/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "/healthz took {:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------- XSS
