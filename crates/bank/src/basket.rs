//! A signing basket at the bank: one page listing each payment (amount,
//! payee) and each consent (what it grants) of the basket, after one second
//! factor linked to all of its payments (`factors.rs::linked_payments`).
//! Approved, the consents become valid with the basket's decision in one
//! transaction, then each payment is authorised as its own authorisation
//! would (`fintechapi_ledger::baskets::finish`: `lifecycle::authorise`,
//! once; the settlement loop finishes what a crash left). Declined, all are
//! rejected.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fintechapi_domain::basket::{BasketStatus, SigningBasket};
use fintechapi_domain::consent::{AccountGrant, Consent};
use fintechapi_domain::holders::is_joint;
use fintechapi_domain::ids::{BasketId, ConsentId};
use fintechapi_domain::oauth::Authorization;
use fintechapi_domain::payment::Payment;
use fintechapi_ledger::baskets::finish;

use crate::decision::{approved, refused};
use crate::error::{BankError, secured};
use crate::pages::{AccountLine, consent_lines, form_targets};
use crate::payment::deny;
use crate::service::{BankService, BankStore};
use crate::session::{PsuSession, tpp};

/// The basket an authorization names, with its payments as they stand.
pub(crate) struct Asked {
    pub(crate) basket: SigningBasket,
    pub(crate) payments: Vec<Payment>,
}

/// The open basket `id` and its payments; an expired page when it is gone
/// or was decided or deleted meanwhile.
pub(crate) async fn asked<R: BankStore>(
    service: &BankService<R>,
    id: BasketId,
) -> Result<Asked, BankError> {
    let repo = service.oauth.server.repo();
    let basket = repo.basket(id).await?.ok_or_else(BankError::expired)?;
    if basket.status != BasketStatus::Received {
        return Err(BankError::page(
            StatusCode::CONFLICT,
            "This request was already decided, or the app withdrew it.",
        ));
    }
    let mut payments = Vec::with_capacity(basket.payments.len());
    for id in &basket.payments {
        payments.push(repo.payment(*id).await?.ok_or_else(BankError::expired)?);
    }
    Ok(Asked { basket, payments })
}

/// One consent of the basket and what it grants on the PSU's accounts.
pub(crate) struct ConsentEntry {
    pub(crate) consent: Consent,
    pub(crate) lines: Vec<AccountLine>,
    /// Why it cannot be granted (an account that is not the PSU's).
    pub(crate) problem: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "bank/basket.html")]
pub(crate) struct BasketPage {
    pub(crate) bank: std::sync::Arc<str>,
    csrf: String,
    tpp_name: String,
    tpp_roles: String,
    app_name: String,
    payments: Vec<Payment>,
    consents: Vec<ConsentEntry>,
    /// Some consent cannot be granted: the basket can only be declined.
    blocked: bool,
}

/// Each consent of the basket with what it grants `authorization`'s PSU.
async fn consent_entries<R: BankStore>(
    service: &BankService<R>,
    authorization: &Authorization,
    basket: &SigningBasket,
) -> Result<Vec<ConsentEntry>, BankError> {
    let repo = service.oauth.server.repo();
    let psu = authorization.psu_id.ok_or_else(BankError::expired)?;
    let accounts = repo.accounts_of_psu(psu).await?;
    let cards = repo.card_accounts_of_psu(psu).await?;
    let mut entries = Vec::with_capacity(basket.consents.len());
    for id in &basket.consents {
        let consent = repo.consent(*id).await?.ok_or_else(BankError::expired)?;
        // A bank-offered consent in a basket grants every account listed.
        let (lines, _, problem) = consent_lines(&consent, accounts.clone(), cards.clone());
        entries.push(ConsentEntry {
            consent,
            lines,
            problem,
        });
    }
    Ok(entries)
}

/// The basket's page.
pub(crate) async fn page<R: BankStore>(
    service: &BankService<R>,
    session: &PsuSession,
    id: BasketId,
) -> Result<Response, BankError> {
    let authorization = &session.authorization;
    let Asked { basket, payments } = asked(service, id).await?;
    let consents = consent_entries(service, authorization, &basket).await?;
    let (application, organisation) = tpp(service, authorization).await?;
    let page = BasketPage {
        bank: service.settings.bank_name.clone(),
        csrf: session.csrf.clone(),
        tpp_name: organisation.legal_name,
        tpp_roles: organisation.roles.human(),
        app_name: application.name,
        payments,
        blocked: consents.iter().any(|c| c.problem.is_some()),
        consents,
    };
    let target = form_targets(authorization);
    Ok(secured(page.into_response(), target.as_deref()))
}

/// The PSU's one decision on the whole basket. A basket with a consent that
/// cannot be granted, or that covers a joint account, is declined whatever
/// was asked.
pub(crate) async fn decide<R: BankStore>(
    service: &BankService<R>,
    authorization: &Authorization,
    id: BasketId,
    approve: bool,
) -> Result<Response, BankError> {
    let Asked { basket, .. } = asked(service, id).await?;
    let consents = consent_entries(service, authorization, &basket).await?;
    let server = &service.oauth.server;
    let (repo, now) = (server.repo(), server.now());
    let psu = authorization.psu_id.ok_or_else(BankError::expired)?;
    let grantable = consents.iter().all(|c| c.problem.is_none());
    // Multilevel SCA needs each joint holder's own approval of a consent
    // (`consent.rs`), which one basket SCA cannot give: declined.
    let mut joint = false;
    for c in &consents {
        let grants: Vec<AccountGrant> = c.lines.iter().map(AccountLine::grant).collect();
        let holders = crate::consent::holders_of(service, &grants).await?;
        joint |= holders.iter().any(|h| is_joint(h));
    }
    if !approve || !grantable || joint {
        if !repo.reject_basket(basket.id, Some(psu), now).await? {
            return Err(already_decided());
        }
        let declined = SigningBasket {
            status: BasketStatus::Rejected,
            psu_id: Some(psu),
            ..basket
        };
        finish(&service.ledger, &declined).await?;
        deny(service, authorization).await?;
        let why = if !grantable {
            "a consent of the basket names an account the PSU does not hold"
        } else if joint {
            "a consent of the basket covers a joint account, which needs every holder's own \
             authorisation of the consent"
        } else {
            "the PSU declined the signing basket"
        };
        return Ok(refused(service, authorization, why).await);
    }
    let grants: Vec<(ConsentId, Vec<AccountGrant>)> = consents
        .iter()
        .map(|c| {
            (
                c.consent.id,
                c.lines.iter().map(AccountLine::grant).collect(),
            )
        })
        .collect();
    if !repo.approve_basket(basket.id, psu, grants, now).await? {
        return Err(already_decided());
    }
    let authorised = SigningBasket {
        status: BasketStatus::AcceptedTechnical,
        psu_id: Some(psu),
        ..basket
    };
    finish(&service.ledger, &authorised).await?;
    approved(service, authorization).await
}

fn already_decided() -> BankError {
    BankError::page(
        StatusCode::CONFLICT,
        "This request was already decided, or the app withdrew it.",
    )
}
