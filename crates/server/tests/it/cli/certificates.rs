//! Certificate renewal: a new certificate served after SIGHUP or a file
//! change, without dropping established connections.

use std::process::Command;
use std::time::{Duration, Instant};

use super::terminate;
use crate::support::{serve, tls_connect_to};

/// A TLS connection to the server trusting the development CA, and the
/// certificate it was served.
async fn tls_connection(
    ca: &std::path::Path,
    port: u16,
) -> (
    tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    Vec<u8>,
) {
    let tls = tls_connect_to(ca, port).await;
    let served = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    (tls, served)
}

/// `GET /healthz` on a kept-alive HTTP/1.1 connection; the status line.
async fn healthz_on(stream: &mut tokio_rustls::client::TlsStream<tokio::net::TcpStream>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0_u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "the connection was closed");
        answer.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&answer).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if answer.len() >= end + 4 + length {
                return text.lines().next().unwrap().to_owned();
            }
        }
    }
}

/// The first certificate other than `previous` new connections are served.
async fn served_after(ca: &std::path::Path, port: u16, previous: &[u8]) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, served) = tls_connection(ca, port).await;
        if served != previous {
            return served;
        }
        assert!(
            Instant::now() < deadline,
            "the old certificate is still served"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_renewed_certificate_is_served_after_sighup_or_a_file_change_without_dropping_connections()
 {
    use fintechapi_domain::Clock;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = ["--data-dir".to_owned(), data.display().to_string()];
    let (child, port) = serve(&args);
    let pki = fintechapi_server::tls::DevPki::in_data_dir(&data);
    let (mut kept, first) = tls_connection(&pki.ca_cert, port).await;
    assert_eq!(healthz_on(&mut kept).await, "HTTP/1.1 200 OK");
    let renew = || {
        std::fs::remove_file(&pki.server_cert).unwrap();
        assert!(pki.ensure(fintechapi_domain::SystemClock.now()).unwrap());
    };
    // SIGHUP: at once.
    renew();
    let signalled = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-HUP", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let second = served_after(&pki.ca_cert, port, &first).await;
    assert!(
        signalled.elapsed() < Duration::from_secs(3),
        "{:?}",
        signalled.elapsed()
    );
    assert_eq!(
        healthz_on(&mut kept).await,
        "HTTP/1.1 200 OK",
        "the established connection keeps working"
    );

    // No signal: the changed files are noticed within the check interval.
    renew();
    let third = served_after(&pki.ca_cert, port, &second).await;
    assert_ne!(third, first);
    assert_eq!(healthz_on(&mut kept).await, "HTTP/1.1 200 OK");
    assert!(terminate(child).success());
}
