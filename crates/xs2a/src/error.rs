//! Berlin Group error bodies: `tppMessages` with category, code, path and text.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::StoreError;
use serde::Serialize;

/// The Berlin Group message codes this API answers with, each with the HTTP
/// status the Implementation Guidelines' error tables pair it with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessageCode {
    FormatError,
    ParameterNotConsistent,
    ParameterNotSupported,
    PeriodInvalid,
    ExecutionDateInvalid,
    SessionsNotSupported,
    NoPiisActivation,
    ServiceInvalid,
    TokenInvalid,
    ConsentInvalid,
    ConsentExpired,
    ConsentUnknown,
    ServiceBlocked,
    ResourceUnknown,
    ProductUnknown,
    CancellationInvalid,
    StatusInvalid,
    AccessExceeded,
    RequestedFormatsInvalid,
    /// A signing basket's entries cannot be combined (IG: signing baskets).
    ReferenceMixInvalid,
    /// A signing basket's entry is not awaiting its authorisation, or
    /// belongs to another basket.
    ReferenceStatusInvalid,
    /// Not a Berlin Group code: the store failed, retry later.
    ServiceUnavailable,
}

impl MessageCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::FormatError => "FORMAT_ERROR",
            Self::ParameterNotConsistent => "PARAMETER_NOT_CONSISTENT",
            Self::ParameterNotSupported => "PARAMETER_NOT_SUPPORTED",
            Self::PeriodInvalid => "PERIOD_INVALID",
            Self::ExecutionDateInvalid => "EXECUTION_DATE_INVALID",
            Self::SessionsNotSupported => "SESSIONS_NOT_SUPPORTED",
            Self::NoPiisActivation => "NO_PIIS_ACTIVATION",
            Self::ServiceInvalid => "SERVICE_INVALID",
            Self::TokenInvalid => "TOKEN_INVALID",
            Self::ConsentInvalid => "CONSENT_INVALID",
            Self::ConsentExpired => "CONSENT_EXPIRED",
            Self::ConsentUnknown => "CONSENT_UNKNOWN",
            Self::ServiceBlocked => "SERVICE_BLOCKED",
            Self::ResourceUnknown => "RESOURCE_UNKNOWN",
            Self::ProductUnknown => "PRODUCT_UNKNOWN",
            Self::CancellationInvalid => "CANCELLATION_INVALID",
            Self::StatusInvalid => "STATUS_INVALID",
            Self::AccessExceeded => "ACCESS_EXCEEDED",
            Self::RequestedFormatsInvalid => "REQUESTED_FORMATS_INVALID",
            Self::ReferenceMixInvalid => "REFERENCE_MIX_INVALID",
            Self::ReferenceStatusInvalid => "REFERENCE_STATUS_INVALID",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
        }
    }

    /// The status the spec gives the code when it names a resource in the
    /// path; [`Xs2aError::in_request`] and [`Xs2aError::not_addressable`]
    /// give the spec's other statuses of `CONSENT_UNKNOWN` and `RESOURCE_UNKNOWN`.
    pub const fn status(self) -> StatusCode {
        match self {
            Self::FormatError
            | Self::ParameterNotConsistent
            | Self::ParameterNotSupported
            | Self::PeriodInvalid
            | Self::ExecutionDateInvalid
            | Self::SessionsNotSupported
            | Self::NoPiisActivation
            | Self::ServiceInvalid => StatusCode::BAD_REQUEST,
            Self::TokenInvalid | Self::ConsentInvalid | Self::ConsentExpired => {
                StatusCode::UNAUTHORIZED
            }
            Self::ConsentUnknown | Self::ServiceBlocked => StatusCode::FORBIDDEN,
            Self::ResourceUnknown | Self::ProductUnknown => StatusCode::NOT_FOUND,
            Self::CancellationInvalid => StatusCode::METHOD_NOT_ALLOWED,
            // The Implementation Guidelines give the signing basket's two
            // reference codes 409, like a resource in the wrong status.
            Self::StatusInvalid | Self::ReferenceMixInvalid | Self::ReferenceStatusInvalid => {
                StatusCode::CONFLICT
            }
            Self::AccessExceeded => StatusCode::TOO_MANY_REQUESTS,
            Self::RequestedFormatsInvalid => StatusCode::NOT_ACCEPTABLE,
            Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Xs2aError {
    pub status: StatusCode,
    pub code: MessageCode,
    pub path: Option<String>,
    pub text: String,
    /// A 401 to a request that sent no access token: its challenge carries no
    /// RFC 6750 `error` (§3.1).
    no_token: bool,
}

/// `tppMessageText` is at most 500 characters (spec: `maxLength: 500`); texts
/// that quote the request are cut to fit.
const MAX_TEXT_CHARS: usize = 500;

fn within_limit(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(MAX_TEXT_CHARS) {
        None => text.into(),
        Some(_) => {
            let kept: String = text.chars().take(MAX_TEXT_CHARS - 1).collect();
            format!("{kept}…").into()
        }
    }
}

impl Xs2aError {
    /// `code` with its status.
    pub fn new(code: MessageCode, text: impl Into<String>) -> Self {
        Self {
            status: code.status(),
            code,
            path: None,
            text: text.into(),
            no_token: false,
        }
    }

    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// 400: the unknown consent or resource is named in a header or the body,
    /// not in the path.
    pub fn in_request(mut self) -> Self {
        self.status = StatusCode::BAD_REQUEST;
        self
    }

    /// 403: a resource in the path exists but this request cannot address it.
    pub fn not_addressable(mut self) -> Self {
        self.status = StatusCode::FORBIDDEN;
        self
    }

    /// A status other than the code's own, kept where clients already rely on it.
    pub(crate) fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// A refusal by the server's own layers (overload, unknown route, body
    /// limits): the code that fits `status`, the status kept as the layer chose it.
    pub fn of_layer(status: StatusCode, text: impl Into<String>) -> Self {
        let code = match status {
            StatusCode::SERVICE_UNAVAILABLE => MessageCode::ServiceUnavailable,
            StatusCode::NOT_FOUND => MessageCode::ResourceUnknown,
            StatusCode::METHOD_NOT_ALLOWED => MessageCode::ServiceInvalid,
            _ => MessageCode::FormatError,
        };
        Self::new(code, text).with_status(status)
    }

    pub fn format(text: impl Into<String>) -> Self {
        Self::new(MessageCode::FormatError, text)
    }

    pub fn token_invalid(text: impl Into<String>) -> Self {
        Self::new(MessageCode::TokenInvalid, text)
    }

    /// 401: the request carried no access token.
    pub(crate) fn no_token(text: impl Into<String>) -> Self {
        Self {
            no_token: true,
            ..Self::token_invalid(text)
        }
    }

    pub fn consent_invalid(text: impl Into<String>) -> Self {
        Self::new(MessageCode::ConsentInvalid, text)
    }

    pub fn consent_unknown() -> Self {
        Self::new(
            MessageCode::ConsentUnknown,
            "the consent does not exist or does not belong to this TPP",
        )
    }

    pub fn resource_unknown(text: impl Into<String>) -> Self {
        Self::new(MessageCode::ResourceUnknown, text)
    }

    pub fn parameter_not_supported(text: impl Into<String>) -> Self {
        Self::new(MessageCode::ParameterNotSupported, text)
    }

    pub fn service_invalid(text: impl Into<String>) -> Self {
        Self::new(MessageCode::ServiceInvalid, text)
    }

    pub fn status_invalid(text: impl Into<String>) -> Self {
        Self::new(MessageCode::StatusInvalid, text)
    }
}

impl From<StoreError> for Xs2aError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "XS2A request failed on the store");
        Self::new(
            MessageCode::ServiceUnavailable,
            "the ASPSP cannot serve this request now; retry later",
        )
    }
}

#[derive(Serialize)]
struct TppMessage<'a> {
    category: &'static str,
    code: MessageCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    text: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TppMessages<'a> {
    tpp_messages: [TppMessage<'a>; 1],
}

impl IntoResponse for Xs2aError {
    fn into_response(self) -> Response {
        let text = within_limit(&self.text);
        let body = TppMessages {
            tpp_messages: [TppMessage {
                category: "ERROR",
                code: self.code,
                text: &text,
                path: self.path.as_deref(),
            }],
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 6750 §3: every 401 says how to authenticate; `error` only
            // when a token was sent (§3.1), and a token refused for its
            // consent (CONSENT_INVALID, CONSENT_EXPIRED) is `invalid_token`.
            let challenge = if self.no_token {
                "Bearer, DPoP algs=\"ES256 PS256 EdDSA\"".to_owned()
            } else {
                // RFC 6750 §3: the description is printable ASCII without `"` and `\`.
                let description: String = text
                    .chars()
                    .map(|c| match c {
                        '"' | '\\' => '\'',
                        ' '..='~' => c,
                        _ => '?',
                    })
                    .collect();
                format!("Bearer error=\"invalid_token\", error_description=\"{description}\"")
            };
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_cut_to_the_specs_500_characters() {
        assert_eq!(within_limit("short"), "short");
        let exact = "é".repeat(MAX_TEXT_CHARS);
        assert_eq!(within_limit(&exact), exact.as_str());
        let cut = within_limit(&"é".repeat(MAX_TEXT_CHARS + 1)).into_owned();
        assert_eq!(cut.chars().count(), MAX_TEXT_CHARS);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn codes_serialise_as_their_names() {
        for code in [
            MessageCode::FormatError,
            MessageCode::NoPiisActivation,
            MessageCode::ServiceUnavailable,
            MessageCode::ConsentUnknown,
        ] {
            assert_eq!(
                serde_json::to_value(code).ok(),
                Some(serde_json::Value::String(code.as_str().to_owned()))
            );
        }
    }

    #[test]
    fn the_body_is_tpp_messages_as_before() {
        let response = Xs2aError::format("bad").at("X-Request-ID");
        let body = TppMessages {
            tpp_messages: [TppMessage {
                category: "ERROR",
                code: response.code,
                text: &response.text,
                path: response.path.as_deref(),
            }],
        };
        crate::body::assert_sorted_like_json_value(&body);
        assert_eq!(
            serde_json::to_value(&body).ok(),
            Some(serde_json::json!({"tppMessages": [{"category": "ERROR",
                "code": "FORMAT_ERROR", "path": "X-Request-ID", "text": "bad"}]}))
        );
    }

    #[test]
    fn a_code_carries_its_status_unless_named_elsewhere() {
        assert_eq!(
            Xs2aError::consent_unknown().status,
            StatusCode::FORBIDDEN,
            "in the path"
        );
        assert_eq!(
            Xs2aError::consent_unknown().in_request().status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            Xs2aError::resource_unknown("x").status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            Xs2aError::new(MessageCode::AccessExceeded, "x").status,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
}
