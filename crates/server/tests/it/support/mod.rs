//! A real server on an ephemeral port with real TLS, on either store, and
//! the shared helpers of the tests: the browser and the bank's pages
//! (`browser`), the docs' pages as a reader follows them (`guide`), the
//! portal's users (`portal`), the binary (`binary`) and a
//! TPP on the XS2A API (`xs2a`).

mod answer;
mod binary;
mod browser;
mod guide;
pub mod passkey;
mod portal;
pub mod tpp_host;
pub mod xs2a;

pub use binary::*;
pub use browser::*;
pub use guide::*;
pub use portal::*;

use std::path::PathBuf;
use std::time::{Duration, Instant};

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

    /// A GET of `path` with [`TestServer::client`].
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client().get(self.url(path)).send().await.unwrap()
    }

    /// The JSON body of a GET of `path`.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        self.get(path).await.json().await.unwrap()
    }

    /// The text of a GET of `path`.
    pub async fn get_text(&self, path: &str) -> String {
        self.get(path).await.text().await.unwrap()
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

/// The demo bank's configuration for `db`: seeded PSUs and accounts.
pub fn demo_config(db: &TestDb) -> Config {
    let mut config = config_for(db);
    config.demo.seed = Some(true);
    config
}

pub async fn demo_server(db: TestDb) -> TestServer {
    let config = demo_config(&db);
    TestServer::start_with(db, config).await
}

/// The demo bank on a server whose time is `clock`'s.
pub async fn demo_server_at(db: TestDb, clock: &fintechapi_domain::ManualClock) -> TestServer {
    let config = demo_config(&db);
    TestServer::start_with_clock(db, config, std::sync::Arc::new(clock.clone())).await
}

/// The JSON body of the answer to `request`.
pub async fn json_of(request: reqwest::RequestBuilder) -> serde_json::Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// The accounts of the demo bank's PSU `login`, in the bank's order.
pub async fn accounts_of(
    server: &TestServer,
    login: &str,
) -> Vec<fintechapi_domain::ledger::Account> {
    use fintechapi_domain::ledger::LedgerRepository;
    use fintechapi_domain::psu::PsuRepository;
    let store = server.db.store().await;
    let (psu, _) = store.psu_by_login(login).await.unwrap().unwrap();
    store.accounts_of_psu(psu.id).await.unwrap()
}

/// What `account` has booked now, in minor units.
pub async fn booked_balance(
    server: &TestServer,
    account: fintechapi_domain::ids::AccountId,
) -> i64 {
    use fintechapi_domain::ledger::LedgerRepository;
    let store = server.db.store().await;
    store
        .account(account)
        .await
        .unwrap()
        .unwrap()
        .balances
        .booked
}

/// The IBAN of a customer's `account`, electronic format.
pub fn iban(account: &fintechapi_domain::ledger::Account) -> String {
    account.iban.as_ref().unwrap().as_str().to_owned()
}

/// Polls `not_yet` (None once the awaited state is seen, else what is seen
/// instead) until the state holds: within a second, though it gives up only
/// after two. For what another node learns from the database's announcements.
pub async fn within_a_second<F>(what: &str, mut not_yet: impl FnMut() -> F)
where
    F: Future<Output = Option<String>>,
{
    let started = Instant::now();
    while let Some(seen) = not_yet().await {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{what}: {seen} after 2 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = started.elapsed();
    println!("{what}: after {took:?}");
    assert!(took < Duration::from_secs(1), "{what}: {took:?}");
}
