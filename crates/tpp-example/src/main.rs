//! An example TPP application against a FinTechAPI sandbox: it connects a
//! customer's accounts (consent → the bank's pages → code → token), shows
//! accounts, balances and transactions with a balance chart, initiates a
//! payment and follows its status, and withdraws the consent.
//!
//! ```sh
//! tpp-example --bank https://localhost:8443 --ca fintechapi-data/tls/dev-ca.pem \
//!   --client-id ck_… --client-secret cs_…
//! ```
//!
//! Register `http://localhost:3000/callback` as the application's redirect URI.

mod bank;
mod chart;
mod pages;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::{get, post};
use clap::Parser;

use bank::Bank;

#[derive(Parser)]
#[command(about = "An example TPP application for a FinTechAPI sandbox")]
struct Args {
    /// The bank's base URL.
    #[arg(long, env = "TPP_BANK", default_value = "https://localhost:8443")]
    bank: String,
    /// PEM CA certificate to trust for the bank (the sandbox's development CA).
    #[arg(long, env = "TPP_CA")]
    ca: Option<PathBuf>,
    /// The application's consumer key.
    #[arg(long, env = "TPP_CLIENT_ID")]
    client_id: String,
    /// The application's consumer secret.
    #[arg(long, env = "TPP_CLIENT_SECRET", hide_env_values = true)]
    client_secret: String,
    /// Where this app listens; its callback is http://localhost:<port>/callback.
    #[arg(long, env = "TPP_LISTEN", default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
}

/// What the app remembers per browser (in memory: it is an example).
#[derive(Default)]
pub struct Session {
    /// The authorization in flight: PKCE verifier, `state`, and what it is for.
    pending: Option<Pending>,
    /// The connected consent and the tokens bound to it.
    consent: Option<Connected>,
    /// Payments initiated here, each with the token bound to it once authorised.
    payments: Vec<(String, Option<String>)>,
    /// What to tell the user on the next page.
    notice: Option<String>,
}

#[derive(Clone)]
pub struct Connected {
    consent: String,
    tokens: bank::Tokens,
    /// When the access token stops working.
    expires: std::time::Instant,
}

pub struct Pending {
    verifier: String,
    state: String,
    purpose: Purpose,
}

pub enum Purpose {
    Consent(String),
    Payment(String),
}

pub struct App {
    bank: Bank,
    sessions: Mutex<HashMap<String, Session>>,
}

/// Sessions kept at most; an example does not need more.
const MAX_SESSIONS: usize = 1_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().init();
    let args = Args::parse();
    let redirect_uri = format!("http://localhost:{}/callback", args.listen.port());
    let bank = Bank::new(
        &args.bank,
        args.ca.as_deref(),
        args.client_id,
        args.client_secret,
        redirect_uri.clone(),
    )?;
    let app = Arc::new(App {
        bank,
        sessions: Mutex::new(HashMap::new()),
    });
    let router = Router::new()
        .route("/", get(pages::home))
        .route("/connect", post(pages::connect))
        .route("/callback", get(pages::callback))
        .route("/accounts", get(pages::accounts))
        .route("/accounts/{id}", get(pages::account))
        .route("/pay", post(pages::pay))
        .route("/payments/{id}", get(pages::payment))
        .route("/withdraw", post(pages::withdraw))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!(
        "Example TPP app on http://localhost:{} (redirect URI {redirect_uri})",
        args.listen.port()
    );
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
