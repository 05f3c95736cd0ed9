use std::path::Path;

use super::*;

#[test]
fn the_sandbox_one_time_code_never_reaches_production() {
    let dev = Config::default();
    assert_eq!(dev.sandbox_code().as_deref(), Some("123456"));
    let mut prod = Config {
        profile: Profile::Production,
        ..Config::default()
    };
    assert_eq!(prod.sandbox_code(), None);
    prod.sca.sandbox_code = Some("000000".into());
    assert_eq!(prod.sandbox_code(), None);
    assert!(
        prod.production_violations()
            .iter()
            .any(|p| p.starts_with("sca.sandbox_code"))
    );
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_are_safe_and_local() {
    let loaded = Config::load_from(None, env(&[]), &Overrides::default()).unwrap();
    let c = loaded.config;
    assert_eq!(c.listen, "127.0.0.1:8443");
    assert_eq!(c.data_dir, PathBuf::from("./fintechapi-data"));
    assert_eq!(c.profile, Profile::Development);
    assert!(c.seed_demo());
    assert!(loaded.unknown_keys.is_empty());
}

#[test]
fn flags_beat_environment_which_beats_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:1111\"\ndata_dir = \"/from-file\"\n[http]\nidle_timeout_secs = 120\nrequest_timeout_secs = 40\n",
    )
    .unwrap();
    let vars = env(&[
        ("FINTECHAPI_LISTEN", "127.0.0.1:2222"),
        ("FINTECHAPI_HTTP__IDLE_TIMEOUT_SECS", "300"),
        ("OTHER_LISTEN", "ignored"),
    ]);
    let flags = Overrides {
        listen: Some("127.0.0.1:3333".into()),
        ..Overrides::default()
    };
    let c = Config::load_from(Some(&file), vars.clone(), &flags)
        .unwrap()
        .config;
    assert_eq!(c.listen, "127.0.0.1:3333");
    assert_eq!(c.http.idle_timeout_secs, 300);
    assert_eq!(c.http.request_timeout_secs, 40);
    assert_eq!(c.data_dir, PathBuf::from("/from-file"));
    let c = Config::load_from(Some(&file), vars, &Overrides::default())
        .unwrap()
        .config;
    assert_eq!(c.listen, "127.0.0.1:2222");
}

#[test]
fn unknown_keys_are_reported_not_fatal() {
    let loaded = Config::load_from(
        None,
        env(&[("FINTECHAPI_LISTN", "x")]),
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(loaded.unknown_keys, vec!["listn".to_string()]);
}

#[test]
fn bad_values_name_the_setting() {
    let err = Config::load_from(
        None,
        env(&[("FINTECHAPI_LISTEN", "nope")]),
        &Overrides::default(),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.starts_with("listen:"), "{err}");
    let err = Config::load_from(
        None,
        env(&[("FINTECHAPI_HTTP__IDLE_TIMEOUT_SECS", "soon")]),
        &Overrides::default(),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("idle_timeout_secs"), "{err}");
    let err = Config::load_from(
        Some(Path::new("/nonexistent/x.toml")),
        env(&[]),
        &Overrides::default(),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("/nonexistent/x.toml"), "{err}");
}

#[test]
fn production_refuses_development_conveniences() {
    let flags = Overrides {
        profile: Some(Profile::Production),
        ..Overrides::default()
    };
    let c = Config::load_from(None, env(&[("FINTECHAPI_DEMO__SEED", "true")]), &flags)
        .unwrap()
        .config;
    let problems = c.production_violations().join("\n");
    assert!(problems.contains("development certificate"), "{problems}");
    assert!(problems.contains("demo"), "{problems}");
    assert!(!c.seed_demo() || c.demo.seed == Some(true));
}

#[test]
fn the_jwks_fetcher_trusts_extra_cas_from_file_env_or_flag_and_stays_public_in_production() {
    let c = Config::load_from(None, env(&[]), &Overrides::default())
        .unwrap()
        .config;
    assert_eq!(c.oauth.client_jwks_ca_file, None);
    assert!(!c.oauth.client_jwks_allow_private_networks);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        "[oauth]\nclient_jwks_ca_file = \"/from-file.pem\"\nclient_jwks_allow_private_networks = true\n",
    )
    .unwrap();
    let vars = env(&[("FINTECHAPI_OAUTH__CLIENT_JWKS_CA_FILE", "/from-env.pem")]);
    let c = Config::load_from(Some(&file), vars.clone(), &Overrides::default())
        .unwrap()
        .config;
    assert_eq!(
        c.oauth.client_jwks_ca_file,
        Some(PathBuf::from("/from-env.pem"))
    );
    assert!(c.oauth.client_jwks_allow_private_networks);
    let flags = Overrides {
        client_jwks_ca_file: Some(PathBuf::from("/from-flag.pem")),
        profile: Some(Profile::Production),
        ..Overrides::default()
    };
    let c = Config::load_from(Some(&file), vars, &flags).unwrap().config;
    assert_eq!(
        c.oauth.client_jwks_ca_file,
        Some(PathBuf::from("/from-flag.pem"))
    );
    assert!(
        c.production_violations()
            .iter()
            .any(|p| p.starts_with("oauth.client_jwks_allow_private_networks")),
        "{:?}",
        c.production_violations()
    );
}

#[test]
fn notifications_reach_public_addresses_only_by_default_and_production_refuses_otherwise() {
    let c = Config::load_from(None, env(&[]), &Overrides::default())
        .unwrap()
        .config;
    assert!(!c.notifications.allow_private_networks);
    assert_eq!(c.notifications.ca_file, None);
    assert!(c.notifications.max_attempts >= 1 && c.notifications.concurrency >= 1);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        "[notifications]\nallow_private_networks = true\nmax_attempts = 3\n",
    )
    .unwrap();
    let vars = env(&[("FINTECHAPI_NOTIFICATIONS__RETRY_BASE_MILLIS", "250")]);
    let flags = Overrides {
        profile: Some(Profile::Production),
        ..Overrides::default()
    };
    let c = Config::load_from(Some(&file), vars, &flags).unwrap().config;
    assert_eq!(
        (
            c.notifications.max_attempts,
            c.notifications.retry_base_millis
        ),
        (3, 250)
    );
    assert!(
        c.production_violations()
            .iter()
            .any(|p| p.starts_with("notifications.allow_private_networks")),
        "{:?}",
        c.production_violations()
    );
}

#[test]
fn metrics_are_private_by_default_and_overload_limits_are_safe() {
    let c = Config::load_from(None, env(&[]), &Overrides::default())
        .unwrap()
        .config;
    assert_eq!(c.metrics_addr().unwrap(), None);
    assert_eq!(c.metrics.token_file, None);
    assert!(c.http.max_in_flight_requests > 0);
    assert!(c.http.queue_timeout_millis <= 2000);
    let c = Config::load_from(
        None,
        env(&[("FINTECHAPI_METRICS__LISTEN", "127.0.0.1:9464")]),
        &Overrides::default(),
    )
    .unwrap()
    .config;
    assert_eq!(
        c.metrics_addr().unwrap(),
        Some("127.0.0.1:9464".parse().unwrap())
    );
    let err = Config::load_from(
        None,
        env(&[("FINTECHAPI_METRICS__LISTEN", "loopback")]),
        &Overrides::default(),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.starts_with("metrics.listen:"), "{err}");
    let err = Config::load_from(
        None,
        env(&[("FINTECHAPI_HTTP__MAX_IN_FLIGHT_REQUESTS", "0")]),
        &Overrides::default(),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.starts_with("http.max_in_flight_requests:"), "{err}");
}

#[test]
fn shown_configuration_hides_the_database_password() {
    let flags = Overrides {
        database_url: Some("postgres://app:hunter2@db/bank".into()),
        ..Overrides::default()
    };
    let c = Config::load_from(None, env(&[]), &flags).unwrap().config;
    let shown = c.to_redacted_toml();
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("postgres://app:***@db/bank"), "{shown}");
}

#[test]
fn plans_come_from_the_file_and_environment_on_top_of_the_builtin_ones() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        "[redis]\nurl = \"redis://:s3cret@cache:6379/0\"\n[plans.gold]\nper_second = 500\nburst = 1000\nper_day = 20000000\n[plans.sandbox]\nper_second = 5\n",
    )
    .unwrap();
    let vars = env(&[("FINTECHAPI_PLANS__GOLD__PER_DAY", "30000000")]);
    let c = Config::load_from(Some(&file), vars, &Overrides::default())
        .unwrap()
        .config;
    let plans = c.plan_catalog().unwrap();
    let gold = plans.get("gold").unwrap();
    assert_eq!(
        (gold.per_second, gold.burst, gold.per_day),
        (Some(500), 1000, Some(30_000_000))
    );
    // A plan set in part limits only what it names.
    let sandbox = plans.get("sandbox").unwrap();
    assert_eq!(
        (sandbox.per_second, sandbox.burst, sandbox.per_day),
        (Some(5), 5, None)
    );
    assert!(plans.get("premium").is_some() && plans.get("unlimited").unwrap().is_unlimited());
    let shown = c.to_redacted_toml();
    assert!(
        !shown.contains("s3cret") && shown.contains("[plans.premium]"),
        "{shown}"
    );

    std::fs::write(&file, "[plans.\"Gold Plan\"]\nper_second = 1\n").unwrap();
    assert!(Config::load_from(Some(&file), env(&[]), &Overrides::default()).is_err());
    // A misspelt limit would silently mean no limit: refused.
    std::fs::write(&file, "[plans.gold]\nper_secnd = 1\n").unwrap();
    assert!(Config::load_from(Some(&file), env(&[]), &Overrides::default()).is_err());
    std::fs::write(&file, "[redis]\nurl = \"http://cache\"\n").unwrap();
    assert!(Config::load_from(Some(&file), env(&[]), &Overrides::default()).is_err());
}
