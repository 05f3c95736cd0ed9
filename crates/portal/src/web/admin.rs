//! The admin console for the bank's operators: approvals, suspensions, the
//! audit trail and sandbox PSU management. Only `admin` accounts, with their
//! own session cookie.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::rejection::FormRejection;
use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::iban::Iban;
use fintechapi_domain::ids::{AccountId, ApplicationId, OrganisationId, PsuId, SubscriptionId};
use fintechapi_domain::ledger::{Account, AccountKind, NewAccount};
use fintechapi_domain::otp::Seed;
use fintechapi_domain::password::PasswordHash;
use fintechapi_domain::portal::{AuditEntry, User, UserKind};
use fintechapi_domain::psu::{NewPsu, Psu, PsuError};
use fintechapi_domain::registry::{Application, Organisation, Status, Subscription};
use fintechapi_domain::{Currency, Money};
use serde::Deserialize;

use super::auth::{CsrfForm, form, with_cookie};
use fintechapi_web::{check_origin, clear_cookie, request_host};

use super::session::{
    ADMIN_COOKIE, EnrollingOperatorPost, OperatorPost, Visitor, anonymous_csrf,
    check_anonymous_csrf, csrf_protected,
};
use super::{Nav, PageError, Portal, PortalStore};
use crate::accounts::{AccountError, check_password};
use fintechapi_registry::validation::FieldErrors;
use fintechapi_registry::{Actor, RegistryError};

fn see_other(location: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, location.to_owned())],
    )
        .into_response()
}

fn login_redirect() -> PageError {
    PageError::new(StatusCode::SEE_OTHER, "/admin/login")
}

async fn operator<R: PortalStore>(
    portal: &Portal<R>,
    headers: &HeaderMap,
) -> Result<(Visitor, User), PageError> {
    let visitor = Visitor::load_admin(portal, headers).await?;
    let user = visitor.user().map_err(|_| login_redirect())?.1.clone();
    Ok((visitor, user))
}

/// The audit-trail name of the operator behind a post.
fn operator_actor(visitor: &Visitor) -> Result<Actor, PageError> {
    Ok(Actor(format!("admin:{}", visitor.user()?.1.email)))
}

csrf_protected!(
    DecisionForm,
    StatusForm,
    PlanForm,
    PsuForm,
    PsuPasswordForm,
    PsuAccountForm
);

#[derive(Template, WebTemplate)]
#[template(path = "admin/login.html")]
struct LoginPage {
    nav: Nav,
    csrf: String,
    email: String,
    error: Option<String>,
}

pub async fn login_form(headers: HeaderMap) -> Result<Response, PageError> {
    let (csrf, cookie) = anonymous_csrf(&headers)?;
    Ok(with_cookie(
        LoginPage {
            nav: Nav::default(),
            csrf,
            email: String::new(),
            error: None,
        },
        cookie,
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

pub async fn login<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    input: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, PageError> {
    check_origin(&headers, request_host(&headers, &uri))?;
    let input = form(input)?;
    check_anonymous_csrf(&headers, &input.csrf)?;
    portal
        .login_throttle
        .allow(peer.ip())
        .await
        .map_err(PageError::too_many_attempts)?;
    let device = fintechapi_web::cookie(&headers, super::session::DEVICE_COOKIE);
    match portal
        .accounts
        .log_in(
            &input.email,
            &input.password,
            UserKind::Admin,
            device.as_deref(),
        )
        .await
    {
        Ok(outcome) => super::auth::logged_in(outcome),
        Err(e @ (AccountError::BadCredentials | AccountError::Unverified)) => {
            let page = LoginPage {
                nav: Nav::default(),
                csrf: input.csrf,
                email: input.email,
                error: Some(e.to_string()),
            };
            Ok((StatusCode::UNAUTHORIZED, page).into_response())
        }
        Err(e) => Err(PageError::account(e)),
    }
}

pub async fn logout<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    // Open before the second-factor guard: an operator sent to enrol may leave.
    post: EnrollingOperatorPost<CsrfForm>,
) -> Result<Response, PageError> {
    let (visitor, _input) = post.into_parts();
    if let Some(cookie) = &visitor.cookie {
        portal
            .accounts
            .log_out(cookie)
            .await
            .map_err(PageError::internal)?;
    }
    Ok((
        StatusCode::SEE_OTHER,
        [
            (
                header::LOCATION,
                "/admin/login".parse().map_err(PageError::internal)?,
            ),
            (header::SET_COOKIE, clear_cookie(ADMIN_COOKIE)),
        ],
    )
        .into_response())
}

/// A pending subscription with what an operator needs to decide on it.
struct PendingRow {
    subscription: Subscription,
    application: Application,
    organisation: Organisation,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/overview.html")]
struct OverviewPage {
    nav: Nav,
    pending: Vec<PendingRow>,
    organisations: Vec<Organisation>,
    /// Each application, its organisation's name and the plan assigned ("" for none).
    applications: Vec<(Application, String, String)>,
    /// The configured plans: name and limits.
    plans: Vec<(String, String)>,
    error: Option<String>,
}

async fn overview_page<R: PortalStore>(
    portal: &Portal<R>,
    visitor: &Visitor,
    error: Option<String>,
) -> Result<OverviewPage, PageError> {
    let repo = portal.registry.repo();
    let organisations = repo
        .all_organisations()
        .await
        .map_err(PageError::internal)?;
    let name_of = |id: OrganisationId| {
        organisations
            .iter()
            .find(|o| o.id == id)
            .map(|o| o.legal_name.clone())
            .unwrap_or_default()
    };
    let mut pending = Vec::new();
    for subscription in repo
        .pending_subscriptions()
        .await
        .map_err(PageError::internal)?
    {
        let Some(application) = repo
            .application(subscription.application_id)
            .await
            .map_err(PageError::internal)?
        else {
            continue;
        };
        let Some(organisation) = organisations
            .iter()
            .find(|o| o.id == application.organisation_id)
            .cloned()
        else {
            continue;
        };
        pending.push(PendingRow {
            subscription,
            application,
            organisation,
        });
    }
    let applications = repo
        .all_applications()
        .await
        .map_err(PageError::internal)?
        .into_iter()
        .map(|a| {
            let org = name_of(a.organisation_id);
            let assigned = a.assigned_plan.clone().unwrap_or_default();
            (a, org, assigned)
        })
        .collect();
    let plans = portal
        .meter
        .plans()
        .iter()
        .map(|p| (p.name.clone(), p.to_string()))
        .collect();
    Ok(OverviewPage {
        nav: admin_nav(visitor),
        pending,
        organisations,
        applications,
        plans,
        error,
    })
}

fn admin_nav(visitor: &Visitor) -> Nav {
    let mut nav = visitor.nav();
    nav.admin = true;
    nav
}

pub async fn overview<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (visitor, _) = operator(&portal, &headers).await?;
    Ok(overview_page(&portal, &visitor, None)
        .await?
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    csrf: String,
}

pub async fn decide<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    Path(id): Path<String>,
    post: OperatorPost<DecisionForm>,
) -> Result<Response, PageError> {
    let (visitor, input) = post.into_parts();
    let actor = operator_actor(&visitor)?;
    let id: SubscriptionId = id.parse().map_err(|_| PageError::not_found())?;
    let approve = match input.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => {
            return Err(PageError::new(
                StatusCode::BAD_REQUEST,
                "Choose approve or reject.",
            ));
        }
    };
    match portal
        .registry
        .decide(&actor, id, approve, &input.reason, &portal.public_url)
        .await
    {
        Ok(()) => Ok(see_other("/admin")),
        Err(RegistryError::Invalid(errors)) => {
            let page = overview_page(&portal, &visitor, Some(errors.to_string())).await?;
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
        Err(RegistryError::NotFound) => Err(PageError::not_found()),
        Err(e) => Err(PageError::internal(e)),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    csrf: String,
}

fn parse_status(text: &str) -> Result<Status, PageError> {
    text.parse()
        .map_err(|_| PageError::new(StatusCode::BAD_REQUEST, "Unknown status."))
}

pub async fn org_status<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    Path(id): Path<String>,
    post: OperatorPost<StatusForm>,
) -> Result<Response, PageError> {
    let (visitor, input) = post.into_parts();
    let actor = operator_actor(&visitor)?;
    let id: OrganisationId = id.parse().map_err(|_| PageError::not_found())?;
    match portal
        .registry
        .set_organisation_status(&actor, id, parse_status(&input.status)?)
        .await
    {
        Ok(()) => Ok(see_other("/admin")),
        Err(RegistryError::NotFound) => Err(PageError::not_found()),
        Err(e) => Err(PageError::internal(e)),
    }
}

pub async fn app_status<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    Path(id): Path<String>,
    post: OperatorPost<StatusForm>,
) -> Result<Response, PageError> {
    let (visitor, input) = post.into_parts();
    let actor = operator_actor(&visitor)?;
    let id: ApplicationId = id.parse().map_err(|_| PageError::not_found())?;
    match portal
        .registry
        .set_application_status(&actor, id, parse_status(&input.status)?)
        .await
    {
        Ok(()) => Ok(see_other("/admin")),
        Err(RegistryError::NotFound) => Err(PageError::not_found()),
        Err(e) => Err(PageError::internal(e)),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct PlanForm {
    /// A configured plan's name, or empty for the subscriptions' tiers.
    #[serde(default)]
    plan: String,
    #[serde(default)]
    csrf: String,
}

pub async fn app_plan<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    Path(id): Path<String>,
    post: OperatorPost<PlanForm>,
) -> Result<Response, PageError> {
    let (visitor, input) = post.into_parts();
    let actor = operator_actor(&visitor)?;
    let id: ApplicationId = id.parse().map_err(|_| PageError::not_found())?;
    let plan = match input.plan.as_str() {
        "" => None,
        name if portal.meter.plans().get(name).is_some() => Some(name),
        _ => return Err(PageError::new(StatusCode::BAD_REQUEST, "Unknown plan.")),
    };
    match portal.registry.set_application_plan(&actor, id, plan).await {
        Ok(()) => Ok(see_other("/admin")),
        Err(RegistryError::NotFound) => Err(PageError::not_found()),
        Err(e) => Err(PageError::internal(e)),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    nav: Nav,
    entries: Vec<AuditEntry>,
}

pub async fn audit<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (visitor, _) = operator(&portal, &headers).await?;
    let entries = portal
        .registry
        .repo()
        .audit_trail(500)
        .await
        .map_err(PageError::internal)?;
    Ok(AuditPage {
        nav: admin_nav(&visitor),
        entries,
    }
    .into_response())
}

struct PsuRow {
    psu: Psu,
    accounts: Vec<Account>,
    /// The end of a temporary block still running.
    paused_until: Option<time::OffsetDateTime>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PsuForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    opening_balance: String,
    #[serde(default)]
    csrf: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/psus.html")]
struct PsusPage {
    nav: Nav,
    psus: Vec<PsuRow>,
    form: PsuForm,
    errors: FieldErrors,
    notice: Option<String>,
}

async fn psus_page<R: PortalStore>(
    portal: &Portal<R>,
    visitor: &Visitor,
    form: PsuForm,
    errors: FieldErrors,
    notice: Option<String>,
) -> Result<PsusPage, PageError> {
    let repo = portal.registry.repo();
    let mut psus = Vec::new();
    let now = portal.registry.now();
    for psu in repo.list_psus().await.map_err(PageError::internal)? {
        let accounts = repo
            .accounts_of_psu(psu.id)
            .await
            .map_err(PageError::internal)?;
        let paused_until = psu.blocked_until.filter(|until| *until > now);
        psus.push(PsuRow {
            psu,
            accounts,
            paused_until,
        });
    }
    Ok(PsusPage {
        nav: admin_nav(visitor),
        psus,
        form: PsuForm {
            password: String::new(),
            ..form
        },
        errors,
        notice,
    })
}

pub async fn psus<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (visitor, _) = operator(&portal, &headers).await?;
    let form = PsuForm {
        opening_balance: "1000.00".into(),
        ..PsuForm::default()
    };
    Ok(psus_page(&portal, &visitor, form, FieldErrors::new(), None)
        .await?
        .into_response())
}

async fn hash<R: PortalStore>(
    portal: &Portal<R>,
    password: String,
) -> Result<PasswordHash, PageError> {
    portal
        .accounts
        .passwords()
        .hash(password)
        .await
        .map_err(|e| PageError::account(e.into()))
}

/// Opens a current account for a sandbox PSU, funded from the clearing account.
async fn open_sandbox_account<R: PortalStore>(
    portal: &Portal<R>,
    psu_id: PsuId,
    owner_name: &str,
    opening: Option<Money>,
) -> Result<Account, PageError> {
    let account_id = AccountId::random();
    let digits = u64::from_le_bytes(
        account_id.as_uuid().as_bytes()[..8]
            .try_into()
            .unwrap_or_default(),
    ) % 10_000_000_000;
    let iban = Iban::from_bban(
        "DE",
        &format!("{}{digits:010}", fintechapi_ledger::demo::BANK_CODE),
    )
    .map_err(PageError::internal)?;
    let account = portal
        .ledger
        .open_account(NewAccount {
            id: account_id,
            kind: AccountKind::Customer,
            psu_id: Some(psu_id),
            iban: Some(iban),
            bic: fintechapi_ledger::demo::BANK_BIC.to_owned(),
            currency: Currency::EUR,
            name: "Girokonto".into(),
            owner_name: owner_name.to_owned(),
            product: "Girokonto Sandbox".into(),
            cash_account_type: "CACC".into(),
            overdraft_limit: Some(0),
            created_at: portal.registry.now(),
        })
        .await
        .map_err(PageError::internal)?;
    if let Some(amount) = opening
        && amount.is_positive()
    {
        portal
            .ledger
            .deposit(
                account.id,
                amount,
                &format!("sandbox-opening:{}", account.id),
                "Opening balance",
            )
            .await
            .map_err(PageError::internal)?;
    }
    Ok(account)
}

fn opening_balance(errors: &mut FieldErrors, field: &'static str, text: &str) -> Option<Money> {
    match Money::parse_decimal(text.trim(), Currency::EUR) {
        Ok(m) if m.minor() < 0 => {
            errors.add(field, "must not be negative");
            None
        }
        Ok(m) => Some(m),
        Err(e) => {
            errors.add(field, e.to_string());
            None
        }
    }
}

/// Creates a sandbox PSU with one current account funded from the clearing account.
pub async fn psu_create<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    post: OperatorPost<PsuForm>,
) -> Result<Response, PageError> {
    let (visitor, input) = post.into_parts();
    let actor = operator_actor(&visitor)?;
    let mut errors = FieldErrors::new();
    let login = errors.text("login", &input.login, 64);
    if !login
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        errors.add(
            "login",
            "may contain letters, digits, '.', '-' and '_' only",
        );
    }
    let display_name = errors.text("display_name", &input.display_name, 100);
    check_password(&mut errors, "password", &input.password, &[&login]);
    let opening = opening_balance(&mut errors, "opening_balance", &input.opening_balance);
    if !errors.is_empty() {
        let page = psus_page(&portal, &visitor, input, errors, None).await?;
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    }
    let now = portal.registry.now();
    let psu_id = PsuId::random();
    let created = portal
        .registry
        .repo()
        .create_psu(NewPsu {
            id: psu_id,
            login: login.clone(),
            display_name: display_name.clone(),
            password: hash(&portal, input.password.clone()).await?,
            created_at: now,
        })
        .await;
    match created {
        Ok(_) => {}
        Err(PsuError::LoginTaken(_)) => {
            let mut errors = FieldErrors::new();
            errors.add("login", "is already taken");
            let page = psus_page(&portal, &visitor, input, errors, None).await?;
            return Ok((StatusCode::BAD_REQUEST, page).into_response());
        }
        Err(e) => return Err(PageError::internal(e)),
    }
    let account = open_sandbox_account(&portal, psu_id, &display_name, opening).await?;
    portal
        .registry
        .repo()
        .record_audit(AuditEntry {
            at: now,
            actor: actor.0,
            action: "psu.create".into(),
            target: psu_id.to_string(),
            detail: login.clone(),
        })
        .await
        .map_err(PageError::internal)?;
    let notice = format!(
        "PSU {login} created with account {}.",
        account
            .iban
            .as_ref()
            .map(|i| i.to_print_format())
            .unwrap_or_default()
    );
    Ok(psus_page(
        &portal,
        &visitor,
        PsuForm::default(),
        FieldErrors::new(),
        Some(notice),
    )
    .await?
    .into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct PsuPasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

pub async fn psu_password<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    Path(id): Path<String>,
    post: OperatorPost<PsuPasswordForm>,
) -> Result<Response, PageError> {
    let (visitor, input) = post.into_parts();
    let actor = operator_actor(&visitor)?;
    let id: PsuId = id.parse().map_err(|_| PageError::not_found())?;
    let mut errors = FieldErrors::new();
    check_password(&mut errors, "new_password", &input.password, &[]);
    if !errors.is_empty() {
        let page = psus_page(&portal, &visitor, PsuForm::default(), errors, None).await?;
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    }
    let repo = portal.registry.repo();
    if repo.psu(id).await.map_err(PageError::internal)?.is_none() {
        return Err(PageError::not_found());
    }
    repo.set_psu_password(id, hash(&portal, input.password).await?)
        .await
        .map_err(PageError::internal)?;
    repo.record_audit(AuditEntry {
        at: portal.registry.now(),
        actor: actor.0,
        action: "psu.reset_password".into(),
        target: id.to_string(),
        detail: String::new(),
    })
    .await
    .map_err(PageError::internal)?;
    Ok(psus_page(
        &portal,
        &visitor,
        PsuForm::default(),
        FieldErrors::new(),
        Some("Password reset.".into()),
    )
    .await?
    .into_response())
}

/// The sandbox PSU `id`, or "not found".
async fn sandbox_psu<R: PortalStore>(portal: &Portal<R>, id: &str) -> Result<Psu, PageError> {
    let id: PsuId = id.parse().map_err(|_| PageError::not_found())?;
    portal
        .registry
        .repo()
        .psu(id)
        .await
        .map_err(PageError::internal)?
        .ok_or_else(PageError::not_found)
}

async fn audit_psu<R: PortalStore>(
    portal: &Portal<R>,
    actor: Actor,
    action: &str,
    psu: &Psu,
    detail: String,
) -> Result<(), PageError> {
    portal
        .registry
        .repo()
        .record_audit(AuditEntry {
            at: portal.registry.now(),
            actor: actor.0,
            action: action.into(),
            target: psu.id.to_string(),
            detail,
        })
        .await
        .map_err(PageError::internal)
}

/// Lifts a block (temporary or permanent) that failed logins put on a PSU's
/// credentials, and forgets the blocks in a row.
pub async fn psu_unblock<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    Path(id): Path<String>,
    post: OperatorPost<CsrfForm>,
) -> Result<Response, PageError> {
    let (visitor, _) = post.into_parts();
    let actor = operator_actor(&visitor)?;
    let psu = sandbox_psu(&portal, &id).await?;
    portal
        .registry
        .repo()
        .reset_psu_login_failures(psu.id)
        .await
        .map_err(PageError::internal)?;
    audit_psu(&portal, actor, "psu.unblock", &psu, String::new()).await?;
    let notice = format!("{} can log in again.", psu.login);
    Ok(psus_page(
        &portal,
        &visitor,
        PsuForm::default(),
        FieldErrors::new(),
        Some(notice),
    )
    .await?
    .into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct PsuAccountForm {
    #[serde(default)]
    opening_balance: String,
    #[serde(default)]
    csrf: String,
}

/// Opens one more funded current account for a sandbox PSU.
pub async fn psu_account<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    Path(id): Path<String>,
    post: OperatorPost<PsuAccountForm>,
) -> Result<Response, PageError> {
    let (visitor, input) = post.into_parts();
    let actor = operator_actor(&visitor)?;
    let psu = sandbox_psu(&portal, &id).await?;
    let mut errors = FieldErrors::new();
    let opening = opening_balance(&mut errors, "account_balance", &input.opening_balance);
    if !errors.is_empty() {
        let page = psus_page(&portal, &visitor, PsuForm::default(), errors, None).await?;
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    }
    let account = open_sandbox_account(&portal, psu.id, &psu.display_name, opening).await?;
    let iban = account
        .iban
        .as_ref()
        .map(|i| i.to_print_format())
        .unwrap_or_default();
    audit_psu(&portal, actor, "psu.open_account", &psu, iban.clone()).await?;
    let notice = format!("Account {iban} opened for {}.", psu.login);
    Ok(psus_page(
        &portal,
        &visitor,
        PsuForm::default(),
        FieldErrors::new(),
        Some(notice),
    )
    .await?
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/psu_totp.html")]
struct PsuTotpPage {
    nav: Nav,
    psu: Psu,
    qr_svg: String,
    secret: String,
}

/// Enrols a new authenticator app for a PSU (at the branch, as a bank does):
/// the seed is shown once to be scanned, and stored only sealed.
pub async fn psu_totp<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    Path(id): Path<String>,
    post: OperatorPost<CsrfForm>,
) -> Result<Response, PageError> {
    let (visitor, _) = post.into_parts();
    let actor = operator_actor(&visitor)?;
    let psu = sandbox_psu(&portal, &id).await?;
    let seed = Seed::generate().map_err(PageError::internal)?;
    let sealed = portal
        .accounts
        .pepper()
        .sealer()
        .seal(seed.as_bytes())
        .map_err(PageError::internal)?;
    portal
        .registry
        .repo()
        .set_psu_totp(psu.id, Some(sealed))
        .await
        .map_err(PageError::internal)?;
    audit_psu(&portal, actor, "psu.totp_enrol", &psu, String::new()).await?;
    let uri = seed.otpauth_uri("FinTechAPI Bank", &psu.login);
    Ok(PsuTotpPage {
        nav: admin_nav(&visitor),
        qr_svg: fintechapi_web::qr_svg(&uri),
        secret: seed.to_base32(),
        psu,
    }
    .into_response())
}
