//! The PSU's own online banking, reached directly (not from a TPP): log in
//! with both factors, see which apps hold a consent to read the accounts, and
//! withdraw it (`revokedByPsu`, effective on the TPP's very next call). The
//! same RTS rules as the authorization pages: 5 failures block (temporarily,
//! growing), attempts are throttled, 5 idle minutes end the session, no hint
//! which factor was wrong. The PSU sees the bank's block alerts here.
//!
//! `consents.rs`: the consents and their withdrawal; `approvals.rs`: the
//! bank's app for the Decoupled SCA approach (requests awaiting the PSU,
//! approved or declined with a fresh second factor); `security.rs`: the
//! authenticator app and passkeys. Every handler takes its session through
//! `OnlineSession` or `OnlinePost`, whose rejection is the error page.

mod approvals;
mod consents;
mod security;

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fintechapi_domain::ids::PsuId;
use fintechapi_domain::psu::{Psu, PsuSessionStage};
use fintechapi_domain::secret::{KeyedHash, random_token};
use fintechapi_oauth::server::PSU_IDLE_TIMEOUT;
use fintechapi_web::cookie;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use crate::error::{BankError, secured, see_other};
use crate::factors::{Attempt, ScaForm, ScaPage, attempt, passkey_prompt};
use crate::login::{BLOCKED, LoginForm, LoginPage, check_password};
use crate::service::{BankService, BankSettings, BankStore};
use crate::session::{CsrfField, checked_form, csrf_form};

const ONLINE_COOKIE: &str = "__Host-ftapi_bank";

pub(crate) fn routes<R: BankStore>() -> Router<Arc<BankService<R>>> {
    Router::new()
        .route("/bank/online", get(start::<R>))
        .route("/bank/online/login", post(login::<R>))
        .route("/bank/online/sca", get(sca_form::<R>).post(sca::<R>))
        .route("/bank/online/consents", get(consents::consents::<R>))
        .route(
            crate::decoupled::APPROVALS_PATH,
            get(approvals::approvals::<R>),
        )
        .route(approvals::LIST_PATH, get(approvals::list::<R>))
        .route(
            "/bank/online/approvals/{id}",
            get(approvals::confirm::<R>).post(approvals::decide::<R>),
        )
        .route(
            "/bank/online/consents/{id}/revoke",
            get(consents::confirm_revoke::<R>).post(consents::revoke::<R>),
        )
        .route(
            "/bank/online/security",
            get(security::security::<R>).post(security::enrol::<R>),
        )
        .route("/bank/online/confirm", post(security::confirm::<R>))
        .route("/bank/online/passkeys", post(security::add_passkey::<R>))
        .route(
            "/bank/online/passkeys/{id}/remove",
            post(security::remove_passkey::<R>),
        )
        .route("/bank/online/logout", post(logout::<R>))
}

/// A live online-banking session at a stage.
struct Online {
    hash: KeyedHash,
    psu: Option<Psu>,
    /// When the second factor was last passed in this session.
    factor_at: Option<OffsetDateTime>,
    csrf: String,
    /// Where the passkey sign-in and registration ceremonies keep their state.
    sign_in_ceremony: KeyedHash,
    registration_ceremony: KeyedHash,
    /// Where the passkey ceremony of a pending approval keeps its state.
    approval_ceremony: KeyedHash,
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
            approval_ceremony: pepper.hash(&format!("online-webauthn-approval:{id}")),
        }
    }

    /// The PSU of a session past the password.
    fn psu(&self) -> Result<Psu, BankError> {
        self.psu.clone().ok_or_else(BankError::expired)
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

/// Any action counts as activity for the idle timeout.
async fn touch<R: BankStore>(service: &BankService<R>, session: &Online) -> Result<(), BankError> {
    let server = &service.oauth.server;
    let active = PsuSessionStage::Active;
    let repo = server.repo();
    repo.advance_psu_session(&session.hash, active, active, None, server.now())
        .await?;
    Ok(())
}

/// Where an online-banking session must stand for a request to be taken.
trait Stage {
    const STAGE: PsuSessionStage;
    /// The change needs the second factor passed within `FRESH_FACTOR`.
    const FRESH: bool = false;
    /// Not the PSU's activity (a page polling in the background), so the
    /// idle timeout still ends a session left open.
    const QUIET: bool = false;
}
struct AtLogin;
struct AtSecondFactor;
/// Signed in with both factors; each request counts as activity.
struct Active;
/// Signed in, and the second factor passed recently: changes of factors.
struct FreshFactor;
/// Signed in; a background poll that is not activity.
struct Watching;
impl Stage for AtLogin {
    const STAGE: PsuSessionStage = PsuSessionStage::Login;
}
impl Stage for AtSecondFactor {
    const STAGE: PsuSessionStage = PsuSessionStage::SecondFactor;
}
impl Stage for Active {
    const STAGE: PsuSessionStage = PsuSessionStage::Active;
}
impl Stage for FreshFactor {
    const STAGE: PsuSessionStage = PsuSessionStage::Active;
    const FRESH: bool = true;
}
impl Stage for Watching {
    const STAGE: PsuSessionStage = PsuSessionStage::Active;
    const QUIET: bool = true;
}

/// The live session of a page at stage `S`.
struct OnlineSession<S>(Online, PhantomData<S>);

impl<R: BankStore, S: Stage> FromRequestParts<Arc<BankService<R>>> for OnlineSession<S> {
    type Rejection = BankError;

    async fn from_request_parts(
        parts: &mut Parts,
        service: &Arc<BankService<R>>,
    ) -> Result<Self, BankError> {
        let session = online(service, &parts.headers, S::STAGE).await?;
        if S::STAGE == PsuSessionStage::Active && !S::QUIET {
            touch(service, &session).await?;
        }
        Ok(Self(session, PhantomData))
    }
}

/// A form post within a session at stage `S`: origin and CSRF token
/// checked, activity recorded. Its rejection is the answer page: the error
/// page, or for a change of factors on a stale second factor the security
/// page saying so (403).
struct OnlinePost<S, F> {
    session: Online,
    form: F,
    stage: PhantomData<S>,
}

impl<R, S, F> FromRequest<Arc<BankService<R>>> for OnlinePost<S, F>
where
    R: BankStore,
    S: Stage,
    F: DeserializeOwned + CsrfField + Send,
{
    type Rejection = Response;

    async fn from_request(
        request: Request,
        service: &Arc<BankService<R>>,
    ) -> Result<Self, Response> {
        let (parts, body) = request.into_parts();
        let session = online(service, &parts.headers, S::STAGE).await;
        let session = session.map_err(IntoResponse::into_response)?;
        let form = checked_form(parts, body, &session.csrf).await;
        let form = form.map_err(IntoResponse::into_response)?;
        if S::STAGE == PsuSessionStage::Active {
            touch(service, &session)
                .await
                .map_err(IntoResponse::into_response)?;
        }
        if S::FRESH && !security::fresh(service, &session) {
            let refused = security::stale_factor(service, &session).await;
            return Err(refused.unwrap_or_else(IntoResponse::into_response));
        }
        Ok(Self {
            session,
            form,
            stage: PhantomData,
        })
    }
}

#[derive(serde::Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}
csrf_form!(CsrfForm);

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

fn login_page(
    bank: &BankSettings,
    online: &Online,
    login: String,
    error: Option<String>,
) -> LoginPage {
    LoginPage {
        bank: bank.bank_name.clone(),
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
    let page = login_page(&service.settings, &session, String::new(), None);
    Ok(with_cookie(secured(page.into_response(), None), &id))
}

async fn login<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    post: OnlinePost<AtLogin, LoginForm>,
) -> Result<Response, BankError> {
    let OnlinePost { session, form, .. } = post;
    let psu = match check_password(&service, peer.ip(), form.login.trim(), form.password).await? {
        Ok(psu) => psu,
        Err(message) => {
            let page = login_page(
                &service.settings,
                &session,
                form.login,
                Some(message.into()),
            );
            return Ok(secured(
                (StatusCode::UNAUTHORIZED, page).into_response(),
                None,
            ));
        }
    };
    let stages = (PsuSessionStage::Login, PsuSessionStage::SecondFactor);
    renewed(
        &service,
        &session,
        stages,
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
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, BankError> {
    let page = ScaPage {
        bank: service.settings.bank_name.clone(),
        action: "/bank/online/sca",
        csrf: online.csrf.clone(),
        totp: psu.totp_enabled,
        sandbox_code: service.settings.sandbox_code.clone(),
        error,
        payment: None,
        basket: Vec::new(),
        challenge: None,
        passkey_options: passkey_prompt(service, psu, &[], &online.sign_in_ceremony).await?,
    };
    Ok(secured((status, page).into_response(), None))
}

async fn sca_form<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    OnlineSession(session, _): OnlineSession<AtSecondFactor>,
) -> Result<Response, BankError> {
    sca_page(&service, &session, &session.psu()?, StatusCode::OK, None).await
}

async fn sca<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    post: OnlinePost<AtSecondFactor, ScaForm>,
) -> Result<Response, BankError> {
    let OnlinePost { session, form, .. } = post;
    let ceremony = &session.sign_in_ceremony;
    let (psu, error) = match attempt(&service, session.psu()?.id, &form, &[], ceremony).await? {
        Attempt::Accepted => return passed(&service, &session).await,
        Attempt::Blocked => {
            service
                .oauth
                .server
                .repo()
                .end_psu_session(&session.hash)
                .await?;
            return Err(BankError::page(StatusCode::FORBIDDEN, BLOCKED));
        }
        Attempt::Stale(psu) => (psu, "The passkey prompt expired. Try again."),
        Attempt::Wrong(psu) => (
            psu,
            "That code or passkey was not accepted, or was used already.",
        ),
    };
    sca_page(
        &service,
        &session,
        &psu,
        StatusCode::UNAUTHORIZED,
        Some(error.into()),
    )
    .await
}

/// The second factor passed: signed in, or back to the change of factors a
/// session that passed it before is confirming.
async fn passed<R: BankStore>(
    service: &BankService<R>,
    session: &Online,
) -> Result<Response, BankError> {
    let next = match session.factor_at {
        Some(_) => "/bank/online/security",
        None => "/bank/online/consents",
    };
    let stages = (PsuSessionStage::SecondFactor, PsuSessionStage::Active);
    renewed(service, session, stages, None, true, next).await
}

async fn logout<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    post: OnlinePost<Active, CsrfForm>,
) -> Result<Response, BankError> {
    let repo = service.oauth.server.repo();
    repo.end_psu_session(&post.session.hash).await?;
    let mut response = see_other("/bank/online");
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "__Host-ftapi_bank=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    Ok(secured(response, None))
}
