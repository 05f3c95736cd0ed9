//! The HTML error page of the bank, and the headers every bank page carries.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::Form;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::StoreError;
use fintechapi_limits::throttle::RetryAfter;
use fintechapi_web::passwords::PasswordPoolError;

// `connect-src 'self'`: online banking's pending approvals poll their list.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
                   base-uri 'none'";

#[derive(Template, WebTemplate)]
#[template(path = "bank/error.html")]
struct ErrorPage {
    title: String,
    message: String,
}

/// An HTML answer that never redirects, with `Retry-After` when the PSU
/// should come back later.
pub(crate) struct BankError(StatusCode, String, Option<u64>);

impl BankError {
    pub(crate) fn page(status: StatusCode, message: impl Into<String>) -> Self {
        Self(status, message.into(), None)
    }

    pub(crate) fn throttled(retry: RetryAfter) -> Self {
        Self(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-in attempts. Wait a moment and try again.".into(),
            Some(retry.secs()),
        )
    }

    pub(crate) fn expired() -> Self {
        Self::page(
            StatusCode::BAD_REQUEST,
            "This sign-in has ended or was already completed. Return to the app you came from \
             and start again.",
        )
    }
}

impl From<StoreError> for BankError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "bank page failed on the store");
        Self::page(
            StatusCode::SERVICE_UNAVAILABLE,
            "The bank cannot complete this now. Please try again in a moment.",
        )
    }
}

impl From<PasswordPoolError> for BankError {
    fn from(e: PasswordPoolError) -> Self {
        match e {
            PasswordPoolError::Busy => Self(
                StatusCode::SERVICE_UNAVAILABLE,
                "The bank is very busy right now. Please try again in a few seconds.".into(),
                Some(5),
            ),
            PasswordPoolError::Hashing => {
                tracing::error!("a password check failed");
                Self::page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The bank cannot complete this now. Please try again in a moment.",
                )
            }
        }
    }
}

impl IntoResponse for BankError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            title: self.0.canonical_reason().unwrap_or("Error").to_owned(),
            message: self.1,
        };
        let mut response = (self.0, page).into_response();
        if let Some(secs) = self.2 {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        secured(response, None)
    }
}

/// Security headers of every bank page; `form_target` widens `form-action`
/// for the page whose form ends in the redirect to the TPP.
pub(crate) fn secured(mut response: Response, form_target: Option<&str>) -> Response {
    let csp = match form_target {
        Some(origin) => format!("{CSP}; form-action 'self' {origin}"),
        None => format!("{CSP}; form-action 'self'"),
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A form body, or the page saying it was malformed.
pub(crate) fn parsed<F>(form: Result<Form<F>, FormRejection>) -> Result<F, BankError> {
    form.map(|Form(f)| f).map_err(|_| {
        BankError::page(
            StatusCode::BAD_REQUEST,
            "The form was malformed. Go back, reload the page and try again.",
        )
    })
}

pub(crate) fn see_other(location: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, location.to_owned())],
    )
        .into_response()
}
