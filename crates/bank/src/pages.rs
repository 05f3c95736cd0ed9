//! The consent and payment pages shown for the PSU's decision.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use fintechapi_domain::card::{CardAccount, MaskedPan};
use fintechapi_domain::consent::{
    AccountGrant, AccountReference, Consent, ConsentAccess, ConsentStatus, GrantedResource,
};
use fintechapi_domain::holders::{Approval, approval_of_all, is_joint};
use fintechapi_domain::ids::PsuId;
use fintechapi_domain::ledger::Account;
use fintechapi_domain::oauth::{Authorization, AuthorizationFlow, AuthorizationStage};
use fintechapi_domain::payment::Payment;
use fintechapi_ledger::lifecycle;
use fintechapi_oauth::server::ScopedResource;

use crate::error::{BankError, secured};
use crate::factors::{PaymentAsk, payment_asked};
use crate::payment::{is_payer, not_the_payer};
use crate::service::{BankService, BankStore};
use crate::session::{PsuSession, session, tpp};

/// One line of the consent screen: a payment account, or a card account
/// shown and granted by its masked PAN.
pub(crate) struct AccountLine {
    pub(crate) account: Account,
    masked_pan: Option<MaskedPan>,
    balances: bool,
    transactions: bool,
}

impl AccountLine {
    /// What the line opens, as the PSU reads it: "Main account (DE89 …):
    /// details, balances, transactions".
    pub(crate) fn describe(&self) -> String {
        let named = match (&self.masked_pan, &self.account.iban) {
            (Some(pan), _) => pan.as_str().to_owned(),
            (None, Some(iban)) => iban.to_print_format(),
            (None, None) => String::new(),
        };
        let what = match (self.balances, self.transactions) {
            (true, true) => "details, balances, transactions",
            (true, false) => "details, balances",
            (false, true) => "details, transactions",
            (false, false) => "details",
        };
        format!("{} ({named}): {what}", self.account.name)
    }

    pub(crate) fn grant(&self) -> AccountGrant {
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
pub(crate) struct ConsentPage {
    /// The bank's name, in the header and the title.
    pub(crate) bank: std::sync::Arc<str>,
    pub(crate) csrf: String,
    pub(crate) tpp_name: String,
    pub(crate) tpp_roles: String,
    pub(crate) app_name: String,
    pub(crate) consent: Consent,
    /// A funds-confirmation (PIIS) consent: yes/no answers about one account.
    pub(crate) funds: bool,
    /// Accounts the consent names (or all the PSU's, for allPsd2 / availableAccounts).
    pub(crate) lines: Vec<AccountLine>,
    /// Bank-offered consent: the PSU ticks accounts.
    pub(crate) choose: bool,
    pub(crate) choose_balances: bool,
    pub(crate) choose_transactions: bool,
    pub(crate) problem: Option<String>,
    /// It covers a joint account: valid once every holder has approved it.
    pub(crate) joint: bool,
    /// The request asked for `openid` too: the app learns the PSU's subject.
    pub(crate) identity: bool,
}

/// What the PSU is asked to grant: the lines to show, whether they choose,
/// and a reason the consent cannot be granted at all. Card accounts count as
/// payment accounts: `allPsd2`, `availableAccounts` and bank-offered consents
/// include them.
pub(crate) fn consent_lines(
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

/// What `psu` is asked about `consent` (see [`consent_lines`]). A consent
/// partially authorised by another joint holder shows the accounts that
/// holder's approval fixed; one who holds a joint account of it not is told
/// so (and cannot decide it, `consent::authorise`). Also whether it covers a
/// joint account.
pub(crate) async fn lines_for<R: BankStore>(
    service: &BankService<R>,
    consent: &Consent,
    psu: PsuId,
) -> Result<(Vec<AccountLine>, bool, Option<String>, bool), BankError> {
    let repo = service.oauth.server.repo();
    if consent.status == ConsentStatus::PartiallyAuthorised {
        let holders = crate::consent::holders_of(service, &consent.grants).await?;
        let problem = (approval_of_all(&holders, psu, &[]) == Approval::NotAHolder).then(|| {
            "This consent covers a joint account you do not hold; only its holders can \
             approve or decline it."
                .to_owned()
        });
        let mut lines = Vec::with_capacity(consent.grants.len());
        for grant in &consent.grants {
            let masked_pan = match grant.resource {
                GrantedResource::CardAccount => repo
                    .card_account(grant.account)
                    .await?
                    .map(|c| c.masked_pan),
                GrantedResource::Account => None,
            };
            let account = repo
                .account(grant.account)
                .await?
                .ok_or_else(BankError::expired)?;
            lines.push(AccountLine {
                account,
                masked_pan,
                balances: grant.balances,
                transactions: grant.transactions,
            });
        }
        return Ok((lines, false, problem, true));
    }
    let accounts = repo.accounts_of_psu(psu).await?;
    let cards = repo.card_accounts_of_psu(psu).await?;
    let (lines, choose, problem) = consent_lines(consent, accounts, cards);
    let mut joint = false;
    for line in &lines {
        joint |= is_joint(&repo.account_holders(line.account.id).await?);
    }
    Ok((lines, choose, problem, joint))
}

/// The consent screen of `authorization`, its form carrying `csrf`.
pub(crate) async fn consent_page<R: BankStore>(
    service: &BankService<R>,
    authorization: &Authorization,
    csrf: &str,
) -> Result<ConsentPage, BankError> {
    let id = match authorization.scope {
        ScopedResource::Consent(id) | ScopedResource::FundsConsent(id) => id,
        _ => return Err(BankError::expired()),
    };
    let repo = service.oauth.server.repo();
    let consent = repo.consent(id).await?.ok_or_else(BankError::expired)?;
    let psu = authorization.psu_id.ok_or_else(BankError::expired)?;
    let (lines, choose, problem, joint) = lines_for(service, &consent, psu).await?;
    let (application, organisation) = tpp(service, authorization).await?;
    let (choose_balances, choose_transactions) = match consent.access {
        ConsentAccess::BankOffered {
            balances,
            transactions,
        } => (balances, transactions),
        _ => (false, false),
    };
    Ok(ConsentPage {
        bank: service.settings.bank_name.clone(),
        csrf: csrf.to_owned(),
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
        joint,
        identity: matches!(
            authorization.flow,
            AuthorizationFlow::OAuth {
                openid: Some(_),
                ..
            }
        ),
    })
}

/// OpenID Connect alone: the PSU, authenticated, is asked whether the app
/// may learn who they are (their pairwise subject), nothing more.
#[derive(Template, WebTemplate)]
#[template(path = "bank/identity.html")]
pub(crate) struct IdentityPage {
    bank: std::sync::Arc<str>,
    csrf: String,
    tpp_name: String,
    tpp_roles: String,
    app_name: String,
}

/// `scheme://host[:port]` of the redirect URI, for the consent form's CSP.
pub(crate) fn origin_of(uri: &str) -> Option<String> {
    let url = url::Url::parse(uri).ok()?;
    Some(url.origin().ascii_serialization())
}

/// The origins the consent form's answer may redirect to, for its CSP: the
/// redirect URI's, and a Redirect authorisation's NOK URI's.
pub(crate) fn form_targets(authorization: &Authorization) -> Option<String> {
    let mut origins: Vec<String> = Vec::new();
    for uri in authorization.flow.return_uris() {
        if let Some(origin) = origin_of(uri.as_str())
            && !origins.contains(&origin)
        {
            origins.push(origin);
        }
    }
    (!origins.is_empty()).then(|| origins.join(" "))
}

#[derive(Template, WebTemplate)]
#[template(path = "bank/payment.html")]
pub(crate) struct PaymentPage {
    /// The bank's name, in the header and the title.
    pub(crate) bank: std::sync::Arc<str>,
    csrf: String,
    tpp_name: String,
    tpp_roles: String,
    app_name: String,
    payment: Payment,
    /// The TPP asks to cancel this authorised payment rather than to pay.
    cancel: bool,
    /// Drawn on a joint account: paid once every holder has approved.
    joint: bool,
}

pub(crate) async fn payment_page<R: BankStore>(
    service: &BankService<R>,
    session: &PsuSession,
    payment: Payment,
    cancel: bool,
) -> Result<PaymentPage, BankError> {
    let (application, organisation) = tpp(service, &session.authorization).await?;
    let joint = lifecycle::needs_several_approvals(&service.ledger, &payment).await?;
    Ok(PaymentPage {
        bank: service.settings.bank_name.clone(),
        csrf: session.csrf.clone(),
        tpp_name: organisation.legal_name,
        tpp_roles: organisation.roles.human(),
        app_name: application.name,
        payment,
        cancel,
        joint,
    })
}

pub(crate) async fn consent_form<R: BankStore>(
    State(service): State<Arc<BankService<R>>>,
    headers: HeaderMap,
) -> Result<Response, BankError> {
    let session = session(&service, &headers, AuthorizationStage::Consent).await?;
    let target = form_targets(&session.authorization);
    if session.authorization.scope == ScopedResource::Identity {
        let (application, organisation) = tpp(&service, &session.authorization).await?;
        let page = IdentityPage {
            bank: service.settings.bank_name.clone(),
            csrf: session.csrf.clone(),
            tpp_name: organisation.legal_name,
            tpp_roles: organisation.roles.human(),
            app_name: application.name,
        };
        return Ok(secured(page.into_response(), target.as_deref()));
    }
    if let ScopedResource::Basket(id) = session.authorization.scope {
        return crate::basket::page(&service, &session, id).await;
    }
    let page = match payment_asked(&service, &session.authorization).await? {
        Some(PaymentAsk::Pay(payment)) => payment_page(&service, &session, payment, false).await?,
        Some(PaymentAsk::Cancel(payment)) => {
            if !is_payer(&session.authorization, &payment) {
                return Err(not_the_payer());
            }
            payment_page(&service, &session, payment, true).await?
        }
        None => {
            let page = consent_page(&service, &session.authorization, &session.csrf).await?;
            return Ok(secured(page.into_response(), target.as_deref()));
        }
    };
    Ok(secured(page.into_response(), target.as_deref()))
}
