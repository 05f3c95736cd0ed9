//! The bare baseline of `bench/run`: hyper + rustls with the same TLS settings
//! as the platform (aws-lc-rs, TLS 1.3 and 1.2, ALPN h2 and http/1.1), answering
//! `POST /oauth2/token` with a fixed token JSON and any `GET …/balances` with a
//! fixed balances JSON. It does no work, so it bounds what any server can reach
//! on this machine.
//!
//! Usage: `bench-baseline <listen addr> <cert chain PEM> <key PEM>`

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

const TOKEN: &str = r#"{"access_token":"at_0123456789abcdef0123456789abcdef0123456789ab","token_type":"Bearer","expires_in":300,"scope":"accounts payments"}"#;
const BALANCES: &str = r#"{"account":{"iban":"DE89370400440532013000","currency":"EUR"},"balances":[{"balanceAmount":{"currency":"EUR","amount":"1234.56"},"balanceType":"closingBooked","referenceDate":"2026-12-04"},{"balanceAmount":{"currency":"EUR","amount":"1200.00"},"balanceType":"interimAvailable"}]}"#;

type Error = Box<dyn std::error::Error + Send + Sync>;

async fn answer(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match (req.method(), req.uri().path()) {
        (&Method::POST, "/oauth2/token") => Some(TOKEN),
        (&Method::GET, path) if path.ends_with("/balances") => Some(BALANCES),
        _ => None,
    };
    let response = match body {
        Some(json) => Response::builder()
            .header("content-type", "application/json")
            .header("cache-control", "no-store")
            .body(Full::new(Bytes::from_static(json.as_bytes()))),
        None => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::new())),
    };
    // The builder only fails on invalid header values, and these are constants.
    Ok(response.unwrap_or_default())
}

fn tls_config(cert: &str, key: &str) -> Result<ServerConfig, Error> {
    let chain = CertificateDer::pem_file_iter(cert)?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(key)?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let [_, listen, cert, key] = args.as_slice() else {
        return Err("usage: bench-baseline <listen addr> <cert chain PEM> <key PEM>".into());
    };
    let addr: SocketAddr = listen.parse()?;
    let acceptor = TlsAcceptor::from(Arc::new(tls_config(cert, key)?));
    let listener = TcpListener::bind(addr).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            let service = hyper::service::service_fn(answer);
            // A client closing mid-request is not the baseline's concern.
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}
