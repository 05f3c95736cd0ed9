//! The login page: password check, throttles, failures that block the PSU
//! and the alert sent when they do.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::oauth::AuthorizationStage;
use fintechapi_domain::portal::Mail;
use fintechapi_domain::psu::{MAX_FAILED_LOGINS, Psu, PsuNotice};
use fintechapi_web::mail::{self, MailKind};

use crate::authorize::advance_renewed;
use crate::error::{BankError, secured};
use crate::service::{BankService, BankStore};
use crate::session::{AtLogin, PsuPost, PsuSession, csrf_form, session, tpp};

#[derive(Template, WebTemplate)]
#[template(path = "bank/login.html")]
pub(crate) struct LoginPage {
    /// The bank's name, in the header and the title.
    pub(crate) bank: std::sync::Arc<str>,
    pub action: &'static str,
    /// The app and TPP asking, when the PSU came from one.
    pub requester: Option<(String, String)>,
    pub csrf: String,
    pub login: String,
    pub error: Option<String>,
}

pub(crate) async fn login_page<R: BankStore>(
    service: &BankService<R>,
    session: &PsuSession,
    login: String,
    error: Option<String>,
) -> Result<LoginPage, BankError> {
    let (application, organisation) = tpp(service, &session.authorization).await?;
    Ok(LoginPage {
        bank: service.settings.bank_name.clone(),
        action: "/bank/login",
        requester: Some((application.name, organisation.legal_name)),
        csrf: session.csrf.clone(),
        login,
        error,
    })
}

pub(crate) async fn login_form<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
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
csrf_form!(LoginForm);

/// Every failed login gets this one answer: a wrong name, a wrong password,
/// or a block, whether or not the password was right.
pub(crate) const LOGIN_FAILED: &str = "The login name or the password is not right, or sign-in is paused \
                            after too many failed attempts. Check them, or try again later.";
/// After the password, the PSU may learn that the second factor blocked them.
pub(crate) const BLOCKED: &str = "Your online banking access is paused after 5 failed \
                                  attempts. We have sent you a notice; try again later, or \
                                  contact your bank.";

/// Per client address first, so a throttled address spends no login's budget.
pub(crate) async fn throttle<R: BankStore>(
    service: &BankService<R>,
    peer: IpAddr,
    login: &str,
) -> Result<(), BankError> {
    let bank = &service.settings;
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
pub(crate) async fn check_password<R: BankStore>(
    service: &BankService<R>,
    peer: IpAddr,
    login: &str,
    password: String,
) -> Result<Result<Psu, &'static str>, BankError> {
    throttle(service, peer, login).await?;
    let repo = service.oauth.server.repo();
    let passwords = &service.settings.passwords;
    let found = repo.psu_by_login(login).await?;
    let admitted = match &found {
        Some((psu, _)) => {
            repo.begin_psu_attempt(psu.id, service.oauth.server.now())
                .await?
        }
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
pub(crate) async fn fail<R: BankStore>(
    service: &BankService<R>,
    psu: &Psu,
) -> Result<bool, BankError> {
    if psu.failed_logins < MAX_FAILED_LOGINS {
        return Ok(false);
    }
    let now = service.oauth.server.now();
    let until = service
        .settings
        .block_policy
        .next_block(psu.blocks_in_row)
        .map(|length| now + length);
    let Some(blocked) = service
        .oauth
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
pub(crate) async fn alert<R: BankStore>(
    service: &BankService<R>,
    psu: &Psu,
) -> Result<(), BankError> {
    let policy = &service.settings.block_policy;
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
    let now = service.oauth.server.now();
    let repo = service.oauth.server.repo();
    repo.add_psu_notice(PsuNotice {
        psu_id: psu.id,
        created_at: now,
        message: message.clone(),
    })
    .await?;
    if let Some(recipient) = psu.email.as_deref().and_then(|e| e.parse().ok()) {
        let link = format!("{}/bank/online", service.settings.public_url);
        let rendered = mail::render(
            &MailKind::PsuNotice {
                body: &message,
                link: &link,
            },
            &service.settings.bank_name,
        );
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

pub(crate) async fn login<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    post: PsuPost<AtLogin, LoginForm>,
) -> Result<Response, BankError> {
    let PsuPost { session, form, .. } = post;
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
