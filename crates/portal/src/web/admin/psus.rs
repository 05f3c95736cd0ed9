//! The bank's PSUs in the admin console: the list, sandbox PSUs, accounts,
//! passwords, blocks and authenticator apps. The pages read and check the
//! forms; the rules and the audit trail are the bank's `PsuDesk`.
//!
//! The pages stay in the portal because they are the console's: its
//! operator session and second-factor guard (`OperatorPost`), layout and
//! navigation; the bank crate cannot reach those without depending on the
//! portal.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fintechapi_bank::operator::{PsuDesk, PsuDeskError, SandboxPsu};
use fintechapi_domain::ids::PsuId;
use fintechapi_domain::ledger::Account;
use fintechapi_domain::psu::Psu;
use fintechapi_domain::{Currency, Money};
use fintechapi_registry::Actor;
use fintechapi_registry::validation::FieldErrors;
use serde::Deserialize;

use super::{acting, admin_nav, operator, path_id};
use crate::accounts::check_password;
use crate::web::auth::CsrfForm;
use crate::web::session::{OperatorPost, Visitor, csrf_protected};
use crate::web::{Nav, PageError, Portal, PortalStore};

csrf_protected!(PsuForm, PsuPasswordForm, PsuAccountForm);

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

/// The PSU list with the creation form (its password never echoed), field
/// errors (400) or a notice (200).
async fn psus_page<R: PortalStore>(
    portal: &Portal<R>,
    visitor: &Visitor,
    form: PsuForm,
    errors: FieldErrors,
    notice: Option<String>,
) -> Result<Response, PageError> {
    let repo = portal.registry.repo();
    let mut psus = Vec::new();
    let now = portal.registry.now();
    for psu in repo.list_psus().await.map_err(PageError::internal)? {
        let accounts = repo.accounts_of_psu(psu.id).await;
        let paused_until = psu.blocked_until.filter(|until| *until > now);
        psus.push(PsuRow {
            psu,
            accounts: accounts.map_err(PageError::internal)?,
            paused_until,
        });
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let form = PsuForm {
        password: String::new(),
        ..form
    };
    let nav = admin_nav(visitor);
    let page = PsusPage {
        nav,
        psus,
        form,
        errors,
        notice,
    };
    Ok((status, page).into_response())
}

/// The list after a change, with its notice.
async fn done<R: PortalStore>(
    portal: &Portal<R>,
    visitor: &Visitor,
    notice: String,
) -> Result<Response, PageError> {
    psus_page(
        portal,
        visitor,
        PsuForm::default(),
        FieldErrors::new(),
        Some(notice),
    )
    .await
}

/// The list with field errors of a form other than the creation form.
async fn refused<R: PortalStore>(
    portal: &Portal<R>,
    visitor: &Visitor,
    errors: FieldErrors,
) -> Result<Response, PageError> {
    psus_page(portal, visitor, PsuForm::default(), errors, None).await
}

fn desk<'a, R: PortalStore>(portal: &'a Portal<R>, actor: Actor) -> PsuDesk<'a, R> {
    let accounts = &portal.accounts;
    PsuDesk::new(
        &portal.ledger,
        accounts.passwords(),
        accounts.pepper(),
        actor.0,
    )
}

/// What the desk could not do, as the console shows it.
fn desk_error(e: PsuDeskError) -> PageError {
    match e {
        PsuDeskError::NotFound => PageError::not_found(),
        PsuDeskError::Password(e) => PageError::account(e.into()),
        e => PageError::internal(e),
    }
}

fn iban(account: &Account) -> String {
    let iban = account.iban.as_ref().map(|i| i.to_print_format());
    iban.unwrap_or_default()
}

pub async fn psus<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let visitor = operator(&portal, &headers).await?;
    let form = PsuForm {
        opening_balance: "1000.00".into(),
        ..PsuForm::default()
    };
    psus_page(&portal, &visitor, form, FieldErrors::new(), None).await
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

/// The creation form checked: the sandbox PSU to create, or the field errors.
fn sandbox_psu(input: &PsuForm) -> Result<SandboxPsu, FieldErrors> {
    let mut errors = FieldErrors::new();
    let login = errors.text("login", &input.login, 64);
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    if !login.chars().all(allowed) {
        errors.add(
            "login",
            "may contain letters, digits, '.', '-' and '_' only",
        );
    }
    let display_name = errors.text("display_name", &input.display_name, 100);
    check_password(&mut errors, "password", &input.password, &[&login]);
    let opening = opening_balance(&mut errors, "opening_balance", &input.opening_balance);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(SandboxPsu {
        login,
        display_name,
        password: input.password.clone(),
        opening,
    })
}

/// Creates a sandbox PSU with one current account funded from the clearing account.
pub async fn psu_create<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    post: OperatorPost<PsuForm>,
) -> Result<Response, PageError> {
    let (visitor, actor, input) = acting(post)?;
    let new = match sandbox_psu(&input) {
        Ok(new) => new,
        Err(errors) => return psus_page(&portal, &visitor, input, errors, None).await,
    };
    match desk(&portal, actor).create(new).await {
        Ok((psu, account)) => {
            let notice = format!("PSU {} created with account {}.", psu.login, iban(&account));
            done(&portal, &visitor, notice).await
        }
        Err(PsuDeskError::LoginTaken(_)) => {
            let mut errors = FieldErrors::new();
            errors.add("login", "is already taken");
            psus_page(&portal, &visitor, input, errors, None).await
        }
        Err(e) => Err(desk_error(e)),
    }
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
    let (visitor, actor, input) = acting(post)?;
    let id: PsuId = path_id(&id)?;
    let mut errors = FieldErrors::new();
    check_password(&mut errors, "new_password", &input.password, &[]);
    if !errors.is_empty() {
        return refused(&portal, &visitor, errors).await;
    }
    let desk = desk(&portal, actor);
    desk.reset_password(id, input.password)
        .await
        .map_err(desk_error)?;
    done(&portal, &visitor, "Password reset.".into()).await
}

/// Lifts a block (temporary or permanent) that failed logins put on a PSU's
/// credentials, and forgets the blocks in a row.
pub async fn psu_unblock<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    Path(id): Path<String>,
    post: OperatorPost<CsrfForm>,
) -> Result<Response, PageError> {
    let (visitor, actor, _) = acting(post)?;
    let psu = desk(&portal, actor).unblock(path_id(&id)?).await;
    let psu = psu.map_err(desk_error)?;
    done(
        &portal,
        &visitor,
        format!("{} can log in again.", psu.login),
    )
    .await
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
    let (visitor, actor, input) = acting(post)?;
    let id: PsuId = path_id(&id)?;
    let mut errors = FieldErrors::new();
    let opening = opening_balance(&mut errors, "account_balance", &input.opening_balance);
    if !errors.is_empty() {
        return refused(&portal, &visitor, errors).await;
    }
    let opened = desk(&portal, actor).open_account(id, opening).await;
    let (psu, account) = opened.map_err(desk_error)?;
    let notice = format!("Account {} opened for {}.", iban(&account), psu.login);
    done(&portal, &visitor, notice).await
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
    let (visitor, actor, _) = acting(post)?;
    let enrolled = desk(&portal, actor).enrol_totp(path_id(&id)?).await;
    let (psu, seed) = enrolled.map_err(desk_error)?;
    let uri = seed.otpauth_uri(&portal.bank_name, &psu.login);
    Ok(PsuTotpPage {
        nav: admin_nav(&visitor),
        qr_svg: fintechapi_web::qr_svg(&uri),
        secret: seed.to_base32(),
        psu,
    }
    .into_response())
}
