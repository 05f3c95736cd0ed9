//! The Berlin Group Redirect SCA approach end to end over HTTPS, on both
//! stores: the TPP asks for it on the initiation with a registered
//! `TPP-Redirect-URI`, sends the PSU to `_links.scaRedirect`, the PSU
//! authenticates and decides on the bank's own pages, and the browser comes
//! back to the TPP's URI without a code; the TPP then reads with its own
//! client-credentials token and `Consent-ID`. And every way this must fail.

mod consents;
mod links;
mod payments;

use crate::support::TestServer;
use crate::support::xs2a::Tpp;
use fintechapi_testkit::TestDb;
use serde_json::{Value, json};

/// The demo bank with Acme TPP GmbH's app for `products` (both of its
/// redirect URIs registered) and a client token of it.
async fn acme(db: TestDb, products: &str) -> (TestServer, Tpp, String) {
    let server = crate::support::demo_server(db).await;
    acme_on(server, products).await
}

/// Acme TPP GmbH's app for `products` on `server`, and a client token of it.
async fn acme_on(server: TestServer, products: &str) -> (TestServer, Tpp, String) {
    let tpp = Tpp::with_nok(&server, "Acme TPP GmbH", products);
    let cc = tpp.client_token().await;
    (server, tpp, cc)
}

/// Access to all of the PSU's accounts.
fn all_accounts() -> Value {
    json!({"allPsd2": "allAccounts"})
}
