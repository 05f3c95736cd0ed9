//! Errors the server's own layers raise (overload, oversize or slow bodies),
//! answered in the format of the surface the request was for: Berlin Group
//! `tppMessages` under `/v1`, RFC 6749 JSON under `/oauth2`, an HTML page on
//! the portal, admin and bank pages, a small JSON body elsewhere.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fintechapi_oauth::{ErrorCode, OAuthError};
use fintechapi_portal::web::PageError;
use fintechapi_xs2a::Xs2aError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Surface {
    Xs2a,
    OAuth,
    Page,
    Other,
}

impl Surface {
    pub(super) fn of(path: &str) -> Self {
        let under = |prefix: &str| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        if under("/v1") {
            Surface::Xs2a
        } else if under("/oauth2") {
            Surface::OAuth
        } else if under("/portal/api") {
            Surface::Other
        } else if under("/portal") || under("/admin") || under("/bank") {
            Surface::Page
        } else {
            Surface::Other
        }
    }
}

/// `status` with `text` in the format of the surface `path` belongs to.
pub(super) fn error(path: &str, status: StatusCode, text: &str) -> Response {
    error_in(Surface::of(path), status, text)
}

/// `status` with `text` in the format of `surface`.
pub(super) fn error_in(surface: Surface, status: StatusCode, text: &str) -> Response {
    match surface {
        Surface::Xs2a => Xs2aError::of_layer(status, text).into_response(),
        Surface::OAuth => {
            let error = match status {
                StatusCode::SERVICE_UNAVAILABLE => {
                    OAuthError::new(ErrorCode::TemporarilyUnavailable, text.to_owned())
                }
                StatusCode::PAYLOAD_TOO_LARGE => OAuthError::too_large(text.to_owned()),
                _ => OAuthError::invalid_request(text.to_owned()),
            };
            let mut response = error.into_response();
            // Keep the status of the layer that refused (e.g. 408), the body RFC 6749's.
            *response.status_mut() = status;
            response
        }
        Surface::Page => PageError::new(status, text).into_response(),
        Surface::Other => (
            status,
            Json(serde_json::json!({
                "status": status.as_u16(),
                "error": status.canonical_reason().unwrap_or("error"),
            })),
        )
            .into_response(),
    }
}

/// 503 with `Retry-After`: the server is busy, the client should come back soon.
pub(super) fn overloaded(path: &str, retry_after: Duration) -> Response {
    let mut response = error(
        path,
        StatusCode::SERVICE_UNAVAILABLE,
        "the server is busy; retry after the time in Retry-After",
    );
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(retry_after.as_secs().max(1)),
    );
    response
}

/// What the status of a bodiless answer from a tower layer means to the client.
pub(super) fn explain(status: StatusCode) -> &'static str {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is too large",
        StatusCode::REQUEST_TIMEOUT => "the request body arrived too slowly",
        StatusCode::SERVICE_UNAVAILABLE => "the request took too long; retry later",
        _ => status.canonical_reason().unwrap_or("error"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn each_surface_is_recognised_by_its_path() {
        assert_eq!(Surface::of("/v1/consents"), Surface::Xs2a);
        assert_eq!(Surface::of("/v1x"), Surface::Other);
        assert_eq!(Surface::of("/oauth2/token"), Surface::OAuth);
        assert_eq!(Surface::of("/portal/api/v1/apps"), Surface::Other);
        assert_eq!(Surface::of("/portal/login"), Surface::Page);
        assert_eq!(Surface::of("/admin"), Surface::Page);
        assert_eq!(Surface::of("/bank/login"), Surface::Page);
        assert_eq!(Surface::of("/healthz"), Surface::Other);
    }

    #[test]
    fn an_overloaded_answer_says_when_to_retry_in_the_surfaces_format() {
        let xs2a = overloaded("/v1/accounts", Duration::from_secs(2));
        assert_eq!(xs2a.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(xs2a.headers()[header::RETRY_AFTER], "2");
        assert_eq!(xs2a.headers()[header::CONTENT_TYPE], "application/json");
        // A page's body is rendered under the bank's name by the portal's
        // `error_pages`, the router's outermost layer.
        let page = overloaded("/portal/login", Duration::from_millis(10));
        assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(page.headers()[header::RETRY_AFTER], "1");
        let oauth = overloaded("/oauth2/token", Duration::from_secs(1));
        assert_eq!(oauth.headers()[header::CONTENT_TYPE], "application/json");
    }
}
