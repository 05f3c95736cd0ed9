//! Applications: registration, their page, credentials and subscriptions.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::ids::CredentialId;
use fintechapi_domain::registry::{
    ApiProduct, Application, Credential, Environment, Organisation, SecurityProfile, Subscription,
};
use fintechapi_registry::validation::FieldErrors;
use fintechapi_registry::{IssuedCredential, NewApplication, RegistryError};
use serde::Deserialize;

use super::{actor, app_access, managed_app, org_access, require_manager, see_other};
use crate::web::auth::CsrfForm;
use crate::web::session::{DeveloperPost, Visitor, csrf_protected};
use crate::web::{Nav, PageError, Portal, PortalStore};

csrf_protected!(AppForm, SubscribeForm);

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
    require_signed_request_object: Option<String>,
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

impl AppFormPage {
    fn new<R>(portal: &Portal<R>, nav: Nav, org: Organisation, form: AppForm) -> Self {
        Self {
            nav,
            org,
            form,
            errors: FieldErrors::new(),
            sandbox_only: portal.sandbox,
        }
    }
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
    Ok(AppFormPage::new(&portal, visitor.nav(), org, form).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "credentials.html")]
struct CredentialsPage {
    nav: Nav,
    app: Application,
    consumer_key: String,
    /// None for applications that authenticate with a private key or certificate.
    consumer_secret: Option<String>,
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
        consumer_secret: issued.secret().map(str::to_owned),
        consumer_key: issued.consumer_key,
        rotated,
    }
    .into_response()
}

/// The registration form read: the application to register, or the field
/// errors of the choices the form offers.
fn new_application(input: &AppForm) -> Result<NewApplication, FieldErrors> {
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
    errors.into_result()?;
    let products = [
        (&input.product_ais, ApiProduct::Ais),
        (&input.product_pis, ApiProduct::Pis),
        (&input.product_piis, ApiProduct::Piis),
    ];
    let products = products
        .into_iter()
        .filter(|(checked, _)| checked.is_some());
    let optional = |s: &str| Some(s.to_owned()).filter(|s| !s.trim().is_empty());
    Ok(NewApplication {
        name: input.name.clone(),
        description: input.description.clone(),
        redirect_uris: input.redirect_uris.lines().map(str::to_owned).collect(),
        security_profile,
        jwks: optional(&input.jwks),
        jwks_uri: optional(&input.jwks_uri),
        tls_subject_dn: optional(&input.tls_subject_dn),
        require_signed_request_object: input.require_signed_request_object.is_some(),
        environment,
        products: products.map(|(_, p)| p).collect(),
    })
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
    let registry = &portal.registry;
    let created = match new_application(&input) {
        Ok(new) => {
            registry
                .create_application(&actor(user), &org, new, false)
                .await
        }
        Err(errors) => Err(errors.into()),
    };
    match created {
        Ok((app, issued)) => Ok(show_credentials(visitor.nav(), app, issued, false)),
        Err(RegistryError::Invalid(errors)) => {
            let page = AppFormPage {
                errors,
                ..AppFormPage::new(&portal, visitor.nav(), org, input)
            };
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
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

/// The products the organisation's roles allow that the application has no
/// subscription to yet.
fn available_products(org: &Organisation, subscriptions: &[Subscription]) -> Vec<ApiProduct> {
    ApiProduct::ALL
        .iter()
        .copied()
        .filter(|p| {
            org.roles.has(p.required_role()) && !subscriptions.iter().any(|s| s.product == *p)
        })
        .collect()
}

pub async fn app_page<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
    Path(app): Path<String>,
) -> Result<Response, PageError> {
    let visitor = Visitor::load(&portal, &headers).await?;
    let (_, user) = visitor.user()?;
    let (app, org, role) = app_access(&portal, user, &app).await?;
    let details = portal.registry.application_details(app.id).await;
    let (subscriptions, credentials) = details.map_err(PageError::internal)?;
    let available_products = available_products(&org, &subscriptions);
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
    let m = managed_app(&portal, post, &app).await?;
    let issued = portal
        .registry
        .rotate_secret(&actor(&m.user), m.app.id)
        .await;
    let issued = issued.map_err(PageError::internal)?;
    Ok(show_credentials(m.visitor.nav(), m.app, issued, true))
}

pub async fn credential_revoke<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    Path((app, credential)): Path<(String, String)>,
    post: DeveloperPost<CsrfForm>,
) -> Result<Response, PageError> {
    let m = managed_app(&portal, post, &app).await?;
    let credential: CredentialId = credential.parse().map_err(|_| PageError::not_found())?;
    match portal
        .registry
        .revoke_of(&actor(&m.user), m.app.id, credential)
        .await
    {
        Ok(()) => Ok(see_other(&format!("/portal/apps/{}", m.app.id))),
        Err(RegistryError::NotFound) => Err(PageError::not_found()),
        Err(e) => Err(PageError::internal(e)),
    }
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
    let m = managed_app(&portal, post, &app).await?;
    let product: ApiProduct = m
        .form
        .product
        .parse()
        .map_err(|_| PageError::bad_request("Unknown API product."))?;
    match portal
        .registry
        .subscribe(&actor(&m.user), &m.org, &m.app, product)
        .await
    {
        Ok(()) => Ok(see_other(&format!("/portal/apps/{}", m.app.id))),
        Err(RegistryError::Invalid(errors)) => {
            Err(PageError::new(StatusCode::BAD_REQUEST, errors.to_string()))
        }
        Err(e) => Err(PageError::internal(e)),
    }
}
