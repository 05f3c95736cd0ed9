//! Developer accounts over JSON: sign-up, verification, sessions, password reset.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use fintechapi_domain::portal::UserKind;
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, bearer, body, developer};
use crate::accounts::{AccountError, LoginOutcome, NewSession};
use crate::web::{Portal, PortalStore};

pub(super) fn routes<R: PortalStore>() -> Router<Arc<Portal<R>>> {
    Router::new()
        .route("/portal/api/v1/signup", post(signup::<R>))
        .route("/portal/api/v1/verify", post(verify::<R>))
        .route("/portal/api/v1/sessions", post(log_in::<R>))
        .route("/portal/api/v1/sessions/current", delete(log_out::<R>))
        .route("/portal/api/v1/password-reset", post(reset_request::<R>))
        .route(
            "/portal/api/v1/password-reset/confirm",
            post(reset_confirm::<R>),
        )
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
    let session = session(&portal, &b).await?.map_err(login_refused)?;
    let idle = portal.accounts.settings().session_idle.whole_seconds();
    let answer = json!({"token": session.cookie.expose(), "idle_timeout_seconds": idle});
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// Why a login got no session, as the API answers it.
fn login_refused(e: AccountError) -> ApiError {
    match e {
        AccountError::BadCredentials | AccountError::Unverified | AccountError::BadCode => {
            ApiError::status(StatusCode::UNAUTHORIZED, &e.to_string())
        }
        AccountError::Busy => ApiError::status(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
        e => ApiError::internal(e),
    }
}

/// Both factors in one request: the password, then the TOTP code when the
/// account has one (asked for when missing).
async fn session<R: PortalStore>(
    portal: &Portal<R>,
    b: &LoginBody,
) -> Result<Result<NewSession, AccountError>, ApiError> {
    // No device cookie on the API: its logins are subject to the account lock.
    let accounts = &portal.accounts;
    let outcome = accounts
        .log_in(&b.email, &b.password, UserKind::Developer, None)
        .await;
    Ok(match (outcome, &b.totp_code) {
        (Ok(LoginOutcome::Session(session)), _) => Ok(session),
        (Ok(LoginOutcome::SecondFactor { ticket }), Some(code)) => {
            accounts
                .complete_second_factor(ticket.expose(), code, None)
                .await
        }
        (Ok(LoginOutcome::SecondFactor { .. }), None) => {
            return Err(ApiError::status(
                StatusCode::UNAUTHORIZED,
                "second factor required: send totp_code",
            ));
        }
        (Err(e), _) => Err(e),
    })
}

async fn log_out<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    developer(&portal, &headers).await?;
    if let Some(token) = bearer(&headers) {
        portal
            .accounts
            .log_out(token)
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
