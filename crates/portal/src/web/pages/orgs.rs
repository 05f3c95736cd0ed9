//! Organisations: creation, the organisation's page, members and invitations.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::ids::UserId;
use fintechapi_domain::portal::{Invitation, MemberRole, User};
use fintechapi_domain::registry::{Application, Organisation, Psd2Role, Psd2Roles};
use fintechapi_registry::validation::FieldErrors;
use fintechapi_registry::{NewOrganisation, RegistryError};
use serde::Deserialize;

use super::{actor, org_access, see_other};
use crate::web::auth::CsrfForm;
use crate::web::session::{DeveloperPost, Visitor, csrf_protected};
use crate::web::{Nav, PageError, Portal, PortalStore};

csrf_protected!(OrgForm, InviteForm, AcceptForm);

#[derive(Debug, Default, Deserialize)]
pub struct OrgForm {
    #[serde(default)]
    legal_name: String,
    #[serde(default)]
    country: String,
    role_aisp: Option<String>,
    role_pisp: Option<String>,
    role_piisp: Option<String>,
    #[serde(default)]
    competent_authority: String,
    #[serde(default)]
    authorisation_number: String,
    #[serde(default)]
    csrf: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "org_new.html")]
struct OrgFormPage {
    nav: Nav,
    form: OrgForm,
    errors: FieldErrors,
}

pub async fn org_form<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let visitor = Visitor::load(&portal, &headers).await?;
    visitor.user()?;
    let form = OrgForm {
        country: "DE".into(),
        ..OrgForm::default()
    };
    Ok(OrgFormPage {
        nav: visitor.nav(),
        form,
        errors: FieldErrors::new(),
    }
    .into_response())
}

impl OrgForm {
    /// The organisation the form describes, with the roles ticked.
    fn organisation(&self) -> NewOrganisation {
        let ticked = [
            (&self.role_aisp, Psd2Role::Aisp),
            (&self.role_pisp, Psd2Role::Pisp),
            (&self.role_piisp, Psd2Role::Piisp),
        ];
        let ticked = ticked.into_iter().filter(|(checked, _)| checked.is_some());
        NewOrganisation {
            legal_name: self.legal_name.clone(),
            country: self.country.clone(),
            roles: ticked.fold(Psd2Roles::default(), |roles, (_, role)| roles.with(role)),
            competent_authority: self.competent_authority.clone(),
            authorisation_number: self.authorisation_number.clone(),
        }
    }
}

pub async fn org_create<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    post: DeveloperPost<OrgForm>,
) -> Result<Response, PageError> {
    let (visitor, input) = post.into_parts();
    let (_, user) = visitor.user()?;
    let registry = &portal.registry;
    let new = input.organisation();
    match registry
        .create_organisation(&actor(user), Some(user.id), new)
        .await
    {
        Ok(org) => Ok(see_other(&format!("/portal/orgs/{}", org.id))),
        Err(RegistryError::Invalid(errors)) => {
            let page = OrgFormPage {
                nav: visitor.nav(),
                form: input,
                errors,
            };
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
        Err(e) => Err(PageError::internal(e)),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "org.html")]
struct OrgPage {
    nav: Nav,
    org: Organisation,
    role: MemberRole,
    me: UserId,
    apps: Vec<Application>,
    members: Vec<(User, MemberRole)>,
    invitations: Vec<Invitation>,
    invite_email: String,
    errors: FieldErrors,
}

async fn org_view<R: PortalStore>(
    portal: &Portal<R>,
    visitor: &Visitor,
    org: &str,
    invite_email: String,
    errors: FieldErrors,
) -> Result<OrgPage, PageError> {
    let (_, user) = visitor.user()?;
    let (org, role) = org_access(portal, user, org).await?;
    let repo = portal.registry.repo();
    let apps = repo
        .applications_of(org.id)
        .await
        .map_err(PageError::internal)?;
    let members = repo.members_of(org.id).await.map_err(PageError::internal)?;
    let invitations = repo
        .open_invitations(org.id, portal.registry.now())
        .await
        .map_err(PageError::internal)?;
    Ok(OrgPage {
        nav: visitor.nav(),
        org,
        role,
        me: user.id,
        apps,
        members,
        invitations,
        invite_email,
        errors,
    })
}

pub async fn org_page<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
    Path(org): Path<String>,
) -> Result<Response, PageError> {
    let visitor = Visitor::load(&portal, &headers).await?;
    Ok(
        org_view(&portal, &visitor, &org, String::new(), FieldErrors::new())
            .await?
            .into_response(),
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    csrf: String,
}

pub async fn invite<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    Path(org_id): Path<String>,
    post: DeveloperPost<InviteForm>,
) -> Result<Response, PageError> {
    let (visitor, input) = post.into_parts();
    let (_, user) = visitor.user()?;
    let (org, _) = org_access(&portal, user, &org_id).await?;
    match portal
        .registry
        .invite(
            &actor(user),
            user,
            &org,
            &input.email,
            &input.role,
            &portal.public_url,
        )
        .await
    {
        Ok(()) => Ok(see_other(&format!("/portal/orgs/{}", org.id))),
        Err(RegistryError::Invalid(errors)) => {
            let page = org_view(&portal, &visitor, &org_id, input.email, errors).await?;
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
        Err(RegistryError::NotOwner) => Err(PageError::forbidden("Only owners invite members.")),
        Err(e) => Err(PageError::internal(e)),
    }
}

pub async fn remove_member<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    Path((org_id, member)): Path<(String, String)>,
    post: DeveloperPost<CsrfForm>,
) -> Result<Response, PageError> {
    let (visitor, _input) = post.into_parts();
    let (_, user) = visitor.user()?;
    let (org, _) = org_access(&portal, user, &org_id).await?;
    let member: UserId = member.parse().map_err(|_| PageError::not_found())?;
    let registry = &portal.registry;
    match registry
        .remove_member(&actor(user), user.id, org.id, member)
        .await
    {
        Ok(()) => Ok(see_other(&format!("/portal/orgs/{}", org.id))),
        Err(RegistryError::NotOwner) => Err(PageError::forbidden("Only owners remove members.")),
        Err(RegistryError::Invalid(errors)) => Err(PageError::bad_request(&errors.to_string())),
        Err(RegistryError::NotFound) => Err(PageError::not_found()),
        Err(e) => Err(PageError::internal(e)),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "invitation.html")]
struct InvitationPage {
    nav: Nav,
    token: String,
    email: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct InvitationQuery {
    #[serde(default)]
    token: String,
}

pub async fn invitation_form<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<InvitationQuery>,
) -> Result<Response, PageError> {
    let visitor = Visitor::load(&portal, &headers).await?;
    let Ok((_, user)) = visitor.user() else {
        return Ok(crate::web::auth::notice(
            visitor.nav(),
            "Log in to accept",
            "Log in with the address the invitation was sent to (or sign up with it first), then open the link from the mail again.",
            Some(("/portal/login", "Log in")),
        ));
    };
    Ok(InvitationPage {
        nav: visitor.nav(),
        token: q.token,
        email: user.email.to_string(),
    }
    .into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct AcceptForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: String,
}

pub async fn invitation_accept<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    post: DeveloperPost<AcceptForm>,
) -> Result<Response, PageError> {
    let (visitor, input) = post.into_parts();
    let (_, user) = visitor.user()?;
    match portal.registry.accept_invitation(user, &input.token).await {
        Ok(org) => Ok(see_other(&format!("/portal/orgs/{org}"))),
        Err(RegistryError::NotFound) => Err(PageError::new(
            StatusCode::BAD_REQUEST,
            "This invitation is invalid, expired, already used, or addressed to another e-mail address.",
        )),
        Err(e) => Err(PageError::internal(e)),
    }
}
