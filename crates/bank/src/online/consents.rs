//! The consents the PSU gave, and their withdrawal (`revokedByPsu`).

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fintechapi_domain::consent::{Consent, ConsentStatus};
use fintechapi_domain::ids::{AccountId, ConsentId};
use fintechapi_domain::psu::PsuNotice;

use super::{Active, CsrfForm, Online, OnlinePost, OnlineSession};
use crate::error::{BankError, secured};
use crate::service::{BankService, BankStore};

/// One consent as the PSU sees it.
struct ConsentLine {
    consent: Consent,
    app_name: String,
    tpp_name: String,
    status: ConsentStatus,
    /// What it opens, an entry per account: "Main account (DE89…): balances, transactions".
    accounts: Vec<String>,
}

/// The PSU's accounts and cards by id, named as online banking names them.
async fn account_names<R: BankStore>(
    repo: &R,
    psu: fintechapi_domain::ids::PsuId,
) -> Result<HashMap<AccountId, String>, BankError> {
    let mut names = HashMap::new();
    for account in repo.accounts_of_psu(psu).await? {
        let iban = account
            .iban
            .as_ref()
            .map(|i| i.as_str().to_owned())
            .unwrap_or_default();
        names.insert(account.id, format!("{} ({iban})", account.name));
    }
    for card in repo.card_accounts_of_psu(psu).await? {
        names.insert(
            card.account.id,
            format!("{} ({})", card.account.name, card.masked_pan.as_str()),
        );
    }
    Ok(names)
}

fn granted(consent: &Consent, names: &HashMap<AccountId, String>) -> Vec<String> {
    if let Some(iban) = consent.funds_account() {
        return vec![format!("{}: whether an amount is available", iban.as_str())];
    }
    consent
        .grants
        .iter()
        .map(|grant| {
            let what = match (grant.balances, grant.transactions) {
                (true, true) => "details, balances, transactions",
                (true, false) => "details, balances",
                (false, true) => "details, transactions",
                (false, false) => "details",
            };
            let name = names
                .get(&grant.account)
                .map_or("An account", String::as_str);
            format!("{name}: {what}")
        })
        .collect()
}

/// A consent with the names of its app and TPP and what it opens.
async fn consent_line<R: BankStore>(
    repo: &R,
    consent: Consent,
    names: &HashMap<AccountId, String>,
    today: time::Date,
) -> Result<ConsentLine, BankError> {
    let app = repo.application(consent.application_id).await?;
    let org = match &app {
        Some(a) => repo.organisation(a.organisation_id).await?,
        None => None,
    };
    Ok(ConsentLine {
        status: consent.status_on(today),
        app_name: app.map(|a| a.name).unwrap_or_default(),
        tpp_name: org.map(|o| o.legal_name).unwrap_or_default(),
        accounts: granted(&consent, names),
        consent,
    })
}

/// The PSU's own consent `id`; any other (or none) is "not yours", alike.
async fn own_consent<R: BankStore>(
    repo: &R,
    psu: fintechapi_domain::ids::PsuId,
    id: &str,
) -> Result<Consent, BankError> {
    let not_yours = || BankError::page(StatusCode::NOT_FOUND, "There is no such consent of yours.");
    let id: ConsentId = id.parse().map_err(|_| not_yours())?;
    repo.consent(id)
        .await?
        .filter(|c| c.psu_id == Some(psu))
        .ok_or_else(not_yours)
}

#[derive(Template, WebTemplate)]
#[template(path = "bank/online.html")]
struct ConsentsPage {
    /// The bank's name, in the header and the title.
    bank: std::sync::Arc<str>,
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
) -> Result<Response, BankError> {
    let psu = session.psu()?;
    let repo = service.oauth.server.repo();
    let today = service.oauth.server.now().date();
    let names = account_names(repo, psu.id).await?;
    let mut lines = Vec::new();
    for consent in repo.consents_of_psu(psu.id).await? {
        lines.push(consent_line(repo, consent, &names, today).await?);
    }
    let alerts = repo.psu_notices(psu.id, 5).await?;
    let page = ConsentsPage {
        bank: service.settings.bank_name.clone(),
        csrf: session.csrf.clone(),
        name: psu.display_name,
        lines,
        notice,
        alerts,
    };
    Ok(secured(page.into_response(), None))
}

pub(super) async fn consents<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    OnlineSession(session, _): OnlineSession<Active>,
) -> Result<Response, BankError> {
    consents_page(&service, &session, None).await
}

#[derive(Template, WebTemplate)]
#[template(path = "bank/online_withdraw.html")]
struct WithdrawPage {
    /// The bank's name, in the header and the title.
    bank: std::sync::Arc<str>,
    csrf: String,
    line: ConsentLine,
}

/// Asks before withdrawing: it cannot be undone, and the app must ask again.
pub(super) async fn confirm_revoke<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    Path(id): Path<String>,
    OnlineSession(session, _): OnlineSession<Active>,
) -> Result<Response, BankError> {
    let psu = session.psu()?;
    let repo = service.oauth.server.repo();
    let consent = own_consent(repo, psu.id, &id).await?;
    let names = account_names(repo, psu.id).await?;
    let today = service.oauth.server.now().date();
    let line = consent_line(repo, consent, &names, today).await?;
    let page = WithdrawPage {
        bank: service.settings.bank_name.clone(),
        csrf: session.csrf.clone(),
        line,
    };
    Ok(secured(page.into_response(), None))
}

pub(super) async fn revoke<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    Path(id): Path<String>,
    post: OnlinePost<Active, CsrfForm>,
) -> Result<Response, BankError> {
    let session = post.session;
    let psu = session.psu()?;
    let server = &service.oauth.server;
    let consent = own_consent(server.repo(), psu.id, &id).await?;
    let (valid, revoked) = (&[ConsentStatus::Valid], ConsentStatus::RevokedByPsu);
    let notice = if server
        .set_consent_status(consent.id, valid, revoked, server.now())
        .await?
    {
        "Access withdrawn. The app can no longer read your accounts."
    } else {
        "This consent had already ended."
    };
    consents_page(&service, &session, Some(notice.into())).await
}
