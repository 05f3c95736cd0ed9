//! The PSU's own online banking, reached directly (not from a TPP): log in
//! with both factors, see which apps hold a consent to read the accounts, and
//! withdraw it (`revokedByPsu`, effective on the TPP's very next call). The
//! same RTS rules as the authorization pages: 5 failures block, 5 idle minutes
//! end the session, no hint which factor was wrong.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fintechapi_domain::consent::{Consent, ConsentStatus};
use fintechapi_domain::ids::ConsentId;
use fintechapi_domain::otp::Seed;
use fintechapi_domain::psu::{Psu, PsuSessionStage};
use fintechapi_domain::secret::random_token;
use fintechapi_portal::web::{cookie, qr_svg};

use crate::bank::{
    BankError, LoginForm, LoginPage, ScaPage, check_form_post, check_password, parsed,
    second_factor_accepted, secured, see_other,
};
use crate::server::PSU_IDLE_TIMEOUT;
use crate::web::{OAuthService, Repo};

const ONLINE_COOKIE: &str = "__Host-ftapi_bank";

pub(crate) fn routes<R: Repo>() -> Router<Arc<OAuthService<R>>> {
    Router::new()
        .route("/bank/online", get(start::<R>))
        .route("/bank/online/login", post(login::<R>))
        .route("/bank/online/sca", get(sca_form::<R>).post(sca::<R>))
        .route("/bank/online/consents", get(consents::<R>))
        .route("/bank/online/consents/{id}/revoke", post(revoke::<R>))
        .route("/bank/online/security", get(security::<R>).post(enrol::<R>))
        .route("/bank/online/logout", post(logout::<R>))
}

/// A live online-banking session at `stage`.
struct Online {
    hash: fintechapi_domain::secret::KeyedHash,
    psu: Option<Psu>,
    csrf: String,
}

async fn online<R: Repo>(
    service: &OAuthService<R>,
    headers: &HeaderMap,
    stage: PsuSessionStage,
) -> Result<Online, BankError> {
    let server = &service.server;
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
    let csrf = server
        .pepper()
        .hash(&format!("online-csrf:{id}"))
        .as_str()
        .to_owned();
    Ok(Online { hash, psu, csrf })
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
async fn start<R: Repo>(
    State(service): State<Arc<OAuthService<R>>>,
) -> Result<Response, BankError> {
    let server = &service.server;
    let id = random_token(32).map_err(|_| BankError::expired())?;
    let hash = server.pepper().hash(&id);
    server
        .repo()
        .create_psu_session(&hash, server.now())
        .await?;
    let csrf = server
        .pepper()
        .hash(&format!("online-csrf:{id}"))
        .as_str()
        .to_owned();
    let page = login_page(
        &Online {
            hash,
            psu: None,
            csrf,
        },
        String::new(),
        None,
    );
    let mut response = secured(page.into_response(), None);
    let cookie = format!("{ONLINE_COOKIE}={id}; Path=/; Secure; HttpOnly; SameSite=Strict");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

async fn login<R: Repo>(
    State(service): State<Arc<OAuthService<R>>>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, BankError> {
    let session = online(&service, &headers, PsuSessionStage::Login).await?;
    let form = parsed(form)?;
    check_post(&headers, &uri, &form.csrf, &session)?;
    let psu = match check_password(&service, form.login.trim(), form.password).await? {
        Ok(psu) => psu,
        Err(message) => {
            let page = login_page(&session, form.login, Some(message.into()));
            return Ok(secured(
                (StatusCode::UNAUTHORIZED, page).into_response(),
                None,
            ));
        }
    };
    let server = &service.server;
    server.repo().reset_psu_login_failures(psu.id).await?;
    server
        .repo()
        .advance_psu_session(
            &session.hash,
            PsuSessionStage::Login,
            PsuSessionStage::SecondFactor,
            Some(psu.id),
            server.now(),
        )
        .await?;
    Ok(secured(see_other("/bank/online/sca"), None))
}

fn sca_page<R: Repo>(
    service: &OAuthService<R>,
    online: &Online,
    psu: &Psu,
    error: Option<String>,
) -> ScaPage {
    ScaPage {
        action: "/bank/online/sca",
        csrf: online.csrf.clone(),
        totp: psu.totp_enabled,
        sandbox_code: service.bank.sandbox_code.clone(),
        error,
        payment: None,
        challenge: None,
    }
}

async fn sca_form<R: Repo>(
    State(service): State<Arc<OAuthService<R>>>,
    headers: HeaderMap,
) -> Result<Response, BankError> {
    let session = online(&service, &headers, PsuSessionStage::SecondFactor).await?;
    let psu = session.psu.clone().ok_or_else(BankError::expired)?;
    Ok(secured(
        sca_page(&service, &session, &psu, None).into_response(),
        None,
    ))
}

/// A one-time code (and, when enrolling, the new seed it was made with).
#[derive(serde::Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    seed: String,
    #[serde(default)]
    csrf: String,
}

async fn sca<R: Repo>(
    State(service): State<Arc<OAuthService<R>>>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Result<Response, BankError> {
    let session = online(&service, &headers, PsuSessionStage::SecondFactor).await?;
    let form = parsed(form)?;
    check_post(&headers, &uri, &form.csrf, &session)?;
    let psu = session.psu.clone().ok_or_else(BankError::expired)?;
    let server = &service.server;
    if psu.is_blocked() || !second_factor_accepted(&service, &psu, form.code.trim(), None).await? {
        let blocked = psu.is_blocked()
            || server
                .repo()
                .record_psu_login_failure(psu.id, server.now())
                .await?
                .is_some_and(|p| p.is_blocked());
        if blocked {
            server.repo().end_psu_session(&session.hash).await?;
            return Err(BankError::page(
                StatusCode::FORBIDDEN,
                "Your online banking access is blocked after 5 failed attempts. Contact your bank to unblock it.",
            ));
        }
        let page = sca_page(
            &service,
            &session,
            &psu,
            Some("That code is not right, or was used already.".into()),
        );
        return Ok(secured(
            (StatusCode::UNAUTHORIZED, page).into_response(),
            None,
        ));
    }
    server.repo().reset_psu_login_failures(psu.id).await?;
    server
        .repo()
        .advance_psu_session(
            &session.hash,
            PsuSessionStage::SecondFactor,
            PsuSessionStage::Active,
            None,
            server.now(),
        )
        .await?;
    Ok(secured(see_other("/bank/online/consents"), None))
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
}

async fn consents_page<R: Repo>(
    service: &OAuthService<R>,
    session: &Online,
    notice: Option<String>,
) -> Result<ConsentsPage, BankError> {
    let psu = session.psu.clone().ok_or_else(BankError::expired)?;
    let repo = service.server.repo();
    let today = service.server.now().date();
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
    Ok(ConsentsPage {
        csrf: session.csrf.clone(),
        name: psu.display_name,
        lines,
        notice,
    })
}

async fn consents<R: Repo>(
    State(service): State<Arc<OAuthService<R>>>,
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

/// Any action counts as activity for the idle timeout.
async fn touch<R: Repo>(service: &OAuthService<R>, session: &Online) -> Result<(), BankError> {
    let server = &service.server;
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

async fn revoke<R: Repo>(
    State(service): State<Arc<OAuthService<R>>>,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, BankError> {
    let session = online(&service, &headers, PsuSessionStage::Active).await?;
    let form = parsed(form)?;
    check_post(&headers, &uri, &form.csrf, &session)?;
    touch(&service, &session).await?;
    let psu = session.psu.clone().ok_or_else(BankError::expired)?;
    let not_yours = || BankError::page(StatusCode::NOT_FOUND, "There is no such consent of yours.");
    let id: ConsentId = id.parse().map_err(|_| not_yours())?;
    let server = &service.server;
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

async fn logout<R: Repo>(
    State(service): State<Arc<OAuthService<R>>>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, BankError> {
    let session = online(&service, &headers, PsuSessionStage::Active).await?;
    let form = parsed(form)?;
    check_post(&headers, &uri, &form.csrf, &session)?;
    service.server.repo().end_psu_session(&session.hash).await?;
    let mut response = see_other("/bank/online");
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "__Host-ftapi_bank=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    Ok(secured(response, None))
}

#[derive(Template, WebTemplate)]
#[template(path = "bank/security.html")]
struct SecurityPage {
    csrf: String,
    enrolled: bool,
    seed: String,
    qr_svg: String,
    notice: Option<String>,
    error: Option<String>,
}

fn security_page(
    session: &Online,
    psu: &Psu,
    notice: Option<String>,
    error: Option<String>,
) -> Result<SecurityPage, BankError> {
    let seed = Seed::generate().map_err(|_| BankError::expired())?;
    Ok(SecurityPage {
        csrf: session.csrf.clone(),
        enrolled: psu.totp_enabled,
        qr_svg: qr_svg(&seed.otpauth_uri("FinTechAPI Bank", &psu.login)),
        seed: seed.to_base32(),
        notice,
        error,
    })
}

/// The PSU's security page: enrol (or replace) the authenticator app by QR code.
async fn security<R: Repo>(
    State(service): State<Arc<OAuthService<R>>>,
    headers: HeaderMap,
) -> Result<Response, BankError> {
    let session = online(&service, &headers, PsuSessionStage::Active).await?;
    touch(&service, &session).await?;
    let psu = session.psu.clone().ok_or_else(BankError::expired)?;
    Ok(secured(
        security_page(&session, &psu, None, None)?.into_response(),
        None,
    ))
}

/// Keeps the new seed once the app shows a current code for it.
async fn enrol<R: Repo>(
    State(service): State<Arc<OAuthService<R>>>,
    headers: HeaderMap,
    uri: Uri,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Result<Response, BankError> {
    let session = online(&service, &headers, PsuSessionStage::Active).await?;
    let form = parsed(form)?;
    check_post(&headers, &uri, &form.csrf, &session)?;
    touch(&service, &session).await?;
    let psu = session.psu.clone().ok_or_else(BankError::expired)?;
    let server = &service.server;
    let step = Seed::from_base32(&form.seed).and_then(|seed| {
        seed.matching_step(&form.code, server.now())
            .map(|step| (seed, step))
    });
    let Some((seed, step)) = step else {
        let page = security_page(
            &session,
            &psu,
            None,
            Some("The code did not match. Check the time on your phone and try again.".into()),
        )?;
        return Ok(secured(
            (StatusCode::BAD_REQUEST, page).into_response(),
            None,
        ));
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
    let page = security_page(
        &session,
        &psu,
        Some("Your authenticator app is set up. Use it to confirm logins and payments.".into()),
        None,
    )?;
    Ok(secured(page.into_response(), None))
}
