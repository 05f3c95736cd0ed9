//! The PSU's session with the bank's pages: its cookie, expiry and the
//! checks every form post passes (`checked_form`, the `PsuPost` extractor).

use std::marker::PhantomData;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Form, FromRequest, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::oauth::{
    Authorization, AuthorizationFlow, AuthorizationStage, ResponseMode,
};
use fintechapi_domain::registry::{Application, Organisation};
use fintechapi_domain::secret::{KeyedHash, constant_time_eq};
use fintechapi_oauth::server::PSU_IDLE_TIMEOUT;
use fintechapi_web::{check_origin, cookie, request_host};
use serde::de::DeserializeOwned;

use crate::error::{BankError, parsed, secured, see_other};
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

/// Forms whose `csrf` field carries the session's token.
pub(crate) trait CsrfField {
    fn csrf(&self) -> &str;
}

/// Marks forms whose `csrf` field carries the token.
macro_rules! csrf_form {
    ($($form:ty),+ $(,)?) => {
        $(impl $crate::session::CsrfField for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        })+
    };
}
pub(crate) use csrf_form;

/// The consent page's form, read as pairs because its fields vary.
impl CsrfField for Vec<(String, String)> {
    fn csrf(&self) -> &str {
        self.iter()
            .find(|(name, _)| name == "csrf")
            .map(|(_, value)| value.as_str())
            .unwrap_or_default()
    }
}

/// A form post's body, read after its origin was checked and kept only with
/// the token `expected`: the checks every post of the bank's pages passes.
pub(crate) async fn checked_form<F>(
    parts: Parts,
    body: Body,
    expected: &str,
) -> Result<F, BankError>
where
    F: DeserializeOwned + CsrfField,
{
    check_origin(&parts.headers, request_host(&parts.headers, &parts.uri)).map_err(|_| {
        BankError::page(
            StatusCode::FORBIDDEN,
            "This form was submitted from another site and was refused.",
        )
    })?;
    let form: F = parsed(Form::from_request(Request::from_parts(parts, body), &()).await)?;
    if !constant_time_eq(form.csrf(), expected) {
        return Err(BankError::page(
            StatusCode::FORBIDDEN,
            "This form has expired. Go back, reload the page and try again.",
        ));
    }
    Ok(form)
}

/// Where an authorization stands for a post to be taken.
pub(crate) trait Stage {
    const STAGE: AuthorizationStage;
}
pub(crate) struct AtLogin;
pub(crate) struct AtSecondFactor;
pub(crate) struct AtConsent;
impl Stage for AtLogin {
    const STAGE: AuthorizationStage = AuthorizationStage::Login;
}
impl Stage for AtSecondFactor {
    const STAGE: AuthorizationStage = AuthorizationStage::SecondFactor;
}
impl Stage for AtConsent {
    const STAGE: AuthorizationStage = AuthorizationStage::Consent;
}

/// A form post on an authorization's pages: its session live at stage `S`,
/// same origin, the session's CSRF token. The rejection is the error page.
pub(crate) struct PsuPost<S, F> {
    pub(crate) session: PsuSession,
    pub(crate) form: F,
    stage: PhantomData<S>,
}

impl<R, S, F> FromRequest<Arc<BankService<R>>> for PsuPost<S, F>
where
    R: BankStore,
    S: Stage,
    F: DeserializeOwned + CsrfField + Send,
{
    type Rejection = BankError;

    async fn from_request(
        request: Request,
        service: &Arc<BankService<R>>,
    ) -> Result<Self, BankError> {
        let (parts, body) = request.into_parts();
        let session = session(service, &parts.headers, S::STAGE).await?;
        let form = checked_form(parts, body, &session.csrf).await?;
        Ok(Self {
            session,
            form,
            stage: PhantomData,
        })
    }
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

/// The redirect back to the TPP with `params` and its state: in the query
/// with the issuer (RFC 9207), or, for `response_mode=jwt` (JARM), as one
/// `response` JWT the server signed, which names the issuer itself.
pub(crate) async fn back_to_tpp<R: BankStore>(
    service: &BankService<R>,
    authorization: &Authorization,
    params: &[(&str, &str)],
) -> Response {
    let Some(Ok(mut url)) = authorization
        .flow
        .redirect_uri()
        .map(|uri| url::Url::parse(uri.as_str()))
    else {
        return BankError::expired().into_response();
    };
    let server = &service.oauth.server;
    let mut params = params.to_vec();
    let mut jarm = false;
    if let AuthorizationFlow::OAuth {
        state,
        response_mode,
        ..
    } = &authorization.flow
    {
        params.extend(state.as_deref().map(|state| ("state", state)));
        jarm = *response_mode == ResponseMode::Jwt;
    }
    if jarm {
        let Ok(response) = server.signed_response(authorization, &params).await else {
            return BankError::expired().into_response();
        };
        url.query_pairs_mut().append_pair("response", &response);
    } else {
        let mut query = url.query_pairs_mut();
        for (k, v) in params {
            query.append_pair(k, v);
        }
        query.append_pair("iss", &server.settings().issuer);
    }
    session_ended(see_other(url.as_str()))
}
