//! A real server on an ephemeral port with real TLS, on either store.

#![allow(dead_code)]

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
        let app = Application::build_with_clock(config, clock)
            .await
            .expect("the server builds");
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
