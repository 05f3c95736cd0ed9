//! A real server on an ephemeral port with real TLS, on either store.

pub mod passkey;
pub mod tpp_host;
pub mod xs2a;

use std::collections::HashMap;
use std::path::PathBuf;

use reqwest::StatusCode;

use fintechapi_server::app::Application;
use fintechapi_server::config::{Config, DemoConfig};
use fintechapi_testkit::TestDb;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestServer {
    pub db: TestDb,
    pub base_url: String,
    pub port: u16,
    pub ca: PathBuf,
    /// The operators' plain-HTTP metrics listener, when configured.
    pub metrics_addr: Option<std::net::SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

pub fn config_for(db: &TestDb) -> Config {
    Config {
        data_dir: db.data_dir().to_path_buf(),
        listen: "127.0.0.1:0".into(),
        database_url: db.database_url(),
        demo: DemoConfig { seed: Some(false) },
        ..Config::default()
    }
}

/// A second node: same database, data directory (pepper, CA) and configuration.
pub struct Node {
    pub base_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<()>,
}

impl Node {
    pub async fn start(config: Config) -> Self {
        let app = Application::build_with_clock(
            config,
            std::sync::Arc::new(fintechapi_domain::SystemClock),
        )
        .await
        .expect("the second node builds");
        let base_url = format!("https://localhost:{}", app.local_addr().port());
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let handle = tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        Self {
            base_url,
            stop: Some(stop),
            handle,
        }
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.handle.await;
    }
}

/// The production profile for `db`: a certificate from the development CA
/// (which the test clients trust) as if configured, a pepper file, and an
/// SMTP relay that is never reached.
pub fn production_config(db: &TestDb, now: time::OffsetDateTime) -> Config {
    let pki = fintechapi_server::tls::DevPki::in_data_dir(db.data_dir());
    pki.ensure(now).expect("certificates");
    let pepper = db.data_dir().join("pepper");
    std::fs::write(&pepper, [7_u8; 32]).expect("pepper file");
    let mut config = config_for(db);
    config.profile = fintechapi_server::config::Profile::Production;
    config.tls.cert_file = Some(pki.server_cert.clone());
    config.tls.key_file = Some(pki.server_key.clone());
    config.tls.client_ca_file = Some(pki.ca_cert.clone());
    config.secrets.pepper_file = Some(pepper);
    config.mail.smtp_url = Some("smtps://relay.invalid:465".into());
    config
}

impl TestServer {
    pub async fn start(db: TestDb) -> Self {
        let config = config_for(&db);
        Self::start_with(db, config).await
    }

    pub async fn start_with(db: TestDb, config: Config) -> Self {
        Self::start_with_clock(
            db,
            config,
            std::sync::Arc::new(fintechapi_domain::SystemClock),
        )
        .await
    }

    /// A server whose every reading of time comes from `clock`.
    pub async fn start_with_clock(
        db: TestDb,
        config: Config,
        clock: std::sync::Arc<dyn fintechapi_domain::Clock>,
    ) -> Self {
        if std::env::var_os("TEST_LOG").is_some() {
            fintechapi_server::telemetry::init(fintechapi_server::config::LogFormat::Text, "debug");
        }
        // A configured certificate is one of the development CA's (`production_config`).
        let configured_ca = config.tls.client_ca_file.clone();
        let app = Application::build_with_clock(config, clock)
            .await
            .expect("the server builds");
        let port = app.local_addr().port();
        let ca = app
            .started()
            .dev_ca
            .clone()
            .or(configured_ca)
            .expect("development CA");
        let metrics_addr = app.started().metrics_addr;
        let (stop, stopped) = oneshot::channel();
        let handle = tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        Self {
            db,
            base_url: format!("https://localhost:{port}"),
            port,
            ca,
            metrics_addr,
            stop: Some(stop),
            handle: Some(handle),
        }
    }

    pub fn client(&self) -> reqwest::Client {
        fintechapi_testkit::https_client(&self.ca)
            .build()
            .expect("client")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Signals shutdown and waits until the server has drained.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            let _ = handle.await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A tiny browser: keeps cookies, never follows redirects.
pub struct Browser {
    http: reqwest::Client,
    base: String,
    pub cookies: HashMap<String, String>,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    /// The value of the first `name="csrf"` field.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find(r#"name="csrf" value=""#)
            .expect("a form with a CSRF token");
        let rest = &self.body[at + r#"name="csrf" value=""#.len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

impl Browser {
    pub fn new(server: &TestServer) -> Self {
        let http = fintechapi_testkit::https_client(&server.ca)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            http,
            base: server.base_url.clone(),
            cookies: HashMap::new(),
        }
    }

    /// A browser whose connections come from `address` (any of 127/8 reaches
    /// the test server), to tell client addresses apart.
    pub fn from_address(server: &TestServer, address: std::net::IpAddr) -> Self {
        let http = fintechapi_testkit::https_client(&server.ca)
            .redirect(reqwest::redirect::Policy::none())
            .local_address(address)
            .build()
            .unwrap();
        Self {
            http,
            base: server.base_url.clone(),
            cookies: HashMap::new(),
        }
    }

    /// This browser pointed at another node of the same deployment.
    pub fn at(mut self, base_url: &str) -> Self {
        base_url.clone_into(&mut self.base);
        self
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&mut self, resp: reqwest::Response) -> Page {
        for set in resp.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let (pair, attrs) = set.split_once(';').unwrap_or((set, ""));
            let (k, v) = pair.split_once('=').unwrap();
            assert!(
                attrs.contains("Secure")
                    && attrs.contains("HttpOnly")
                    && attrs.contains("SameSite"),
                "weak cookie: {set}"
            );
            if v.is_empty() || attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let status = resp.status();
        let location = resp
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        Page {
            status,
            location,
            body: resp.text().await.unwrap(),
        }
    }

    /// Logs a verified developer in through the login form.
    pub async fn log_in(&mut self, email: &str, password: &str) {
        let csrf = self.get("/portal/login").await.csrf();
        let done = self
            .post(
                "/portal/login",
                &[("email", email), ("password", password), ("csrf", &csrf)],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.finish(resp).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.post_with(path, form, &[]).await
    }

    pub async fn post_with(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .form(form);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        self.finish(resp).await
    }
}

/// A client of the portal's JSON API, with a session token once logged in.
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
}

impl Api {
    pub fn new(server: &TestServer) -> Self {
        Self {
            http: server.client(),
            base: server.url("/portal/api/v1"),
            token: None,
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, serde_json::Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Signs up, verifies and logs in `email`.
    pub async fn developer(server: &TestServer, email: &str) -> Self {
        use reqwest::Method as M;
        use serde_json::json;
        let mut api = Self::new(server);
        let body = json!({"email": email, "password": PASSWORD, "display_name": "Developer"});
        assert_eq!(
            api.call(M::POST, "/signup", Some(body)).await.0,
            StatusCode::ACCEPTED
        );
        let token = token_from_mail(server, email).await;
        assert_eq!(
            api.call(M::POST, "/verify", Some(json!({"token": token})))
                .await
                .0,
            StatusCode::OK
        );
        let (status, session) = api
            .call(
                M::POST,
                "/sessions",
                Some(json!({"email": email, "password": PASSWORD})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        api.token = Some(session["token"].as_str().unwrap().to_owned());
        api
    }

    /// An organisation holding `roles` with one sandbox application subscribed
    /// to `products`; returns the application id, consumer key and secret.
    pub async fn sandbox_app(&self, roles: &[&str], products: &[&str]) -> (String, String, String) {
        use reqwest::Method as M;
        use serde_json::json;
        let org = json!({"legal_name": "Metered TPP GmbH", "country": "DE", "roles": roles, "competent_authority": "BaFin", "authorisation_number": "123"});
        let (status, org) = self.call(M::POST, "/organisations", Some(org)).await;
        assert_eq!(status, StatusCode::CREATED, "{org}");
        let app = json!({"name": "Metered App", "redirect_uris": ["https://app.example/cb"], "security_profile": "basic", "environment": "sandbox", "products": products});
        let path = format!(
            "/organisations/{}/applications",
            org["id"].as_str().unwrap()
        );
        let (status, app) = self.call(M::POST, &path, Some(app)).await;
        assert_eq!(status, StatusCode::CREATED, "{app}");
        let text = |v: &serde_json::Value| v.as_str().unwrap().to_owned();
        (
            text(&app["id"]),
            text(&app["credentials"]["client_id"]),
            text(&app["credentials"]["client_secret"]),
        )
    }
}

pub const PASSWORD: &str = "correct horse battery staple 42";

pub async fn token_from_mail(server: &TestServer, email: &str) -> String {
    use fintechapi_domain::portal::{Email, PortalRepository};
    let mails = server
        .db
        .store()
        .await
        .mails_to(&email.parse::<Email>().unwrap())
        .await
        .unwrap();
    let text = &mails.last().unwrap().body_text;
    let at = text.find("token=").unwrap() + "token=".len();
    text[at..].split_whitespace().next().unwrap().to_owned()
}

pub fn fintechapi(db: &fintechapi_testkit::TestDb, args: &[&str]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_fintechapi"));
    cmd.args(args)
        .args(["--data-dir", db.data_dir().to_str().unwrap()]);
    if let Some(url) = db.database_url() {
        cmd.args(["--database-url", &url]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn cli_app_status(db: &fintechapi_testkit::TestDb, verb: &str, app_id: &str) {
    fintechapi(db, &["admin", "app", verb, app_id]);
}

// ---------------------------------------------------------------- the bank's pages

/// The authorization endpoint for a pushed request.
pub fn authorize_link(client_id: &str, request_uri: &str) -> String {
    format!(
        "/oauth2/authorize?client_id={client_id}&request_uri={}",
        urlencode(request_uri)
    )
}

/// The PSU side: from the authorization endpoint to the bank's login page.
pub async fn open(b: &mut Browser, client_id: &str, request_uri: &str) {
    let start = b.get(&authorize_link(client_id, request_uri)).await;
    assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.body);
    assert_eq!(start.location.as_deref(), Some("/bank/login"));
}

/// The sandbox's second-factor code.
pub const SANDBOX_CODE: &str = "123456";

impl Browser {
    /// The PSU's way through the bank for an authorization `link` (the
    /// authorization endpoint with a pushed request, or a `scaRedirect` link,
    /// absolute or not): login, the sandbox's second factor, and the consent
    /// or payment screen it ends on, each step checked.
    pub async fn authorise(&mut self, link: &str, login: &str, password: &str) -> Page {
        let link = link.strip_prefix(&self.base).unwrap_or(link).to_owned();
        let opened = self.get(&link).await;
        assert_eq!(
            (opened.status, opened.location.as_deref()),
            (StatusCode::SEE_OTHER, Some("/bank/login")),
            "{}",
            opened.body
        );
        let ok = log_in(self, login, password).await;
        assert_eq!(
            (ok.status, ok.location.as_deref()),
            (StatusCode::SEE_OTHER, Some("/bank/sca")),
            "{}",
            ok.body
        );
        let ok = second_factor(self, SANDBOX_CODE).await;
        assert_eq!(
            (ok.status, ok.location.as_deref()),
            (StatusCode::SEE_OTHER, Some("/bank/consent")),
            "{}",
            ok.body
        );
        let screen = self.get("/bank/consent").await;
        assert_eq!(screen.status, StatusCode::OK, "{}", screen.body);
        screen
    }

    /// Opens online banking and signs in with `login`'s password: the answer
    /// (the second factor's page on success).
    pub async fn online_login(&mut self, login: &str, password: &str) -> Page {
        let form = self.get("/bank/online").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        self.post(
            "/bank/online/login",
            &[
                ("login", login),
                ("password", password),
                ("csrf", &form.csrf()),
            ],
        )
        .await
    }

    /// Answers online banking's second-factor page with `code`: the answer.
    pub async fn online_second_factor(&mut self, code: &str) -> Page {
        let page = self.get("/bank/online/sca").await;
        self.post(
            "/bank/online/sca",
            &[("code", code), ("csrf", &page.csrf())],
        )
        .await
    }
}

pub fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

pub async fn log_in(b: &mut Browser, login: &str, password: &str) -> Page {
    let csrf = b.get("/bank/login").await.csrf();
    b.post(
        "/bank/login",
        &[("login", login), ("password", password), ("csrf", &csrf)],
    )
    .await
}

pub async fn second_factor(b: &mut Browser, code: &str) -> Page {
    let page = b.get("/bank/sca").await;
    assert!(
        page.body.contains("Sandbox:"),
        "the sandbox code is labelled: {}",
        page.body
    );
    b.post("/bank/sca", &[("code", code), ("csrf", &page.csrf())])
        .await
}

/// The query parameters of the redirect back to the TPP.
pub fn redirect_params(location: &str, redirect: &str) -> Vec<(String, String)> {
    assert!(location.starts_with(&format!("{redirect}?")), "{location}");
    let url = url::Url::parse(location).unwrap();
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

pub async fn demo_server(db: TestDb) -> TestServer {
    let mut config = config_for(&db);
    config.demo.seed = Some(true);
    TestServer::start_with(db, config).await
}

/// The demo bank on a server whose time is `clock`'s.
pub async fn demo_server_at(db: TestDb, clock: &fintechapi_domain::ManualClock) -> TestServer {
    let mut config = config_for(&db);
    config.demo.seed = Some(true);
    TestServer::start_with_clock(db, config, std::sync::Arc::new(clock.clone())).await
}

// ---------------------------------------------------------------- portal users

pub const OPERATOR_PASSWORD: &str = "operator passphrase 2026!";

pub async fn user(
    server: &TestServer,
    email: &str,
    kind: fintechapi_domain::portal::UserKind,
) -> fintechapi_domain::ids::UserId {
    let store = server.db.store().await;
    let id = fintechapi_domain::ids::UserId::random();
    let now = fintechapi_domain::Clock::now(&fintechapi_domain::SystemClock);
    fintechapi_domain::portal::PortalRepository::create_user(
        &store,
        fintechapi_domain::portal::NewUser {
            id,
            email: email.parse().unwrap(),
            display_name: format!("{kind} user"),
            kind,
            password: fintechapi_domain::password::PasswordHash::create(OPERATOR_PASSWORD).unwrap(),
            email_verified_at: Some(now),
            created_at: now,
        },
    )
    .await
    .unwrap();
    id
}

pub async fn operator(server: &TestServer) -> Browser {
    user(
        server,
        "ops@bank.example",
        fintechapi_domain::portal::UserKind::Admin,
    )
    .await;
    let mut b = Browser::new(server);
    let csrf = b.get("/admin/login").await.csrf();
    let done = b
        .post(
            "/admin/login",
            &[
                ("email", "ops@bank.example"),
                ("password", OPERATOR_PASSWORD),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/admin"));
    b
}

// ---------------------------------------------------------------- the binary

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
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(&server.ca).unwrap() {
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
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.unwrap()
}
