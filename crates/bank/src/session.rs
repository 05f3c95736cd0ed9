//! The PSU's session with the bank's pages: its cookie, expiry and the
//! checks every form post passes.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::oauth::{Authorization, AuthorizationFlow, AuthorizationStage};
use fintechapi_domain::registry::{Application, Organisation};
use fintechapi_domain::secret::{KeyedHash, constant_time_eq};
use fintechapi_oauth::server::PSU_IDLE_TIMEOUT;
use fintechapi_web::{check_origin, cookie, request_host};

use crate::error::{BankError, secured, see_other};
use crate::service::{BankService, BankStore};

/// The browser's authentication session with the bank's pages.
pub(crate) const PSU_COOKIE: &str = "__Host-ftapi_psu";

/// The authorization behind the browser's cookie, if the session is live.
pub(crate) struct PsuSession {
    pub(crate) authorization: Authorization,
    pub(crate) csrf: String,
    /// Where this session's WebAuthn ceremony state is kept.
    pub(crate) ceremony: KeyedHash,
}

pub(crate) async fn session<R: BankStore>(
    service: &BankService<R>,
    headers: &HeaderMap,
    stage: AuthorizationStage,
) -> Result<PsuSession, BankError> {
    let server = &service.oauth.server;
    let id = cookie(headers, PSU_COOKIE).ok_or_else(BankError::expired)?;
    let authorization = server
        .repo()
        .authorization_by_session(&server.pepper().hash(&id))
        .await?
        .ok_or_else(BankError::expired)?;
    if server.now() - authorization.last_activity_at > PSU_IDLE_TIMEOUT {
        return Err(BankError::page(
            StatusCode::BAD_REQUEST,
            "Your session ended after 5 minutes without activity. Return to the app you came \
             from and start again.",
        ));
    }
    if authorization.stage != stage {
        return Err(BankError::expired());
    }
    let csrf = server
        .pepper()
        .hash(&format!("bank-csrf:{id}"))
        .as_str()
        .to_owned();
    let ceremony = server.pepper().hash(&format!("bank-webauthn:{id}"));
    Ok(PsuSession {
        authorization,
        csrf,
        ceremony,
    })
}

/// Origin check and CSRF token of a form post.
pub(crate) fn check_post(
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    csrf: &str,
    session: &PsuSession,
) -> Result<(), BankError> {
    check_form_post(headers, uri, csrf, &session.csrf)
}

/// Origin check and CSRF token of a form post on any bank page.
pub(crate) fn check_form_post(
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    csrf: &str,
    expected: &str,
) -> Result<(), BankError> {
    check_origin(headers, request_host(headers, uri)).map_err(|_| {
        BankError::page(
            StatusCode::FORBIDDEN,
            "This form was submitted from another site and was refused.",
        )
    })?;
    if !constant_time_eq(csrf, expected) {
        return Err(BankError::page(
            StatusCode::FORBIDDEN,
            "This form has expired. Go back, reload the page and try again.",
        ));
    }
    Ok(())
}

/// The TPP as registered, for the pages.
pub(crate) async fn tpp<R: BankStore>(
    service: &BankService<R>,
    authorization: &Authorization,
) -> Result<(Application, Organisation), BankError> {
    let repo = service.oauth.server.repo();
    let application = repo
        .application(authorization.application_id)
        .await?
        .ok_or_else(BankError::expired)?;
    let organisation = repo
        .organisation(application.organisation_id)
        .await?
        .ok_or_else(BankError::expired)?;
    Ok((application, organisation))
}

/// Binds the browser to the authorization just opened and sends it to the login page.
pub(crate) fn session_started(session: &str) -> Response {
    with_session(see_other("/bank/login"), session)
}

/// Sets the browser's session cookie to `session`.
pub(crate) fn with_session(mut response: Response, session: &str) -> Response {
    let cookie = format!("{PSU_COOKIE}={session}; Path=/; Secure; HttpOnly; SameSite=Lax");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    secured(response, None)
}

/// The answer that leaves the bank's pages: the session is over either way.
pub(crate) fn session_ended(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "__Host-ftapi_psu=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0",
        ),
    );
    secured(response, None)
}

/// The redirect back to the TPP, with the issuer (RFC 9207) and its state.
pub(crate) fn back_to_tpp(
    authorization: &Authorization,
    issuer: &str,
    params: &[(&str, &str)],
) -> Response {
    let Ok(mut url) = url::Url::parse(authorization.flow.redirect_uri().as_str()) else {
        return BankError::expired().into_response();
    };
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in params {
            query.append_pair(k, v);
        }
        if let AuthorizationFlow::OAuth {
            state: Some(state), ..
        } = &authorization.flow
        {
            query.append_pair("state", state);
        }
        query.append_pair("iss", issuer);
    }
    session_ended(see_other(url.as_str()))
}
