//! The bank's own pages that a PSU reaches by redirect from a TPP: login
//! (password), second factor, and the consent screen, ending in a 303 back to
//! the TPP's registered redirect URI with `code`, `state` and `iss` (RFC 9207),
//! or those signed as one `response` JWT (JARM);
//! for the Redirect SCA approach (`redirect`), to the TPP's registered
//! redirect or NOK URI without a code. For the Decoupled SCA approach
//! (`decoupled`) the PSU answers in online banking instead, and nothing goes
//! back to the TPP.
//!
//! RTS Art. 4: no message tells whether the login name or the password was
//! wrong, nor whether a blocked PSU's password was right; five consecutive
//! failures (password or code) block the credential, temporarily and for
//! longer each time (permanently only after several blocks in a row), the PSU
//! alerted at each; attempts are throttled per client address and per login;
//! five minutes without activity end the session. Nothing here ever redirects
//! to a URI that is not the one registered and given for this authorization.

mod authorize;
mod basket;
mod consent;
mod decision;
mod decoupled;
mod error;
mod factors;
mod login;
mod online;
pub mod operator;
mod pages;
pub mod passkey;
mod payment;
mod redirect;
mod service;
mod session;

use std::sync::Arc;

use axum::Router;
use axum::response::Response;
use axum::routing::get;

use crate::authorize::authorize;
use crate::decision::decide;
use crate::factors::{sca, sca_form};
use crate::login::{login, login_form};
use crate::pages::consent_form;
pub use crate::service::{BankService, BankSettings, BankStore};

/// The bank's pages, for the server to merge beside the authorization server.
pub fn routes<R: BankStore>(service: Arc<BankService<R>>) -> Router {
    Router::new()
        .merge(crate::online::routes::<R>())
        .merge(crate::redirect::routes::<R>())
        .route("/oauth2/authorize", get(authorize::<R>))
        .route("/bank/login", get(login_form::<R>).post(login::<R>))
        .route("/bank/sca", get(sca_form::<R>).post(sca::<R>))
        .route("/bank/consent", get(consent_form::<R>).post(decide::<R>))
        .route("/bank/passkey.js", get(passkey_script))
        .route("/bank/approvals.js", get(approvals_script))
        .with_state(service)
}

/// Keeps online banking's pending approvals current.
async fn approvals_script() -> Response {
    fintechapi_web::asset(
        "text/javascript; charset=utf-8",
        300,
        include_str!("../assets/approvals.js"),
    )
}

/// Runs the WebAuthn ceremony.
async fn passkey_script() -> Response {
    fintechapi_web::asset(
        "text/javascript; charset=utf-8",
        300,
        include_str!("../assets/passkey.js"),
    )
}
