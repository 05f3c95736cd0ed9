//! `ledger verify` and `admin app`: credentials, rotation, suspension, and
//! refusals of bad input.

use fintechapi_testkit::{TestDb, both_stores};

use super::{assert_refused_saying, run, run_on, stderr, terminate};
use crate::support::{serve, store_args};

#[test]
fn ledger_verify_reports_a_tampered_balance() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(TestDb::create(fintechapi_testkit::Backend::Sqlite));
    let (child, _) = serve(&store_args(&db));
    assert!(terminate(child).success());
    let ok = run_on(&db, &["ledger", "verify"]);
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
    let out = run_on(&db, &["ledger", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("MISMATCH account"), "{stdout}");
    assert!(stdout.contains("EUR: booked sum 1"), "{stdout}");
}

async fn admin_app_create_prints_working_credentials_and_rotation_and_suspension_apply(db: TestDb) {
    let args = [
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
    let out = run_on(&db, &args);
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
    let again: serde_json::Value = serde_json::from_slice(&run_on(&db, &args).stdout).unwrap();
    assert_eq!(again["application_id"], first["application_id"]);
    assert_ne!(again["client_secret"], first["client_secret"]);
    assert!(registry.authenticate(key, secret).await.unwrap().is_some());

    let app_id = first["application_id"].as_str().unwrap();
    assert!(
        run_on(&db, &["admin", "app", "suspend", app_id])
            .status
            .success()
    );
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

    let list = run_on(&db, &["admin", "app", "list", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
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
    // `admin app create` of app "N" for organisation "O", with `more`.
    let create = |more: &[&str]| {
        let mut args = vec![
            "admin",
            "app",
            "create",
            "--data-dir",
            data,
            "--org",
            "O",
            "--name",
            "N",
        ];
        args.extend_from_slice(more);
        run(&args)
    };
    let out = create(&[
        "--redirect-uri",
        "http://tpp.example/cb",
        "--env",
        "production",
    ]);
    assert_refused_saying(&out, "must use https");
    let out = create(&["--redirect-uri", "https://tpp.example/cb?x=\"><script>"]);
    assert_refused_saying(&out, "exactly as the URL standard writes it");
    let out = create(&[
        "--redirect-uri",
        "https://tpp.example/cb",
        "--products",
        "ais,bank",
    ]);
    assert_refused_saying(&out, "expected ais, pis or piis");
    let out = run(&["admin", "app", "suspend", "not-an-id", "--data-dir", data]);
    assert_refused_saying(&out, "application id");
}
