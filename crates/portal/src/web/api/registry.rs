//! Organisations, applications, subscriptions, credentials and usage over JSON.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use fintechapi_domain::ids::CredentialId;
use fintechapi_domain::portal::MemberRole;
use fintechapi_domain::registry::{ApiProduct, Environment, Psd2Roles, SecurityProfile};
use fintechapi_registry::validation::FieldErrors;
use fintechapi_registry::{NewApplication, NewOrganisation};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    ApiError, actor, app_access, application_json, body, credential_json, developer, issued_json,
    org_access, organisation_json, subscription_json,
};
use crate::web::{Portal, PortalStore};

pub(super) fn routes<R: PortalStore>() -> Router<Arc<Portal<R>>> {
    Router::new()
        .route(
            "/portal/api/v1/organisations",
            get(organisations::<R>).post(organisation_create::<R>),
        )
        .route("/portal/api/v1/organisations/{org}", get(organisation::<R>))
        .route(
            "/portal/api/v1/organisations/{org}/applications",
            get(applications::<R>).post(application_create::<R>),
        )
        .route("/portal/api/v1/applications/{app}", get(application::<R>))
        .route("/portal/api/v1/applications/{app}/usage", get(usage::<R>))
        .route(
            "/portal/api/v1/applications/{app}/subscriptions",
            post(subscribe::<R>),
        )
        .route(
            "/portal/api/v1/applications/{app}/credentials",
            post(rotate::<R>),
        )
        .route(
            "/portal/api/v1/applications/{app}/credentials/{credential}",
            delete(revoke::<R>),
        )
}

async fn organisations<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_, user) = developer(&portal, &headers).await?;
    let list = portal
        .registry
        .repo()
        .organisations_of(user.id)
        .await
        .map_err(ApiError::internal)?;
    let out: Vec<Value> = list
        .iter()
        .map(|(o, r)| organisation_json(o, Some(*r)))
        .collect();
    Ok(Json(json!({ "organisations": out })).into_response())
}

#[derive(Deserialize)]
struct OrganisationBody {
    legal_name: String,
    country: String,
    roles: Vec<String>,
    competent_authority: String,
    authorisation_number: String,
}

/// The PSD2 roles the body names.
fn psd2_roles(roles: &[String]) -> Result<Psd2Roles, ApiError> {
    let roles = roles.iter().map(|role| role.parse());
    let roles = roles.collect::<Result<Vec<_>, _>>();
    let roles =
        roles.map_err(|_| ApiError::field("roles", "each role is one of AISP, PISP, PIISP"))?;
    Ok(roles
        .into_iter()
        .fold(Psd2Roles::default(), Psd2Roles::with))
}

async fn organisation_create<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
    input: Result<Json<OrganisationBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let (_, user) = developer(&portal, &headers).await?;
    let b = body(input)?;
    let new = NewOrganisation {
        roles: psd2_roles(&b.roles)?,
        legal_name: b.legal_name,
        country: b.country,
        competent_authority: b.competent_authority,
        authorisation_number: b.authorisation_number,
    };
    let registry = &portal.registry;
    let org = registry
        .create_organisation(&actor(&user), Some(user.id), new)
        .await?;
    let location = format!("/portal/api/v1/organisations/{}", org.id);
    let answer = Json(organisation_json(&org, Some(MemberRole::Owner)));
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], answer).into_response())
}

async fn organisation<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
    Path(org): Path<String>,
) -> Result<Response, ApiError> {
    let (_, user) = developer(&portal, &headers).await?;
    let (org, role) = org_access(&portal, &user, &org).await?;
    Ok(Json(organisation_json(&org, Some(role))).into_response())
}

async fn applications<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
    Path(org): Path<String>,
) -> Result<Response, ApiError> {
    let (_, user) = developer(&portal, &headers).await?;
    let (org, _) = org_access(&portal, &user, &org).await?;
    let apps = portal
        .registry
        .repo()
        .applications_of(org.id)
        .await
        .map_err(ApiError::internal)?;
    Ok(
        Json(json!({ "applications": apps.iter().map(application_json).collect::<Vec<_>>() }))
            .into_response(),
    )
}

#[derive(Deserialize)]
struct ApplicationBody {
    name: String,
    #[serde(default)]
    description: String,
    redirect_uris: Vec<String>,
    security_profile: String,
    environment: String,
    products: Vec<String>,
    /// A JWK Set as JSON, or the same as a string.
    jwks: Option<serde_json::Value>,
    jwks_uri: Option<String>,
    tls_subject_dn: Option<String>,
    #[serde(default)]
    require_signed_request_object: bool,
}

async fn application_create<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
    Path(org): Path<String>,
    input: Result<Json<ApplicationBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let (_, user) = developer(&portal, &headers).await?;
    let (org, role) = org_access(&portal, &user, &org).await?;
    if !role.can_manage_apps() {
        return Err(ApiError::viewer());
    }
    let new = new_application(body(input)?).map_err(|e| ApiError::fields(&e))?;
    let registry = &portal.registry;
    let (app, issued) = registry
        .create_application(&actor(&user), &org, new, false)
        .await?;
    let mut out = application_json(&app);
    out["credentials"] = issued_json(&issued);
    let location = format!("/portal/api/v1/applications/{}", app.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(out),
    )
        .into_response())
}

/// The body read: the application to register, or the field errors of the
/// choices it names.
fn new_application(b: ApplicationBody) -> Result<NewApplication, FieldErrors> {
    let mut errors = FieldErrors::new();
    let security_profile = b
        .security_profile
        .parse::<SecurityProfile>()
        .unwrap_or_else(|_| {
            errors.add("security_profile", "is basic or fapi2");
            SecurityProfile::Basic
        });
    let environment = b.environment.parse::<Environment>().unwrap_or_else(|_| {
        errors.add("environment", "is sandbox or production");
        Environment::Sandbox
    });
    let mut products = Vec::new();
    for p in &b.products {
        match p.parse::<ApiProduct>() {
            Ok(p) => products.push(p),
            Err(_) => errors.add("products", "each product is one of ais, pis, piis"),
        }
    }
    let jwks = match b.jwks {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(text)) => Some(text),
        Some(set @ serde_json::Value::Object(_)) => Some(set.to_string()),
        Some(_) => {
            errors.add("jwks", "is a JWK Set: a JSON object with \"keys\"");
            None
        }
    };
    errors.into_result()?;
    Ok(NewApplication {
        name: b.name,
        description: b.description,
        redirect_uris: b.redirect_uris,
        security_profile,
        jwks,
        jwks_uri: b.jwks_uri,
        tls_subject_dn: b.tls_subject_dn,
        require_signed_request_object: b.require_signed_request_object,
        environment,
        products,
    })
}

async fn application<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
    Path(app): Path<String>,
) -> Result<Response, ApiError> {
    let (_, user) = developer(&portal, &headers).await?;
    let (app, _) = app_access(&portal, &user, &app, false).await?;
    let details = portal.registry.application_details(app.id).await;
    let (subscriptions, credentials) = details.map_err(ApiError::internal)?;
    let now = portal.registry.now();
    let mut out = application_json(&app);
    out["subscriptions"] = subscriptions
        .iter()
        .map(|s| subscription_json(s, &app, portal.meter.plans()))
        .collect();
    out["credentials"] = credentials
        .iter()
        .map(|c| credential_json(c, now))
        .collect();
    Ok(Json(out).into_response())
}

#[derive(Deserialize)]
struct SubscribeBody {
    product: String,
}

async fn subscribe<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
    Path(app): Path<String>,
    input: Result<Json<SubscribeBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let (_, user) = developer(&portal, &headers).await?;
    let (app, org) = app_access(&portal, &user, &app, true).await?;
    let b = body(input)?;
    let product: ApiProduct = b
        .product
        .parse()
        .map_err(|_| ApiError::field("product", "is one of ais, pis, piis"))?;
    portal
        .registry
        .subscribe(&actor(&user), &org, &app, product)
        .await?;
    let subs = portal
        .registry
        .repo()
        .subscriptions_of(app.id)
        .await
        .map_err(ApiError::internal)?;
    let created = subs
        .iter()
        .find(|s| s.product == product)
        .map(|s| subscription_json(s, &app, portal.meter.plans()))
        .unwrap_or_default();
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn rotate<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
    Path(app): Path<String>,
) -> Result<Response, ApiError> {
    let (_, user) = developer(&portal, &headers).await?;
    let (app, _) = app_access(&portal, &user, &app, true).await?;
    let issued = portal.registry.rotate_secret(&actor(&user), app.id).await?;
    Ok((StatusCode::CREATED, Json(issued_json(&issued))).into_response())
}

async fn revoke<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
    Path((app, credential)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (_, user) = developer(&portal, &headers).await?;
    let (app, _) = app_access(&portal, &user, &app, true).await?;
    let credential: CredentialId = credential.parse().map_err(|_| ApiError::not_found())?;
    let registry = &portal.registry;
    registry
        .revoke_of(&actor(&user), app.id, credential)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct UsageQuery {
    days: Option<u16>,
}

async fn usage<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
    Path(app): Path<String>,
    query: Result<axum::extract::Query<UsageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let (_, user) = developer(&portal, &headers).await?;
    let (app, _) = app_access(&portal, &user, &app, false).await?;
    let days = match query.map(|q| q.0.days) {
        Ok(None) => 30,
        Ok(Some(d)) if crate::usage::PERIODS.contains(&d) => d,
        _ => return Err(ApiError::field("days", "must be 7, 30 or 90")),
    };
    let (from, to, rows) = portal
        .usage(app.id, days)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(crate::usage::UsageReport::build(from, to, &rows)).into_response())
}
