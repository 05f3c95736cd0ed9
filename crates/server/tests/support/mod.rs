//! A real server on an ephemeral port with real TLS, on either store.

#![allow(dead_code)]

use std::path::PathBuf;

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

impl TestServer {
    pub async fn start(db: TestDb) -> Self {
        let config = config_for(&db);
        Self::start_with(db, config).await
    }

    pub async fn start_with(db: TestDb, config: Config) -> Self {
        if std::env::var_os("TEST_LOG").is_some() {
            fintechapi_server::telemetry::init(fintechapi_server::config::LogFormat::Text, "debug");
        }
        let app = Application::build(config).await.expect("the server builds");
        let port = app.local_addr().port();
        let ca = app.started().dev_ca.clone().expect("development CA");
        let (stop, stopped) = oneshot::channel();
        let handle = tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        Self {
            db,
            base_url: format!("https://localhost:{port}"),
            port,
            ca,
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
