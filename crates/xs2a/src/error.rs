//! Berlin Group error bodies: `tppMessages` with category, code, path and text.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Xs2aError {
    pub status: StatusCode,
    pub code: &'static str,
    pub path: Option<String>,
    pub text: String,
}

impl Xs2aError {
    pub fn new(status: StatusCode, code: &'static str, text: impl Into<String>) -> Self {
        Self {
            status,
            code,
            path: None,
            text: text.into(),
        }
    }

    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    pub fn format(text: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "FORMAT_ERROR", text)
    }

    pub fn token_invalid(text: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "TOKEN_INVALID", text)
    }

    pub fn consent_unknown() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "CONSENT_UNKNOWN",
            "the consent does not exist or does not belong to this TPP",
        )
    }

    pub fn resource_unknown(text: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "RESOURCE_UNKNOWN", text)
    }
}

impl From<StoreError> for Xs2aError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "XS2A request failed on the store");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "the ASPSP cannot serve this request now; retry later",
        )
    }
}

impl IntoResponse for Xs2aError {
    fn into_response(self) -> Response {
        let mut message = serde_json::json!({
            "category": "ERROR",
            "code": self.code,
            "text": self.text,
        });
        if let Some(path) = &self.path {
            message["path"] = serde_json::Value::String(path.clone());
        }
        let mut response = (
            self.status,
            Json(serde_json::json!({ "tppMessages": [message] })),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED && self.code.starts_with("TOKEN") {
            // RFC 6750 §3.
            let challenge = format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\"",
                self.text.replace('"', "'")
            );
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}
