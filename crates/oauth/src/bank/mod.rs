//! The bank's own pages that a PSU reaches by redirect from a TPP: login
//! (password), second factor, and the consent screen, ending in a 303 back to
//! the TPP's registered redirect URI with `code`, `state` and `iss` (RFC 9207);
//! for the Redirect SCA approach (`crate::redirect`), to the TPP's registered
//! redirect or NOK URI without a code.
//!
//! RTS Art. 4: no message tells whether the login name or the password was
//! wrong, nor whether a blocked PSU's password was right; five consecutive
//! failures (password or code) block the credential, temporarily and for
//! longer each time (permanently only after several blocks in a row), the PSU
//! alerted at each; attempts are throttled per client address and per login;
//! five minutes without activity end the session. Nothing here ever redirects
//! to a URI that is not the one registered and given for this authorization.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fintechapi_domain::StoreError;
use fintechapi_domain::card::{CardAccount, MaskedPan};
use fintechapi_domain::consent::{
    AccountGrant, AccountReference, Consent, ConsentAccess, ConsentStatus, GrantedResource,
};
use fintechapi_domain::ids::PsuId;
use fintechapi_domain::ledger::Account;
use fintechapi_domain::oauth::{Authorization, AuthorizationStage, ScaApproach};
use fintechapi_domain::otp::Seed;
use fintechapi_domain::payment::{Payment, PaymentStatus, PaymentUpdate};
use fintechapi_domain::portal::Mail;
use fintechapi_domain::psu::{BlockPolicy, MAX_FAILED_LOGINS, Psu, PsuNotice};
use fintechapi_domain::registry::{Application, Organisation};
use fintechapi_domain::secret::{KeyedHash, constant_time_eq, random_token};
use fintechapi_limits::throttle::{AddressThrottle, NameThrottle, RetryAfter};
use fintechapi_web::mail::{self, MailKind};
use fintechapi_web::passwords::{PasswordPool, PasswordPoolError};
use fintechapi_web::{check_origin, cookie, request_host};

use crate::passkey::{CEREMONY_TTL, PasskeyError, PasskeyVerifier, ceremony_live, payment_digest};
use crate::server::{PSU_IDLE_TIMEOUT, ScopedResource};
use crate::web::{OAuthService, OAuthStore};

mod authorize;
mod decision;
mod factors;
mod login;
mod pages;
mod payment;
mod session;

pub(crate) use authorize::*;
pub(crate) use decision::*;
pub(crate) use factors::*;
pub(crate) use login::*;
use pages::*;
use payment::*;
pub(crate) use session::*;

/// The browser's authentication session with the bank's pages.
const PSU_COOKIE: &str = "__Host-ftapi_psu";

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

#[derive(Clone)]
pub struct BankSettings {
    /// Sandbox only: a fixed one-time code demo PSUs may use as second factor.
    pub sandbox_code: Option<String>,
    /// The relying party for passkeys; None where the public URL is an IP.
    pub passkeys: Option<Arc<PasskeyVerifier>>,
    /// Every argon2 job of the server, bounded.
    pub passwords: Arc<PasswordPool>,
    /// How long the blocks after failed logins last.
    pub block_policy: BlockPolicy,
    /// Login attempts per client address and per login name, so that
    /// blocking many PSUs, or one again and again, takes time.
    pub login_per_address: Arc<AddressThrottle>,
    pub login_per_name: Arc<NameThrottle>,
    /// Base URL for the link in block alerts.
    pub public_url: String,
}

pub(crate) fn routes<R: OAuthStore>(service: Arc<OAuthService<R>>) -> Router {
    Router::new()
        .merge(crate::online::routes::<R>())
        .merge(crate::redirect::routes::<R>())
        .route("/oauth2/authorize", get(authorize::<R>))
        .route("/bank/login", get(login_form::<R>).post(login::<R>))
        .route("/bank/sca", get(sca_form::<R>).post(sca::<R>))
        .route("/bank/consent", get(consent_form::<R>).post(decide::<R>))
        .route("/bank/passkey.js", get(passkey_script))
        .with_state(service)
}

/// The only script of the bank's pages: runs the WebAuthn ceremony.
async fn passkey_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../../assets/passkey.js"),
    )
        .into_response()
}

// ---------------------------------------------------------------- errors

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

    fn throttled(retry: RetryAfter) -> Self {
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
