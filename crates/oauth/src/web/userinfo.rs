//! OpenID Connect userinfo (Core §5.3): called with an access token granted
//! with `openid`, as a bearer token or DPoP-bound (with a proof by its key)
//! or certificate-bound (over a connection with that certificate); refusals
//! as RFC 6750 / RFC 9449 challenges. The answer is the PSU's `sub` alone.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::registry::Plan;
use fintechapi_domain::tls::ClientCertificate;
use fintechapi_domain::usage::MeteredApi;
use fintechapi_metering::Metered;

use super::client::{admission, tagged};
use super::{OAuthService, OAuthStore, no_store};
use crate::error::OAuthError;
use crate::server::{AccessGrant, DpopFailure};

const PATH: &str = "/oauth2/userinfo";

/// A refusal: the status, the RFC 6750 error and its description, and, for a
/// DPoP token, the nonce to retry with.
struct Refusal {
    status: StatusCode,
    error: &'static str,
    description: String,
    dpop: bool,
    nonce: Option<String>,
}

impl Refusal {
    fn token(description: impl Into<String>, dpop: bool) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_token",
            description: description.into(),
            dpop,
            nonce: None,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let scheme = if self.dpop { "DPoP" } else { "Bearer" };
        let challenge = format!(
            "{scheme} error=\"{}\", error_description=\"{}\"",
            self.error,
            self.description.replace(['"', '\\'], "'")
        );
        let body = serde_json::json!({"error": self.error, "error_description": self.description});
        let mut response = no_store((self.status, Json(body)).into_response());
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        if let Some(nonce) = self.nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
            headers.insert("dpop-nonce", nonce);
        }
        response
    }
}

pub(super) async fn userinfo<R: OAuthStore>(
    State(service): State<Arc<OAuthService<R>>>,
    request: Request,
) -> Response {
    let method = request.method().as_str().to_owned();
    let certificate = request.extensions().get::<ClientCertificate>().cloned();
    let headers = request.headers();
    let grant = match granted(&service, headers, &method, certificate.as_ref()).await {
        Ok(grant) => grant,
        Err(refusal) => return refusal,
    };
    let best = grant.usable.iter().map(|(_, plan)| *plan).max();
    let admitted = match admission(
        &service,
        grant.application_id,
        grant.assigned_plan.as_deref(),
        best.unwrap_or(Plan::Sandbox),
    )
    .await
    {
        Ok(admitted) => admitted,
        Err(refused) => return refused,
    };
    let mut response = match service.server.userinfo(&grant).await {
        Ok(Some(claims)) => no_store(Json(claims).into_response()),
        Ok(None) => Refusal {
            status: StatusCode::FORBIDDEN,
            error: "insufficient_scope",
            description: "the access token was not granted with the openid scope".into(),
            dpop: grant.dpop_jkt.is_some(),
            nonce: None,
        }
        .into_response(),
        Err(e) => OAuthError::from(e).into_response(),
    };
    admitted.write_headers(response.headers_mut());
    tagged(
        response,
        Metered {
            application_id: grant.application_id,
            api: MeteredApi::Oauth,
            throttled: false,
        },
    )
}

/// The live grant behind the presented token, its binding honoured.
async fn granted<R: OAuthStore>(
    service: &OAuthService<R>,
    headers: &HeaderMap,
    method: &str,
    certificate: Option<&ClientCertificate>,
) -> Result<AccessGrant, Response> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '));
    let Some((scheme, token)) = presented else {
        // RFC 6750 §3.1: no credentials, no error code.
        let mut response = no_store(StatusCode::UNAUTHORIZED.into_response());
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer, DPoP algs=\"ES256 PS256 EdDSA\""),
        );
        return Err(response);
    };
    let (token, dpop) = (token.trim(), scheme.eq_ignore_ascii_case("dpop"));
    if !dpop && !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Refusal::token("use the Bearer or DPoP scheme", false).into_response());
    }
    let server = &service.server;
    let grant = match server.access_grant(token).await {
        Ok(Some(grant)) => grant,
        Ok(None) => {
            return Err(Refusal::token("the access token is not active", dpop).into_response());
        }
        Err(e) => return Err(OAuthError::from(e).into_response()),
    };
    if grant
        .mtls_x5t
        .as_ref()
        .is_some_and(|bound| certificate.map(ClientCertificate::thumbprint).as_ref() != Some(bound))
    {
        return Err(Refusal::token(
            "the access token is bound to a client certificate this connection did not present",
            false,
        )
        .into_response());
    }
    let Some(bound) = &grant.dpop_jkt else {
        return match dpop {
            false => Ok(grant),
            true => Err(Refusal::token("the access token is not DPoP-bound", true).into_response()),
        };
    };
    if !dpop {
        return Err(Refusal::token(
            "the access token is DPoP-bound: send it with the DPoP scheme and a proof",
            true,
        )
        .into_response());
    }
    let mut proofs = headers.get_all("dpop").iter();
    let proof = match (proofs.next().map(HeaderValue::to_str), proofs.next()) {
        (Some(Ok(proof)), None) => proof,
        _ => return Err(Refusal::token("send exactly one DPoP proof", true).into_response()),
    };
    let refused = |error, description: String, nonce| Refusal {
        status: StatusCode::UNAUTHORIZED,
        error,
        description,
        dpop: true,
        nonce,
    };
    match server.check_dpop(proof, method, PATH, Some(token)).await {
        Ok(jkt) if &jkt == bound => Ok(grant),
        Ok(_) => Err(refused(
            "invalid_dpop_proof",
            "the DPoP proof is signed by another key than the token is bound to".into(),
            None,
        )
        .into_response()),
        Err(DpopFailure::UseNonce) => Err(refused(
            "use_dpop_nonce",
            "send a DPoP proof with the nonce from the DPoP-Nonce header".into(),
            Some(server.dpop_nonce()),
        )
        .into_response()),
        Err(DpopFailure::Invalid(text)) => {
            Err(refused("invalid_dpop_proof", text, None).into_response())
        }
        Err(busy @ DpopFailure::Busy(_)) => Err(OAuthError::from(busy).into_response()),
    }
}
