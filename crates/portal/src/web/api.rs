//! The portal's JSON API under `/portal/api/v1`: the same operations as the
//! pages, for scripts. Authenticated with `Authorization: Bearer <session token>`
//! from `POST /sessions` (never with the cookie, so it needs no CSRF defence).
//! Errors: `{"errors": [{"field": …, "message": …}]}` with 400, or
//! `{"error": …}` with 401/403/404/429.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use fintechapi_domain::ids::{ApplicationId, CredentialId, OrganisationId};
use fintechapi_domain::plan::PlanCatalog;
use fintechapi_domain::portal::{MemberRole, Session, User, UserKind};
use fintechapi_domain::registry::{
    ApiProduct, Application, Credential, Environment, Organisation, Psd2Roles, SecurityProfile,
    Subscription,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Portal, PortalStore};
use crate::accounts::{AccountError, LoginOutcome};
use fintechapi_registry::validation::FieldErrors;
use fintechapi_registry::{
    Actor, IssuedCredential, NewApplication, NewOrganisation, RegistryError,
};

pub(super) fn routes<R: PortalStore>() -> Router<Arc<Portal<R>>> {
    Router::new()
        .route("/portal/api/openapi.json", get(openapi))
        .route("/portal/api/v1/signup", post(signup::<R>))
        .route("/portal/api/v1/verify", post(verify::<R>))
        .route("/portal/api/v1/sessions", post(log_in::<R>))
        .route("/portal/api/v1/sessions/current", delete(log_out::<R>))
        .route("/portal/api/v1/password-reset", post(reset_request::<R>))
        .route(
            "/portal/api/v1/password-reset/confirm",
            post(reset_confirm::<R>),
        )
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

/// A JSON error answer.
pub struct ApiError(StatusCode, Value);

impl ApiError {
    fn fields(errors: &FieldErrors) -> Self {
        let list: Vec<Value> = errors
            .iter()
            .map(|(f, m)| json!({"field": f, "message": m}))
            .collect();
        Self(StatusCode::BAD_REQUEST, json!({ "errors": list }))
    }

    fn field(field: &str, message: &str) -> Self {
        Self(
            StatusCode::BAD_REQUEST,
            json!({"errors": [{"field": field, "message": message}]}),
        )
    }

    fn status(status: StatusCode, message: &str) -> Self {
        Self(status, json!({ "error": message }))
    }

    fn not_found() -> Self {
        Self::status(StatusCode::NOT_FOUND, "not found")
    }

    fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "portal API request failed");
        Self::status(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.0, Json(self.1)).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::Invalid(errors) => Self::fields(&errors),
            RegistryError::NotFound => Self::not_found(),
            other => Self::internal(other),
        }
    }
}

fn body<T>(input: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    input
        .map(|Json(v)| v)
        .map_err(|e| ApiError::field("body", &e.body_text()))
}

/// The developer behind the bearer token.
async fn developer<R: PortalStore>(
    portal: &Portal<R>,
    headers: &HeaderMap,
) -> Result<(Session, User), ApiError> {
    let unauthorized = || {
        ApiError::status(
            StatusCode::UNAUTHORIZED,
            "a valid session token is required",
        )
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(unauthorized)?;
    let (session, user) = portal
        .accounts
        .session(token.trim())
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(unauthorized)?;
    if user.kind != UserKind::Developer {
        return Err(unauthorized());
    }
    Ok((session, user))
}

fn actor(user: &User) -> Actor {
    Actor(user.email.to_string())
}

async fn org_access<R: PortalStore>(
    portal: &Portal<R>,
    user: &User,
    id: &str,
) -> Result<(Organisation, MemberRole), ApiError> {
    let id: OrganisationId = id.parse().map_err(|_| ApiError::not_found())?;
    let repo = portal.registry.repo();
    let role = repo
        .membership(id, user.id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(ApiError::not_found)?;
    let org = repo
        .organisation(id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(ApiError::not_found)?;
    Ok((org, role))
}

async fn app_access<R: PortalStore>(
    portal: &Portal<R>,
    user: &User,
    id: &str,
    manage: bool,
) -> Result<(Application, Organisation), ApiError> {
    let id: ApplicationId = id.parse().map_err(|_| ApiError::not_found())?;
    let app = portal
        .registry
        .repo()
        .application(id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(ApiError::not_found)?;
    let (org, role) = org_access(portal, user, &app.organisation_id.to_string()).await?;
    if manage && !role.can_manage_apps() {
        return Err(ApiError::status(
            StatusCode::FORBIDDEN,
            "viewers cannot change applications",
        ));
    }
    Ok((app, org))
}

fn organisation_json(org: &Organisation, role: Option<MemberRole>) -> Value {
    json!({
        "id": org.id.to_string(),
        "legal_name": org.legal_name,
        "country": org.country,
        "roles": org.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "competent_authority": org.competent_authority,
        "authorisation_number": org.authorisation_number,
        "status": org.status.as_str(),
        "your_role": role.map(|r| r.as_str()),
    })
}

fn application_json(app: &Application) -> Value {
    json!({
        "id": app.id.to_string(),
        "organisation_id": app.organisation_id.to_string(),
        "name": app.name,
        "description": app.description,
        "redirect_uris": app.redirect_uris.iter().map(|u| u.as_str()).collect::<Vec<_>>(),
        "security_profile": app.security_profile.as_str(),
        "jwks_uri": app.jwks_uri,
        "tls_subject_dn": app.tls_subject_dn,
        "environment": app.environment.as_str(),
        "status": app.status.as_str(),
        "created_at": app.created_at.unix_timestamp(),
    })
}

/// A subscription with the limits in force: its tier's, or those of the
/// plan an operator assigned to the application.
fn subscription_json(s: &Subscription, app: &Application, plans: &PlanCatalog) -> Value {
    let in_force = plans.in_force(app.assigned_plan.as_deref(), s.plan);
    json!({
        "id": s.id.to_string(),
        "product": s.product.as_str(),
        "plan": s.plan.as_str(),
        "plan_in_force": in_force.name,
        "requests_per_second": in_force.per_second,
        "requests_per_day": in_force.per_day,
        "status": s.status.as_str(),
        "reason": s.reason,
    })
}

fn credential_json(c: &Credential, now: time::OffsetDateTime) -> Value {
    json!({
        "id": c.id.to_string(),
        "client_id": c.consumer_key,
        "created_at": c.created_at.unix_timestamp(),
        "expires_at": c.expires_at.map(|t| t.unix_timestamp()),
        "revoked_at": c.revoked_at.map(|t| t.unix_timestamp()),
        "last_used_at": c.last_used_at.map(|t| t.unix_timestamp()),
        "usable": c.is_usable_at(now),
    })
}

fn issued_json(issued: &IssuedCredential) -> Value {
    json!({
        "application_id": issued.application.to_string(),
        "client_id": issued.consumer_key,
        "client_secret": issued.consumer_secret.expose(),
    })
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("../../static/portal-api.openapi.json"),
    )
        .into_response()
}

#[derive(Deserialize)]
struct SignupBody {
    email: String,
    password: String,
    display_name: String,
}

async fn signup<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    input: Result<Json<SignupBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let b = body(input)?;
    match portal
        .accounts
        .sign_up(&b.email, &b.password, &b.display_name)
        .await
    {
        Ok(()) => Ok((
            StatusCode::ACCEPTED,
            Json(json!({"status": "verification_sent"})),
        )
            .into_response()),
        Err(AccountError::Invalid(errors)) => Err(ApiError::fields(&errors)),
        Err(e) => Err(ApiError::internal(e)),
    }
}

#[derive(Deserialize)]
struct TokenBody {
    token: String,
}

async fn verify<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    input: Result<Json<TokenBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let b = body(input)?;
    match portal.accounts.verify_email(&b.token).await {
        Ok(()) => Ok(Json(json!({"status": "verified"})).into_response()),
        Err(AccountError::BadToken) => Err(ApiError::field("token", "is invalid, used or expired")),
        Err(e) => Err(ApiError::internal(e)),
    }
}

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: String,
    /// Required when the account has TOTP turned on.
    totp_code: Option<String>,
}

async fn log_in<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    input: Result<Json<LoginBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let b = body(input)?;
    if portal.login_throttle.allow(peer.ip()).await.is_err() {
        return Err(ApiError::status(
            StatusCode::TOO_MANY_REQUESTS,
            "too many login attempts from this address",
        ));
    }
    // No device cookie on the API: its logins are subject to the account lock.
    let outcome = portal
        .accounts
        .log_in(&b.email, &b.password, UserKind::Developer, None)
        .await;
    let session = match outcome {
        Ok(LoginOutcome::Session(session)) => Ok(session),
        Ok(LoginOutcome::SecondFactor { ticket }) => match &b.totp_code {
            Some(code) => {
                portal
                    .accounts
                    .complete_second_factor(ticket.expose(), code, None)
                    .await
            }
            None => {
                return Err(ApiError::status(
                    StatusCode::UNAUTHORIZED,
                    "second factor required: send totp_code",
                ));
            }
        },
        Err(e) => Err(e),
    };
    match session {
        Ok(session) => {
            let idle = portal.accounts.settings().session_idle.whole_seconds();
            Ok((
                StatusCode::CREATED,
                Json(json!({"token": session.cookie.expose(), "idle_timeout_seconds": idle})),
            )
                .into_response())
        }
        Err(
            e @ (AccountError::BadCredentials | AccountError::Unverified | AccountError::BadCode),
        ) => Err(ApiError::status(StatusCode::UNAUTHORIZED, &e.to_string())),
        Err(e @ AccountError::Busy) => Err(ApiError::status(
            StatusCode::SERVICE_UNAVAILABLE,
            &e.to_string(),
        )),
        Err(e) => Err(ApiError::internal(e)),
    }
}

async fn log_out<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    developer(&portal, &headers).await?;
    if let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        portal
            .accounts
            .log_out(token.trim())
            .await
            .map_err(ApiError::internal)?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct ResetBody {
    email: String,
}

async fn reset_request<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    input: Result<Json<ResetBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let b = body(input)?;
    portal
        .accounts
        .request_password_reset(&b.email)
        .await
        .map_err(ApiError::internal)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"status": "reset_link_sent_if_registered"})),
    )
        .into_response())
}

#[derive(Deserialize)]
struct ResetConfirmBody {
    token: String,
    password: String,
}

async fn reset_confirm<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    input: Result<Json<ResetConfirmBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let b = body(input)?;
    match portal.accounts.reset_password(&b.token, &b.password).await {
        Ok(()) => Ok(Json(json!({"status": "password_changed"})).into_response()),
        Err(AccountError::Invalid(errors)) => Err(ApiError::fields(&errors)),
        Err(AccountError::BadToken) => Err(ApiError::field("token", "is invalid, used or expired")),
        Err(e) => Err(ApiError::internal(e)),
    }
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

async fn organisation_create<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
    input: Result<Json<OrganisationBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let (_, user) = developer(&portal, &headers).await?;
    let b = body(input)?;
    let mut roles = Psd2Roles::default();
    for role in &b.roles {
        roles = roles.with(
            role.parse()
                .map_err(|_| ApiError::field("roles", "each role is one of AISP, PISP, PIISP"))?,
        );
    }
    let new = NewOrganisation {
        legal_name: b.legal_name,
        country: b.country,
        roles,
        competent_authority: b.competent_authority,
        authorisation_number: b.authorisation_number,
    };
    let org = portal
        .registry
        .create_organisation(&actor(&user), Some(user.id), new)
        .await?;
    Ok((
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/portal/api/v1/organisations/{}", org.id),
        )],
        Json(organisation_json(&org, Some(MemberRole::Owner))),
    )
        .into_response())
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
    jwks: Option<String>,
    jwks_uri: Option<String>,
    tls_subject_dn: Option<String>,
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
        return Err(ApiError::status(
            StatusCode::FORBIDDEN,
            "viewers cannot change applications",
        ));
    }
    let b = body(input)?;
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
    if !errors.is_empty() {
        return Err(ApiError::fields(&errors));
    }
    let new = NewApplication {
        name: b.name,
        description: b.description,
        redirect_uris: b.redirect_uris,
        security_profile,
        jwks: b.jwks,
        jwks_uri: b.jwks_uri,
        tls_subject_dn: b.tls_subject_dn,
        environment,
        products,
    };
    let (app, issued) = portal
        .registry
        .create_application(&actor(&user), &org, new, false)
        .await?;
    let mut out = application_json(&app);
    out["credentials"] = issued_json(&issued);
    Ok((
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/portal/api/v1/applications/{}", app.id),
        )],
        Json(out),
    )
        .into_response())
}

async fn application<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
    Path(app): Path<String>,
) -> Result<Response, ApiError> {
    let (_, user) = developer(&portal, &headers).await?;
    let (app, _) = app_access(&portal, &user, &app, false).await?;
    let repo = portal.registry.repo();
    let subscriptions = repo
        .subscriptions_of(app.id)
        .await
        .map_err(ApiError::internal)?;
    let credentials = repo
        .credentials_of(app.id)
        .await
        .map_err(ApiError::internal)?;
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
    let owned = portal
        .registry
        .repo()
        .credentials_of(app.id)
        .await
        .map_err(ApiError::internal)?;
    if !owned.iter().any(|c| c.id == credential) {
        return Err(ApiError::not_found());
    }
    portal.registry.revoke(&actor(&user), credential).await?;
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
    if let Err(e) = portal.meter.flush().await {
        tracing::warn!(error = %e, "could not write pending usage before a report");
    }
    let (from, to) = crate::usage::period(portal.registry.now().date(), days);
    let rows = portal
        .registry
        .repo()
        .usage(app.id, from, to)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(crate::usage::UsageReport::build(from, to, &rows)).into_response())
}
