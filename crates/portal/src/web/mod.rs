//! The portal's web pages: server-rendered HTML (askama, escaped by default),
//! no JavaScript, every asset in the binary. Strict CSP, no framing, CSRF
//! tokens on every form plus an Origin / Sec-Fetch-Site check.

mod admin;
mod api;
mod auth;
mod docs;
mod journeys;
mod leads;
mod pages;
mod security;
mod session;

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use fintechapi_domain::StoreError;
use fintechapi_domain::ids::ApplicationId;
use fintechapi_domain::lead::LeadRepository;
use fintechapi_domain::ledger::LedgerRepository;
use fintechapi_domain::portal::{PortalRepository, UserKind};
use fintechapi_domain::psu::PsuRepository;
use fintechapi_domain::usage::{UsageRepository, UsageRow};
use fintechapi_ledger::Ledger;
use time::Date;

use crate::accounts::Accounts;
use fintechapi_limits::throttle::{AddressThrottle, RetryAfter};
use fintechapi_registry::Registry;
use fintechapi_web::CrossSite;
use fintechapi_web::asset;
use fintechapi_web::hook::{Hook, HookLayer};

pub use session::{ADMIN_COOKIE, CSRF_COOKIE, SESSION_COOKIE};

/// What the portal pages need.
pub struct Portal<R> {
    pub accounts: Accounts<R>,
    pub registry: Registry<R>,
    /// The core banking behind the admin console's sandbox PSU management.
    pub ledger: Ledger<R>,
    /// Base URL for links in mails.
    pub public_url: String,
    /// Login attempts per client address.
    pub login_throttle: AddressThrottle,
    /// Sign-up and reset requests (each may send a mail) per client address.
    pub mail_throttle: AddressThrottle,
    /// Development/sandbox installation: `http://localhost` redirect URIs allowed.
    pub sandbox: bool,
    /// Operators must have a second factor (production): without one they
    /// reach only its enrolment.
    pub operator_second_factor_required: bool,
    /// API usage of applications, flushed before statistics are shown.
    pub meter: Arc<fintechapi_metering::Meter<R>>,
    /// The XS2A operations (`operationId`) the bank refuses, left out of the reference.
    pub refused_operations: Vec<&'static str>,
    /// The bank's name: every page's header and title, and the issuer of
    /// the authenticator apps.
    pub bank_name: Arc<str>,
}

impl<R> Portal<R> {
    /// The navigation of a page seen by nobody logged in.
    pub(crate) fn nav(&self) -> Nav {
        Nav {
            bank: self.bank_name.clone(),
            user: None,
            csrf: String::new(),
            admin: false,
            operator_without_second_factor: false,
        }
    }

    /// The header of a login page: the admin console's for operators, so
    /// its login never looks like the developer portal's.
    pub(crate) fn login_nav(&self, kind: UserKind) -> Nav {
        Nav {
            admin: kind == UserKind::Admin,
            ..self.nav()
        }
    }
}

impl<R: PortalStore> Portal<R> {
    /// The usage of the application `app` over the last `days` (its first
    /// day, last day and rows). Pending counts are written first, so the
    /// report includes the calls just made.
    async fn usage(
        &self,
        app: ApplicationId,
        days: u16,
    ) -> Result<(Date, Date, Vec<UsageRow>), StoreError> {
        if let Err(e) = self.meter.flush().await {
            tracing::warn!(error = %e, "could not write pending usage before a report");
        }
        let (from, to) = crate::usage::period(self.registry.now().date(), days);
        let rows = self.registry.repo().usage(app, from, to).await?;
        Ok((from, to, rows))
    }
}

/// The storage the portal and the admin console run on.
pub trait PortalStore:
    PortalRepository
    + PsuRepository
    + LedgerRepository
    + UsageRepository
    + LeadRepository
    + Send
    + Sync
    + 'static
{
}
impl<
    T: PortalRepository
        + PsuRepository
        + LedgerRepository
        + UsageRepository
        + LeadRepository
        + Send
        + Sync
        + 'static,
> PortalStore for T
{
}

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// The portal under `/portal`.
pub fn router<R: PortalStore>(portal: Arc<Portal<R>>) -> Router {
    let downloads = Arc::new(docs::DownloadFiles::new(
        portal.public_url.clone(),
        portal.refused_operations.clone(),
    ));
    let openapi = downloads.clone();
    let routes = Router::new()
        .merge(api::routes::<R>())
        .route("/portal", get(pages::home::<R>))
        .route("/portal/static/portal.css", get(stylesheet))
        .route("/portal/static/local-time.js", get(local_time_script))
        .route("/portal/docs", get(docs::guide::<R>))
        .merge(journeys::routes::<R>())
        .route("/portal/docs/xs2a", get(docs::xs2a::<R>))
        .route("/portal/docs/psd2-api.yaml", get(docs::spec_yaml))
        .route(
            "/portal/docs/xs2a-supported.openapi.json",
            get(move || docs::openapi_subset(openapi.clone())),
        )
        .route(
            "/portal/docs/xs2a.postman_collection.json",
            get(move || docs::postman_collection(downloads.clone())),
        )
        .route("/portal/docs/examples/ais.py", get(docs::python_example))
        .route(
            "/portal/docs/examples/ais.mjs",
            get(docs::javascript_example),
        )
        .route(
            "/portal/signup",
            get(auth::signup_form::<R>).post(auth::signup::<R>),
        )
        .route("/portal/verify", get(auth::verify::<R>))
        .route(
            "/portal/login",
            get(auth::login_form::<R>).post(auth::login::<R, auth::LoginPage>),
        )
        .route("/portal/logout", post(auth::logout::<R>))
        .route(
            "/portal/login/code",
            get(auth::code_form::<R>).post(auth::code::<R>),
        )
        .route("/portal/security", get(security::security::<R>))
        .route("/portal/security/totp", post(security::totp::<R>))
        .route(
            "/portal/reset",
            get(auth::reset_form::<R>).post(auth::reset_request::<R>),
        )
        .route(
            "/portal/reset/confirm",
            get(auth::reset_confirm_form::<R>).post(auth::reset_confirm::<R>),
        )
        .route("/portal/dashboard", get(pages::dashboard::<R>))
        .route(
            "/portal/orgs/new",
            get(pages::org_form::<R>).post(pages::org_create::<R>),
        )
        .route("/portal/orgs/{org}", get(pages::org_page::<R>))
        .route("/portal/orgs/{org}/invitations", post(pages::invite::<R>))
        .route(
            "/portal/orgs/{org}/members/{user}/remove",
            post(pages::remove_member::<R>),
        )
        .route(
            "/portal/invitations/accept",
            get(pages::invitation_form::<R>).post(pages::invitation_accept::<R>),
        )
        .route(
            "/portal/orgs/{org}/apps/new",
            get(pages::app_form::<R>).post(pages::app_create::<R>),
        )
        .route("/portal/apps/{app}", get(pages::app_page::<R>))
        .route("/portal/apps/{app}/rotate", post(pages::app_rotate::<R>))
        .route("/portal/apps/{app}/usage", get(pages::usage::<R>))
        .route("/portal/apps/{app}/usage.csv", get(pages::usage_csv::<R>))
        .route(
            "/portal/apps/{app}/credentials/{credential}/revoke",
            post(pages::credential_revoke::<R>),
        )
        .route(
            "/portal/apps/{app}/subscriptions",
            post(pages::subscribe::<R>),
        )
        .route("/admin", get(admin::overview::<R>))
        .route(
            "/admin/login",
            get(admin::login_form::<R>).post(auth::login::<R, admin::LoginPage>),
        )
        .route("/admin/logout", post(admin::logout::<R>))
        .route("/admin/security", get(security::operator_security::<R>))
        .route("/admin/security/totp", post(security::operator_totp::<R>))
        .route(
            "/admin/subscriptions/{id}/decision",
            post(admin::decide::<R>),
        )
        .route("/admin/orgs/{id}/status", post(admin::org_status::<R>))
        .route("/admin/apps/{id}/status", post(admin::app_status::<R>))
        .route("/admin/apps/{id}/plan", post(admin::app_plan::<R>))
        .route("/admin/audit", get(admin::audit::<R>))
        .route("/admin/leads", get(leads::list::<R>))
        .route("/admin/leads.csv", get(leads::export::<R>))
        .route("/admin/leads/{id}", post(leads::update::<R>))
        .route(
            "/admin/psus",
            get(admin::psus::<R>).post(admin::psu_create::<R>),
        )
        .route("/admin/psus/{id}/password", post(admin::psu_password::<R>))
        .route("/admin/psus/{id}/unblock", post(admin::psu_unblock::<R>))
        .route("/admin/psus/{id}/totp", post(admin::psu_totp::<R>))
        .route("/admin/psus/{id}/accounts", post(admin::psu_account::<R>));
    fintechapi_web::with_security_headers(routes, CSP)
        .layer(error_pages(portal.clone()))
        .with_state(portal)
}

async fn stylesheet() -> Response {
    asset(
        "text/css; charset=utf-8",
        3600,
        include_str!("../../static/portal.css"),
    )
}

/// The portal's only script: shows each `<time datetime>` in the viewer's
/// time zone (the page reads in UTC without it).
async fn local_time_script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        3600,
        include_str!("../../static/local-time.js"),
    )
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    nav: Nav,
    title: String,
    message: String,
}

/// The navigation bar's view of who is logged in, under the bank's name.
#[derive(Debug, Clone)]
pub struct Nav {
    pub bank: Arc<str>,
    pub user: Option<String>,
    pub csrf: String,
    /// The admin console's navigation instead of the portal's.
    pub admin: bool,
    /// An operator signed in without a second factor (development only;
    /// production sends them to enrol): the console shows a warning.
    pub operator_without_second_factor: bool,
}

impl Nav {
    /// The page's site under the bank's name, for titles: "Musterbank AG Developer Portal".
    pub fn site(&self) -> String {
        let area = if self.admin {
            "Admin console"
        } else {
            "Developer Portal"
        };
        format!("{} {area}", self.bank)
    }
}

/// An HTML error answer of the portal (or a redirect to the login page).
pub struct PageError {
    status: StatusCode,
    message: String,
    retry_after: Option<u64>,
}

impl PageError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 429 with `Retry-After`.
    pub fn throttled(retry: RetryAfter, message: &str) -> Self {
        Self {
            retry_after: Some(retry.secs()),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, message)
        }
    }

    /// An account operation that failed: 503 when the password checks are
    /// saturated, otherwise an internal error.
    pub fn account(e: crate::accounts::AccountError) -> Self {
        match e {
            crate::accounts::AccountError::Busy => Self {
                retry_after: Some(5),
                ..Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "We are busy right now. Please try again in a few seconds.",
                )
            },
            other => Self::internal(other),
        }
    }

    pub fn login_required() -> Self {
        Self::new(StatusCode::SEE_OTHER, "/portal/login")
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "There is nothing here, or you have no access to it.",
        )
    }

    pub fn too_many_attempts(retry: RetryAfter) -> Self {
        Self::throttled(
            retry,
            "Too many login attempts from your network. Wait a few minutes and try again.",
        )
    }

    pub fn bad_request(message: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn forbidden(message: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "portal request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on our side. Please try again.",
        )
    }
}

impl From<CrossSite> for PageError {
    fn from(e: CrossSite) -> Self {
        Self::forbidden(&e.to_string())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if self.status == StatusCode::SEE_OTHER {
            return (StatusCode::SEE_OTHER, [(header::LOCATION, self.message)]).into_response();
        }
        let mut response = (self.status, Extension(ErrorMessage(self.message))).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// The message of a [`PageError`] answer, waiting for [`error_pages`] to
/// put it in a page under the bank's name: `IntoResponse` sees no state.
#[derive(Clone)]
struct ErrorMessage(String);

/// Renders the page of a [`PageError`] answer, keeping its status and headers:
/// a layer of the portal's router, and of the server's for the page errors
/// it raises itself (no route, overload, …).
pub fn error_pages<R: PortalStore>(portal: Arc<Portal<R>>) -> HookLayer<ErrorPages<R>> {
    HookLayer(ErrorPages(portal))
}

pub struct ErrorPages<R>(Arc<Portal<R>>);

impl<R> Clone for ErrorPages<R> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<R: PortalStore> Hook for ErrorPages<R> {
    type Carry = Arc<Portal<R>>;

    fn before(&self, _: &mut Request) -> Result<Self::Carry, Response> {
        Ok(self.0.clone())
    }

    fn after(portal: Self::Carry, mut response: Response) -> Response {
        let Some(ErrorMessage(message)) = response.extensions_mut().remove() else {
            return response;
        };
        let (mut parts, _) = response.into_parts();
        let page = ErrorPage {
            nav: portal.nav(),
            title: parts
                .status
                .canonical_reason()
                .unwrap_or("Error")
                .to_owned(),
            message,
        };
        let (page, body) = page.into_response().into_parts();
        parts.headers.extend(page.headers);
        Response::from_parts(parts, body)
    }
}
