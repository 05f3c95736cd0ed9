//! The admin console for the bank's operators: approvals, suspensions and
//! plans (`registry.rs`), the audit trail, and the bank's PSUs (`psus.rs`,
//! over the bank's `PsuDesk`). Only `admin` accounts, with their own session
//! cookie.

mod psus;
mod registry;

use std::str::FromStr;
use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::portal::UserKind;
use fintechapi_registry::Actor;

use super::auth::{CsrfForm, blank_login, logged_out, login_template};
use super::session::{ADMIN_COOKIE, EnrollingOperatorPost, OperatorPost, Visitor};
use super::{Nav, PageError, Portal, PortalStore};

pub use psus::{psu_account, psu_create, psu_password, psu_totp, psu_unblock, psus};
pub use registry::{app_plan, app_status, audit, decide, org_status, overview};

pub(super) fn see_other(location: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, location.to_owned())],
    )
        .into_response()
}

/// The signed-in operator of a page, or the way to the login page.
pub(super) async fn operator<R: PortalStore>(
    portal: &Portal<R>,
    headers: &HeaderMap,
) -> Result<Visitor, PageError> {
    let visitor = Visitor::load_admin(portal, headers).await?;
    visitor
        .user()
        .map_err(|_| PageError::new(StatusCode::SEE_OTHER, "/admin/login"))?;
    Ok(visitor)
}

/// An operator's post taken apart: who (with the audit trail's name for
/// them) and the form.
pub(super) fn acting<F>(post: OperatorPost<F>) -> Result<(Visitor, Actor, F), PageError> {
    let (visitor, form) = post.into_parts();
    let actor = Actor(format!("admin:{}", visitor.user()?.1.email));
    Ok((visitor, actor, form))
}

/// The id in a path; one that does not parse names nothing.
pub(super) fn path_id<T: FromStr>(id: &str) -> Result<T, PageError> {
    id.parse().map_err(|_| PageError::not_found())
}

pub(super) fn admin_nav(visitor: &Visitor) -> Nav {
    let mut nav = visitor.nav();
    nav.admin = true;
    nav
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/login.html")]
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
    blank_login::<R, LoginPage>(&portal, &headers)
}

login_template!(LoginPage, UserKind::Admin);

pub async fn logout<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    // Open before the second-factor guard: an operator sent to enrol may leave.
    post: EnrollingOperatorPost<CsrfForm>,
) -> Result<Response, PageError> {
    let (visitor, _input) = post.into_parts();
    logged_out(
        &portal,
        visitor.cookie.as_deref(),
        "/admin/login",
        ADMIN_COOKIE,
    )
    .await
}
