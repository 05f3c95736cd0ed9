//! How the PSU confirms: the authenticator app (enrol or replace by QR
//! code) and passkeys (add, remove). Changes only within `FRESH_FACTOR` of
//! passing the second factor; `/bank/online/confirm` asks for it again.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fintechapi_domain::otp::Seed;
use fintechapi_domain::psu::{Psu, PsuPasskey, PsuSessionStage};
use fintechapi_web::qr_svg;
use time::{Duration, OffsetDateTime};

use super::{Active, CsrfForm, FreshFactor, Online, OnlinePost, OnlineSession};
use crate::error::{BankError, secured, see_other};
use crate::passkey::{CEREMONY_TTL, ceremony_live};
use crate::service::{BankService, BankStore};
use crate::session::csrf_form;

/// How long after passing the second factor the PSU may change how they
/// confirm (authenticator app, passkeys) without passing it again.
const FRESH_FACTOR: Duration = Duration::minutes(5);

/// Longest name a PSU may give a passkey.
const PASSKEY_LABEL_MAX: usize = 60;

/// A change of factors, or the message why it was not made.
type Outcome = Result<String, String>;

/// The second factor was passed within `FRESH_FACTOR`.
pub(super) fn fresh<R: BankStore>(service: &BankService<R>, session: &Online) -> bool {
    session
        .factor_at
        .is_some_and(|at| service.oauth.server.now() - at <= FRESH_FACTOR)
}

/// A passkey as its owner sees it.
struct PasskeyLine {
    id: String,
    label: String,
    created: String,
    last_used: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "bank/security.html")]
struct SecurityPage {
    /// The bank's name, in the header and the title.
    bank: std::sync::Arc<str>,
    csrf: String,
    /// The second factor was passed recently enough to change factors.
    fresh: bool,
    enrolled: bool,
    seed: String,
    qr_svg: String,
    passkeys: Vec<PasskeyLine>,
    /// WebAuthn creation options for adding a passkey; None where passkeys
    /// are not offered (the bank's public URL is an IP address).
    passkey_options: Option<String>,
    notice: Option<String>,
    error: Option<String>,
}

/// WebAuthn creation options for one more passkey, the ceremony's state
/// kept; None where passkeys are not offered or the factor is not fresh.
async fn registration_options<R: BankStore>(
    service: &BankService<R>,
    session: &Online,
    psu: &Psu,
    stored: &[PsuPasskey],
) -> Result<Option<String>, BankError> {
    let Some(verifier) = service
        .settings
        .passkeys
        .as_ref()
        .filter(|_| fresh(service, session))
    else {
        return Ok(None);
    };
    let ceremony = match verifier.start_registration(psu, stored) {
        Ok(ceremony) => ceremony,
        Err(e) => {
            tracing::error!(psu = %psu.id, error = %e, "cannot start a passkey registration");
            return Ok(None);
        }
    };
    let now = service.oauth.server.now();
    let key = &session.registration_ceremony;
    let repo = service.oauth.server.repo();
    repo.put_webauthn_ceremony(key, ceremony.state, now, now - CEREMONY_TTL)
        .await?;
    Ok(Some(ceremony.options))
}

/// The security page with `status` and the outcome of a change, if any.
async fn security_page<R: BankStore>(
    service: &BankService<R>,
    session: &Online,
    psu: &Psu,
    status: StatusCode,
    outcome: Option<Outcome>,
) -> Result<Response, BankError> {
    let seed = Seed::generate().map_err(|_| BankError::expired())?;
    let stored = service.oauth.server.repo().psu_passkeys(psu.id).await?;
    let passkey_options = registration_options(service, session, psu, &stored).await?;
    let day = |t: OffsetDateTime| t.date().to_string();
    let passkeys = stored.into_iter().map(|p| PasskeyLine {
        id: p.credential_id,
        label: p.label,
        created: day(p.created_at),
        last_used: p.last_used_at.map(day).unwrap_or_else(|| "never".into()),
    });
    let (notice, error) = match outcome {
        Some(Ok(notice)) => (Some(notice), None),
        Some(Err(error)) => (None, Some(error)),
        None => (None, None),
    };
    let page = SecurityPage {
        bank: service.settings.bank_name.clone(),
        csrf: session.csrf.clone(),
        fresh: fresh(service, session),
        enrolled: psu.totp_enabled,
        qr_svg: qr_svg(&seed.otpauth_uri(&service.settings.bank_name, &psu.login)),
        seed: seed.to_base32(),
        passkeys: passkeys.collect(),
        passkey_options,
        notice,
        error,
    };
    Ok(secured((status, page).into_response(), None))
}

/// The page after a change: 200 with its notice, 400 with why not.
async fn security_answer<R: BankStore>(
    service: &BankService<R>,
    session: &Online,
    psu: &Psu,
    outcome: Outcome,
) -> Result<Response, BankError> {
    let status = match outcome {
        Ok(_) => StatusCode::OK,
        Err(_) => StatusCode::BAD_REQUEST,
    };
    security_page(service, session, psu, status, Some(outcome)).await
}

/// A change of factors on a session whose second factor is not fresh:
/// refused, with the way to confirm again.
pub(super) async fn stale_factor<R: BankStore>(
    service: &BankService<R>,
    session: &Online,
) -> Result<Response, BankError> {
    let psu = session.psu()?;
    let error = "Confirm it is you with your second factor first; then make the change.";
    let status = StatusCode::FORBIDDEN;
    security_page(service, session, &psu, status, Some(Err(error.into()))).await
}

/// The PSU's security page.
pub(super) async fn security<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    OnlineSession(session, _): OnlineSession<Active>,
) -> Result<Response, BankError> {
    let psu = session.psu()?;
    security_page(&service, &session, &psu, StatusCode::OK, None).await
}

/// Asks for the second factor again before the factors can be changed.
pub(super) async fn confirm<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    post: OnlinePost<Active, CsrfForm>,
) -> Result<Response, BankError> {
    let server = &service.oauth.server;
    let (active, second) = (PsuSessionStage::Active, PsuSessionStage::SecondFactor);
    let hash = &post.session.hash;
    let repo = server.repo();
    if !repo
        .advance_psu_session(hash, active, second, None, server.now())
        .await?
    {
        return Err(BankError::expired());
    }
    Ok(secured(see_other("/bank/online/sca"), None))
}

/// A one-time code and the new seed it was made with.
#[derive(serde::Deserialize)]
pub(super) struct CodeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    seed: String,
    #[serde(default)]
    csrf: String,
}

#[derive(serde::Deserialize)]
pub(super) struct PasskeyForm {
    #[serde(default)]
    label: String,
    #[serde(default)]
    credential: String,
    #[serde(default)]
    csrf: String,
}
csrf_form!(CodeForm, PasskeyForm);

/// Keeps the new seed once the app shows a current code for it.
pub(super) async fn enrol<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    post: OnlinePost<FreshFactor, CodeForm>,
) -> Result<Response, BankError> {
    let OnlinePost { session, form, .. } = post;
    let (psu, outcome) = enrol_app(&service, session.psu()?, &form).await?;
    security_answer(&service, &session, &psu, outcome).await
}

async fn enrol_app<R: BankStore>(
    service: &BankService<R>,
    psu: Psu,
    form: &CodeForm,
) -> Result<(Psu, Outcome), BankError> {
    let server = &service.oauth.server;
    let step = Seed::from_base32(&form.seed).and_then(|seed| {
        seed.matching_step(&form.code, server.now())
            .map(|step| (seed, step))
    });
    let Some((seed, step)) = step else {
        let error = "The code did not match. Check the time on your phone and try again.";
        return Ok((psu, Err(error.into())));
    };
    let sealer = server.pepper().sealer();
    let sealed = sealer
        .seal(seed.as_bytes())
        .map_err(|_| BankError::expired())?;
    server.repo().set_psu_totp(psu.id, Some(sealed)).await?;
    // The code just shown is used up.
    server.repo().accept_psu_totp_step(psu.id, step).await?;
    let notice = "Your authenticator app is set up. Use it to confirm logins and payments.";
    let psu = Psu {
        totp_enabled: true,
        ..psu
    };
    Ok((psu, Ok(notice.into())))
}

/// Registers the passkey the browser created for the options on the page.
pub(super) async fn add_passkey<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    post: OnlinePost<FreshFactor, PasskeyForm>,
) -> Result<Response, BankError> {
    let OnlinePost { session, form, .. } = post;
    let psu = session.psu()?;
    let label = form.label.trim();
    let outcome = if label.is_empty() || label.chars().count() > PASSKEY_LABEL_MAX {
        Err(format!(
            "Give the passkey a name of 1 to {PASSKEY_LABEL_MAX} characters, such as \"Phone\"."
        ))
    } else {
        register(&service, &session, &psu, label, &form.credential).await?
    };
    security_answer(&service, &session, &psu, outcome).await
}

async fn register<R: BankStore>(
    service: &BankService<R>,
    session: &Online,
    psu: &Psu,
    label: &str,
    credential: &str,
) -> Result<Outcome, BankError> {
    let Some(verifier) = &service.settings.passkeys else {
        return Ok(Err("This bank does not offer passkeys.".into()));
    };
    let server = &service.oauth.server;
    let now = server.now();
    let key = &session.registration_ceremony;
    let taken = server.repo().take_webauthn_ceremony(key).await?;
    let Some((state, _)) = taken.filter(|(_, began)| ceremony_live(*began, now)) else {
        return Ok(Err("The passkey prompt expired. Try again.".into()));
    };
    let (credential_id, credential) = match verifier.finish_registration(&state, credential) {
        Ok(created) => created,
        Err(e) => {
            tracing::info!(psu = %psu.id, reason = %e, "passkey registration refused");
            let error = "Your browser's passkey could not be registered. Try again.";
            return Ok(Err(error.into()));
        }
    };
    let passkey = PsuPasskey {
        credential_id,
        psu_id: psu.id,
        label: label.to_owned(),
        credential,
        created_at: now,
        last_used_at: None,
    };
    Ok(if server.repo().add_psu_passkey(passkey).await? {
        Ok(format!(
            "Passkey \"{label}\" added. Use it to confirm logins and payments."
        ))
    } else {
        Err("This passkey is registered already.".into())
    })
}

pub(super) async fn remove_passkey<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    Path(id): Path<String>,
    post: OnlinePost<FreshFactor, CsrfForm>,
) -> Result<Response, BankError> {
    let session = post.session;
    let psu = session.psu()?;
    let outcome = remove(&service, &psu, &id).await?;
    security_answer(&service, &session, &psu, outcome).await
}

/// Removes a passkey of the PSU's, unless it is their only factor.
async fn remove<R: BankStore>(
    service: &BankService<R>,
    psu: &Psu,
    id: &str,
) -> Result<Outcome, BankError> {
    let repo = service.oauth.server.repo();
    let passkeys = repo.psu_passkeys(psu.id).await?;
    let last_factor = !psu.totp_enabled && passkeys.len() == 1;
    if last_factor && passkeys.iter().any(|p| p.credential_id == id) {
        let error = "This is your only way to confirm logins and payments. Add another passkey \
                     or set up the authenticator app first.";
        return Ok(Err(error.into()));
    }
    Ok(if repo.remove_psu_passkey(psu.id, id).await? {
        Ok("Passkey removed. It no longer confirms anything for you.".into())
    } else {
        Err("There is no such passkey of yours.".into())
    })
}
