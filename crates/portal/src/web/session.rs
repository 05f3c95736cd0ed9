//! Sessions and CSRF defences of the portal pages.

use axum::http::{HeaderMap, HeaderValue};
use fintechapi_domain::portal::{Session, User, UserKind};
use fintechapi_domain::secret::constant_time_eq;
use fintechapi_web::csrf::{double_submit_matches, double_submit_token};
use fintechapi_web::{check_origin, cookie, request_host};

use super::{PageError, Portal, PortalStore};

/// Session id cookie: `__Host-` (Secure, Path=/, no Domain), HttpOnly, SameSite=Lax.
pub const SESSION_COOKIE: &str = "__Host-ftapi_session";
/// Session id cookie of the admin console, apart from developer sessions.
pub const ADMIN_COOKIE: &str = "__Host-ftapi_admin";
/// Ticket of a login that waits for its TOTP code.
pub const SECOND_FACTOR_COOKIE: &str = "__Host-ftapi_2fa";
/// Where operators enrol their second factor.
pub const OPERATOR_ENROLMENT: &str = "/admin/security";
/// Double-submit token for forms shown before login.
pub const CSRF_COOKIE: &str = "__Host-ftapi_csrf";
/// Marks a browser that logged in to an account before: the account's lock
/// after failed logins does not apply to it (see `Accounts::log_in`).
pub const DEVICE_COOKIE: &str = "__Host-ftapi_device";

/// Who is asking: a logged-in user with a live session, or nobody.
pub struct Visitor {
    pub cookie: Option<String>,
    pub session: Option<(Session, User)>,
    /// Its pages' header: the bank's name.
    nav: super::Nav,
}

impl Visitor {
    /// A developer of the portal.
    pub async fn load<R: PortalStore>(
        portal: &Portal<R>,
        headers: &HeaderMap,
    ) -> Result<Self, PageError> {
        Self::load_kind(portal, headers, SESSION_COOKIE, UserKind::Developer).await
    }

    /// A bank operator of the admin console, past the second-factor guard.
    pub async fn load_admin<R: PortalStore>(
        portal: &Portal<R>,
        headers: &HeaderMap,
    ) -> Result<Self, PageError> {
        Self::load_admin_enrolling(portal, headers)
            .await?
            .second_factor_guard(portal)
    }

    /// A bank operator before the guard: only the second-factor enrolment
    /// and logout take one.
    pub async fn load_admin_enrolling<R: PortalStore>(
        portal: &Portal<R>,
        headers: &HeaderMap,
    ) -> Result<Self, PageError> {
        Self::load_kind(portal, headers, ADMIN_COOKIE, UserKind::Admin).await
    }

    /// Where the portal requires it (production), an operator without a
    /// second factor is sent to enrol one and reaches nothing else.
    fn second_factor_guard<R: PortalStore>(self, portal: &Portal<R>) -> Result<Self, PageError> {
        match &self.session {
            Some((_, user))
                if user.kind == UserKind::Admin
                    && !user.totp_enabled
                    && portal.operator_second_factor_required =>
            {
                Err(PageError::new(
                    axum::http::StatusCode::SEE_OTHER,
                    OPERATOR_ENROLMENT,
                ))
            }
            _ => Ok(self),
        }
    }

    pub(super) async fn load_kind<R: PortalStore>(
        portal: &Portal<R>,
        headers: &HeaderMap,
        name: &str,
        kind: UserKind,
    ) -> Result<Self, PageError> {
        let cookie = cookie(headers, name);
        let session = match &cookie {
            Some(value) => portal
                .accounts
                .session(value)
                .await
                .map_err(PageError::internal)?,
            None => None,
        };
        let session = session.filter(|(_, user)| user.kind == kind);
        Ok(Self {
            cookie,
            session,
            nav: portal.nav(),
        })
    }

    /// The logged-in user, or a redirect to the login page.
    pub fn user(&self) -> Result<(&Session, &User), PageError> {
        self.session
            .as_ref()
            .map(|(s, u)| (s, u))
            .ok_or_else(PageError::login_required)
    }

    pub fn nav(&self) -> super::Nav {
        match &self.session {
            Some((s, u)) => super::Nav {
                user: Some(u.display_name.clone()),
                csrf: s.csrf_token.clone(),
                operator_without_second_factor: u.kind == UserKind::Admin && !u.totp_enabled,
                ..self.nav.clone()
            },
            None => self.nav.clone(),
        }
    }
}

/// Checks the form's token against the session's, in constant time.
pub fn check_session_csrf(session: &Session, form_token: &str) -> Result<(), PageError> {
    if constant_time_eq(&session.csrf_token, form_token) {
        Ok(())
    } else {
        Err(PageError::forbidden(
            "The form has expired or was not sent by this site. Reload the page and try again.",
        ))
    }
}

/// The double-submit token for forms before login, and the cookie to set if it is new.
pub fn anonymous_csrf(headers: &HeaderMap) -> Result<(String, Option<HeaderValue>), PageError> {
    double_submit_token(headers, CSRF_COOKIE).map_err(PageError::internal)
}

pub fn check_anonymous_csrf(headers: &HeaderMap, form_token: &str) -> Result<(), PageError> {
    if double_submit_matches(headers, CSRF_COOKIE, form_token) {
        Ok(())
    } else {
        Err(PageError::forbidden(
            "The form has expired or was not sent by this site. Reload the page and try again.",
        ))
    }
}

/// A form that carries the session's CSRF token.
pub trait CsrfProtected {
    fn csrf(&self) -> &str;
}

/// Which accounts a page is for: the portal's developers or the bank's operators.
pub trait Audience: Send + Sync + 'static {
    const KIND: UserKind;
    const COOKIE: &'static str;
    const LOGIN: &'static str;
    /// Let through an operator the second-factor guard would send to enrol.
    const BEFORE_SECOND_FACTOR: bool = false;
}

pub struct Developers;
pub struct Operators;
/// Operators on the pages open before a second factor is enrolled: the
/// enrolment itself and logout.
pub struct EnrollingOperators;

impl Audience for Developers {
    const KIND: UserKind = UserKind::Developer;
    const COOKIE: &'static str = SESSION_COOKIE;
    const LOGIN: &'static str = "/portal/login";
}

impl Audience for Operators {
    const KIND: UserKind = UserKind::Admin;
    const COOKIE: &'static str = ADMIN_COOKIE;
    const LOGIN: &'static str = "/admin/login";
}

impl Audience for EnrollingOperators {
    const KIND: UserKind = UserKind::Admin;
    const COOKIE: &'static str = ADMIN_COOKIE;
    const LOGIN: &'static str = "/admin/login";
    const BEFORE_SECOND_FACTOR: bool = true;
}

/// A form post that passed every defence: same origin, a live session of the
/// audience, and that session's CSRF token. Handlers that change state take
/// one, so none can forget a check.
pub struct Posted<A, T> {
    pub visitor: Visitor,
    pub form: T,
    audience: std::marker::PhantomData<A>,
}

pub type DeveloperPost<T> = Posted<Developers, T>;
pub type OperatorPost<T> = Posted<Operators, T>;
pub type EnrollingOperatorPost<T> = Posted<EnrollingOperators, T>;

impl<A, T> Posted<A, T> {
    pub fn into_parts(self) -> (Visitor, T) {
        (self.visitor, self.form)
    }
}

/// Marks forms whose `csrf` field carries the token.
macro_rules! csrf_protected {
    ($($form:ty),+ $(,)?) => {
        $(impl $crate::web::session::CsrfProtected for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        })+
    };
}
pub(super) use csrf_protected;

impl<R, A, T> axum::extract::FromRequest<std::sync::Arc<Portal<R>>> for Posted<A, T>
where
    R: PortalStore,
    A: Audience,
    T: serde::de::DeserializeOwned + CsrfProtected + Send,
{
    type Rejection = PageError;

    async fn from_request(
        req: axum::extract::Request,
        portal: &std::sync::Arc<Portal<R>>,
    ) -> Result<Self, PageError> {
        let (parts, body) = req.into_parts();
        check_origin(&parts.headers, request_host(&parts.headers, &parts.uri))?;
        let mut visitor = Visitor::load_kind(portal, &parts.headers, A::COOKIE, A::KIND).await?;
        if !A::BEFORE_SECOND_FACTOR {
            visitor = visitor.second_factor_guard(portal)?;
        }
        let Some((session, _)) = &visitor.session else {
            return Err(PageError::new(axum::http::StatusCode::SEE_OTHER, A::LOGIN));
        };
        let req = axum::extract::Request::from_parts(parts, body);
        let axum::Form(form) =
            <axum::Form<T> as axum::extract::FromRequest<_>>::from_request(req, portal)
                .await
                .map_err(|e| {
                    PageError::new(
                        axum::http::StatusCode::BAD_REQUEST,
                        format!("The form could not be read: {e}"),
                    )
                })?;
        check_session_csrf(session, form.csrf())?;
        Ok(Self {
            visitor,
            form,
            audience: std::marker::PhantomData,
        })
    }
}

/// A form post before login: same origin and the double-submit CSRF token.
/// Handlers of the login, sign-up and reset forms take one; its rejection
/// is the error page.
pub struct AnonymousPost<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for AnonymousPost<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned + CsrfProtected + Send,
{
    type Rejection = PageError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, PageError> {
        let (parts, body) = req.into_parts();
        check_origin(&parts.headers, request_host(&parts.headers, &parts.uri))?;
        let headers = parts.headers.clone();
        let req = axum::extract::Request::from_parts(parts, body);
        let form = <axum::Form<T> as axum::extract::FromRequest<S>>::from_request(req, state).await;
        let form = super::auth::form(form)?;
        check_anonymous_csrf(&headers, form.csrf())?;
        Ok(Self(form))
    }
}
