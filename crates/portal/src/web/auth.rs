//! Sign-up, e-mail verification, login, logout and password reset pages.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::rejection::FormRejection;
use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::portal::UserKind;
use serde::Deserialize;

use fintechapi_web::{
    check_origin, clear_cookie, cookie, request_host, set_cookie, set_lasting_cookie,
};

use super::session::{
    ADMIN_COOKIE, AnonymousPost, DEVICE_COOKIE, SECOND_FACTOR_COOKIE, SESSION_COOKIE, Visitor,
    anonymous_csrf, check_session_csrf, csrf_protected,
};
use super::{Nav, PageError, Portal, PortalStore};
use crate::accounts::{AccountError, LoginOutcome, MIN_PASSWORD_CHARS};
use fintechapi_registry::validation::FieldErrors;

csrf_protected!(
    SignupForm,
    LoginForm,
    CodeForm,
    ResetRequestForm,
    ResetConfirmForm
);

pub(super) fn form<T>(form: Result<Form<T>, FormRejection>) -> Result<T, PageError> {
    form.map(|Form(f)| f).map_err(|e| {
        PageError::new(
            StatusCode::BAD_REQUEST,
            format!("The form could not be read: {e}"),
        )
    })
}

pub(super) fn with_cookie(
    response: impl IntoResponse,
    cookie: Option<axum::http::HeaderValue>,
) -> Response {
    let mut response = response.into_response();
    if let Some(value) = cookie {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[derive(Debug, Default, Deserialize)]
pub struct SignupForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "signup.html")]
struct SignupPage {
    nav: Nav,
    csrf: String,
    email: String,
    display_name: String,
    errors: FieldErrors,
    min_password: usize,
}

impl SignupPage {
    /// The form with what was entered and what is wrong with it.
    fn new(
        nav: Nav,
        csrf: String,
        email: String,
        display_name: String,
        errors: FieldErrors,
    ) -> Self {
        Self {
            nav,
            csrf,
            email,
            display_name,
            errors,
            min_password: MIN_PASSWORD_CHARS,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "notice.html")]
struct NoticePage {
    nav: Nav,
    title: String,
    message: String,
    link: Option<(String, String)>,
}

pub(super) fn notice(nav: Nav, title: &str, message: &str, link: Option<(&str, &str)>) -> Response {
    NoticePage {
        nav,
        title: title.to_owned(),
        message: message.to_owned(),
        link: link.map(|(h, t)| (h.to_owned(), t.to_owned())),
    }
    .into_response()
}

pub async fn signup_form<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (csrf, cookie) = anonymous_csrf(&headers)?;
    let page = SignupPage::new(
        portal.nav(),
        csrf,
        String::new(),
        String::new(),
        FieldErrors::new(),
    );
    Ok(with_cookie(page, cookie))
}

/// Sign-up and reset requests per client address: each may send a mail.
pub(super) async fn mail_request_allowed<R: PortalStore>(
    portal: &Portal<R>,
    peer: SocketAddr,
) -> Result<(), PageError> {
    portal
        .mail_throttle
        .allow(peer.ip())
        .await
        .map_err(|retry| {
            PageError::throttled(
                retry,
                "Too many requests from your network. Wait a while and try again.",
            )
        })
}

pub async fn signup<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    AnonymousPost(input): AnonymousPost<SignupForm>,
) -> Result<Response, PageError> {
    mail_request_allowed(&portal, peer).await?;
    match portal
        .accounts
        .sign_up(&input.email, &input.password, &input.display_name)
        .await
    {
        Ok(()) => Ok(notice(
            portal.nav(),
            "Check your mail",
            "If this address can be registered, we have sent a link to confirm it. Follow it, then log in.",
            Some(("/portal/login", "Go to login")),
        )),
        Err(AccountError::Invalid(errors)) => {
            let page = SignupPage::new(
                portal.nav(),
                input.csrf,
                input.email,
                input.display_name,
                errors,
            );
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
        Err(e) => Err(PageError::account(e)),
    }
}

/// A mailed link's token that is not (or no longer) good.
fn bad_link() -> PageError {
    PageError::new(
        StatusCode::BAD_REQUEST,
        "This link is invalid, was already used or has expired.",
    )
}

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

pub async fn verify<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    Query(q): Query<TokenQuery>,
) -> Result<Response, PageError> {
    match portal.accounts.verify_email(&q.token).await {
        Ok(()) => Ok(notice(
            portal.nav(),
            "E-mail confirmed",
            "Your address is confirmed. You can log in now.",
            Some(("/portal/login", "Log in")),
        )),
        Err(AccountError::BadToken) => Err(bad_link()),
        Err(e) => Err(PageError::account(e)),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    pub(super) email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    pub(super) csrf: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
pub(super) struct LoginPage {
    nav: Nav,
    csrf: String,
    email: String,
    error: Option<String>,
}

pub async fn login_form<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let visitor = Visitor::load(&portal, &headers).await?;
    if visitor.session.is_some() {
        return Ok((
            StatusCode::SEE_OTHER,
            [(header::LOCATION, "/portal/dashboard")],
        )
            .into_response());
    }
    blank_login::<R, LoginPage>(&portal, &headers)
}

/// A login page with an empty form and the pre-login CSRF token.
pub(super) fn blank_login<R, P: LoginTemplate>(
    portal: &Portal<R>,
    headers: &HeaderMap,
) -> Result<Response, PageError> {
    let (csrf, cookie) = anonymous_csrf(headers)?;
    Ok(with_cookie(
        P::blank(portal.login_nav(P::KIND), csrf),
        cookie,
    ))
}

/// A login page: the form shown again with the reason a login failed.
pub(super) trait LoginTemplate: IntoResponse {
    /// Whose accounts log in on this page.
    const KIND: UserKind;

    fn refused(nav: Nav, form: LoginForm, error: String) -> Self;

    fn blank(nav: Nav, csrf: String) -> Self;
}

/// Implements `LoginTemplate` for a page with `nav`, `csrf`, `email` and `error`.
macro_rules! login_template {
    ($page:ty, $kind:expr) => {
        impl $crate::web::auth::LoginTemplate for $page {
            const KIND: UserKind = $kind;

            fn refused(nav: Nav, form: $crate::web::auth::LoginForm, error: String) -> Self {
                Self {
                    nav,
                    csrf: form.csrf,
                    email: form.email,
                    error: Some(error),
                }
            }

            fn blank(nav: Nav, csrf: String) -> Self {
                Self {
                    nav,
                    csrf,
                    email: String::new(),
                    error: None,
                }
            }
        }
    };
}
pub(super) use login_template;

login_template!(LoginPage, UserKind::Developer);

/// A login post (developer or operator, by the page `P`): throttled per
/// address and tried; the answer to a correct password, or 401 with the
/// page and the reason.
pub async fn login<R: PortalStore, P: LoginTemplate>(
    State(portal): State<Arc<Portal<R>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    AnonymousPost(input): AnonymousPost<LoginForm>,
) -> Result<Response, PageError> {
    let throttle = &portal.login_throttle;
    throttle
        .allow(peer.ip())
        .await
        .map_err(PageError::too_many_attempts)?;
    let device = cookie(&headers, DEVICE_COOKIE);
    let (email, password) = (&input.email, &input.password);
    match portal
        .accounts
        .log_in(email, password, P::KIND, device.as_deref())
        .await
    {
        Ok(outcome) => logged_in(outcome),
        Err(e @ (AccountError::BadCredentials | AccountError::Unverified)) => {
            let page = P::refused(portal.login_nav(P::KIND), input, e.to_string());
            Ok((StatusCode::UNAUTHORIZED, page).into_response())
        }
        Err(e) => Err(PageError::account(e)),
    }
}

/// Ends the session behind `cookie`, if any, and sends the browser to the
/// login page at `location` with the session cookie `name` cleared.
pub(super) async fn logged_out<R: PortalStore>(
    portal: &Portal<R>,
    cookie: Option<&str>,
    location: &'static str,
    name: &str,
) -> Result<Response, PageError> {
    if let Some(cookie) = cookie {
        portal
            .accounts
            .log_out(cookie)
            .await
            .map_err(PageError::internal)?;
    }
    let headers = [
        (
            header::LOCATION,
            axum::http::HeaderValue::from_static(location),
        ),
        (header::SET_COOKIE, clear_cookie(name)),
    ];
    Ok((StatusCode::SEE_OTHER, headers).into_response())
}

/// The answer to a correct password: a session (and the device cookie that
/// keeps this browser out of the account's lock), or the TOTP code page.
pub(super) fn logged_in(outcome: LoginOutcome) -> Result<Response, PageError> {
    let (location, cookie, device) = match outcome {
        LoginOutcome::Session(session) => {
            let (name, to) = match session.user.kind {
                UserKind::Admin => (ADMIN_COOKIE, "/admin"),
                UserKind::Developer => (SESSION_COOKIE, "/portal/dashboard"),
            };
            (
                to,
                set_cookie(name, session.cookie.expose()),
                Some(set_lasting_cookie(DEVICE_COOKIE, &session.device)),
            )
        }
        LoginOutcome::SecondFactor { ticket } => (
            "/portal/login/code",
            set_cookie(SECOND_FACTOR_COOKIE, ticket.expose()),
            None,
        ),
    };
    let response = (
        StatusCode::SEE_OTHER,
        [
            (
                header::LOCATION,
                location.parse().map_err(PageError::internal)?,
            ),
            (header::SET_COOKIE, cookie),
        ],
    );
    Ok(with_cookie(response, device))
}

#[derive(Template, WebTemplate)]
#[template(path = "code.html")]
struct CodePage {
    nav: Nav,
    csrf: String,
}

pub async fn code_form<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    if cookie(&headers, SECOND_FACTOR_COOKIE).is_none() {
        return Ok((StatusCode::SEE_OTHER, [(header::LOCATION, "/portal/login")]).into_response());
    }
    let (csrf, set) = anonymous_csrf(&headers)?;
    Ok(with_cookie(
        CodePage {
            nav: portal.nav(),
            csrf,
        },
        set,
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    csrf: String,
}

/// The login page again (401), saying the code was not accepted.
fn code_refused(nav: Nav, csrf: String) -> Response {
    let page = LoginPage {
        error: Some(AccountError::BadCode.to_string()),
        ..LoginPage::blank(nav, csrf)
    };
    (StatusCode::UNAUTHORIZED, page).into_response()
}

pub async fn code<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
    AnonymousPost(input): AnonymousPost<CodeForm>,
) -> Result<Response, PageError> {
    let Some(ticket) = cookie(&headers, SECOND_FACTOR_COOKIE) else {
        return Err(PageError::new(
            StatusCode::BAD_REQUEST,
            "Your login has expired. Log in again.",
        ));
    };
    let device = cookie(&headers, DEVICE_COOKIE);
    let result = portal
        .accounts
        .complete_second_factor(&ticket, &input.code, device.as_deref())
        .await;
    let mut response = match result {
        Ok(session) => logged_in(LoginOutcome::Session(session))?,
        // An expired ticket reads as a wrong code: the login page says so.
        Err(AccountError::BadCode | AccountError::BadToken) => {
            code_refused(portal.login_nav(UserKind::Developer), input.csrf)
        }
        Err(e) => return Err(PageError::account(e)),
    };
    response
        .headers_mut()
        .append(header::SET_COOKIE, clear_cookie(SECOND_FACTOR_COOKIE));
    Ok(response)
}

#[derive(Debug, Default, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

pub async fn logout<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    uri: Uri,
    headers: HeaderMap,
    input: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PageError> {
    check_origin(&headers, request_host(&headers, &uri))?;
    let input = form(input)?;
    let visitor = Visitor::load(&portal, &headers).await?;
    let mut ending = None;
    if let (Some(cookie), Ok((session, _))) = (&visitor.cookie, visitor.user()) {
        check_session_csrf(session, &input.csrf)?;
        ending = Some(cookie.as_str());
    }
    logged_out(&portal, ending, "/portal/login", SESSION_COOKIE).await
}

#[derive(Template, WebTemplate)]
#[template(path = "reset.html")]
struct ResetPage {
    nav: Nav,
    csrf: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ResetRequestForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    csrf: String,
}

pub async fn reset_form<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (csrf, cookie) = anonymous_csrf(&headers)?;
    Ok(with_cookie(
        ResetPage {
            nav: portal.nav(),
            csrf,
        },
        cookie,
    ))
}

pub async fn reset_request<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    AnonymousPost(input): AnonymousPost<ResetRequestForm>,
) -> Result<Response, PageError> {
    mail_request_allowed(&portal, peer).await?;
    portal
        .accounts
        .request_password_reset(&input.email)
        .await
        .map_err(PageError::internal)?;
    Ok(notice(
        portal.nav(),
        "Check your mail",
        "If an account uses this address, we have sent it a link to choose a new password.",
        None,
    ))
}

#[derive(Template, WebTemplate)]
#[template(path = "reset_confirm.html")]
struct ResetConfirmPage {
    nav: Nav,
    csrf: String,
    token: String,
    errors: FieldErrors,
    min_password: usize,
}

impl ResetConfirmPage {
    fn new(nav: Nav, csrf: String, token: String, errors: FieldErrors) -> Self {
        Self {
            nav,
            csrf,
            token,
            errors,
            min_password: MIN_PASSWORD_CHARS,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ResetConfirmForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

pub async fn reset_confirm_form<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Result<Response, PageError> {
    let (csrf, cookie) = anonymous_csrf(&headers)?;
    let page = ResetConfirmPage::new(portal.nav(), csrf, q.token, FieldErrors::new());
    Ok(with_cookie(page, cookie))
}

pub async fn reset_confirm<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    AnonymousPost(input): AnonymousPost<ResetConfirmForm>,
) -> Result<Response, PageError> {
    match portal
        .accounts
        .reset_password(&input.token, &input.password)
        .await
    {
        Ok(()) => Ok(notice(
            portal.nav(),
            "Password changed",
            "Your new password is set and every other session has ended.",
            Some(("/portal/login", "Log in")),
        )),
        Err(AccountError::Invalid(errors)) => {
            let page = ResetConfirmPage::new(portal.nav(), input.csrf, input.token, errors);
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
        Err(AccountError::BadToken) => Err(bad_link()),
        Err(e) => Err(PageError::account(e)),
    }
}
