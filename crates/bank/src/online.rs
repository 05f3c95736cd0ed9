//! The PSU's own online banking, reached directly (not from a TPP): log in
//! with both factors, see which apps hold a consent to read the accounts, and
//! withdraw it (`revokedByPsu`, effective on the TPP's very next call). The
//! same RTS rules as the authorization pages: 5 failures block (temporarily,
//! growing), attempts are throttled, 5 idle minutes end the session, no hint
//! which factor was wrong. The PSU sees the bank's block alerts here.

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fintechapi_domain::consent::{Consent, ConsentStatus};
use fintechapi_domain::ids::{ConsentId, PsuId};
use fintechapi_domain::otp::Seed;
use fintechapi_domain::psu::{Psu, PsuNotice, PsuPasskey, PsuSessionStage};
use fintechapi_domain::secret::{KeyedHash, random_token};
use fintechapi_oauth::server::PSU_IDLE_TIMEOUT;
use fintechapi_web::{cookie, qr_svg};
use time::{Duration, OffsetDateTime};

use crate::error::{BankError, parsed, secured, see_other};
use crate::factors::{Factor, ScaForm, ScaPage, check_second_factor, passkey_prompt};
use crate::login::{BLOCKED, LoginForm, LoginPage, check_password, fail};
use crate::passkey::{CEREMONY_TTL, ceremony_live};
use crate::service::{BankService, BankStore};
use crate::session::check_form_post;

const ONLINE_COOKIE: &str = "__Host-ftapi_bank";

pub(crate) fn routes<R: BankStore>() -> Router<Arc<BankService<R>>> {
    Router::new()
        .route("/bank/online", get(start::<R>))
        .route("/bank/online/login", post(login::<R>))
        .route("/bank/online/sca", get(sca_form::<R>).post(sca::<R>))
        .route("/bank/online/consents", get(consents::<R>))
        .route("/bank/online/consents/{id}/revoke", post(revoke::<R>))
        .route("/bank/online/security", get(security::<R>).post(enrol::<R>))
        .route("/bank/online/confirm", post(confirm::<R>))
        .route("/bank/online/passkeys", post(add_passkey::<R>))
        .route(
            "/bank/online/passkeys/{id}/remove",
            post(remove_passkey::<R>),
        )
        .route("/bank/online/logout", post(logout::<R>))
}

/// How long after passing the second factor the PSU may change how they
/// confirm (authenticator app, passkeys) without passing it again.
const FRESH_FACTOR: Duration = Duration::minutes(5);

/// A live online-banking session at `stage`.
struct Online {
    hash: KeyedHash,
    psu: Option<Psu>,
    /// When the second factor was last passed in this session.
    factor_at: Option<OffsetDateTime>,
    csrf: String,
    /// Where the passkey sign-in and registration ceremonies keep their state.
    sign_in_ceremony: KeyedHash,
    registration_ceremony: KeyedHash,
}

impl Online {
    fn new<R: BankStore>(
        service: &BankService<R>,
        id: &str,
        psu: Option<Psu>,
        factor_at: Option<OffsetDateTime>,
    ) -> Self {
        let pepper = service.oauth.server.pepper();
        Self {
            hash: pepper.hash(id),
            psu,
            factor_at,
            csrf: pepper
                .hash(&format!("online-csrf:{id}"))
                .as_str()
                .to_owned(),
            sign_in_ceremony: pepper.hash(&format!("online-webauthn-sign-in:{id}")),
            registration_ceremony: pepper.hash(&format!("online-webauthn-registration:{id}")),
        }
    }
}

async fn online<R: BankStore>(
    service: &BankService<R>,
    headers: &HeaderMap,
    stage: PsuSessionStage,
) -> Result<Online, BankError> {
    let server = &service.oauth.server;
    let ended = || {
        BankError::page(
            StatusCode::BAD_REQUEST,
            "Your online-banking session has ended. Start again at /bank/online.",
        )
    };
    let id = cookie(headers, ONLINE_COOKIE).ok_or_else(ended)?;
    let hash = server.pepper().hash(&id);
    let session = server.repo().psu_session(&hash).await?.ok_or_else(ended)?;
    if server.now() - session.last_activity_at > PSU_IDLE_TIMEOUT {
        server.repo().end_psu_session(&hash).await?;
        return Err(BankError::page(
            StatusCode::BAD_REQUEST,
            "Your session ended after 5 minutes without activity. Start again at /bank/online.",
        ));
    }
    if session.stage != stage {
        return Err(ended());
    }
    let psu = match session.psu_id {
        Some(id) => server.repo().psu(id).await?,
        None => None,
    };
    Ok(Online::new(service, &id, psu, session.factor_at))
}

/// The second factor was passed within `FRESH_FACTOR`.
fn fresh<R: BankStore>(service: &BankService<R>, session: &Online) -> bool {
    session
        .factor_at
        .is_some_and(|at| service.oauth.server.now() - at <= FRESH_FACTOR)
}

fn with_cookie(mut response: Response, id: &str) -> Response {
    let cookie = format!("{ONLINE_COOKIE}={id}; Path=/; Secure; HttpOnly; SameSite=Strict");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// Moves the session to its next stage under a new id and sends the browser
/// to `next` with it: an id known before a privilege change is dead after it.
async fn renewed<R: BankStore>(
    service: &BankService<R>,
    session: &Online,
    stages: (PsuSessionStage, PsuSessionStage),
    psu: Option<PsuId>,
    factor: bool,
    next: &str,
) -> Result<Response, BankError> {
    let server = &service.oauth.server;
    let id = random_token(32).map_err(|_| BankError::expired())?;
    let moved = server
        .repo()
        .renew_psu_session(
            &session.hash,
            &server.pepper().hash(&id),
            stages,
            psu,
            factor,
            server.now(),
        )
        .await?;
    if !moved {
        return Err(BankError::expired());
    }
    Ok(with_cookie(secured(see_other(next), None), &id))
}

fn check_post(
    headers: &HeaderMap,
    uri: &Uri,
    csrf: &str,
    online: &Online,
) -> Result<(), BankError> {
    check_form_post(headers, uri, csrf, &online.csrf)
}

fn login_page(online: &Online, login: String, error: Option<String>) -> LoginPage {
    LoginPage {
        action: "/bank/online/login",
        requester: None,
        csrf: online.csrf.clone(),
        login,
        error,
    }
}

/// Opens a new session and shows the login form.
async fn start<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
) -> Result<Response, BankError> {
    let server = &service.oauth.server;
    let id = random_token(32).map_err(|_| BankError::expired())?;
    let session = Online::new(&service, &id, None, None);
    server
        .repo()
        .create_psu_session(&session.hash, server.now())
        .await?;
    let page = login_page(&session, String::new(), None);
    Ok(with_cookie(secured(page.into_response(), None), &id))
}

async fn login<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, BankError> {
    let session = online(&service, &headers, PsuSessionStage::Login).await?;
    let form = parsed(form)?;
    check_post(&headers, &uri, &form.csrf, &session)?;
    let psu = match check_password(&service, peer.ip(), form.login.trim(), form.password).await? {
        Ok(psu) => psu,
        Err(message) => {
            let page = login_page(&session, form.login, Some(message.into()));
            return Ok(secured(
                (StatusCode::UNAUTHORIZED, page).into_response(),
                None,
            ));
        }
    };
    renewed(
        &service,
        &session,
        (PsuSessionStage::Login, PsuSessionStage::SecondFactor),
        Some(psu.id),
        false,
        "/bank/online/sca",
    )
    .await
}

async fn sca_page<R: BankStore>(
    service: &BankService<R>,
    online: &Online,
    psu: &Psu,
    error: Option<String>,
) -> Result<ScaPage, BankError> {
    Ok(ScaPage {
        action: "/bank/online/sca",
        csrf: online.csrf.clone(),
        totp: psu.totp_enabled,
        sandbox_code: service.settings.sandbox_code.clone(),
        error,
        payment: None,
        challenge: None,
        passkey_options: passkey_prompt(service, psu, None, &online.sign_in_ceremony).await?,
    })
}

async fn sca_form<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    headers: HeaderMap,
) -> Result<Response, BankError> {
    let session = online(&service, &headers, PsuSessionStage::SecondFactor).await?;
    let psu = session.psu.clone().ok_or_else(BankError::expired)?;
    Ok(secured(
        sca_page(&service, &session, &psu, None)
            .await?
            .into_response(),
        None,
    ))
}

async fn sca<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form<ScaForm>, FormRejection>,
) -> Result<Response, BankError> {
    let session = online(&service, &headers, PsuSessionStage::SecondFactor).await?;
    let form = parsed(form)?;
    check_post(&headers, &uri, &form.csrf, &session)?;
    let psu = session.psu.clone().ok_or_else(BankError::expired)?;
    let server = &service.oauth.server;
    let blocked = || async {
        server.repo().end_psu_session(&session.hash).await?;
        Err::<Response, _>(BankError::page(StatusCode::FORBIDDEN, BLOCKED))
    };
    let Some(psu) = server
        .repo()
        .begin_psu_attempt(psu.id, server.now())
        .await?
    else {
        return blocked().await;
    };
    let outcome =
        check_second_factor(&service, &psu, &form, None, &session.sign_in_ceremony).await?;
    let error = match outcome {
        Factor::Accepted => None,
        Factor::Stale => Some("The passkey prompt expired. Try again."),
        Factor::Wrong => {
            if fail(&service, &psu).await? {
                return blocked().await;
            }
            Some("That code or passkey was not accepted, or was used already.")
        }
    };
    if let Some(error) = error {
        let page = sca_page(&service, &session, &psu, Some(error.into())).await?;
        return Ok(secured(
            (StatusCode::UNAUTHORIZED, page).into_response(),
            None,
        ));
    }
    server.repo().reset_psu_login_failures(psu.id).await?;
    // A session that passed the factor before is confirming a change of factors.
    let next = match session.factor_at {
        Some(_) => "/bank/online/security",
        None => "/bank/online/consents",
    };
    renewed(
        &service,
        &session,
        (PsuSessionStage::SecondFactor, PsuSessionStage::Active),
        None,
        true,
        next,
    )
    .await
}

/// One consent as the PSU sees it.
struct ConsentLine {
    consent: Consent,
    app_name: String,
    tpp_name: String,
    status: ConsentStatus,
}

#[derive(Template, WebTemplate)]
#[template(path = "bank/online.html")]
struct ConsentsPage {
    csrf: String,
    name: String,
    lines: Vec<ConsentLine>,
    notice: Option<String>,
    /// The bank's recent alerts about blocks of this access.
    alerts: Vec<PsuNotice>,
}

async fn consents_page<R: BankStore>(
    service: &BankService<R>,
    session: &Online,
    notice: Option<String>,
) -> Result<ConsentsPage, BankError> {
    let psu = session.psu.clone().ok_or_else(BankError::expired)?;
    let repo = service.oauth.server.repo();
    let today = service.oauth.server.now().date();
    let mut lines = Vec::new();
    for consent in repo.consents_of_psu(psu.id).await? {
        let app = repo.application(consent.application_id).await?;
        let org = match &app {
            Some(a) => repo.organisation(a.organisation_id).await?,
            None => None,
        };
        lines.push(ConsentLine {
            status: consent.status_on(today),
            app_name: app.map(|a| a.name).unwrap_or_default(),
            tpp_name: org.map(|o| o.legal_name).unwrap_or_default(),
            consent,
        });
    }
    let alerts = repo.psu_notices(psu.id, 5).await?;
    Ok(ConsentsPage {
        csrf: session.csrf.clone(),
        name: psu.display_name,
        lines,
        notice,
        alerts,
    })
}

async fn consents<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    headers: HeaderMap,
) -> Result<Response, BankError> {
    let session = online(&service, &headers, PsuSessionStage::Active).await?;
    touch(&service, &session).await?;
    Ok(secured(
        consents_page(&service, &session, None)
            .await?
            .into_response(),
        None,
    ))
}

/// A form post within a signed-in session: origin and CSRF token checked,
/// activity recorded; the session and its PSU.
async fn active_post<R: BankStore>(
    service: &BankService<R>,
    headers: &HeaderMap,
    uri: &Uri,
    csrf: &str,
) -> Result<(Online, Psu), BankError> {
    let session = online(service, headers, PsuSessionStage::Active).await?;
    check_post(headers, uri, csrf, &session)?;
    touch(service, &session).await?;
    let psu = session.psu.clone().ok_or_else(BankError::expired)?;
    Ok((session, psu))
}

/// Any action counts as activity for the idle timeout.
async fn touch<R: BankStore>(service: &BankService<R>, session: &Online) -> Result<(), BankError> {
    let server = &service.oauth.server;
    server
        .repo()
        .advance_psu_session(
            &session.hash,
            PsuSessionStage::Active,
            PsuSessionStage::Active,
            None,
            server.now(),
        )
        .await?;
    Ok(())
}

#[derive(serde::Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn revoke<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, BankError> {
    let form = parsed(form)?;
    let (session, psu) = active_post(&service, &headers, &uri, &form.csrf).await?;
    let not_yours = || BankError::page(StatusCode::NOT_FOUND, "There is no such consent of yours.");
    let id: ConsentId = id.parse().map_err(|_| not_yours())?;
    let server = &service.oauth.server;
    let consent = server
        .repo()
        .consent(id)
        .await?
        .filter(|c| c.psu_id == Some(psu.id))
        .ok_or_else(not_yours)?;
    let revoked = server
        .repo()
        .set_consent_status(
            consent.id,
            &[ConsentStatus::Valid],
            ConsentStatus::RevokedByPsu,
            server.now(),
        )
        .await?;
    let notice = if revoked {
        "Access withdrawn. The app can no longer read your accounts."
    } else {
        "This consent had already ended."
    };
    Ok(secured(
        consents_page(&service, &session, Some(notice.into()))
            .await?
            .into_response(),
        None,
    ))
}

async fn logout<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, BankError> {
    let session = online(&service, &headers, PsuSessionStage::Active).await?;
    let form = parsed(form)?;
    check_post(&headers, &uri, &form.csrf, &session)?;
    service
        .oauth
        .server
        .repo()
        .end_psu_session(&session.hash)
        .await?;
    let mut response = see_other("/bank/online");
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "__Host-ftapi_bank=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    Ok(secured(response, None))
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

async fn security_page<R: BankStore>(
    service: &BankService<R>,
    session: &Online,
    psu: &Psu,
    notice: Option<String>,
    error: Option<String>,
) -> Result<SecurityPage, BankError> {
    let seed = Seed::generate().map_err(|_| BankError::expired())?;
    let repo = service.oauth.server.repo();
    let stored = repo.psu_passkeys(psu.id).await?;
    let fresh = fresh(service, session);
    let passkey_options = match &service.settings.passkeys {
        Some(verifier) if fresh => match verifier.start_registration(psu, &stored) {
            Ok(ceremony) => {
                let now = service.oauth.server.now();
                repo.put_webauthn_ceremony(
                    &session.registration_ceremony,
                    ceremony.state,
                    now,
                    now - CEREMONY_TTL,
                )
                .await?;
                Some(ceremony.options)
            }
            Err(e) => {
                tracing::error!(psu = %psu.id, error = %e, "cannot start a passkey registration");
                None
            }
        },
        _ => None,
    };
    let day = |t: OffsetDateTime| t.date().to_string();
    Ok(SecurityPage {
        csrf: session.csrf.clone(),
        fresh,
        enrolled: psu.totp_enabled,
        qr_svg: qr_svg(&seed.otpauth_uri("FinTechAPI Bank", &psu.login)),
        seed: seed.to_base32(),
        passkeys: stored
            .into_iter()
            .map(|p| PasskeyLine {
                id: p.credential_id,
                label: p.label,
                created: day(p.created_at),
                last_used: p.last_used_at.map(day).unwrap_or_else(|| "never".into()),
            })
            .collect(),
        passkey_options,
        notice,
        error,
    })
}

async fn security_answer<R: BankStore>(
    service: &BankService<R>,
    session: &Online,
    psu: &Psu,
    outcome: Result<String, String>,
) -> Result<Response, BankError> {
    let (status, notice, error) = match outcome {
        Ok(notice) => (StatusCode::OK, Some(notice), None),
        Err(error) => (StatusCode::BAD_REQUEST, None, Some(error)),
    };
    let page = security_page(service, session, psu, notice, error).await?;
    Ok(secured((status, page).into_response(), None))
}

/// A change of factors on a session whose second factor is not fresh: refused,
/// with the way to confirm again.
async fn stale_factor<R: BankStore>(
    service: &BankService<R>,
    session: &Online,
    psu: &Psu,
) -> Result<Response, BankError> {
    let error = "Confirm it is you with your second factor first; then make the change.";
    let page = security_page(service, session, psu, None, Some(error.into())).await?;
    Ok(secured((StatusCode::FORBIDDEN, page).into_response(), None))
}

/// Asks for the second factor again before the factors can be changed.
async fn confirm<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, BankError> {
    let form = parsed(form)?;
    let (session, _) = active_post(&service, &headers, &uri, &form.csrf).await?;
    let server = &service.oauth.server;
    let moved = server
        .repo()
        .advance_psu_session(
            &session.hash,
            PsuSessionStage::Active,
            PsuSessionStage::SecondFactor,
            None,
            server.now(),
        )
        .await?;
    if !moved {
        return Err(BankError::expired());
    }
    Ok(secured(see_other("/bank/online/sca"), None))
}

/// The PSU's security page: the authenticator app (enrol or replace by QR
/// code) and passkeys (add, remove).
async fn security<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    headers: HeaderMap,
) -> Result<Response, BankError> {
    let session = online(&service, &headers, PsuSessionStage::Active).await?;
    touch(&service, &session).await?;
    let psu = session.psu.clone().ok_or_else(BankError::expired)?;
    Ok(secured(
        security_page(&service, &session, &psu, None, None)
            .await?
            .into_response(),
        None,
    ))
}

/// A one-time code and the new seed it was made with.
#[derive(serde::Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    seed: String,
    #[serde(default)]
    csrf: String,
}

/// Keeps the new seed once the app shows a current code for it.
async fn enrol<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Result<Response, BankError> {
    let form = parsed(form)?;
    let (session, psu) = active_post(&service, &headers, &uri, &form.csrf).await?;
    if !fresh(&service, &session) {
        return stale_factor(&service, &session, &psu).await;
    }
    let server = &service.oauth.server;
    let step = Seed::from_base32(&form.seed).and_then(|seed| {
        seed.matching_step(&form.code, server.now())
            .map(|step| (seed, step))
    });
    let Some((seed, step)) = step else {
        let error = "The code did not match. Check the time on your phone and try again.";
        return security_answer(&service, &session, &psu, Err(error.into())).await;
    };
    let sealed = server
        .pepper()
        .sealer()
        .seal(seed.as_bytes())
        .map_err(|_| BankError::expired())?;
    server.repo().set_psu_totp(psu.id, Some(sealed)).await?;
    // The code just shown is used up.
    server.repo().accept_psu_totp_step(psu.id, step).await?;
    let psu = Psu {
        totp_enabled: true,
        ..psu
    };
    let notice = "Your authenticator app is set up. Use it to confirm logins and payments.";
    security_answer(&service, &session, &psu, Ok(notice.into())).await
}

#[derive(serde::Deserialize)]
struct PasskeyForm {
    #[serde(default)]
    label: String,
    #[serde(default)]
    credential: String,
    #[serde(default)]
    csrf: String,
}

/// Longest name a PSU may give a passkey.
const PASSKEY_LABEL_MAX: usize = 60;

/// Registers the passkey the browser created for the options on the page.
async fn add_passkey<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form<PasskeyForm>, FormRejection>,
) -> Result<Response, BankError> {
    let form = parsed(form)?;
    let (session, psu) = active_post(&service, &headers, &uri, &form.csrf).await?;
    if !fresh(&service, &session) {
        return stale_factor(&service, &session, &psu).await;
    }
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
) -> Result<Result<String, String>, BankError> {
    let Some(verifier) = &service.settings.passkeys else {
        return Ok(Err("This bank does not offer passkeys.".into()));
    };
    let server = &service.oauth.server;
    let now = server.now();
    let taken = server
        .repo()
        .take_webauthn_ceremony(&session.registration_ceremony)
        .await?;
    let Some((state, _)) = taken.filter(|(_, began)| ceremony_live(*began, now)) else {
        return Ok(Err("The passkey prompt expired. Try again.".into()));
    };
    let (credential_id, credential) = match verifier.finish_registration(&state, credential) {
        Ok(created) => created,
        Err(e) => {
            tracing::info!(psu = %psu.id, reason = %e, "passkey registration refused");
            return Ok(Err(
                "Your browser's passkey could not be registered. Try again.".into(),
            ));
        }
    };
    let added = server
        .repo()
        .add_psu_passkey(PsuPasskey {
            credential_id,
            psu_id: psu.id,
            label: label.to_owned(),
            credential,
            created_at: now,
            last_used_at: None,
        })
        .await?;
    Ok(if added {
        Ok(format!(
            "Passkey \"{label}\" added. Use it to confirm logins and payments."
        ))
    } else {
        Err("This passkey is registered already.".into())
    })
}

async fn remove_passkey<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, BankError> {
    let form = parsed(form)?;
    let (session, psu) = active_post(&service, &headers, &uri, &form.csrf).await?;
    if !fresh(&service, &session) {
        return stale_factor(&service, &session, &psu).await;
    }
    let repo = service.oauth.server.repo();
    let passkeys = repo.psu_passkeys(psu.id).await?;
    let last_factor = !psu.totp_enabled && passkeys.len() == 1;
    if last_factor && passkeys.iter().any(|p| p.credential_id == id) {
        let error = "This is your only way to confirm logins and payments. Add another passkey \
                     or set up the authenticator app first.";
        return security_answer(&service, &session, &psu, Err(error.into())).await;
    }
    let removed = repo.remove_psu_passkey(psu.id, &id).await?;
    let outcome = if removed {
        Ok("Passkey removed. It no longer confirms anything for you.".into())
    } else {
        Err("There is no such passkey of yours.".into())
    };
    security_answer(&service, &session, &psu, outcome).await
}
