//! The security page of developers and operators: turn a TOTP second factor
//! on (scan a QR code, confirm with a code) or off (with a code). Operators
//! of a production installation must turn it on before anything else.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::otp::Seed;
use fintechapi_web::qr_svg;
use serde::Deserialize;

use super::session::{DeveloperPost, EnrollingOperatorPost, Visitor, csrf_protected};
use super::{Nav, PageError, Portal, PortalStore};
use crate::accounts::AccountError;

#[derive(Template, WebTemplate)]
#[template(path = "security.html")]
struct SecurityPage {
    nav: Nav,
    /// Where the forms post.
    action: &'static str,
    /// The second factor cannot be turned off here.
    required: bool,
    enabled: bool,
    seed: String,
    qr_svg: String,
    message: Option<String>,
    error: Option<String>,
}

/// Whose security page: a developer's in the portal, or an operator's in
/// the admin console (where production requires the second factor).
#[derive(Clone, Copy)]
enum Console {
    Portal,
    Admin { required: bool },
}

impl Console {
    fn admin<R: PortalStore>(portal: &Portal<R>) -> Self {
        Console::Admin {
            required: portal.operator_second_factor_required,
        }
    }

    fn action(self) -> &'static str {
        match self {
            Console::Portal => "/portal/security/totp",
            Console::Admin { .. } => "/admin/security/totp",
        }
    }

    fn required(self) -> bool {
        matches!(self, Console::Admin { required: true })
    }

    /// The visitor again, after the switch changed.
    async fn visitor<R: PortalStore>(
        self,
        portal: &Portal<R>,
        headers: &HeaderMap,
    ) -> Result<Visitor, PageError> {
        match self {
            Console::Portal => Visitor::load(portal, headers).await,
            Console::Admin { .. } => Visitor::load_admin_enrolling(portal, headers).await,
        }
    }
}

fn page(
    visitor: &Visitor,
    console: Console,
    message: Option<String>,
    error: Option<String>,
) -> Result<SecurityPage, PageError> {
    let (_, user) = visitor.user()?;
    let mut nav = visitor.nav();
    nav.admin = matches!(console, Console::Admin { .. });
    let (seed, qr) = if user.totp_enabled {
        (String::new(), String::new())
    } else {
        let seed = Seed::generate().map_err(PageError::internal)?;
        // The authenticator app lists the account under the bank's portal.
        let uri = seed.otpauth_uri(&nav.site(), user.email.as_str());
        (seed.to_base32(), qr_svg(&uri))
    };
    Ok(SecurityPage {
        nav,
        action: console.action(),
        required: console.required(),
        enabled: user.totp_enabled,
        seed,
        qr_svg: qr,
        message,
        error,
    })
}

pub async fn security<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let visitor = Visitor::load(&portal, &headers).await?;
    Ok(page(&visitor, Console::Portal, None, None)?.into_response())
}

/// The operator's enrolment: the one admin page open before a second factor.
pub async fn operator_security<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let visitor = Visitor::load_admin_enrolling(&portal, &headers).await?;
    if visitor.session.is_none() {
        return Err(PageError::new(StatusCode::SEE_OTHER, "/admin/login"));
    }
    Ok(page(&visitor, Console::admin(&portal), None, None)?.into_response())
}

csrf_protected!(TotpForm);

#[derive(Debug, Default, Deserialize)]
pub struct TotpForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    seed: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    csrf: String,
}

pub async fn totp<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
    post: DeveloperPost<TotpForm>,
) -> Result<Response, PageError> {
    let (visitor, input) = post.into_parts();
    switch(&portal, &headers, Console::Portal, &visitor, input).await
}

pub async fn operator_totp<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
    post: EnrollingOperatorPost<TotpForm>,
) -> Result<Response, PageError> {
    let (visitor, input) = post.into_parts();
    switch(&portal, &headers, Console::admin(&portal), &visitor, input).await
}

/// Turns the second factor on or off, with a code from the app.
async fn switch<R: PortalStore>(
    portal: &Portal<R>,
    headers: &HeaderMap,
    console: Console,
    visitor: &Visitor,
    input: TotpForm,
) -> Result<Response, PageError> {
    let (_, user) = visitor.user()?;
    let result = match input.action.as_str() {
        "enable" => {
            portal
                .accounts
                .enable_totp(user, &input.seed, &input.code)
                .await
        }
        "disable" if console.required() => {
            return Err(PageError::new(
                StatusCode::BAD_REQUEST,
                "Operators of this installation must keep two-factor login on.",
            ));
        }
        "disable" => portal.accounts.disable_totp(user, &input.code).await,
        _ => return Err(PageError::new(StatusCode::BAD_REQUEST, "Unknown action.")),
    };
    match result {
        Ok(()) => {
            let visitor = console.visitor(portal, headers).await?;
            let done = if input.action == "enable" {
                "Two-factor login is on."
            } else {
                "Two-factor login is off."
            };
            Ok(page(&visitor, console, Some(done.to_owned()), None)?.into_response())
        }
        Err(AccountError::BadCode) => {
            let body = page(
                visitor,
                console,
                None,
                Some("The code did not match. Check the time on your device and try again.".into()),
            )?;
            Ok((StatusCode::BAD_REQUEST, body).into_response())
        }
        Err(e) => Err(PageError::internal(e)),
    }
}
