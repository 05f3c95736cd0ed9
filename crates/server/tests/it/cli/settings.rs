//! Settings: unreachable databases, invalid values, unreadable
//! certificates, and `config show`.

use super::{assert_refused_saying, fintechapi, run, stderr};

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
    assert_refused_saying(&out, "idle_timeout_secs");

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
    assert_refused_saying(&out, "broken.toml");
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
