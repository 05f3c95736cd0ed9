//! The portal's JSON API under `/portal/api/v1`: the same operations as the
//! pages, for scripts. Authenticated with `Authorization: Bearer <session token>`
//! from `POST /sessions` (never with the cookie, so it needs no CSRF defence).
//! Errors: `{"errors": [{"field": …, "message": …}]}` with 400, or
//! `{"error": …}` with 401/403/404/429.
//!
//! `account.rs`: sign-up, verification, sessions, password reset;
//! `registry.rs`: organisations, applications, subscriptions, credentials, usage.

mod account;
mod registry;

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use fintechapi_domain::plan::PlanCatalog;
use fintechapi_domain::portal::{MemberRole, Session, User, UserKind};
use fintechapi_domain::registry::{Application, Credential, Organisation, Subscription};
use fintechapi_registry::validation::FieldErrors;
use fintechapi_registry::{Actor, IssuedCredential, RegistryError};
use serde_json::{Value, json};

use super::{Portal, PortalStore};

pub(super) fn routes<R: PortalStore>() -> Router<Arc<Portal<R>>> {
    Router::new()
        .route("/portal/api/openapi.json", get(openapi))
        .merge(account::routes::<R>())
        .merge(registry::routes::<R>())
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

    fn viewer() -> Self {
        Self::status(StatusCode::FORBIDDEN, "viewers cannot change applications")
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

/// The token of `Authorization: Bearer`.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    Some(value.strip_prefix("Bearer ")?.trim())
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
    let token = bearer(headers).ok_or_else(unauthorized)?;
    let (session, user) = portal
        .accounts
        .session(token)
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

/// The organisation if `user` is a member (else "not found", which hides its existence).
async fn org_access<R: PortalStore>(
    portal: &Portal<R>,
    user: &User,
    id: &str,
) -> Result<(Organisation, MemberRole), ApiError> {
    let id = id.parse().map_err(|_| ApiError::not_found())?;
    Ok(portal.registry.organisation_of_member(user.id, id).await?)
}

/// The application if `user`'s organisation owns it; `manage`: and they may change it.
async fn app_access<R: PortalStore>(
    portal: &Portal<R>,
    user: &User,
    id: &str,
    manage: bool,
) -> Result<(Application, Organisation), ApiError> {
    let id = id.parse().map_err(|_| ApiError::not_found())?;
    let (app, org, role) = portal.registry.application_of_member(user.id, id).await?;
    if manage && !role.can_manage_apps() {
        return Err(ApiError::viewer());
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
        "require_signed_request_object": app.require_signed_request_object,
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
        "client_secret": issued.secret(),
    })
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("../../../static/portal-api.openapi.json"),
    )
        .into_response()
}
