//! The PSU's session with the bank's pages: its cookie, expiry and the
//! checks every form post passes.

use super::*;

/// The authorization behind the browser's cookie, if the session is live.
pub(super) struct PsuSession {
    pub(super) authorization: Authorization,
    pub(super) csrf: String,
    /// Where this session's WebAuthn ceremony state is kept.
    pub(super) ceremony: KeyedHash,
}

pub(super) async fn session<R: OAuthStore>(
    service: &OAuthService<R>,
    headers: &HeaderMap,
    stage: AuthorizationStage,
) -> Result<PsuSession, BankError> {
    let server = &service.server;
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
pub(super) fn check_post(
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
pub(super) async fn tpp<R: OAuthStore>(
    service: &OAuthService<R>,
    authorization: &Authorization,
) -> Result<(Application, Organisation), BankError> {
    let repo = service.server.repo();
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
