//! The logged-in portal: organisations, applications, subscriptions, credentials.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::ids::{ApplicationId, CredentialId, OrganisationId, UserId};
use fintechapi_domain::portal::{Invitation, MemberRole, User};
use fintechapi_domain::registry::{
    ApiProduct, Application, Credential, Environment, Organisation, Psd2Role, Psd2Roles,
    SecurityProfile, Subscription,
};
use serde::Deserialize;

use super::auth::CsrfForm;
use super::session::{DeveloperPost, Visitor, csrf_protected};
use super::{Nav, PageError, Portal, PortalStore};
use fintechapi_registry::validation::FieldErrors;
use fintechapi_registry::{
    Actor, IssuedCredential, NewApplication, NewOrganisation, RegistryError,
};

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

csrf_protected!(
    OrgForm,
    AppForm,
    SubscribeForm,
    InviteForm,
    AcceptForm,
    CsrfForm
);

/// The organisation if `user` is a member (else "not found", which hides its existence).
async fn org_access<R: PortalStore>(
    portal: &Portal<R>,
    user: &User,
    id: &str,
) -> Result<(Organisation, MemberRole), PageError> {
    let id: OrganisationId = id.parse().map_err(|_| PageError::not_found())?;
    let repo = portal.registry.repo();
    let role = repo
        .membership(id, user.id)
        .await
        .map_err(PageError::internal)?
        .ok_or_else(PageError::not_found)?;
    let org = repo
        .organisation(id)
        .await
        .map_err(PageError::internal)?
        .ok_or_else(PageError::not_found)?;
    Ok((org, role))
}

async fn app_access<R: PortalStore>(
    portal: &Portal<R>,
    user: &User,
    id: &str,
) -> Result<(Application, Organisation, MemberRole), PageError> {
    let id: ApplicationId = id.parse().map_err(|_| PageError::not_found())?;
    let app = portal
        .registry
        .repo()
        .application(id)
        .await
        .map_err(PageError::internal)?
        .ok_or_else(PageError::not_found)?;
    let (org, role) = org_access(portal, user, &app.organisation_id.to_string()).await?;
    Ok((app, org, role))
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
    Ok(HomePage {
        nav: Nav::default(),
    }
    .into_response())
}

struct OrgSummary {
    org: Organisation,
    role: MemberRole,
    apps: Vec<Application>,
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    nav: Nav,
    name: String,
    orgs: Vec<OrgSummary>,
}

pub async fn dashboard<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let visitor = Visitor::load(&portal, &headers).await?;
    let (_, user) = visitor.user()?;
    let repo = portal.registry.repo();
    let mut orgs = Vec::new();
    for (org, role) in repo
        .organisations_of(user.id)
        .await
        .map_err(PageError::internal)?
    {
        let apps = repo
            .applications_of(org.id)
            .await
            .map_err(PageError::internal)?;
        orgs.push(OrgSummary { org, role, apps });
    }
    Ok(DashboardPage {
        nav: visitor.nav(),
        name: user.display_name.clone(),
        orgs,
    }
    .into_response())
}

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

pub async fn org_create<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    post: DeveloperPost<OrgForm>,
) -> Result<Response, PageError> {
    let (visitor, input) = post.into_parts();
    let (_, user) = visitor.user()?;
    let mut roles = Psd2Roles::default();
    for (checked, role) in [
        (&input.role_aisp, Psd2Role::Aisp),
        (&input.role_pisp, Psd2Role::Pisp),
        (&input.role_piisp, Psd2Role::Piisp),
    ] {
        if checked.is_some() {
            roles = roles.with(role);
        }
    }
    let new = NewOrganisation {
        legal_name: input.legal_name.clone(),
        country: input.country.clone(),
        roles,
        competent_authority: input.competent_authority.clone(),
        authorisation_number: input.authorisation_number.clone(),
    };
    match portal
        .registry
        .create_organisation(&actor(user), Some(user.id), new)
        .await
    {
        Ok(org) => Ok(see_other(&format!("/portal/orgs/{}", org.id))),
        Err(RegistryError::Invalid(errors)) => Ok((
            StatusCode::BAD_REQUEST,
            OrgFormPage {
                nav: visitor.nav(),
                form: input,
                errors,
            },
        )
            .into_response()),
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
    let (org, role) = org_access(&portal, user, &org_id).await?;
    if role != MemberRole::Owner {
        return Err(PageError::forbidden("Only owners remove members."));
    }
    let member: UserId = member.parse().map_err(|_| PageError::not_found())?;
    match portal
        .registry
        .remove_member(&actor(user), org.id, member)
        .await
    {
        Ok(()) => Ok(see_other(&format!("/portal/orgs/{}", org.id))),
        Err(RegistryError::Invalid(errors)) => {
            Err(PageError::new(StatusCode::BAD_REQUEST, errors.to_string()))
        }
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
        return Ok(super::auth::notice(
            Nav::default(),
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

#[derive(Debug, Default, Deserialize)]
pub struct AppForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    redirect_uris: String,
    #[serde(default)]
    security_profile: String,
    #[serde(default)]
    jwks_uri: String,
    #[serde(default)]
    jwks: String,
    #[serde(default)]
    tls_subject_dn: String,
    #[serde(default)]
    environment: String,
    product_ais: Option<String>,
    product_pis: Option<String>,
    product_piis: Option<String>,
    #[serde(default)]
    csrf: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "app_new.html")]
struct AppFormPage {
    nav: Nav,
    org: Organisation,
    form: AppForm,
    errors: FieldErrors,
    sandbox_only: bool,
}

pub async fn app_form<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
    Path(org): Path<String>,
) -> Result<Response, PageError> {
    let visitor = Visitor::load(&portal, &headers).await?;
    let (_, user) = visitor.user()?;
    let (org, role) = org_access(&portal, user, &org).await?;
    require_manager(role)?;
    let form = AppForm {
        security_profile: "basic".into(),
        environment: "sandbox".into(),
        ..AppForm::default()
    };
    Ok(AppFormPage {
        nav: visitor.nav(),
        org,
        form,
        errors: FieldErrors::new(),
        sandbox_only: portal.sandbox,
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "credentials.html")]
struct CredentialsPage {
    nav: Nav,
    app: Application,
    consumer_key: String,
    consumer_secret: String,
    rotated: bool,
}

fn show_credentials(
    nav: Nav,
    app: Application,
    issued: IssuedCredential,
    rotated: bool,
) -> Response {
    CredentialsPage {
        nav,
        app,
        consumer_key: issued.consumer_key,
        consumer_secret: issued.consumer_secret.expose().to_owned(),
        rotated,
    }
    .into_response()
}

pub async fn app_create<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    Path(org): Path<String>,
    post: DeveloperPost<AppForm>,
) -> Result<Response, PageError> {
    let (visitor, input) = post.into_parts();
    let (_, user) = visitor.user()?;
    let (org, role) = org_access(&portal, user, &org).await?;
    require_manager(role)?;
    let mut errors = FieldErrors::new();
    let security_profile = input
        .security_profile
        .parse::<SecurityProfile>()
        .unwrap_or_else(|_| {
            errors.add("security_profile", "choose basic or fapi2");
            SecurityProfile::Basic
        });
    let environment = input
        .environment
        .parse::<Environment>()
        .unwrap_or_else(|_| {
            errors.add("environment", "choose sandbox or production");
            Environment::Sandbox
        });
    if !errors.is_empty() {
        return Ok((
            StatusCode::BAD_REQUEST,
            AppFormPage {
                nav: visitor.nav(),
                org,
                form: input,
                errors,
                sandbox_only: portal.sandbox,
            },
        )
            .into_response());
    }
    let products = [
        (&input.product_ais, ApiProduct::Ais),
        (&input.product_pis, ApiProduct::Pis),
        (&input.product_piis, ApiProduct::Piis),
    ]
    .into_iter()
    .filter(|(checked, _)| checked.is_some())
    .map(|(_, p)| p)
    .collect();
    let optional = |s: &str| Some(s.to_owned()).filter(|s| !s.trim().is_empty());
    let new = NewApplication {
        name: input.name.clone(),
        description: input.description.clone(),
        redirect_uris: input.redirect_uris.lines().map(str::to_owned).collect(),
        security_profile,
        jwks: optional(&input.jwks),
        jwks_uri: optional(&input.jwks_uri),
        tls_subject_dn: optional(&input.tls_subject_dn),
        environment,
        products,
    };
    match portal
        .registry
        .create_application(&actor(user), &org, new, false)
        .await
    {
        Ok((app, issued)) => Ok(show_credentials(visitor.nav(), app, issued, false)),
        Err(RegistryError::Invalid(errors)) => Ok((
            StatusCode::BAD_REQUEST,
            AppFormPage {
                nav: visitor.nav(),
                org,
                form: input,
                errors,
                sandbox_only: portal.sandbox,
            },
        )
            .into_response()),
        Err(e) => Err(PageError::internal(e)),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "app.html")]
struct AppPage {
    nav: Nav,
    app: Application,
    org: Organisation,
    can_manage: bool,
    subscriptions: Vec<Subscription>,
    credentials: Vec<Credential>,
    now: time::OffsetDateTime,
    available_products: Vec<ApiProduct>,
}

pub async fn app_page<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
    Path(app): Path<String>,
) -> Result<Response, PageError> {
    let visitor = Visitor::load(&portal, &headers).await?;
    let (_, user) = visitor.user()?;
    let (app, org, role) = app_access(&portal, user, &app).await?;
    let repo = portal.registry.repo();
    let subscriptions = repo
        .subscriptions_of(app.id)
        .await
        .map_err(PageError::internal)?;
    let credentials = repo
        .credentials_of(app.id)
        .await
        .map_err(PageError::internal)?;
    let available_products = ApiProduct::ALL
        .into_iter()
        .filter(|p| {
            org.roles.has(p.required_role()) && !subscriptions.iter().any(|s| s.product == *p)
        })
        .collect();
    Ok(AppPage {
        nav: visitor.nav(),
        app,
        org,
        can_manage: role.can_manage_apps(),
        subscriptions,
        credentials,
        now: portal.registry.now(),
        available_products,
    }
    .into_response())
}

pub async fn app_rotate<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    Path(app): Path<String>,
    post: DeveloperPost<CsrfForm>,
) -> Result<Response, PageError> {
    let (visitor, _input) = post.into_parts();
    let (_, user) = visitor.user()?;
    let (app, _, role) = app_access(&portal, user, &app).await?;
    require_manager(role)?;
    let issued = portal
        .registry
        .rotate_secret(&actor(user), app.id)
        .await
        .map_err(PageError::internal)?;
    Ok(show_credentials(visitor.nav(), app, issued, true))
}

pub async fn credential_revoke<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    Path((app, credential)): Path<(String, String)>,
    post: DeveloperPost<CsrfForm>,
) -> Result<Response, PageError> {
    let (visitor, _input) = post.into_parts();
    let (_, user) = visitor.user()?;
    let (app, _, role) = app_access(&portal, user, &app).await?;
    require_manager(role)?;
    let credential: CredentialId = credential.parse().map_err(|_| PageError::not_found())?;
    let owned = portal
        .registry
        .repo()
        .credentials_of(app.id)
        .await
        .map_err(PageError::internal)?;
    if !owned.iter().any(|c| c.id == credential) {
        return Err(PageError::not_found());
    }
    portal
        .registry
        .revoke(&actor(user), credential)
        .await
        .map_err(PageError::internal)?;
    Ok(see_other(&format!("/portal/apps/{}", app.id)))
}

#[derive(Debug, Default, Deserialize)]
pub struct SubscribeForm {
    #[serde(default)]
    product: String,
    #[serde(default)]
    csrf: String,
}

pub async fn subscribe<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    Path(app): Path<String>,
    post: DeveloperPost<SubscribeForm>,
) -> Result<Response, PageError> {
    let (visitor, input) = post.into_parts();
    let (_, user) = visitor.user()?;
    let (app, org, role) = app_access(&portal, user, &app).await?;
    require_manager(role)?;
    let product: ApiProduct = input
        .product
        .parse()
        .map_err(|_| PageError::new(StatusCode::BAD_REQUEST, "Unknown API product."))?;
    match portal
        .registry
        .subscribe(&actor(user), &org, &app, product)
        .await
    {
        Ok(()) => Ok(see_other(&format!("/portal/apps/{}", app.id))),
        Err(RegistryError::Invalid(errors)) => {
            Err(PageError::new(StatusCode::BAD_REQUEST, errors.to_string()))
        }
        Err(e) => Err(PageError::internal(e)),
    }
}

#[derive(Deserialize)]
pub struct UsageQuery {
    days: Option<u16>,
}

impl UsageQuery {
    fn days(&self) -> Result<u16, PageError> {
        match self.days {
            None => Ok(30),
            Some(d) if crate::usage::PERIODS.contains(&d) => Ok(d),
            Some(_) => Err(PageError::bad_request(
                "The period must be 7, 30 or 90 days.",
            )),
        }
    }
}

/// The report for an application the visitor's organisation owns. Pending
/// counts are written first, so the page includes the calls just made.
async fn usage_rows<R: PortalStore>(
    portal: &Portal<R>,
    app: &Application,
    days: u16,
) -> Result<
    (
        time::Date,
        time::Date,
        Vec<fintechapi_domain::usage::UsageRow>,
    ),
    PageError,
> {
    if let Err(e) = portal.meter.flush().await {
        tracing::warn!(error = %e, "could not write pending usage before a report");
    }
    let (from, to) = crate::usage::period(portal.registry.now().date(), days);
    let rows = portal
        .registry
        .repo()
        .usage(app.id, from, to)
        .await
        .map_err(PageError::internal)?;
    Ok((from, to, rows))
}

#[derive(Template, WebTemplate)]
#[template(path = "usage.html")]
struct UsagePage {
    nav: Nav,
    app: Application,
    org: Organisation,
    days: u16,
    periods: [u16; 3],
    report: crate::usage::UsageReport,
    chart: String,
}

pub async fn usage<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
    Path(app): Path<String>,
    axum::extract::Query(query): axum::extract::Query<UsageQuery>,
) -> Result<Response, PageError> {
    let visitor = Visitor::load(&portal, &headers).await?;
    let (_, user) = visitor.user()?;
    let (app, org, _) = app_access(&portal, user, &app).await?;
    let days = query.days()?;
    let (from, to, rows) = usage_rows(&portal, &app, days).await?;
    let report = crate::usage::UsageReport::build(from, to, &rows);
    Ok(UsagePage {
        nav: visitor.nav(),
        chart: report.svg(),
        app,
        org,
        days,
        periods: crate::usage::PERIODS,
        report,
    }
    .into_response())
}

pub async fn usage_csv<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
    Path(app): Path<String>,
    axum::extract::Query(query): axum::extract::Query<UsageQuery>,
) -> Result<Response, PageError> {
    let visitor = Visitor::load(&portal, &headers).await?;
    let (_, user) = visitor.user()?;
    let (app, _, _) = app_access(&portal, user, &app).await?;
    let (from, to, rows) = usage_rows(&portal, &app, query.days()?).await?;
    let filename = format!("attachment; filename=\"usage-{}-{from}-{to}.csv\"", app.id);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, filename),
        ],
        crate::usage::UsageReport::csv(&rows),
    )
        .into_response())
}
