//! The bank's app for the Decoupled SCA approach: the requests awaiting the
//! PSU (a consent's accounts, access and validity, or a payment's amount and
//! payee; the TPP's name; when), kept current by `assets/approvals.js`
//! polling this session's JSON list, and each one's confirmation page, where
//! the PSU approves or declines with a fresh second factor (for a payment a
//! passkey or OCRA answer over exactly its amount and payee). The decision
//! is the authorization pages' (`decision.rs`, `payment.rs`): a consent
//! becomes valid, a payment executes once.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fintechapi_domain::consent::{Consent, ConsentAccess, ConsentStatus};
use fintechapi_domain::ids::AuthorizationId;
use fintechapi_domain::oauth::{Authorization, AuthorizationFlow, AuthorizationStage};
use fintechapi_domain::payment::Payment;
use fintechapi_domain::psu::Psu;
use fintechapi_oauth::server::ScopedResource;
use fintechapi_web::moment::Moment;
use serde::Serialize;

use super::{Active, Online, OnlinePost, OnlineSession, Watching};
use crate::decision::{decide_consent, decide_payment};
use crate::decoupled::{APPROVALS_PATH, not_pending};
use crate::error::{BankError, secured};
use crate::factors::{
    Attempt, PaymentAsk, STALE_PROMPT, ScaForm, WRONG_FACTOR, attempt, passkey_prompt,
    payment_asked, payment_challenge,
};
use crate::login::BLOCKED;
use crate::pages::{AccountLine, lines_for};
use crate::service::{BankService, BankStore};
use crate::session::tpp;

/// The JSON list `assets/approvals.js` polls.
pub(super) const LIST_PATH: &str = "/bank/online/approvals.json";

/// The most requests listed at once; older ones wait their turn.
const LISTED_MAX: u32 = 20;

/// One request awaiting the PSU, as the list and its JSON show it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Pending {
    id: String,
    href: String,
    /// "Access to your accounts" or "Payment".
    kind: &'static str,
    tpp: String,
    app: String,
    /// What it asks for, a line each.
    what: Vec<String>,
    /// When it was asked (RFC 3339) and as the page shows it.
    created: String,
    created_text: String,
    /// Until when it can be answered.
    expires_text: String,
}

/// What a request asks of the PSU.
enum Asked {
    Consent {
        consent: Box<Consent>,
        lines: Vec<AccountLine>,
        /// Bank-offered: the PSU ticks accounts.
        choose: bool,
        problem: Option<String>,
    },
    Payment(Box<Payment>),
}

impl Asked {
    fn payment(&self) -> Option<&Payment> {
        match self {
            Asked::Payment(payment) => Some(payment),
            Asked::Consent { .. } => None,
        }
    }
}

/// What `authorization` asks of `psu`; None when its consent or payment no
/// longer awaits an authorisation (decided meanwhile, or ended by the TPP).
async fn asked<R: BankStore>(
    service: &BankService<R>,
    authorization: &Authorization,
    psu: &Psu,
) -> Result<Option<Asked>, BankError> {
    if let Some(PaymentAsk::Pay(payment)) = payment_asked(service, authorization).await? {
        let awaits = payment.status.awaits_authorisation();
        return Ok(awaits.then(|| Asked::Payment(Box::new(payment))));
    }
    let ScopedResource::Consent(id) = authorization.scope else {
        return Ok(None);
    };
    let repo = service.oauth.server.repo();
    let Some(consent) = repo.consent(id).await? else {
        return Ok(None);
    };
    if !matches!(
        consent.status,
        ConsentStatus::Received | ConsentStatus::PartiallyAuthorised
    ) {
        return Ok(None);
    }
    let (lines, choose, problem, _) = lines_for(service, &consent, psu.id).await?;
    Ok(Some(Asked::Consent {
        consent: Box::new(consent),
        lines,
        choose,
        problem,
    }))
}

fn consent_what(
    consent: &Consent,
    lines: &[AccountLine],
    choose: bool,
    problem: Option<&str>,
) -> Vec<String> {
    let mut what: Vec<String> = lines.iter().map(AccountLine::describe).collect();
    if let Some(problem) = problem {
        what.push(problem.to_owned());
    }
    if choose
        && let ConsentAccess::BankOffered {
            balances,
            transactions,
        } = consent.access
    {
        let opened = match (balances, transactions) {
            (true, true) => "details, balances, transactions",
            (true, false) => "details, balances",
            (false, true) => "details, transactions",
            (false, false) => "details",
        };
        what.insert(0, format!("The accounts you choose: {opened}"));
    }
    what.push(format!("Valid until {}", consent.valid_until));
    what.push(if consent.recurring {
        format!(
            "Read up to {} times a day without you",
            consent.frequency_per_day
        )
    } else {
        "Read once".to_owned()
    });
    what
}

fn payment_what(payment: &Payment) -> Vec<String> {
    let money = |m: &fintechapi_domain::money::Money| {
        format!("{} {}", m.to_decimal_string(), m.currency().code())
    };
    let mut what = match &payment.bulk {
        Some(bulk) => {
            let mut lines = vec![format!(
                "{} transfers, in total {}",
                bulk.entries.len(),
                money(&payment.amount)
            )];
            lines.extend(bulk.entries.iter().map(|e| {
                format!(
                    "{} to {} ({})",
                    money(&e.amount),
                    e.creditor_name,
                    e.creditor_iban.to_print_format()
                )
            }));
            lines
        }
        None => vec![format!(
            "{} to {} ({})",
            money(&payment.amount),
            payment.creditor_name,
            payment.creditor_iban.to_print_format()
        )],
    };
    what.push(format!(
        "From your account {}",
        payment.debtor_iban.to_print_format()
    ));
    if let Some(reference) = &payment.remittance {
        what.push(format!("Reference: {reference}"));
    }
    what.push(format!("When: {}", payment.execution));
    what
}

async fn pending<R: BankStore>(
    service: &BankService<R>,
    authorization: &Authorization,
    asked: &Asked,
) -> Result<Pending, BankError> {
    let (application, organisation) = tpp(service, authorization).await?;
    let (kind, what) = match asked {
        Asked::Payment(payment) => ("Payment", payment_what(payment)),
        Asked::Consent {
            consent,
            lines,
            choose,
            problem,
        } => (
            "Access to your accounts",
            consent_what(consent, lines, *choose, problem.as_deref()),
        ),
    };
    let created = Moment::new(&authorization.created_at);
    Ok(Pending {
        id: authorization.id.to_string(),
        href: format!("{APPROVALS_PATH}/{}", authorization.id),
        kind,
        tpp: organisation.legal_name,
        app: application.name,
        what,
        created: created.machine(),
        created_text: created.to_string(),
        expires_text: Moment::new(&authorization.request_expires_at).to_string(),
    })
}

/// The requests awaiting the PSU now, oldest first.
async fn pending_of<R: BankStore>(
    service: &BankService<R>,
    psu: &Psu,
) -> Result<Vec<Pending>, BankError> {
    let server = &service.oauth.server;
    let found = server
        .repo()
        .pending_decoupled(psu.id, server.now(), LISTED_MAX)
        .await?;
    let mut items = Vec::with_capacity(found.len());
    for authorization in found {
        if let Some(asked) = asked(service, &authorization, psu).await? {
            items.push(pending(service, &authorization, &asked).await?);
        }
    }
    Ok(items)
}

#[derive(Template, WebTemplate)]
#[template(path = "bank/online_approvals.html")]
struct ApprovalsPage {
    bank: Arc<str>,
    csrf: String,
    items: Vec<Pending>,
    notice: Option<&'static str>,
    list_path: &'static str,
}

#[derive(serde::Deserialize)]
pub(super) struct Answered {
    answered: Option<String>,
}

/// The pending approvals.
pub(super) async fn approvals<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    query: Result<Query<Answered>, QueryRejection>,
    OnlineSession(session, _): OnlineSession<Active>,
) -> Result<Response, BankError> {
    let psu = session.psu()?;
    let notice = match query.ok().and_then(|Query(q)| q.answered).as_deref() {
        Some("approved") => Some("Approved. The app that asked is told so."),
        Some("declined") => Some("Declined. Nothing was granted or paid."),
        _ => None,
    };
    let page = ApprovalsPage {
        bank: service.settings.bank_name.clone(),
        csrf: session.csrf.clone(),
        items: pending_of(&service, &psu).await?,
        notice,
        list_path: LIST_PATH,
    };
    Ok(secured(page.into_response(), None))
}

#[derive(Serialize)]
struct PendingList {
    pending: Vec<Pending>,
}

/// The pending approvals as JSON, for the page's poll: not the PSU's
/// activity, so a page left open still ends after the idle timeout.
pub(super) async fn list<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    OnlineSession(session, _): OnlineSession<Watching>,
) -> Result<Response, BankError> {
    let pending = pending_of(&service, &session.psu()?).await?;
    Ok(secured(Json(PendingList { pending }).into_response(), None))
}

#[derive(Template, WebTemplate)]
#[template(path = "bank/online_approval.html")]
struct ConfirmPage {
    bank: Arc<str>,
    csrf: String,
    item: Pending,
    /// Bank-offered consent: the accounts to tick, as (id, description).
    choices: Vec<(String, String)>,
    totp: bool,
    sandbox_code: Option<String>,
    /// For a payment: the challenge the authenticator app signs.
    challenge: Option<String>,
    passkey_options: Option<String>,
    error: Option<String>,
}

/// The request `id` if it awaits this PSU's answer.
async fn awaiting<R: BankStore>(
    service: &BankService<R>,
    psu: &Psu,
    id: &str,
) -> Result<Authorization, BankError> {
    let id: AuthorizationId = id.parse().map_err(|_| not_pending())?;
    let server = &service.oauth.server;
    let authorization = server.repo().authorization(id).await?;
    authorization
        .filter(|a| {
            a.flow == AuthorizationFlow::Decoupled
                && a.psu_id == Some(psu.id)
                && matches!(
                    a.stage,
                    AuthorizationStage::Pushed | AuthorizationStage::Login
                )
                && server.now() < a.request_expires_at
        })
        .ok_or_else(not_pending)
}

async fn confirm_page<R: BankStore>(
    service: &BankService<R>,
    session: &Online,
    psu: &Psu,
    authorization: &Authorization,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, BankError> {
    let asked = asked(service, authorization, psu)
        .await?
        .ok_or_else(not_pending)?;
    let item = pending(service, authorization, &asked).await?;
    let choices = match &asked {
        Asked::Consent {
            lines,
            choose: true,
            ..
        } => lines
            .iter()
            .map(|l| (l.account.id.to_string(), l.describe()))
            .collect(),
        _ => Vec::new(),
    };
    let payment = asked.payment();
    let linked = payment.map(std::slice::from_ref).unwrap_or_default();
    let passkey_options = passkey_prompt(service, psu, linked, &session.approval_ceremony).await?;
    let page = ConfirmPage {
        bank: service.settings.bank_name.clone(),
        csrf: session.csrf.clone(),
        item,
        choices,
        totp: psu.totp_enabled,
        sandbox_code: service.settings.sandbox_code.clone(),
        challenge: payment.map(payment_challenge),
        passkey_options,
        error,
    };
    Ok(secured((status, page).into_response(), None))
}

/// A request's confirmation page; opening it starts the authorisation
/// (`scaStatus` started).
pub(super) async fn confirm<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    Path(id): Path<String>,
    OnlineSession(session, _): OnlineSession<Active>,
) -> Result<Response, BankError> {
    let psu = session.psu()?;
    let id = awaiting(&service, &psu, &id).await?.id;
    let server = &service.oauth.server;
    let opened = server
        .repo()
        .open_decoupled(id, psu.id, server.now())
        .await?;
    let authorization = opened.ok_or_else(not_pending)?;
    confirm_page(
        &service,
        &session,
        &psu,
        &authorization,
        StatusCode::OK,
        None,
    )
    .await
}

/// The PSU's answer: `decision` (approve or decline) with a one-time code or
/// a passkey's assertion, and for a bank-offered consent the accounts
/// ticked. Read as pairs because `account` repeats.
pub(super) async fn decide<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    Path(id): Path<String>,
    post: OnlinePost<Active, Vec<(String, String)>>,
) -> Result<Response, BankError> {
    let OnlinePost { session, form, .. } = post;
    let value = |name: &str| {
        form.iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    };
    let approve = match value("decision") {
        "approve" => true,
        "decline" => false,
        _ => {
            return Err(BankError::page(
                StatusCode::BAD_REQUEST,
                "Choose whether to approve or decline.",
            ));
        }
    };
    let chosen: Vec<&str> = form
        .iter()
        .filter(|(n, _)| n == "account")
        .map(|(_, v)| v.as_str())
        .collect();
    let psu = session.psu()?;
    let authorization = awaiting(&service, &psu, &id).await?;
    let asked = asked(&service, &authorization, &psu)
        .await?
        .ok_or_else(not_pending)?;
    if approve
        && let Asked::Consent {
            lines,
            choose: true,
            ..
        } = &asked
        && !lines
            .iter()
            .any(|l| chosen.contains(&l.account.id.to_string().as_str()))
    {
        let error = "Choose at least one account, or decline.".to_owned();
        let status = StatusCode::BAD_REQUEST;
        return confirm_page(
            &service,
            &session,
            &psu,
            &authorization,
            status,
            Some(error),
        )
        .await;
    }
    let factor = ScaForm {
        code: value("code").to_owned(),
        credential: value("credential").to_owned(),
        csrf: String::new(),
    };
    let ceremony = &session.approval_ceremony;
    let linked = asked
        .payment()
        .map(std::slice::from_ref)
        .unwrap_or_default();
    let error = match attempt(&service, psu.id, &factor, linked, ceremony).await? {
        Attempt::Accepted => None,
        Attempt::Blocked => {
            let repo = service.oauth.server.repo();
            repo.end_psu_session(&session.hash).await?;
            return Err(BankError::page(StatusCode::FORBIDDEN, BLOCKED));
        }
        Attempt::Stale(_) => Some(STALE_PROMPT),
        Attempt::Wrong(_) => Some(WRONG_FACTOR),
    };
    if let Some(error) = error {
        let status = StatusCode::UNAUTHORIZED;
        let error = Some(error.to_owned());
        return confirm_page(&service, &session, &psu, &authorization, status, error).await;
    }
    // Authenticated, unexpired and still undecided, in one statement; then
    // the same decision as the authorization pages.
    let server = &service.oauth.server;
    let repo = server.repo();
    if !repo
        .authenticate_decoupled(authorization.id, psu.id, server.now())
        .await?
    {
        return Err(not_pending());
    }
    let authorization = Authorization {
        stage: AuthorizationStage::Consent,
        ..authorization
    };
    match asked {
        Asked::Payment(payment) => {
            decide_payment(&service, &authorization, &payment, approve).await
        }
        Asked::Consent { .. } => {
            decide_consent(&service, &authorization, &session.csrf, approve, &chosen).await
        }
    }
}
