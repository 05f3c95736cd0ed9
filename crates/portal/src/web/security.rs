//! The developer's security page: turn a TOTP second factor on (scan a QR
//! code, confirm with a code) or off (with a code).

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::otp::Seed;
use fintechapi_web::qr_svg;
use serde::Deserialize;

use super::session::{DeveloperPost, Visitor, csrf_protected};
use super::{Nav, PageError, Portal, PortalStore};
use crate::accounts::AccountError;

#[derive(Template, WebTemplate)]
#[template(path = "security.html")]
struct SecurityPage {
    nav: Nav,
    enabled: bool,
    seed: String,
    qr_svg: String,
    message: Option<String>,
    error: Option<String>,
}

fn page(
    visitor: &Visitor,
    message: Option<String>,
    error: Option<String>,
) -> Result<SecurityPage, PageError> {
    let (_, user) = visitor.user()?;
    let (seed, qr) = if user.totp_enabled {
        (String::new(), String::new())
    } else {
        let seed = Seed::generate().map_err(PageError::internal)?;
        let uri = seed.otpauth_uri("FinTechAPI", user.email.as_str());
        (seed.to_base32(), qr_svg(&uri))
    };
    Ok(SecurityPage {
        nav: visitor.nav(),
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
    Ok(page(&visitor, None, None)?.into_response())
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
    let (_, user) = visitor.user()?;
    let result = match input.action.as_str() {
        "enable" => {
            portal
                .accounts
                .enable_totp(user, &input.seed, &input.code)
                .await
        }
        "disable" => portal.accounts.disable_totp(user, &input.code).await,
        _ => return Err(PageError::new(StatusCode::BAD_REQUEST, "Unknown action.")),
    };
    match result {
        Ok(()) => {
            // Read the user again: the switch just changed.
            let visitor = Visitor::load(&portal, &headers).await?;
            let done = if input.action == "enable" {
                "Two-factor login is on."
            } else {
                "Two-factor login is off."
            };
            Ok(page(&visitor, Some(done.to_owned()), None)?.into_response())
        }
        Err(AccountError::BadCode) => {
            let body = page(
                &visitor,
                None,
                Some("The code did not match. Check the time on your device and try again.".into()),
            )?;
            Ok((StatusCode::BAD_REQUEST, body).into_response())
        }
        Err(e) => Err(PageError::internal(e)),
    }
}
