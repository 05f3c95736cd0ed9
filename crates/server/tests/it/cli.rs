//! The `fintechapi` binary as an operator uses it.

use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use crate::support::{fintechapi_command as fintechapi, serve, store_args};
use fintechapi_testkit::{TestDb, both_stores};

fn run(args: &[&str]) -> Output {
    fintechapi().args(args).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn terminate(mut child: Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "server ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn serve_seeds_the_demo_bank_stops_on_sigterm_and_the_ledger_verifies(db: TestDb) {
    let args = store_args(&db);
    let (child, port) = serve(&args);
    let ca = db.data_dir().join("tls/dev-ca.pem");
    let health = fintechapi_testkit::https_client(&ca)
        .build()
        .unwrap()
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(terminate(child).success(), "graceful shutdown exits 0");

    let mut verify_args = vec!["ledger", "verify"];
    verify_args.extend(args.iter().map(String::as_str));
    let out = run(&verify_args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", stderr(&out));
    assert!(
        stdout.contains("OK: every currency sums to zero"),
        "{stdout}"
    );
    assert!(
        stdout.contains("EUR: booked sum 0, pending sum 0"),
        "{stdout}"
    );
}
both_stores!(serve_seeds_the_demo_bank_stops_on_sigterm_and_the_ledger_verifies);

async fn production_refuses_the_development_certificate(db: TestDb) {
    let mut args = vec![
        "serve",
        "--profile",
        "production",
        "--listen",
        "127.0.0.1:0",
    ];
    let store = store_args(&db);
    args.extend(store.iter().map(String::as_str));
    let out = run(&args);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("refusing to start in the production profile"),
        "{err}"
    );
    assert!(err.contains("development certificate"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(!db.data_dir().join("tls").exists(), "nothing generated");
}
both_stores!(production_refuses_the_development_certificate);

async fn production_refuses_a_database_with_demo_data(db: TestDb) {
    // Seed demo data in development…
    let (child, _) = serve(&store_args(&db));
    assert!(terminate(child).success());
    // …then try production with a real certificate on the same database.
    let dir = tempfile::tempdir().unwrap();
    let pki = fintechapi_server::tls::DevPki::in_data_dir(dir.path());
    #[allow(clippy::disallowed_methods)]
    pki.ensure(time::OffsetDateTime::now_utc()).unwrap();
    let pepper = dir.path().join("pepper");
    std::fs::write(&pepper, [9_u8; 32]).unwrap();
    let out = fintechapi()
        .args([
            "serve",
            "--profile",
            "production",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(store_args(&db))
        .env("FINTECHAPI_TLS__CERT_FILE", &pki.server_cert)
        .env("FINTECHAPI_TLS__KEY_FILE", &pki.server_key)
        .env("FINTECHAPI_TLS__CLIENT_CA_FILE", &pki.ca_cert)
        .env("FINTECHAPI_SECRETS__PEPPER_FILE", &pepper)
        .env("FINTECHAPI_MAIL__SMTP_URL", "smtps://relay.example:465")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("the database holds demo data"),
        "{}",
        stderr(&out)
    );
}
both_stores!(production_refuses_a_database_with_demo_data);

#[test]
fn a_port_in_use_is_a_one_line_error_naming_listen() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = run(&[
        "serve",
        "--no-demo",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--listen",
        &format!("127.0.0.1:{port}"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    let last = err.trim().lines().last().unwrap();
    assert!(last.starts_with("error: listen: cannot bind"), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
}

#[test]
fn an_unreachable_database_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&[
        "migrate",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--database-url",
        "postgres://postgres:pw@127.0.0.1:1/nope",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with(
            "error: database_url: cannot connect to postgres://postgres:***@127.0.0.1:1/nope"
        ),
        "{err}"
    );
    assert!(!err.contains(":pw@"), "password leaked: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn invalid_settings_and_unreadable_certificates_name_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let out = fintechapi()
        .args(["serve", "--data-dir", data])
        .env("FINTECHAPI_HTTP__IDLE_TIMEOUT_SECS", "soon")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("idle_timeout_secs"),
        "{}",
        stderr(&out)
    );

    let out = run(&["serve", "--data-dir", data, "--listen", "localhost"]);
    assert!(
        stderr(&out).starts_with("error: listen:"),
        "{}",
        stderr(&out)
    );

    let out = fintechapi()
        .args(["serve", "--data-dir", data, "--listen", "127.0.0.1:0"])
        .env("FINTECHAPI_TLS__CERT_FILE", "/nonexistent/cert.pem")
        .env("FINTECHAPI_TLS__KEY_FILE", "/nonexistent/key.pem")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("error: tls.cert_file: cannot read /nonexistent/cert.pem"),
        "{}",
        stderr(&out)
    );

    let file = dir.path().join("broken.toml");
    std::fs::write(&file, "listen = [").unwrap();
    let out = run(&["config", "show", "--config", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("broken.toml"), "{}", stderr(&out));
}

#[test]
fn config_show_prints_the_effective_settings_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fintechapi.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:9000\"\n[http]\nmax_body_bytes = 4096\n",
    )
    .unwrap();
    let out = fintechapi()
        .args([
            "config",
            "show",
            "--config",
            file.to_str().unwrap(),
            "--database-url",
            "postgres://bank:s3cret@db.internal/fintech",
        ])
        .env("FINTECHAPI_LISTEN", "127.0.0.1:9001")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    let parsed: toml::Value = toml::from_str(&shown).unwrap();
    assert_eq!(
        parsed["listen"].as_str(),
        Some("127.0.0.1:9001"),
        "env beats file"
    );
    assert_eq!(parsed["http"]["max_body_bytes"].as_integer(), Some(4096));
    assert_eq!(
        parsed["database_url"].as_str(),
        Some("postgres://bank:***@db.internal/fintech")
    );
    assert!(!shown.contains("s3cret"));
}

#[test]
fn ledger_verify_reports_a_tampered_balance() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(TestDb::create(fintechapi_testkit::Backend::Sqlite));
    let (child, _) = serve(&store_args(&db));
    assert!(terminate(child).success());
    let ok = run(&[
        "ledger",
        "verify",
        "--data-dir",
        db.data_dir().to_str().unwrap(),
    ]);
    assert!(ok.status.success());
    rt.block_on(async {
        let store = db.store().await;
        store.close().await;
        let url = format!("sqlite:{}", db.sqlite_path().display());
        let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        let tamper = "UPDATE accounts SET booked_balance = booked_balance + 1 \
                      WHERE id = (SELECT MIN(id) FROM accounts WHERE kind = 'customer')";
        sqlx::query(tamper).execute(&mut conn).await.unwrap();
    });
    let out = run(&[
        "ledger",
        "verify",
        "--data-dir",
        db.data_dir().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("MISMATCH account"), "{stdout}");
    assert!(stdout.contains("EUR: booked sum 1"), "{stdout}");
}

async fn admin_app_create_prints_working_credentials_and_rotation_and_suspension_apply(db: TestDb) {
    let store = store_args(&db);
    let mut args = vec![
        "admin",
        "app",
        "create",
        "--org",
        "Acme TPP GmbH",
        "--name",
        "Budget <b>App</b>",
        "--redirect-uri",
        "https://acme.example/cb",
        "--products",
        "ais,pis",
        "--json",
    ];
    args.extend(store.iter().map(String::as_str));
    let out = run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let first: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (key, secret) = (
        first["client_id"].as_str().unwrap(),
        first["client_secret"].as_str().unwrap(),
    );
    assert!(
        key.starts_with("ck_") && secret.starts_with("cs_"),
        "{first}"
    );

    let mut config = fintechapi_server::config::Config {
        data_dir: db.data_dir().to_path_buf(),
        database_url: db.database_url(),
        ..Default::default()
    };
    config.portal.secret_rotation_grace_hours = 1;
    let clock = std::sync::Arc::new(fintechapi_domain::SystemClock);
    let registry = fintechapi_server::app::registry(&config, db.store().await, clock).unwrap();
    let client = registry
        .authenticate(key, secret)
        .await
        .unwrap()
        .expect("the printed credentials authenticate");
    assert_eq!(client.application.name, "Budget <b>App</b>");
    assert!(
        registry
            .authenticate(key, "cs_wrong")
            .await
            .unwrap()
            .is_none()
    );

    // Running it again reuses the app and issues a new secret; the old one still works (grace).
    let again: serde_json::Value = serde_json::from_slice(&run(&args).stdout).unwrap();
    assert_eq!(again["application_id"], first["application_id"]);
    assert_ne!(again["client_secret"], first["client_secret"]);
    assert!(registry.authenticate(key, secret).await.unwrap().is_some());

    let app_id = first["application_id"].as_str().unwrap();
    let mut suspend = vec!["admin", "app", "suspend", app_id];
    suspend.extend(store.iter().map(String::as_str));
    assert!(run(&suspend).status.success());
    assert!(
        registry
            .authenticate(
                again["client_id"].as_str().unwrap(),
                again["client_secret"].as_str().unwrap()
            )
            .await
            .unwrap()
            .is_none()
    );

    let mut list = vec!["admin", "app", "list", "--json"];
    list.extend(store.iter().map(String::as_str));
    let listed: serde_json::Value = serde_json::from_slice(&run(&list).stdout).unwrap();
    assert_eq!(listed[0]["status"], "suspended");
    assert_eq!(
        listed[0]["subscriptions"],
        serde_json::json!(["ais:approved", "pis:approved"])
    );
}
both_stores!(admin_app_create_prints_working_credentials_and_rotation_and_suspension_apply);

#[test]
fn admin_app_create_refuses_bad_input_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let out = run(&[
        "admin",
        "app",
        "create",
        "--data-dir",
        data,
        "--org",
        "O",
        "--name",
        "N",
        "--redirect-uri",
        "http://tpp.example/cb",
        "--env",
        "production",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("must use https"), "{}", stderr(&out));
    let out = run(&[
        "admin",
        "app",
        "create",
        "--data-dir",
        data,
        "--org",
        "O",
        "--name",
        "N",
        "--redirect-uri",
        "https://tpp.example/cb?x=\"><script>",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("exactly as the URL standard writes it"),
        "{}",
        stderr(&out)
    );
    let out = run(&[
        "admin",
        "app",
        "create",
        "--data-dir",
        data,
        "--org",
        "O",
        "--name",
        "N",
        "--redirect-uri",
        "https://tpp.example/cb",
        "--products",
        "ais,bank",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("expected ais, pis or piis"),
        "{}",
        stderr(&out)
    );
    let out = run(&["admin", "app", "suspend", "not-an-id", "--data-dir", data]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("application id"), "{}", stderr(&out));
}

#[test]
fn serve_keeps_the_database_pepper_and_keys_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = ["--data-dir".to_owned(), data.display().to_string()];
    let mode = |name: &str| {
        let meta = std::fs::metadata(data.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        meta.permissions().mode() & 0o777
    };
    let private = [
        "fintechapi.db",
        "fintechapi.db-wal",
        "fintechapi.db-shm",
        "secrets/pepper",
        "tls/server-key.pem",
        "tls/dev-ca-key.pem",
    ];
    let (child, _) = serve(&args);
    assert_eq!(mode(""), 0o700, "the data directory");
    for name in private {
        assert_eq!(mode(name), 0o600, "{name}");
    }
    assert!(terminate(child).success());

    // Files an older version left open are closed at the next start.
    let open = |name: &str, m: u32| {
        std::fs::set_permissions(data.join(name), std::fs::Permissions::from_mode(m)).unwrap();
    };
    open("", 0o755);
    for name in ["fintechapi.db", "secrets/pepper"] {
        open(name, 0o644);
    }
    let (child, _) = serve(&args);
    assert_eq!(mode(""), 0o700);
    for name in private {
        assert_eq!(mode(name), 0o600, "{name} after a restart");
    }
    assert!(terminate(child).success());
}

/// A TLS connection to the server trusting the development CA, and the
/// certificate it was served.
async fn tls_connection(
    ca: &std::path::Path,
    port: u16,
) -> (
    tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    Vec<u8>,
) {
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
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(
            rustls_pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await
        .unwrap();
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
