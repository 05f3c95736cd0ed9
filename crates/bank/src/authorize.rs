//! `/oauth2/authorize`: a pushed request becomes the PSU's session.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use fintechapi_domain::ids::PsuId;
use fintechapi_domain::oauth::AuthorizationStage;
use fintechapi_domain::secret::random_token;
use fintechapi_web::cookie;

use crate::error::{BankError, see_other};
use crate::service::{BankService, BankStore};
use crate::session::{PSU_COOKIE, PsuSession, session_started, with_session};

#[derive(serde::Deserialize)]
pub(crate) struct AuthorizeQuery {
    client_id: Option<String>,
    request_uri: Option<String>,
}

/// The front channel: only a pushed request is accepted (PAR is required), and
/// any problem is shown here, never sent to an unverified redirect URI.
pub(crate) async fn authorize<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    headers: HeaderMap,
    query: Result<Query<AuthorizeQuery>, QueryRejection>,
) -> Result<Response, BankError> {
    let (client_id, request_uri) = pushed(query)?;
    let server = &service.oauth.server;
    let pepper = server.pepper();
    // A reload by the browser that opened it keeps it; any other browser is refused.
    let bound = cookie(&headers, PSU_COOKIE).map(|id| pepper.hash(&id));
    let session = random_token(32).map_err(|_| BankError::expired())?;
    let (request, new_session) = (pepper.hash(&request_uri), pepper.hash(&session));
    let opened = server
        .repo()
        .open_authorization(
            &request,
            &client_id,
            bound.as_ref(),
            &new_session,
            server.now(),
        )
        .await?;
    if opened.is_none() {
        return Err(BankError::page(
            StatusCode::BAD_REQUEST,
            "This sign-in has ended, or was opened in another browser. Return to the app you \
             came from and start again.",
        ));
    }
    Ok(session_started(&session))
}

/// The `client_id` and `request_uri` of a link to a pushed request.
fn pushed(
    query: Result<Query<AuthorizeQuery>, QueryRejection>,
) -> Result<(String, String), BankError> {
    let Ok(Query(query)) = query else {
        return Err(BankError::page(
            StatusCode::BAD_REQUEST,
            "This sign-in link is malformed.",
        ));
    };
    let (Some(client_id), Some(request_uri)) = (query.client_id, query.request_uri) else {
        return Err(BankError::page(
            StatusCode::BAD_REQUEST,
            "This sign-in link is incomplete: apps must push their request first (PAR) and send \
             client_id and request_uri.",
        ));
    };
    Ok((client_id, request_uri))
}

/// Moves the authorization `from` → `to` under a new session id, and points
/// the browser at `next` with it: the id known before the step is dead after it.
pub(crate) async fn advance_renewed<R: BankStore>(
    service: &BankService<R>,
    session: &PsuSession,
    (from, to): (AuthorizationStage, AuthorizationStage),
    psu: Option<PsuId>,
    next: &str,
) -> Result<Response, BankError> {
    let server = &service.oauth.server;
    let renewed = random_token(32).map_err(|_| BankError::expired())?;
    let advanced = server
        .repo()
        .advance_authorization_session(
            session.authorization.id,
            from,
            to,
            psu,
            &server.pepper().hash(&renewed),
            server.now(),
        )
        .await?;
    if !advanced {
        return Err(BankError::expired());
    }
    Ok(with_session(see_other(next), &renewed))
}
