//! The OAuth SCA approach end to end over HTTPS, on both stores: a TPP creates
//! an AIS consent on the XS2A API, pushes an authorization request (PAR, PKCE
//! S256), the PSU logs in at the bank's pages with two factors and approves,
//! the TPP exchanges the code and reads exactly the consented accounts; and
//! every way this must fail.

mod authorization_requests;
mod blocks;
mod code_flow;
mod funds_confirmation;
mod online;
mod payments;
mod second_factors;
mod tokens;

use crate::support::{Browser, Page, SANDBOX_CODE, TestServer};

/// A PSU's online-banking session, logged in with both factors.
async fn online_banking(server: &TestServer, login: &str, password: &str) -> Browser {
    let mut b = Browser::new(server);
    let logged = b.online_login(login, password).await;
    logged.assert_location("/bank/online/sca");
    let done = b.online_second_factor(SANDBOX_CODE).await;
    done.assert_location("/bank/online/consents");
    b
}

/// Sets up an authenticator app with `seed` (base32) and its `code` on the
/// online-banking security `page`: the answer.
async fn set_up_app(b: &mut Browser, page: &Page, seed: &str, code: &str) -> Page {
    let form = [("seed", seed), ("code", code)];
    b.submit("/bank/online/security", &form, &page.csrf()).await
}

/// Adds the passkey `credential` (its JSON) as `label` on the online-banking
/// security `page`: the answer.
async fn add_passkey(b: &mut Browser, page: &Page, label: &str, credential: &str) -> Page {
    let form = [("label", label), ("credential", credential)];
    b.submit("/bank/online/passkeys", &form, &page.csrf()).await
}

/// Whether `login` has an authenticator app set up.
async fn has_app(server: &TestServer, login: &str) -> bool {
    use fintechapi_domain::psu::PsuRepository;
    let store = server.db.store().await;
    let (psu, _) = store.psu_by_login(login).await.unwrap().unwrap();
    psu.totp_enabled
}
