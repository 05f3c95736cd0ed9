//! The second factor: passkey, TOTP, OCRA or the sandbox code.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::ids::PsuId;
use fintechapi_domain::oauth::{Authorization, AuthorizationStage};
use fintechapi_domain::otp::Seed;
use fintechapi_domain::payment::Payment;
use fintechapi_domain::psu::Psu;
use fintechapi_domain::secret::{KeyedHash, constant_time_eq};
use fintechapi_oauth::server::ScopedResource;

use crate::authorize::advance_renewed;
use crate::error::{BankError, secured};
use crate::login::{BLOCKED, fail};
use crate::passkey::{CEREMONY_TTL, PasskeyError, ceremony_live, linked_digest, payment_digest};
use crate::service::{BankService, BankStore};
use crate::session::{AtSecondFactor, PsuPost, PsuSession, csrf_form, session};

#[derive(Template, WebTemplate)]
#[template(path = "bank/sca.html")]
pub(crate) struct ScaPage {
    /// The bank's name, in the header and the title.
    pub(crate) bank: std::sync::Arc<str>,
    pub action: &'static str,
    pub csrf: String,
    /// The PSU has an authenticator app.
    pub totp: bool,
    pub sandbox_code: Option<String>,
    pub error: Option<String>,
    /// For a payment: what is paid to whom, and the challenge derived from it.
    pub payment: Option<Payment>,
    /// For a signing basket: each of its payments, all under one challenge.
    pub basket: Vec<Payment>,
    pub challenge: Option<String>,
    /// WebAuthn request options when the PSU has a passkey.
    pub passkey_options: Option<String>,
}

/// RTS Art. 5 dynamic linking: an 8-digit challenge derived from exactly the
/// payment's id, amount, currency and payee; any change gives another one.
pub fn payment_challenge(payment: &Payment) -> String {
    challenge_of(&payment_digest(payment))
}

/// The challenge of the payments a second factor is linked to: one
/// payment's, or a signing basket's over all of its payments.
pub fn linked_challenge(payments: &[Payment]) -> Option<String> {
    linked_digest(payments).map(|digest| challenge_of(&digest))
}

fn challenge_of(digest: &[u8]) -> String {
    let mut first = [0_u8; 8];
    first.copy_from_slice(&digest[..8]);
    format!("{:08}", u64::from_be_bytes(first) % 100_000_000)
}

/// What an authorization asks of the PSU about a payment.
pub(crate) enum PaymentAsk {
    Pay(Payment),
    /// Cancel this authorised scheduled payment.
    Cancel(Payment),
}

/// The payment an authorization names, if it names one.
pub(crate) async fn payment_asked<R: BankStore>(
    service: &BankService<R>,
    authorization: &Authorization,
) -> Result<Option<PaymentAsk>, BankError> {
    let (id, cancel) = match authorization.scope {
        ScopedResource::Payment(id) => (id, false),
        ScopedResource::PaymentCancellation(id) => (id, true),
        _ => return Ok(None),
    };
    let payment = service
        .oauth
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

/// The payments an authorization pays, if any: the second factor links to
/// them. One payment, or a signing basket's payments.
pub(crate) async fn linked_payments<R: BankStore>(
    service: &BankService<R>,
    authorization: &Authorization,
) -> Result<Vec<Payment>, BankError> {
    if let ScopedResource::Basket(id) = authorization.scope {
        return Ok(crate::basket::asked(service, id).await?.payments);
    }
    Ok(match payment_asked(service, authorization).await? {
        Some(PaymentAsk::Pay(payment)) => vec![payment],
        _ => Vec::new(),
    })
}

/// The PSU the authorization is for, as it stands now.
pub(crate) async fn session_psu<R: BankStore>(
    service: &BankService<R>,
    session: &PsuSession,
) -> Result<Psu, BankError> {
    let psu_id = session
        .authorization
        .psu_id
        .ok_or_else(BankError::expired)?;
    service
        .oauth
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
csrf_form!(ScaForm);

/// How a second-factor attempt ended.
pub(crate) enum Factor {
    Accepted,
    /// Counts toward the block.
    Wrong,
    /// The passkey prompt expired or was answered already: ask again; not a failure.
    Stale,
}

/// The possession factor. A passkey: its assertion over the challenge (for
/// payments, one carrying exactly their digest). A code: for payments the
/// authenticator app's answer to the challenge derived from exactly these
/// amounts and payees (TOTP alone is for account information
/// only); otherwise a TOTP code, each step once. The sandbox code works only
/// where configured (never in production), and never for a payment of a PSU
/// whose authenticator could sign it.
pub(crate) async fn check_second_factor<R: BankStore>(
    service: &BankService<R>,
    psu: &Psu,
    form: &ScaForm,
    linked: &[Payment],
    ceremony: &KeyedHash,
) -> Result<Factor, BankError> {
    if !form.credential.is_empty() {
        return passkey_accepted(service, psu, &form.credential, linked, ceremony).await;
    }
    let code = form.code.trim();
    let sandbox = service
        .settings
        .sandbox_code
        .as_deref()
        .is_some_and(|expected| constant_time_eq(code, expected));
    let accepted = match linked {
        [] => sandbox || (psu.totp_enabled && totp_accepted(service, psu, code).await?),
        _ if psu.totp_enabled => ocra_accepted(service, psu, linked, code).await?,
        _ => {
            sandbox
                && service
                    .oauth
                    .server
                    .repo()
                    .psu_passkeys(psu.id)
                    .await?
                    .is_empty()
        }
    };
    Ok(if accepted {
        Factor::Accepted
    } else {
        Factor::Wrong
    })
}

/// WebAuthn request options for the PSU's passkeys (none: no prompt), with
/// the ceremony's state kept under `ceremony`.
pub(crate) async fn passkey_prompt<R: BankStore>(
    service: &BankService<R>,
    psu: &Psu,
    linked: &[Payment],
    ceremony: &KeyedHash,
) -> Result<Option<String>, BankError> {
    let Some(verifier) = &service.settings.passkeys else {
        return Ok(None);
    };
    let repo = service.oauth.server.repo();
    let passkeys = repo.psu_passkeys(psu.id).await?;
    if passkeys.is_empty() {
        return Ok(None);
    }
    let started = match verifier.start_authentication(&passkeys, linked) {
        Ok(started) => started,
        Err(e) => {
            tracing::error!(psu = %psu.id, error = %e, "cannot start a passkey authentication");
            return Ok(None);
        }
    };
    let now = service.oauth.server.now();
    repo.put_webauthn_ceremony(ceremony, started.state, now, now - CEREMONY_TTL)
        .await?;
    Ok(Some(started.options))
}

pub(crate) async fn passkey_accepted<R: BankStore>(
    service: &BankService<R>,
    psu: &Psu,
    response: &str,
    linked: &[Payment],
    ceremony: &KeyedHash,
) -> Result<Factor, BankError> {
    let Some(verifier) = &service.settings.passkeys else {
        return Ok(Factor::Wrong);
    };
    let repo = service.oauth.server.repo();
    let now = service.oauth.server.now();
    let Some((state, began)) = repo.take_webauthn_ceremony(ceremony).await? else {
        return Ok(Factor::Stale);
    };
    if !ceremony_live(began, now) {
        return Ok(Factor::Stale);
    }
    let passkeys = repo.psu_passkeys(psu.id).await?;
    match verifier.finish_authentication(&state, response, &passkeys, linked) {
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

/// The PSU's authenticator app's seed, if enrolled and it opens.
async fn psu_seed<R: BankStore>(
    service: &BankService<R>,
    psu: &Psu,
) -> Result<Option<Seed>, BankError> {
    let server = &service.oauth.server;
    let Some(sealed) = server.repo().psu_totp_seed(psu.id).await? else {
        return Ok(None);
    };
    let seed = server.pepper().sealer().open(&sealed).map(Seed::from_bytes);
    if seed.is_none() {
        tracing::error!(psu = %psu.id, "a stored PSU TOTP seed does not open with this pepper");
    }
    Ok(seed)
}

/// The PSU's authenticator app's OCRA response to the payments' challenge.
pub(crate) async fn ocra_accepted<R: BankStore>(
    service: &BankService<R>,
    psu: &Psu,
    linked: &[Payment],
    code: &str,
) -> Result<bool, BankError> {
    let Some(challenge) = linked_challenge(linked) else {
        return Ok(false);
    };
    Ok(psu_seed(service, psu).await?.is_some_and(|seed| {
        seed.ocra_response(&challenge)
            .is_some_and(|expected| constant_time_eq(code, &expected))
    }))
}

/// A current TOTP code of the PSU's authenticator, each time step once.
pub(crate) async fn totp_accepted<R: BankStore>(
    service: &BankService<R>,
    psu: &Psu,
    code: &str,
) -> Result<bool, BankError> {
    let server = &service.oauth.server;
    let step = psu_seed(service, psu).await?;
    match step.and_then(|seed| seed.matching_step(code, server.now())) {
        Some(step) => Ok(server.repo().accept_psu_totp_step(psu.id, step).await?),
        None => Ok(false),
    }
}

/// How one counted second-factor attempt ended.
pub(crate) enum Attempt {
    Accepted,
    /// The passkey prompt expired: ask again, the PSU as it stands now.
    Stale(Psu),
    /// Refused and counted toward the block.
    Wrong(Psu),
    /// The PSU is blocked, before this attempt or by it.
    Blocked,
}

/// One second-factor attempt, counted before it runs (RTS Art. 4): a wrong
/// answer counts toward the block, an accepted one clears the count.
pub(crate) async fn attempt<R: BankStore>(
    service: &BankService<R>,
    psu: PsuId,
    form: &ScaForm,
    linked: &[Payment],
    ceremony: &KeyedHash,
) -> Result<Attempt, BankError> {
    let server = &service.oauth.server;
    let Some(psu) = server.repo().begin_psu_attempt(psu, server.now()).await? else {
        return Ok(Attempt::Blocked);
    };
    Ok(
        match check_second_factor(service, &psu, form, linked, ceremony).await? {
            Factor::Accepted => {
                server.repo().reset_psu_login_failures(psu.id).await?;
                Attempt::Accepted
            }
            Factor::Stale => Attempt::Stale(psu),
            Factor::Wrong if fail(service, &psu).await? => Attempt::Blocked,
            Factor::Wrong => Attempt::Wrong(psu),
        },
    )
}

pub(crate) const WRONG_FACTOR: &str = "That code or passkey was not accepted, or was used already. \
                            Check it and try again.";
pub(crate) const STALE_PROMPT: &str = "The passkey prompt expired. Try again.";

pub(crate) async fn sca_page<R: BankStore>(
    service: &BankService<R>,
    session: &PsuSession,
    psu: &Psu,
    linked: Vec<Payment>,
    error: Option<String>,
) -> Result<ScaPage, BankError> {
    let passkey_options = passkey_prompt(service, psu, &linked, &session.ceremony).await?;
    let challenge = linked_challenge(&linked);
    let (payment, basket) = match session.authorization.scope {
        ScopedResource::Basket(_) => (None, linked),
        _ => (linked.into_iter().next(), Vec::new()),
    };
    Ok(ScaPage {
        bank: service.settings.bank_name.clone(),
        action: "/bank/sca",
        csrf: session.csrf.clone(),
        totp: psu.totp_enabled,
        sandbox_code: service.settings.sandbox_code.clone(),
        error,
        challenge,
        payment,
        basket,
        passkey_options,
    })
}

pub(crate) async fn sca_form<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    headers: HeaderMap,
) -> Result<Response, BankError> {
    let session = session(&service, &headers, AuthorizationStage::SecondFactor).await?;
    let psu = session_psu(&service, &session).await?;
    let linked = linked_payments(&service, &session.authorization).await?;
    let page = sca_page(&service, &session, &psu, linked, None).await?;
    Ok(secured(page.into_response(), None))
}

pub(crate) async fn sca<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    post: PsuPost<AtSecondFactor, ScaForm>,
) -> Result<Response, BankError> {
    let PsuPost { session, form, .. } = post;
    let psu = session_psu(&service, &session).await?;
    let linked = linked_payments(&service, &session.authorization).await?;
    let ceremony = &session.ceremony;
    let (psu, error) = match attempt(&service, psu.id, &form, &linked, ceremony).await? {
        Attempt::Accepted => {
            let stages = (
                AuthorizationStage::SecondFactor,
                AuthorizationStage::Consent,
            );
            return advance_renewed(&service, &session, stages, None, "/bank/consent").await;
        }
        Attempt::Blocked => return Err(BankError::page(StatusCode::FORBIDDEN, BLOCKED)),
        Attempt::Stale(psu) => (psu, STALE_PROMPT),
        Attempt::Wrong(psu) => (psu, WRONG_FACTOR),
    };
    let page = sca_page(&service, &session, &psu, linked, Some(error.into())).await?;
    Ok(secured(
        (StatusCode::UNAUTHORIZED, page).into_response(),
        None,
    ))
}
