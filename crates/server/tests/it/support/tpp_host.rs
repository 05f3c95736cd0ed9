//! A TPP's web server: serves documents by path over HTTPS (a certificate for
//! localhost from the TPP's own CA, or from a CA nobody trusts) and over plain
//! HTTP, counts the requests per path and keeps the bodies posted to it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// What a path answers.
#[derive(Debug, Clone)]
pub struct Document {
    pub status: StatusCode,
    pub headers: Vec<(header::HeaderName, String)>,
    pub body: String,
}

impl Document {
    pub fn json(body: impl ToString) -> Self {
        Self {
            status: StatusCode::OK,
            headers: vec![(header::CONTENT_TYPE, "application/json".into())],
            body: body.to_string(),
        }
    }

    pub fn with(mut self, name: header::HeaderName, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }

    pub fn status(status: StatusCode) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }
}

#[derive(Default)]
struct Site {
    documents: HashMap<String, Document>,
    hits: HashMap<String, usize>,
    /// Per path, the requests still to be answered 503 before its document.
    failures: HashMap<String, usize>,
    /// Per path, the bodies posted, in order of arrival.
    posted: HashMap<String, Vec<String>>,
}

pub struct TppHost {
    /// `https://localhost:<port>`, certificate from [`TppHost::ca_pem`].
    pub https: String,
    /// `https://localhost:<port>`, certificate from a CA nobody trusts.
    pub untrusted_https: String,
    /// `http://localhost:<port>`.
    pub http: String,
    /// The TPP's CA, for the server to trust.
    pub ca_pem: String,
    site: Arc<Mutex<Site>>,
    tasks: Vec<JoinHandle<()>>,
}

impl TppHost {
    pub async fn start() -> Self {
        let site = Arc::new(Mutex::new(Site::default()));
        let router = Router::new().fallback(answer).with_state(site.clone());
        let (ca_pem, trusted) = localhost_certificate("TPP CA");
        let (_, untrusted) = localhost_certificate("Untrusted CA");
        let (https, a) = listen(router.clone(), Some(trusted)).await;
        let (untrusted_https, b) = listen(router.clone(), Some(untrusted)).await;
        let (http, c) = listen(router, None).await;
        Self {
            https,
            untrusted_https,
            http,
            ca_pem,
            site,
            tasks: vec![a, b, c],
        }
    }

    pub fn serve(&self, path: &str, document: Document) {
        let mut site = self.site.lock().unwrap();
        site.documents.insert(path.to_owned(), document);
    }

    /// The next `n` requests to `path` are answered 503.
    pub fn fail_next(&self, path: &str, n: usize) {
        let mut site = self.site.lock().unwrap();
        site.failures.insert(path.to_owned(), n);
    }

    /// The bodies posted to `path`, in order of arrival.
    pub fn posted(&self, path: &str) -> Vec<String> {
        let site = self.site.lock().unwrap();
        site.posted.get(path).cloned().unwrap_or_default()
    }

    /// How many requests reached `path`, over any of the listeners.
    pub fn hits(&self, path: &str) -> usize {
        let site = self.site.lock().unwrap();
        site.hits.get(path).copied().unwrap_or(0)
    }
}

impl Drop for TppHost {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn answer(
    State(site): State<Arc<Mutex<Site>>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let mut site = site.lock().unwrap();
    *site.hits.entry(uri.path().to_owned()).or_default() += 1;
    if method == Method::POST {
        let body = String::from_utf8_lossy(&body).into_owned();
        site.posted
            .entry(uri.path().to_owned())
            .or_default()
            .push(body);
    }
    if let Some(left) = site.failures.get_mut(uri.path())
        && *left > 0
    {
        *left -= 1;
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let Some(document) = site.documents.get(uri.path()).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = (document.status, document.body).into_response();
    for (name, value) in document.headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

/// A CA (PEM) and a rustls configuration with a localhost certificate it signed.
fn localhost_certificate(ca_name: &str) -> (String, rustls::ServerConfig) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::default();
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, ca_name);
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    let ca_pem = ca_params.clone().self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    (ca_pem, config)
}

/// Serves `router` on an ephemeral port, over TLS when `tls` is given.
async fn listen(router: Router, tls: Option<rustls::ServerConfig>) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let acceptor = tls.map(|c| TlsAcceptor::from(Arc::new(c)));
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let service = TowerToHyperService::new(router.clone());
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let builder = Builder::new(TokioExecutor::new());
                match acceptor {
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(tcp).await {
                            let _ = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                    }
                    None => {
                        let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
                    }
                }
            });
        }
    });
    (format!("{scheme}://localhost:{port}"), task)
}
