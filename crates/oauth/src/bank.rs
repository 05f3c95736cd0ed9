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
        include_str!("../assets/passkey.js"),
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

// ---------------------------------------------------------------- session

/// The authorization behind the browser's cookie, if the session is live.
struct PsuSession {
    authorization: Authorization,
    csrf: String,
    /// Where this session's WebAuthn ceremony state is kept.
    ceremony: KeyedHash,
}

async fn session<R: OAuthStore>(
    service: &OAuthService<R>,
    headers: &HeaderMap,
    stage: AuthorizationStage,
) -> Result<PsuSession, BankError> {
    let server = &service.server;
    let id = cookie(headers, PSU_COOKIE).ok_or_else(BankError::expired)?;
    let authorization = server
        .repo()
        .authorization_by_session(&server.pepper().hash(&id))
        .await?
        .ok_or_else(BankError::expired)?;
    if server.now() - authorization.last_activity_at > PSU_IDLE_TIMEOUT {
        return Err(BankError::page(
            StatusCode::BAD_REQUEST,
            "Your session ended after 5 minutes without activity. Return to the app you came \
             from and start again.",
        ));
    }
    if authorization.stage != stage {
        return Err(BankError::expired());
    }
    let csrf = server
        .pepper()
        .hash(&format!("bank-csrf:{id}"))
        .as_str()
        .to_owned();
    let ceremony = server.pepper().hash(&format!("bank-webauthn:{id}"));
    Ok(PsuSession {
        authorization,
        csrf,
        ceremony,
    })
}

/// Origin check and CSRF token of a form post.
fn check_post(
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    csrf: &str,
    session: &PsuSession,
) -> Result<(), BankError> {
    check_form_post(headers, uri, csrf, &session.csrf)
}

/// Origin check and CSRF token of a form post on any bank page.
pub(crate) fn check_form_post(
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    csrf: &str,
    expected: &str,
) -> Result<(), BankError> {
    check_origin(headers, request_host(headers, uri)).map_err(|_| {
        BankError::page(
            StatusCode::FORBIDDEN,
            "This form was submitted from another site and was refused.",
        )
    })?;
    if !constant_time_eq(csrf, expected) {
        return Err(BankError::page(
            StatusCode::FORBIDDEN,
            "This form has expired. Go back, reload the page and try again.",
        ));
    }
    Ok(())
}

/// The TPP as registered, for the pages.
async fn tpp<R: OAuthStore>(
    service: &OAuthService<R>,
    authorization: &Authorization,
) -> Result<(Application, Organisation), BankError> {
    let repo = service.server.repo();
    let application = repo
        .application(authorization.application_id)
        .await?
        .ok_or_else(BankError::expired)?;
    let organisation = repo
        .organisation(application.organisation_id)
        .await?
        .ok_or_else(BankError::expired)?;
    Ok((application, organisation))
}

// ---------------------------------------------------------------- authorize

#[derive(serde::Deserialize)]
struct AuthorizeQuery {
    client_id: Option<String>,
    request_uri: Option<String>,
}

/// The front channel: only a pushed request is accepted (PAR is required), and
/// any problem is shown here, never sent to an unverified redirect URI.
async fn authorize<R: OAuthStore>(
    State(service): State<Arc<OAuthService<R>>>,
    headers: HeaderMap,
    query: Result<Query<AuthorizeQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, BankError> {
    let Ok(Query(query)) = query else {
        return Err(BankError::page(
            StatusCode::BAD_REQUEST,
            "This sign-in link is malformed.",
        ));
    };
    let (Some(client_id), Some(request_uri)) = (query.client_id, query.request_uri) else {
        return Err(BankError::page(
            StatusCode::BAD_REQUEST,
            "This sign-in link is incomplete: apps must push their request first (PAR) and send \
             client_id and request_uri.",
        ));
    };
    let server = &service.server;
    // A reload by the browser that opened it keeps it; any other browser is refused.
    let bound = cookie(&headers, PSU_COOKIE).map(|id| server.pepper().hash(&id));
    let session = random_token(32).map_err(|_| BankError::expired())?;
    let opened = server
        .repo()
        .open_authorization(
            &server.pepper().hash(&request_uri),
            &client_id,
            bound.as_ref(),
            &server.pepper().hash(&session),
            server.now(),
        )
        .await?;
    if opened.is_none() {
        return Err(BankError::page(
            StatusCode::BAD_REQUEST,
            "This sign-in has ended, or was opened in another browser. Return to the app you \
             came from and start again.",
        ));
    }
    Ok(session_started(&session))
}

/// Binds the browser to the authorization just opened and sends it to the login page.
pub(crate) fn session_started(session: &str) -> Response {
    with_session(see_other("/bank/login"), session)
}

/// Sets the browser's session cookie to `session`.
fn with_session(mut response: Response, session: &str) -> Response {
    let cookie = format!("{PSU_COOKIE}={session}; Path=/; Secure; HttpOnly; SameSite=Strict");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    secured(response, None)
}

/// Moves the authorization `from` → `to` under a new session id, and points
/// the browser at `next` with it: the id known before the step is dead after it.
async fn advance_renewed<R: OAuthStore>(
    service: &OAuthService<R>,
    session: &PsuSession,
    (from, to): (AuthorizationStage, AuthorizationStage),
    psu: Option<PsuId>,
    next: &str,
) -> Result<Response, BankError> {
    let server = &service.server;
    let renewed = random_token(32).map_err(|_| BankError::expired())?;
    let advanced = server
        .repo()
        .advance_authorization_session(
            session.authorization.id,
            from,
            to,
            psu,
            &server.pepper().hash(&renewed),
            server.now(),
        )
        .await?;
    if !advanced {
        return Err(BankError::expired());
    }
    Ok(with_session(see_other(next), &renewed))
}

// ---------------------------------------------------------------- login

#[derive(Template, WebTemplate)]
#[template(path = "bank/login.html")]
pub(crate) struct LoginPage {
    pub action: &'static str,
    /// The app and TPP asking, when the PSU came from one.
    pub requester: Option<(String, String)>,
    pub csrf: String,
    pub login: String,
    pub error: Option<String>,
}

async fn login_page<R: OAuthStore>(
    service: &OAuthService<R>,
    session: &PsuSession,
    login: String,
    error: Option<String>,
) -> Result<LoginPage, BankError> {
    let (application, organisation) = tpp(service, &session.authorization).await?;
    Ok(LoginPage {
        action: "/bank/login",
        requester: Some((application.name, organisation.legal_name)),
        csrf: session.csrf.clone(),
        login,
        error,
    })
}

async fn login_form<R: OAuthStore>(
    State(service): State<Arc<OAuthService<R>>>,
    headers: HeaderMap,
) -> Result<Response, BankError> {
    let session = session(&service, &headers, AuthorizationStage::Login).await?;
    let page = login_page(&service, &session, String::new(), None).await?;
    Ok(secured(page.into_response(), None))
}

#[derive(serde::Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    pub login: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub csrf: String,
}

/// Every failed login gets this one answer: a wrong name, a wrong password,
/// or a block, whether or not the password was right.
const LOGIN_FAILED: &str = "The login name or the password is not right, or sign-in is paused \
                            after too many failed attempts. Check them, or try again later.";
/// After the password, the PSU may learn that the second factor blocked them.
pub(crate) const BLOCKED: &str = "Your online banking access is paused after 5 failed \
                                  attempts. We have sent you a notice; try again later, or \
                                  contact your bank.";

/// Per client address first, so a throttled address spends no login's budget.
async fn throttle<R: OAuthStore>(
    service: &OAuthService<R>,
    peer: IpAddr,
    login: &str,
) -> Result<(), BankError> {
    let bank = &service.bank;
    bank.login_per_address
        .allow(peer)
        .await
        .map_err(BankError::throttled)?;
    bank.login_per_name
        .allow(login.to_lowercase())
        .await
        .map_err(BankError::throttled)
}

/// The PSU behind a login name and password, or the message to show: the
/// same for every failure. Each path costs one argon2 verification: an
/// unknown or blocked login is checked against the pool's dummy hash. The
/// attempt is counted before the check (parallel guesses cannot pass the
/// limit); a wrong password may block the PSU.
pub(crate) async fn check_password<R: OAuthStore>(
    service: &OAuthService<R>,
    peer: IpAddr,
    login: &str,
    password: String,
) -> Result<Result<Psu, &'static str>, BankError> {
    throttle(service, peer, login).await?;
    let repo = service.server.repo();
    let passwords = &service.bank.passwords;
    let found = repo.psu_by_login(login).await?;
    let admitted = match &found {
        Some((psu, _)) => repo.begin_psu_attempt(psu.id, service.server.now()).await?,
        None => None,
    };
    let (Some(psu), Some((_, hash))) = (admitted, found) else {
        passwords.verify(None, password).await?;
        return Ok(Err(LOGIN_FAILED));
    };
    if !passwords.verify(Some(hash), password).await? {
        fail(service, &psu).await?;
        return Ok(Err(LOGIN_FAILED));
    }
    // The blocks in a row stay until the second factor is right too.
    repo.clear_psu_failed_logins(psu.id).await?;
    Ok(Ok(psu))
}

/// A wrong answer of `psu` (as counted by `begin_psu_attempt`): the one that
/// reached the limit blocks the PSU and alerts them. True when it blocked.
pub(crate) async fn fail<R: OAuthStore>(
    service: &OAuthService<R>,
    psu: &Psu,
) -> Result<bool, BankError> {
    if psu.failed_logins < MAX_FAILED_LOGINS {
        return Ok(false);
    }
    let now = service.server.now();
    let until = service
        .bank
        .block_policy
        .next_block(psu.blocks_in_row)
        .map(|length| now + length);
    let Some(blocked) = service
        .server
        .repo()
        .block_psu(psu.id, now, psu.blocks_in_row, until)
        .await?
    else {
        return Ok(false);
    };
    tracing::warn!(psu = %psu.id, permanent = until.is_none(), "PSU blocked after failed logins");
    alert(service, &blocked).await?;
    Ok(true)
}

/// RTS Art. 4(3)(b): the PSU learns of each block, and before the next one
/// becomes permanent: a notice in online banking, and a mail when the bank
/// has an address.
async fn alert<R: OAuthStore>(service: &OAuthService<R>, psu: &Psu) -> Result<(), BankError> {
    let policy = &service.bank.block_policy;
    let message = match psu.blocked_until {
        None => "After repeated failed sign-in attempts your online banking access is blocked. \
                 Contact your bank to unblock it."
            .to_owned(),
        Some(until) => {
            let warning = if policy.next_is_permanent(psu.blocks_in_row) {
                " If 5 more attempts fail after that, access stays blocked until you contact \
                 your bank."
            } else {
                ""
            };
            format!(
                "After 5 failed sign-in attempts your online banking access is paused until {} \
                 UTC. If this was not you, nobody got in: your password and second factor \
                 were not both given. You can sign in again after that time.{warning}",
                until
                    .to_offset(time::UtcOffset::UTC)
                    .format(&time::format_description::well_known::Rfc2822)
                    .unwrap_or_default()
            )
        }
    };
    let now = service.server.now();
    let repo = service.server.repo();
    repo.add_psu_notice(PsuNotice {
        psu_id: psu.id,
        created_at: now,
        message: message.clone(),
    })
    .await?;
    if let Some(recipient) = psu.email.as_deref().and_then(|e| e.parse().ok()) {
        let link = format!("{}/bank/online", service.bank.public_url);
        let rendered = mail::render(&MailKind::PsuNotice {
            body: &message,
            link: &link,
        });
        repo.enqueue_mail(Mail {
            recipient,
            subject: rendered.subject,
            body_text: rendered.text,
            body_html: rendered.html,
            created_at: now,
        })
        .await?;
    }
    Ok(())
}

async fn login<R: OAuthStore>(
    State(service): State<Arc<OAuthService<R>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, BankError> {
    let session = session(&service, &headers, AuthorizationStage::Login).await?;
    let form = parsed(form)?;
    check_post(&headers, &uri, &form.csrf, &session)?;
    let psu = match check_password(&service, peer.ip(), form.login.trim(), form.password).await? {
        Ok(psu) => psu,
        Err(message) => {
            let page = login_page(&service, &session, form.login, Some(message.into())).await?;
            return Ok(secured(
                (StatusCode::UNAUTHORIZED, page).into_response(),
                None,
            ));
        }
    };
    advance_renewed(
        &service,
        &session,
        (AuthorizationStage::Login, AuthorizationStage::SecondFactor),
        Some(psu.id),
        "/bank/sca",
    )
    .await
}

// ---------------------------------------------------------------- second factor

#[derive(Template, WebTemplate)]
#[template(path = "bank/sca.html")]
pub(crate) struct ScaPage {
    pub action: &'static str,
    pub csrf: String,
    /// The PSU has an authenticator app.
    pub totp: bool,
    pub sandbox_code: Option<String>,
    pub error: Option<String>,
    /// For a payment: what is paid to whom, and the challenge derived from it.
    pub payment: Option<Payment>,
    pub challenge: Option<String>,
    /// WebAuthn request options when the PSU has a passkey.
    pub passkey_options: Option<String>,
}

/// RTS Art. 5 dynamic linking: an 8-digit challenge derived from exactly the
/// payment's id, amount, currency and payee; any change gives another one.
pub fn payment_challenge(payment: &Payment) -> String {
    let digest = payment_digest(payment);
    let mut first = [0_u8; 8];
    first.copy_from_slice(&digest[..8]);
    format!("{:08}", u64::from_be_bytes(first) % 100_000_000)
}

/// What an authorization asks of the PSU about a payment.
enum PaymentAsk {
    Pay(Payment),
    /// Cancel this authorised scheduled payment.
    Cancel(Payment),
}

/// The payment an authorization names, if it names one.
async fn payment_asked<R: OAuthStore>(
    service: &OAuthService<R>,
    authorization: &Authorization,
) -> Result<Option<PaymentAsk>, BankError> {
    let (id, cancel) = match ScopedResource::parse(&authorization.scope) {
        Some(ScopedResource::Payment(id)) => (id, false),
        Some(ScopedResource::PaymentCancellation(id)) => (id, true),
        _ => return Ok(None),
    };
    let payment = service
        .server
        .repo()
        .payment(id)
        .await?
        .ok_or_else(BankError::expired)?;
    Ok(Some(if cancel {
        PaymentAsk::Cancel(payment)
    } else {
        PaymentAsk::Pay(payment)
    }))
}

/// The payment an authorization pays, if any: the second factor links to it.
async fn authorized_payment<R: OAuthStore>(
    service: &OAuthService<R>,
    authorization: &Authorization,
) -> Result<Option<Payment>, BankError> {
    Ok(match payment_asked(service, authorization).await? {
        Some(PaymentAsk::Pay(payment)) => Some(payment),
        _ => None,
    })
}

/// The PSU the authorization is for, as it stands now.
async fn session_psu<R: OAuthStore>(
    service: &OAuthService<R>,
    session: &PsuSession,
) -> Result<Psu, BankError> {
    let psu_id = session
        .authorization
        .psu_id
        .ok_or_else(BankError::expired)?;
    service
        .server
        .repo()
        .psu(psu_id)
        .await?
        .ok_or_else(BankError::expired)
}

/// The PSU's answer on a second-factor page: a one-time code, or a passkey's
/// assertion (the browser's JSON).
#[derive(serde::Deserialize)]
pub(crate) struct ScaForm {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub credential: String,
    #[serde(default)]
    pub csrf: String,
}

/// How a second-factor attempt ended.
pub(crate) enum Factor {
    Accepted,
    /// Counts toward the block.
    Wrong,
    /// The passkey prompt expired or was answered already: ask again; not a failure.
    Stale,
}

/// The possession factor. A passkey: its assertion over the challenge (for a
/// payment, one carrying exactly this payment's digest). A code: for a
/// payment the authenticator app's answer to the challenge derived from
/// exactly this amount and payee (TOTP alone is for account information
/// only); otherwise a TOTP code, each step once. The sandbox code works only
/// where configured (never in production), and never for a payment of a PSU
/// whose authenticator could sign it.
pub(crate) async fn check_second_factor<R: OAuthStore>(
    service: &OAuthService<R>,
    psu: &Psu,
    form: &ScaForm,
    payment: Option<&Payment>,
    ceremony: &KeyedHash,
) -> Result<Factor, BankError> {
    if !form.credential.is_empty() {
        return passkey_accepted(service, psu, &form.credential, payment, ceremony).await;
    }
    let code = form.code.trim();
    let sandbox = service
        .bank
        .sandbox_code
        .as_deref()
        .is_some_and(|expected| constant_time_eq(code, expected));
    let accepted = match payment {
        Some(p) if psu.totp_enabled => ocra_accepted(service, psu, p, code).await?,
        Some(_) => sandbox && service.server.repo().psu_passkeys(psu.id).await?.is_empty(),
        None => sandbox || (psu.totp_enabled && totp_accepted(service, psu, code).await?),
    };
    Ok(if accepted {
        Factor::Accepted
    } else {
        Factor::Wrong
    })
}

/// WebAuthn request options for the PSU's passkeys (none: no prompt), with
/// the ceremony's state kept under `ceremony`.
pub(crate) async fn passkey_prompt<R: OAuthStore>(
    service: &OAuthService<R>,
    psu: &Psu,
    payment: Option<&Payment>,
    ceremony: &KeyedHash,
) -> Result<Option<String>, BankError> {
    let Some(verifier) = &service.bank.passkeys else {
        return Ok(None);
    };
    let repo = service.server.repo();
    let passkeys = repo.psu_passkeys(psu.id).await?;
    if passkeys.is_empty() {
        return Ok(None);
    }
    let started = match verifier.start_authentication(&passkeys, payment) {
        Ok(started) => started,
        Err(e) => {
            tracing::error!(psu = %psu.id, error = %e, "cannot start a passkey authentication");
            return Ok(None);
        }
    };
    let now = service.server.now();
    repo.put_webauthn_ceremony(ceremony, started.state, now, now - CEREMONY_TTL)
        .await?;
    Ok(Some(started.options))
}

async fn passkey_accepted<R: OAuthStore>(
    service: &OAuthService<R>,
    psu: &Psu,
    response: &str,
    payment: Option<&Payment>,
    ceremony: &KeyedHash,
) -> Result<Factor, BankError> {
    let Some(verifier) = &service.bank.passkeys else {
        return Ok(Factor::Wrong);
    };
    let repo = service.server.repo();
    let now = service.server.now();
    let Some((state, began)) = repo.take_webauthn_ceremony(ceremony).await? else {
        return Ok(Factor::Stale);
    };
    if !ceremony_live(began, now) {
        return Ok(Factor::Stale);
    }
    let passkeys = repo.psu_passkeys(psu.id).await?;
    match verifier.finish_authentication(&state, response, &passkeys, payment) {
        Ok((credential_id, credential)) => {
            repo.record_psu_passkey_use(&credential_id, credential, now)
                .await?;
            Ok(Factor::Accepted)
        }
        Err(e @ PasskeyError::Stored(_)) => {
            tracing::error!(psu = %psu.id, error = %e, "a stored passkey does not parse");
            Ok(Factor::Wrong)
        }
        Err(e) => {
            tracing::info!(psu = %psu.id, reason = %e, "passkey assertion refused");
            Ok(Factor::Wrong)
        }
    }
}

/// The PSU's authenticator app's OCRA response to the payment's challenge.
async fn ocra_accepted<R: OAuthStore>(
    service: &OAuthService<R>,
    psu: &Psu,
    payment: &Payment,
    code: &str,
) -> Result<bool, BankError> {
    let server = &service.server;
    let Some(sealed) = server.repo().psu_totp_seed(psu.id).await? else {
        return Ok(false);
    };
    let Some(seed) = server.pepper().sealer().open(&sealed).map(Seed::from_bytes) else {
        tracing::error!(psu = %psu.id, "a stored PSU TOTP seed does not open with this pepper");
        return Ok(false);
    };
    Ok(seed
        .ocra_response(&payment_challenge(payment))
        .is_some_and(|expected| constant_time_eq(code, &expected)))
}

/// A current TOTP code of the PSU's authenticator, each time step once.
async fn totp_accepted<R: OAuthStore>(
    service: &OAuthService<R>,
    psu: &Psu,
    code: &str,
) -> Result<bool, BankError> {
    let server = &service.server;
    let Some(sealed) = server.repo().psu_totp_seed(psu.id).await? else {
        return Ok(false);
    };
    let Some(seed) = server.pepper().sealer().open(&sealed).map(Seed::from_bytes) else {
        tracing::error!(psu = %psu.id, "a stored PSU TOTP seed does not open with this pepper");
        return Ok(false);
    };
    match seed.matching_step(code, server.now()) {
        Some(step) => Ok(server.repo().accept_psu_totp_step(psu.id, step).await?),
        None => Ok(false),
    }
}

const WRONG_FACTOR: &str = "That code or passkey was not accepted, or was used already. \
                            Check it and try again.";
const STALE_PROMPT: &str = "The passkey prompt expired. Try again.";

async fn sca_page<R: OAuthStore>(
    service: &OAuthService<R>,
    session: &PsuSession,
    psu: &Psu,
    payment: Option<Payment>,
    error: Option<String>,
) -> Result<ScaPage, BankError> {
    let passkey_options = passkey_prompt(service, psu, payment.as_ref(), &session.ceremony).await?;
    Ok(ScaPage {
        action: "/bank/sca",
        csrf: session.csrf.clone(),
        totp: psu.totp_enabled,
        sandbox_code: service.bank.sandbox_code.clone(),
        error,
        challenge: payment.as_ref().map(payment_challenge),
        payment,
        passkey_options,
    })
}

async fn sca_form<R: OAuthStore>(
    State(service): State<Arc<OAuthService<R>>>,
    headers: HeaderMap,
) -> Result<Response, BankError> {
    let session = session(&service, &headers, AuthorizationStage::SecondFactor).await?;
    let psu = session_psu(&service, &session).await?;
    let payment = authorized_payment(&service, &session.authorization).await?;
    let page = sca_page(&service, &session, &psu, payment, None).await?;
    Ok(secured(page.into_response(), None))
}

async fn sca<R: OAuthStore>(
    State(service): State<Arc<OAuthService<R>>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    form: Result<Form<ScaForm>, FormRejection>,
) -> Result<Response, BankError> {
    let session = session(&service, &headers, AuthorizationStage::SecondFactor).await?;
    let form = parsed(form)?;
    check_post(&headers, &uri, &form.csrf, &session)?;
    let repo = service.server.repo();
    let psu = session_psu(&service, &session).await?;
    let Some(psu) = repo.begin_psu_attempt(psu.id, service.server.now()).await? else {
        return Err(BankError::page(StatusCode::FORBIDDEN, BLOCKED));
    };
    let payment = authorized_payment(&service, &session.authorization).await?;
    let error =
        match check_second_factor(&service, &psu, &form, payment.as_ref(), &session.ceremony)
            .await?
        {
            Factor::Accepted => None,
            Factor::Stale => Some(STALE_PROMPT),
            Factor::Wrong => {
                if fail(&service, &psu).await? {
                    return Err(BankError::page(StatusCode::FORBIDDEN, BLOCKED));
                }
                Some(WRONG_FACTOR)
            }
        };
    if let Some(error) = error {
        let page = sca_page(&service, &session, &psu, payment, Some(error.into())).await?;
        return Ok(secured(
            (StatusCode::UNAUTHORIZED, page).into_response(),
            None,
        ));
    }
    repo.reset_psu_login_failures(psu.id).await?;
    advance_renewed(
        &service,
        &session,
        (
            AuthorizationStage::SecondFactor,
            AuthorizationStage::Consent,
        ),
        None,
        "/bank/consent",
    )
    .await
}

// ---------------------------------------------------------------- consent

/// One line of the consent screen: a payment account, or a card account
/// shown and granted by its masked PAN.
struct AccountLine {
    account: Account,
    masked_pan: Option<MaskedPan>,
    balances: bool,
    transactions: bool,
}

impl AccountLine {
    fn grant(&self) -> AccountGrant {
        AccountGrant {
            account: self.account.id,
            balances: self.balances,
            transactions: self.transactions,
            resource: if self.masked_pan.is_some() {
                GrantedResource::CardAccount
            } else {
                GrantedResource::Account
            },
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "bank/consent.html")]
struct ConsentPage {
    csrf: String,
    tpp_name: String,
    tpp_roles: String,
    app_name: String,
    consent: Consent,
    /// A funds-confirmation (PIIS) consent: yes/no answers about one account.
    funds: bool,
    /// Accounts the consent names (or all the PSU's, for allPsd2 / availableAccounts).
    lines: Vec<AccountLine>,
    /// Bank-offered consent: the PSU ticks accounts.
    choose: bool,
    choose_balances: bool,
    choose_transactions: bool,
    problem: Option<String>,
}

/// What the PSU is asked to grant: the lines to show, whether they choose,
/// and a reason the consent cannot be granted at all. Card accounts count as
/// payment accounts: `allPsd2`, `availableAccounts` and bank-offered consents
/// include them.
fn consent_lines(
    consent: &Consent,
    accounts: Vec<Account>,
    cards: Vec<CardAccount>,
) -> (Vec<AccountLine>, bool, Option<String>) {
    let everything = |balances: bool, transactions: bool| -> Vec<AccountLine> {
        let payment = accounts.iter().map(|a| (a.clone(), None));
        let card = cards
            .iter()
            .map(|c| (c.account.clone(), Some(c.masked_pan.clone())));
        payment
            .chain(card)
            .map(|(account, masked_pan)| AccountLine {
                account,
                masked_pan,
                balances,
                transactions,
            })
            .collect()
    };
    match &consent.access {
        ConsentAccess::Dedicated(requested) => {
            let mut lines = Vec::new();
            for r in requested {
                let held = match &r.reference {
                    AccountReference::Iban(iban) => accounts
                        .iter()
                        .find(|a| a.iban.as_ref() == Some(iban))
                        .map(|a| (a.clone(), None)),
                    AccountReference::MaskedPan(pan) => cards
                        .iter()
                        .find(|c| &c.masked_pan == pan)
                        .map(|c| (c.account.clone(), Some(pan.clone()))),
                };
                let Some((account, masked_pan)) = held else {
                    let named = match &r.reference {
                        AccountReference::Iban(iban) => {
                            format!("account {}", iban.to_print_format())
                        }
                        AccountReference::MaskedPan(pan) => format!("card {pan}"),
                    };
                    return (
                        vec![],
                        false,
                        Some(format!(
                            "The app asks for {named}, which is not one of yours."
                        )),
                    );
                };
                lines.push(AccountLine {
                    account,
                    masked_pan,
                    balances: r.balances,
                    transactions: r.transactions,
                });
            }
            (lines, false, None)
        }
        ConsentAccess::BankOffered {
            balances,
            transactions,
        } => (everything(*balances, *transactions), true, None),
        // availableAccountsWithBalance lists the accounts with their balances.
        ConsentAccess::AvailableAccounts { with_balance } => {
            (everything(*with_balance, false), false, None)
        }
        ConsentAccess::AllPsd2 => (everything(true, true), false, None),
        ConsentAccess::FundsConfirmation { iban } => {
            match accounts.into_iter().find(|a| a.iban.as_ref() == Some(iban)) {
                Some(account) => (
                    vec![AccountLine {
                        account,
                        masked_pan: None,
                        balances: false,
                        transactions: false,
                    }],
                    false,
                    None,
                ),
                None => (
                    vec![],
                    false,
                    Some(format!(
                        "The app asks about account {}, which is not one of yours.",
                        iban.to_print_format()
                    )),
                ),
            }
        }
    }
}

async fn consent_page<R: OAuthStore>(
    service: &OAuthService<R>,
    session: &PsuSession,
) -> Result<ConsentPage, BankError> {
    let authorization = &session.authorization;
    let id = match ScopedResource::parse(&authorization.scope) {
        Some(ScopedResource::Consent(id) | ScopedResource::FundsConsent(id)) => id,
        _ => return Err(BankError::expired()),
    };
    let repo = service.server.repo();
    let consent = repo.consent(id).await?.ok_or_else(BankError::expired)?;
    let psu = authorization.psu_id.ok_or_else(BankError::expired)?;
    let accounts = repo.accounts_of_psu(psu).await?;
    let cards = repo.card_accounts_of_psu(psu).await?;
    let (lines, choose, problem) = consent_lines(&consent, accounts, cards);
    let (application, organisation) = tpp(service, authorization).await?;
    let (choose_balances, choose_transactions) = match consent.access {
        ConsentAccess::BankOffered {
            balances,
            transactions,
        } => (balances, transactions),
        _ => (false, false),
    };
    Ok(ConsentPage {
        csrf: session.csrf.clone(),
        tpp_name: organisation.legal_name,
        tpp_roles: organisation.roles.human(),
        app_name: application.name,
        funds: consent.funds_account().is_some(),
        consent,
        lines,
        choose,
        choose_balances,
        choose_transactions,
        problem,
    })
}

/// `scheme://host[:port]` of the redirect URI, for the consent form's CSP.
fn origin_of(uri: &str) -> Option<String> {
    let url = url::Url::parse(uri).ok()?;
    Some(url.origin().ascii_serialization())
}

/// The origins the consent form's answer may redirect to, for its CSP: the
/// redirect URI's, and a Redirect authorisation's NOK URI's.
fn form_targets(authorization: &Authorization) -> Option<String> {
    let mut origins: Vec<String> = Vec::new();
    for uri in std::iter::once(&authorization.redirect_uri).chain(&authorization.nok_redirect_uri) {
        if let Some(origin) = origin_of(uri)
            && !origins.contains(&origin)
        {
            origins.push(origin);
        }
    }
    (!origins.is_empty()).then(|| origins.join(" "))
}

#[derive(Template, WebTemplate)]
#[template(path = "bank/payment.html")]
struct PaymentPage {
    csrf: String,
    tpp_name: String,
    tpp_roles: String,
    app_name: String,
    payment: Payment,
    /// The TPP asks to cancel this authorised payment rather than to pay.
    cancel: bool,
}

async fn payment_page<R: OAuthStore>(
    service: &OAuthService<R>,
    session: &PsuSession,
    payment: Payment,
    cancel: bool,
) -> Result<PaymentPage, BankError> {
    let (application, organisation) = tpp(service, &session.authorization).await?;
    Ok(PaymentPage {
        csrf: session.csrf.clone(),
        tpp_name: organisation.legal_name,
        tpp_roles: organisation.roles.human(),
        app_name: application.name,
        payment,
        cancel,
    })
}

async fn consent_form<R: OAuthStore>(
    State(service): State<Arc<OAuthService<R>>>,
    headers: HeaderMap,
) -> Result<Response, BankError> {
    let session = session(&service, &headers, AuthorizationStage::Consent).await?;
    let target = form_targets(&session.authorization);
    let page = match payment_asked(&service, &session.authorization).await? {
        Some(PaymentAsk::Pay(payment)) => payment_page(&service, &session, payment, false).await?,
        Some(PaymentAsk::Cancel(payment)) => {
            if !is_payer(&session.authorization, &payment) {
                return Err(not_the_payer());
            }
            payment_page(&service, &session, payment, true).await?
        }
        None => {
            let page = consent_page(&service, &session).await?;
            return Ok(secured(page.into_response(), target.as_deref()));
        }
    };
    Ok(secured(page.into_response(), target.as_deref()))
}

/// The PSU authorised the payment: an immediate one goes RCVD → ACTC and is
/// settled in the ledger (ACSC, or RJCT with an ISO 20022 reason), exactly
/// once; a future-dated one or a standing order goes RCVD → ACCP with the
/// scheduler's cursor on its first date (executed now if that is today). A
/// scheduled payment is refused at once (RJCT) when the debtor account is
/// not the PSU's (AC01) or a standing order has no date left (DT01).
async fn execute<R: OAuthStore>(
    service: &OAuthService<R>,
    payment: &Payment,
    psu: PsuId,
) -> Result<(), BankError> {
    let now = service.server.now();
    let first = match payment.execution.first_due(now.date()) {
        Ok(first) => first,
        Err(_) => return reject_scheduled(service, payment, psu, "DT01").await,
    };
    if first.is_some() {
        let own = service
            .server
            .repo()
            .account_by_iban(&payment.debtor_iban)
            .await?
            .is_some_and(|a| a.psu_id == Some(psu));
        if !own {
            return reject_scheduled(service, payment, psu, "AC01").await;
        }
    }
    let status = match first {
        Some(_) => PaymentStatus::AcceptedCustomerProfile,
        None => PaymentStatus::AcceptedTechnical,
    };
    let authorised = service
        .server
        .repo()
        .set_payment_status(
            payment.id,
            PaymentStatus::Received,
            status,
            PaymentUpdate {
                psu_id: Some(psu),
                next_execution: first,
                ..PaymentUpdate::default()
            },
            now,
        )
        .await?;
    if !authorised {
        return Err(BankError::page(
            StatusCode::CONFLICT,
            "This payment was already decided or cancelled.",
        ));
    }
    let authorised = Payment {
        psu_id: Some(psu),
        status,
        next_execution: first,
        ..payment.clone()
    };
    match first {
        Some(_) => {
            fintechapi_ledger::schedule::execute_next(&service.ledger, &authorised).await?;
        }
        None => {
            fintechapi_ledger::payments::settle(&service.ledger, &authorised).await?;
        }
    }
    Ok(())
}

/// Only the PSU who authorised a payment may cancel it.
fn is_payer(authorization: &Authorization, payment: &Payment) -> bool {
    authorization.psu_id.is_some() && authorization.psu_id == payment.psu_id
}

fn not_the_payer() -> BankError {
    BankError::page(
        StatusCode::FORBIDDEN,
        "This payment was authorised by another customer; only they can cancel it.",
    )
}

/// The PSU decides on the TPP's request to cancel an authorised scheduled
/// payment: approved, it is cancelled before its next date (CANC).
async fn cancel_payment<R: OAuthStore>(
    service: &OAuthService<R>,
    authorization: &Authorization,
    payment: &Payment,
    decision: Option<&str>,
) -> Result<Response, BankError> {
    let server = &service.server;
    let issuer = server.settings().issuer.clone();
    if !is_payer(authorization, payment) {
        return Err(not_the_payer());
    }
    if decision != Some("approve") {
        server
            .repo()
            .advance_authorization(
                authorization.id,
                AuthorizationStage::Consent,
                AuthorizationStage::Denied,
                None,
                server.now(),
            )
            .await?;
        return Ok(back_to_tpp(
            authorization,
            &issuer,
            &[
                ("error", "access_denied"),
                ("error_description", "the PSU kept the payment"),
            ],
        ));
    }
    if !fintechapi_ledger::schedule::cancel(&service.ledger, payment).await? {
        return Err(BankError::page(
            StatusCode::CONFLICT,
            "This payment is being executed right now, or has ended. Check its status in a \
             minute and ask again if it is still scheduled.",
        ));
    }
    let code = server
        .approve(authorization)
        .await
        .map_err(|_| BankError::expired())?
        .ok_or_else(BankError::expired)?;
    Ok(back_to_tpp(authorization, &issuer, &[("code", &code)]))
}

/// A scheduled payment that cannot run: RJCT with its ISO 20022 reason.
async fn reject_scheduled<R: OAuthStore>(
    service: &OAuthService<R>,
    payment: &Payment,
    psu: PsuId,
    reason: &str,
) -> Result<(), BankError> {
    service
        .server
        .repo()
        .set_payment_status(
            payment.id,
            PaymentStatus::Received,
            PaymentStatus::Rejected,
            PaymentUpdate {
                psu_id: Some(psu),
                reason: Some(reason.into()),
                ..PaymentUpdate::default()
            },
            service.server.now(),
        )
        .await?;
    Ok(())
}

/// The redirect back to the TPP, with the issuer (RFC 9207) and its state.
fn back_to_tpp(authorization: &Authorization, issuer: &str, params: &[(&str, &str)]) -> Response {
    let Ok(mut url) = url::Url::parse(&authorization.redirect_uri) else {
        return BankError::expired().into_response();
    };
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in params {
            query.append_pair(k, v);
        }
        if let Some(state) = &authorization.state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", issuer);
    }
    session_ended(see_other(url.as_str()))
}

/// The answer that leaves the bank's pages: the session is over either way.
pub(crate) fn session_ended(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "__Host-ftapi_psu=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    secured(response, None)
}

/// The PSU approved: the OAuth approach issues the code for the TPP's token;
/// the Redirect approach finalises the authorisation without one.
async fn approved<R: OAuthStore>(
    service: &OAuthService<R>,
    authorization: &Authorization,
) -> Result<Response, BankError> {
    if authorization.approach == ScaApproach::Redirect {
        return crate::redirect::approved(service, authorization).await;
    }
    let server = &service.server;
    let code = server
        .approve(authorization)
        .await
        .map_err(|_| BankError::expired())?
        .ok_or_else(BankError::expired)?;
    Ok(back_to_tpp(
        authorization,
        &server.settings().issuer,
        &[("code", &code)],
    ))
}

/// The PSU refused, or the request cannot be granted: `access_denied` for
/// the OAuth approach, the NOK URI for the Redirect approach.
fn refused(authorization: &Authorization, issuer: &str, description: &str) -> Response {
    if authorization.approach == ScaApproach::Redirect {
        return crate::redirect::back_to_tpp(authorization, false);
    }
    back_to_tpp(
        authorization,
        issuer,
        &[
            ("error", "access_denied"),
            ("error_description", description),
        ],
    )
}

async fn decide<R: OAuthStore>(
    State(service): State<Arc<OAuthService<R>>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, BankError> {
    let session = session(&service, &headers, AuthorizationStage::Consent).await?;
    let pairs = parsed(form)?;
    let value = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    check_post(&headers, &uri, value("csrf").unwrap_or_default(), &session)?;
    let server = &service.server;
    let repo = server.repo();
    let authorization = &session.authorization;
    let issuer = server.settings().issuer.clone();
    let payment = match payment_asked(&service, authorization).await? {
        Some(PaymentAsk::Cancel(payment)) => {
            return cancel_payment(&service, authorization, &payment, value("decision")).await;
        }
        Some(PaymentAsk::Pay(payment)) => Some(payment),
        None => None,
    };
    if let Some(payment) = payment {
        let now = server.now();
        if value("decision") != Some("approve") {
            repo.set_payment_status(
                payment.id,
                PaymentStatus::Received,
                PaymentStatus::Rejected,
                PaymentUpdate {
                    reason: Some("DS02".into()),
                    ..PaymentUpdate::default()
                },
                now,
            )
            .await?;
            repo.advance_authorization(
                authorization.id,
                AuthorizationStage::Consent,
                AuthorizationStage::Denied,
                None,
                now,
            )
            .await?;
            return Ok(refused(
                authorization,
                &issuer,
                "the PSU declined the payment",
            ));
        }
        let psu = authorization.psu_id.ok_or_else(BankError::expired)?;
        execute(&service, &payment, psu).await?;
        return approved(&service, authorization).await;
    }
    let page = consent_page(&service, &session).await?;
    let now = server.now();
    let consent_id = page.consent.id;

    if value("decision") != Some("approve") || page.problem.is_some() {
        repo.set_consent_status(
            consent_id,
            &[ConsentStatus::Received],
            ConsentStatus::Rejected,
            now,
        )
        .await?;
        repo.advance_authorization(
            authorization.id,
            AuthorizationStage::Consent,
            AuthorizationStage::Denied,
            None,
            now,
        )
        .await?;
        let description = page.problem.as_deref().map_or(
            "the PSU denied the request",
            |_| "the consent names an account the PSU does not hold",
        );
        return Ok(refused(authorization, &issuer, description));
    }

    let grants: Vec<AccountGrant> = if page.choose {
        let chosen: Vec<&str> = pairs
            .iter()
            .filter(|(n, _)| n == "account")
            .map(|(_, v)| v.as_str())
            .collect();
        page.lines
            .iter()
            .filter(|l| chosen.contains(&l.account.id.to_string().as_str()))
            .map(AccountLine::grant)
            .collect()
    } else {
        page.lines.iter().map(AccountLine::grant).collect()
    };
    if grants.is_empty() {
        let mut page = page;
        page.problem = Some("Choose at least one account, or deny the request.".into());
        let target = form_targets(authorization);
        return Ok(secured(
            (StatusCode::BAD_REQUEST, page).into_response(),
            target.as_deref(),
        ));
    }
    let psu = authorization.psu_id.ok_or_else(BankError::expired)?;
    if !repo.authorise_consent(consent_id, psu, grants, now).await? {
        return Err(BankError::page(
            StatusCode::CONFLICT,
            "This consent was already decided or withdrawn by the app.",
        ));
    }
    approved(&service, authorization).await
}
