//! The page behind the `scaRedirect` link of the Berlin Group Redirect SCA
//! approach (started by `fintechapi_oauth::redirect`): the link binds the
//! PSU's browser to that authorisation, and the bank's own pages (login,
//! second factor, consent or payment screen) take over unchanged. The PSU's
//! decision sends the browser to `TPP-Redirect-URI` (a refusal to
//! `TPP-Nok-Redirect-URI` when given) without a code.

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fintechapi_domain::oauth::{Authorization, AuthorizationFlow};
use fintechapi_domain::secret::random_token;
use fintechapi_oauth::redirect::LINK_PATH;

use crate::error::{BankError, see_other};
use crate::service::{BankService, BankStore};
use crate::session::{session_ended, session_started};

pub(crate) fn routes<R: BankStore>() -> Router<Arc<BankService<R>>> {
    Router::new().route(LINK_PATH, get(open::<R>))
}

#[derive(serde::Deserialize)]
struct LinkQuery {
    token: Option<String>,
}

/// The `scaRedirect` link: binds this browser to the authorisation (once)
/// and goes on to the login page. The token is in the query, which request
/// logs leave out.
async fn open<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    query: Result<Query<LinkQuery>, QueryRejection>,
) -> Result<Response, BankError> {
    let Some(token) = query
        .ok()
        .and_then(|Query(q)| q.token)
        .filter(|t| !t.is_empty())
    else {
        return Err(BankError::page(
            StatusCode::BAD_REQUEST,
            "This sign-in link is malformed.",
        ));
    };
    let server = &service.oauth.server;
    let session = random_token(32).map_err(|_| BankError::expired())?;
    let opened = server
        .repo()
        .open_redirect_authorization(
            &server.pepper().hash(&token),
            &server.pepper().hash(&session),
            server.now(),
        )
        .await?;
    if opened.is_none() {
        return Err(BankError::expired());
    }
    Ok(session_started(&session))
}

/// The PSU approved: the authorisation is final (no code in this approach),
/// and the browser returns to `TPP-Redirect-URI`.
pub(crate) async fn approved<R: BankStore>(
    service: &BankService<R>,
    authorization: &Authorization,
) -> Result<Response, BankError> {
    if !service.finalise_without_code(authorization).await? {
        return Err(BankError::expired());
    }
    Ok(back_to_tpp(authorization, true))
}

/// Where the browser goes when the PSU has decided: exactly the URI given at
/// initiation (registered), with nothing added.
pub(crate) fn back_to_tpp(authorization: &Authorization, approved: bool) -> Response {
    let target = match (&authorization.flow, approved) {
        (AuthorizationFlow::Redirect { nok: Some(nok), .. }, false) => Some(nok),
        (flow, _) => flow.redirect_uri(),
    };
    let Some(target) = target.map(|t| t.as_str()) else {
        return BankError::expired().into_response();
    };
    // Checked at initiation; only the URL standard's serialisation of it goes into `Location`.
    match url::Url::parse(target) {
        Ok(url) if url.as_str() == target => session_ended(see_other(url.as_str())),
        _ => {
            tracing::error!(authorization = %authorization.id, "a redirect target is not a normal URL");
            BankError::expired().into_response()
        }
    }
}
