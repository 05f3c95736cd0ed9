//! RFC 6749 §5.2 error responses.

use std::borrow::Cow;
use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    /// RFC 9396 §5.
    InvalidAuthorizationDetails,
    UnsupportedTokenType,
    /// RFC 9449 §8: retry with the server's nonce.
    UseDpopNonce,
    InvalidDpopProof,
    /// Over the plan's rate (429, with `Retry-After`).
    SlowDown,
    /// The store is unreachable (503): not the client's fault, retry later.
    TemporarilyUnavailable,
    /// RFC 9101 §6.2 (OpenID Connect Core §3.1.2.6): the `request` object
    /// is unsigned, signed by another key, expired or not meant for this server.
    InvalidRequestObject,
}

impl ErrorCode {
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::InvalidAuthorizationDetails => "invalid_authorization_details",
            ErrorCode::UnsupportedTokenType => "unsupported_token_type",
            ErrorCode::UseDpopNonce => "use_dpop_nonce",
            ErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::InvalidRequestObject => "invalid_request_object",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            ErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
            ErrorCode::SlowDown => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {description}", code.as_str())]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: Cow<'static, str>,
    /// The client tried HTTP Basic: a 401 must carry a `Basic` challenge.
    pub basic_challenge: bool,
    pub retry_after: Option<Duration>,
    /// The body exceeds the endpoint's limit: 413 rather than 400.
    pub too_large: bool,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            description: description.into(),
            basic_challenge: false,
            retry_after: None,
            too_large: false,
        }
    }

    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    /// `invalid_request` answered with 413: the body is over the endpoint's limit.
    pub fn too_large(description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            too_large: true,
            ..Self::invalid_request(description)
        }
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "OAuth request failed on the store");
        OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            "the authorization server cannot reach its database; retry later",
        )
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": self.code.as_str(),
            "error_description": self.description,
        });
        let status = if self.too_large {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            self.code.status()
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.code == ErrorCode::InvalidClient && self.basic_challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"fintechapi\", charset=\"UTF-8\""),
            );
        }
        if let Some(wait) = self.retry_after {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        response
    }
}
