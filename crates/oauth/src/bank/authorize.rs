//! `/oauth2/authorize`: a pushed request becomes the PSU's session.

use super::*;

#[derive(serde::Deserialize)]
pub(super) struct AuthorizeQuery {
    client_id: Option<String>,
    request_uri: Option<String>,
}

/// The front channel: only a pushed request is accepted (PAR is required), and
/// any problem is shown here, never sent to an unverified redirect URI.
pub(super) async fn authorize<R: OAuthStore>(
    State(service): State<Arc<OAuthService<R>>>,
    headers: HeaderMap,
    query: Result<Query<AuthorizeQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, BankError> {
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
    let server = &service.server;
    // A reload by the browser that opened it keeps it; any other browser is refused.
    let bound = cookie(&headers, PSU_COOKIE).map(|id| server.pepper().hash(&id));
    let session = random_token(32).map_err(|_| BankError::expired())?;
    let opened = server
        .repo()
        .open_authorization(
            &server.pepper().hash(&request_uri),
            &client_id,
            bound.as_ref(),
            &server.pepper().hash(&session),
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

/// Binds the browser to the authorization just opened and sends it to the login page.
pub(crate) fn session_started(session: &str) -> Response {
    with_session(see_other("/bank/login"), session)
}

/// Sets the browser's session cookie to `session`.
pub(super) fn with_session(mut response: Response, session: &str) -> Response {
    let cookie = format!("{PSU_COOKIE}={session}; Path=/; Secure; HttpOnly; SameSite=Strict");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    secured(response, None)
}

/// Moves the authorization `from` → `to` under a new session id, and points
/// the browser at `next` with it: the id known before the step is dead after it.
pub(super) async fn advance_renewed<R: OAuthStore>(
    service: &OAuthService<R>,
    session: &PsuSession,
    (from, to): (AuthorizationStage, AuthorizationStage),
    psu: Option<PsuId>,
    next: &str,
) -> Result<Response, BankError> {
    let server = &service.server;
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
