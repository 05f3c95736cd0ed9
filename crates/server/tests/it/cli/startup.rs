//! Starting and stopping `serve`: the demo bank, the production profile's
//! refusals, one-line errors, and the data directory's permissions.

use fintechapi_testkit::{TestDb, both_stores};

use super::{fintechapi, run, run_on, stderr, terminate};
use crate::support::{serve, store_args};

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

    let out = run_on(&db, &["ledger", "verify"]);
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

/// `serve` in the production profile on `db`'s store.
fn production(db: &TestDb) -> std::process::Command {
    let mut serve = fintechapi();
    serve
        .args([
            "serve",
            "--profile",
            "production",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(store_args(db));
    serve
}

async fn production_refuses_the_development_certificate(db: TestDb) {
    let out = production(&db).output().unwrap();
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
    let out = production(&db)
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
