//! The logged-in portal: the dashboard here; organisations, members and
//! invitations (`orgs.rs`), applications, credentials and subscriptions
//! (`apps.rs`), usage (`usage.rs`).

mod apps;
mod orgs;
mod usage;

pub use apps::{app_create, app_form, app_page, app_rotate, credential_revoke, subscribe};
pub use orgs::{
    invitation_accept, invitation_form, invite, org_create, org_form, org_page, remove_member,
};
pub use usage::{usage, usage_csv};

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::portal::{MemberRole, User};
use fintechapi_domain::registry::{Application, Organisation};
use fintechapi_registry::{Actor, Membership, RegistryError};

use super::auth::CsrfForm;
use super::session::{DeveloperPost, Visitor, csrf_protected};
use super::{Nav, PageError, Portal, PortalStore};

fn actor(user: &User) -> Actor {
    Actor(user.email.to_string())
}

fn see_other(location: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, location.to_owned())],
    )
        .into_response()
}

csrf_protected!(CsrfForm);

/// A registry lookup's failure as a page: what is not there, or not the
/// visitor's, is "not found" alike.
fn lookup_failed(e: RegistryError) -> PageError {
    match e {
        RegistryError::NotFound => PageError::not_found(),
        e => PageError::internal(e),
    }
}

/// The organisation if `user` is a member (else "not found", which hides its existence).
async fn org_access<R: PortalStore>(
    portal: &Portal<R>,
    user: &User,
    id: &str,
) -> Result<(Organisation, MemberRole), PageError> {
    let id = id.parse().map_err(|_| PageError::not_found())?;
    let found = portal.registry.organisation_of_member(user.id, id).await;
    found.map_err(lookup_failed)
}

async fn app_access<R: PortalStore>(
    portal: &Portal<R>,
    user: &User,
    id: &str,
) -> Result<(Application, Organisation, MemberRole), PageError> {
    let id = id.parse().map_err(|_| PageError::not_found())?;
    let found = portal.registry.application_of_member(user.id, id).await;
    found.map_err(lookup_failed)
}

/// A post about the application `id` by a member who may change it.
struct Managed<F> {
    visitor: Visitor,
    user: User,
    form: F,
    app: Application,
    org: Organisation,
}

async fn managed_app<R: PortalStore, F>(
    portal: &Portal<R>,
    post: DeveloperPost<F>,
    id: &str,
) -> Result<Managed<F>, PageError> {
    let (visitor, form) = post.into_parts();
    let user = visitor.user()?.1.clone();
    let (app, org, role) = app_access(portal, &user, id).await?;
    require_manager(role)?;
    Ok(Managed {
        visitor,
        user,
        form,
        app,
        org,
    })
}

fn require_manager(role: MemberRole) -> Result<(), PageError> {
    if role.can_manage_apps() {
        Ok(())
    } else {
        Err(PageError::forbidden("Viewers cannot change applications."))
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage {
    nav: Nav,
}

pub async fn home<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let visitor = Visitor::load(&portal, &headers).await?;
    if visitor.session.is_some() {
        return Ok(see_other("/portal/dashboard"));
    }
    Ok(HomePage { nav: visitor.nav() }.into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    nav: Nav,
    name: String,
    orgs: Vec<Membership>,
}

pub async fn dashboard<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let visitor = Visitor::load(&portal, &headers).await?;
    let (_, user) = visitor.user()?;
    let orgs = portal.registry.memberships(user.id).await;
    let orgs = orgs.map_err(PageError::internal)?;
    Ok(DashboardPage {
        nav: visitor.nav(),
        name: user.display_name.clone(),
        orgs,
    }
    .into_response())
}
