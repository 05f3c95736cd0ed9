//! The OAuth endpoints over HTTP: form bodies in, RFC 6749 JSON out, every
//! call by an authenticated client metered and throttled by its plan; failed
//! client authentications throttled per address and client_id. `params.rs`:
//! the form body; `client.rs`: the calling client, authenticated and
//! admitted (`ClientCall`); `userinfo.rs`: OpenID Connect's userinfo, called
//! with an access token.

mod client;
mod params;
mod userinfo;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use fintechapi_domain::usage::UsageRepository;
use fintechapi_metering::{Meter, record_usage};

use self::client::{ClientCall, dpop_key, metered_ok, sender};
use self::params::{MAX_FORM_BYTES, Params};
use crate::error::{ErrorCode, OAuthError};
use crate::server::{AsRepo, AuthorizationServer, PushedRequest};
use crate::throttle::ClientAuthThrottle;
#[cfg(fuzzing)]
use axum::extract::FromRequest;

/// RFC 9101 §5 with FAPI 2.0 Message Signing: beside a request object only
/// the client's identification and authentication; every other parameter
/// must be inside it.
const BESIDE_REQUEST_OBJECT: [&str; 5] = [
    "request",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
];

/// The storage the authorization server runs on.
pub trait OAuthStore: AsRepo + UsageRepository + 'static {}
impl<T> OAuthStore for T where T: AsRepo + UsageRepository + 'static {}

pub struct OAuthService<R> {
    pub server: AuthorizationServer<R>,
    pub meter: Arc<Meter<R>>,
    /// Failed client authentications per address and client_id.
    pub client_auth: ClientAuthThrottle,
}

pub fn router<R: OAuthStore>(service: Arc<OAuthService<R>>) -> Router {
    let meter = service.meter.clone();
    Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(metadata::<R>),
        )
        .route("/.well-known/openid-configuration", get(metadata::<R>))
        .route("/oauth2/jwks", get(jwks::<R>))
        .route(
            "/oauth2/userinfo",
            get(userinfo::userinfo::<R>).post(userinfo::userinfo::<R>),
        )
        .route("/oauth2/par", post(par::<R>))
        .route("/oauth2/token", post(token::<R>))
        .route("/oauth2/introspect", post(introspect::<R>))
        .route("/oauth2/revoke", post(revoke::<R>))
        .with_state(service.clone())
        .layer(record_usage(meter))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
}

async fn metadata<R: OAuthStore>(State(service): State<Arc<OAuthService<R>>>) -> Response {
    let mut response = Json(service.server.metadata()).into_response();
    // Public and stable: clients may cache it briefly.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

async fn jwks<R: OAuthStore>(State(service): State<Arc<OAuthService<R>>>) -> Response {
    match service.server.jwks().await {
        Ok(keys) => {
            let mut response = Json(keys).into_response();
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            );
            response
        }
        Err(e) => OAuthError::from(e).into_response(),
    }
}

/// Every answer of the token and PAR endpoints carries a fresh DPoP nonce.
fn with_nonce<R: OAuthStore>(service: &OAuthService<R>, mut response: Response) -> Response {
    if let Ok(value) = HeaderValue::from_str(&service.server.dpop_nonce()) {
        response.headers_mut().insert("dpop-nonce", value);
    }
    response
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

async fn token<R: OAuthStore>(
    State(service): State<Arc<OAuthService<R>>>,
    call: ClientCall,
) -> Response {
    let result = grant(&service, &call).await;
    with_nonce(&service, metered_ok(&call.client, result))
}

/// The grant the token request asks for.
async fn grant<R: OAuthStore>(
    service: &OAuthService<R>,
    call: &ClientCall,
) -> Result<Response, OAuthError> {
    let (params, client) = (&call.params, &call.client);
    let grant_type = params.require("grant_type")?;
    let server = &service.server;
    let proof = || sender(service, &call.headers, call.certificate.as_ref());
    let issued = match grant_type {
        "client_credentials" => {
            server
                .client_credentials(client, params.get("scope"), &proof().await?)
                .await?
        }
        "authorization_code" => {
            let sender = proof().await?;
            let (code, redirect_uri) = (params.require("code")?, params.get("redirect_uri"));
            let verifier = params.get("code_verifier");
            server
                .exchange_code(client, code, redirect_uri, verifier, &sender)
                .await?
        }
        "refresh_token" => {
            let sender = proof().await?;
            server
                .refresh(client, params.require("refresh_token")?, &sender)
                .await?
        }
        other => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                format!(
                    "grant_type {other:?} is not supported; this server offers \
                     authorization_code, refresh_token and client_credentials"
                ),
            ));
        }
    };
    Ok(no_store(Json(issued).into_response()))
}

/// RFC 9126: the client pushes its authorization request and gets a `request_uri`.
async fn par<R: OAuthStore>(
    State(service): State<Arc<OAuthService<R>>>,
    call: ClientCall,
) -> Response {
    let result = push(&service, &call).await;
    with_nonce(&service, metered_ok(&call.client, result))
}

async fn push<R: OAuthStore>(
    service: &OAuthService<R>,
    call: &ClientCall,
) -> Result<Response, OAuthError> {
    let form = &call.params;
    if form.get("request_uri").is_some() {
        return Err(OAuthError::invalid_request(
            "request_uri must not be sent to the PAR endpoint",
        ));
    }
    let signed;
    let params = match form.get("request") {
        None if call.client.application.require_signed_request_object => {
            return Err(OAuthError::invalid_request(
                "this client is registered to push only signed request objects (require_signed_request_object): send the parameters as a request JWT",
            ));
        }
        None => form,
        Some(object) => {
            if let Some((name, _)) = form
                .0
                .iter()
                .find(|(name, _)| !BESIDE_REQUEST_OBJECT.contains(&name.as_str()))
            {
                return Err(OAuthError::invalid_request(format!(
                    "{name:?} must be inside the request object, not beside it"
                )));
            }
            signed = Params(service.server.request_object(&call.client, object).await?);
            &signed
        }
    };
    let owned = |name: &str| params.get(name).map(str::to_owned);
    let request = PushedRequest {
        response_type: params.require("response_type")?.to_owned(),
        redirect_uri: params.require("redirect_uri")?.to_owned(),
        scope: owned("scope"),
        authorization_details: owned("authorization_details"),
        state: owned("state"),
        code_challenge: owned("code_challenge"),
        code_challenge_method: owned("code_challenge_method"),
        dpop_jkt: owned("dpop_jkt"),
        nonce: owned("nonce"),
        response_mode: owned("response_mode"),
    };
    let dpop = dpop_key(service, &call.headers, "/oauth2/par").await?;
    let (request_uri, expires_in) = service.server.push(&call.client, request, dpop).await?;
    let body = serde_json::json!({"request_uri": request_uri, "expires_in": expires_in});
    Ok(no_store((StatusCode::CREATED, Json(body)).into_response()))
}

async fn introspect<R: OAuthStore>(
    State(service): State<Arc<OAuthService<R>>>,
    call: ClientCall,
) -> Response {
    let result = async {
        let (server, client) = (&service.server, &call.client);
        let answer = server
            .introspect(client, call.params.require("token")?)
            .await?;
        let wants_jwt = call
            .headers
            .get(header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("application/token-introspection+jwt"));
        if !wants_jwt {
            return Ok(no_store(Json(answer).into_response()));
        }
        // RFC 9701: signed, for resource servers that must prove what they were told.
        let jwt = server.signed_introspection(client, &answer).await?;
        let content_type = [(header::CONTENT_TYPE, "application/token-introspection+jwt")];
        Ok(no_store((content_type, jwt).into_response()))
    }
    .await;
    metered_ok(&call.client, result)
}

async fn revoke<R: OAuthStore>(
    State(service): State<Arc<OAuthService<R>>>,
    call: ClientCall,
) -> Response {
    let result = async {
        let token = call.params.require("token")?;
        match call.params.get("token_type_hint") {
            None | Some("access_token" | "refresh_token") => {}
            Some(other) => {
                return Err(OAuthError::new(
                    ErrorCode::UnsupportedTokenType,
                    format!("token_type_hint {other:?} is not a token type of this server"),
                ));
            }
        }
        service.server.revoke(&call.client, token).await?;
        Ok(no_store(StatusCode::OK.into_response()))
    }
    .await;
    metered_ok(&call.client, result)
}

/// The parameters of a form request as the endpoints read them: the entry
/// of the fuzz target for form bodies, built only by `cargo fuzz`.
#[cfg(fuzzing)]
#[doc(hidden)]
pub async fn form_params(
    request: axum::extract::Request,
) -> Result<Vec<(String, String)>, OAuthError> {
    Params::from_request(request, &())
        .await
        .map(|params| params.0)
}
