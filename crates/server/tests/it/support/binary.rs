//! The `fintechapi` binary, and raw TLS connections to a server.

use fintechapi_testkit::TestDb;

use super::TestServer;

/// Runs `fintechapi` with `args` on `db`'s store; it must succeed.
pub fn fintechapi(db: &TestDb, args: &[&str]) -> std::process::Output {
    let out = fintechapi_command()
        .args(args)
        .args(store_args(db))
        .output()
        .unwrap();
    let said = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        said(&out.stdout),
        said(&out.stderr)
    );
    out
}

pub fn cli_app_status(db: &TestDb, verb: &str, app_id: &str) {
    fintechapi(db, &["admin", "app", verb, app_id]);
}

/// The `fintechapi` binary with no stray `FINTECHAPI_*` settings from the caller.
pub fn fintechapi_command() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_fintechapi"));
    // Only what a test passes: no stray FINTECHAPI_* settings from the caller.
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("FINTECHAPI_")) {
        cmd.env_remove(key);
    }
    cmd.env("RUST_LOG", "info");
    cmd
}

pub fn store_args(db: &TestDb) -> Vec<String> {
    let mut args = vec!["--data-dir".to_owned(), db.data_dir().display().to_string()];
    if let Some(url) = db.database_url() {
        args.extend(["--database-url".to_owned(), url]);
    }
    args
}

/// Starts `serve` on an ephemeral port and waits until it listens. Returns the child and its port.
pub fn serve(args: &[String]) -> (std::process::Child, u16) {
    let mut child = fintechapi_command()
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stderr.take().unwrap()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        let log: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if log["message"] == "serving HTTPS" {
            let addr = log["addr"].as_str().unwrap().to_owned();
            let port = addr.rsplit(':').next().unwrap().parse().unwrap();
            // Keep draining the log so the server never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return (child, port);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("server did not start");
}

/// A raw HTTP/1.1-over-TLS connection that trusts the dev CA.
pub async fn tls_connect(
    server: &TestServer,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    tls_connect_to(&server.ca, server.port).await
}

/// A raw HTTP/1.1-over-TLS connection to `localhost:port` that trusts `ca`.
pub async fn tls_connect_to(
    ca: &std::path::Path,
    port: u16,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.unwrap()
}
