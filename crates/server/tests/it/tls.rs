//! The listener on its own: FAPI cipher suites, optional client certificates
//! handed to handlers, and graceful shutdown that finishes in-flight requests.

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::{Extension, Router};
use fintechapi_server::listener::{self, ConnectionInfo, Limits};
use fintechapi_server::tls::{self, DevPki, TlsFiles};
use rustls::crypto::CryptoProvider;
use rustls::crypto::aws_lc_rs::{self, cipher_suite};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

struct Running {
    pki: DevPki,
    port: u16,
    stop: oneshot::Sender<()>,
    done: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

fn now() -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_600)
}

async fn start() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let pki = DevPki::in_data_dir(dir.path());
    #[allow(clippy::disallowed_methods)]
    pki.ensure(OffsetDateTime::now_utc()).unwrap();
    let (config, _) = tls::server_config(&TlsFiles {
        cert: &pki.server_cert,
        key: &pki.server_key,
        client_ca: Some(&pki.ca_cert),
    })
    .unwrap();
    let router = Router::new()
        .route(
            "/whoami",
            get(|Extension(info): Extension<ConnectionInfo>| async move {
                match info.client_certificate {
                    Some(cert) => format!("client certificate of {} bytes", cert.0.len()),
                    None => "no client certificate".to_owned(),
                }
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(800)).await;
                "done"
            }),
        );
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = tcp.local_addr().unwrap().port();
    let limits = Limits {
        handshake_timeout: Duration::from_secs(5),
        header_read_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(30),
        shutdown_grace: Duration::from_secs(10),
        max_connections: 100,
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(listener::serve(
        tcp,
        tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        router,
        limits,
        async {
            let _ = stopped.await;
        },
    ));
    Running {
        pki,
        port,
        stop,
        done,
        _dir: dir,
    }
}

fn client(pki: &DevPki) -> reqwest::ClientBuilder {
    fintechapi_testkit::https_client(&pki.ca_cert)
}

#[tokio::test]
async fn a_verified_client_certificate_reaches_the_handler() {
    let server = start().await;
    let url = format!("https://localhost:{}/whoami", server.port);
    // A GET of /whoami by a client built from `builder`.
    let whoami = |builder: reqwest::ClientBuilder| builder.build().unwrap().get(&url).send();
    let anonymous = whoami(client(&server.pki)).await.unwrap();
    assert_eq!(anonymous.text().await.unwrap(), "no client certificate");

    let (cert, key) = server
        .pki
        .issue_client_certificate("tpp.example", now())
        .unwrap();
    let identity = reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap();
    let with_cert = whoami(client(&server.pki).identity(identity))
        .await
        .unwrap();
    let expected_len = CertificateDer::from_pem_slice(cert.as_bytes())
        .unwrap()
        .len();
    assert_eq!(
        with_cert.text().await.unwrap(),
        format!("client certificate of {expected_len} bytes")
    );
}

#[tokio::test]
async fn a_client_certificate_from_an_unknown_ca_is_refused() {
    let server = start().await;
    let other_dir = tempfile::tempdir().unwrap();
    let other = DevPki::in_data_dir(other_dir.path());
    other.ensure(now()).unwrap();
    let (cert, key) = other.issue_client_certificate("intruder", now()).unwrap();
    let identity = reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap();
    let result = client(&server.pki)
        .identity(identity)
        .build()
        .unwrap()
        .get(format!("https://localhost:{}/whoami", server.port))
        .send()
        .await;
    assert!(
        result.is_err(),
        "an untrusted client certificate was accepted"
    );
}

async fn handshake_with(
    pki: &DevPki,
    port: u16,
    provider: CryptoProvider,
    tls12_only: bool,
) -> Result<(), std::io::Error> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&pki.ca_cert).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let versions: &[&rustls::SupportedProtocolVersion] = if tls12_only {
        &[&rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS13]
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map(|_| ())
}

#[tokio::test]
async fn tls12_is_limited_to_ecdhe_with_aes_gcm_and_tls13_works() {
    let server = start().await;
    let only = |suite| CryptoProvider {
        cipher_suites: vec![suite],
        ..aws_lc_rs::default_provider()
    };
    // A TLS 1.2 handshake offering `suite` alone.
    let tls12_with = |suite| handshake_with(&server.pki, server.port, only(suite), true);
    let gcm = tls12_with(cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256).await;
    assert!(gcm.is_ok(), "{gcm:?}");
    let chacha = tls12_with(cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256).await;
    assert!(chacha.is_err(), "TLS 1.2 ChaCha20 is not a FAPI suite");
    let tls13 = handshake_with(
        &server.pki,
        server.port,
        aws_lc_rs::default_provider(),
        false,
    )
    .await;
    assert!(tls13.is_ok(), "{tls13:?}");
}

#[tokio::test]
async fn shutdown_finishes_the_request_in_flight_then_stops_accepting() {
    let server = start().await;
    let http = client(&server.pki).build().unwrap();
    let url = format!("https://localhost:{}/slow", server.port);
    let in_flight = tokio::spawn(async move { http.get(url).send().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.stop.send(()).unwrap();
    let response = in_flight
        .await
        .unwrap()
        .expect("the in-flight request completes");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "done");
    tokio::time::timeout(Duration::from_secs(5), server.done)
        .await
        .unwrap()
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", server.port))
            .await
            .is_err()
    );
}
