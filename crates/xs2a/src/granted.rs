//! What the account and the card-account reads share: the list, details,
//! balances and transaction report handlers of both, the resource a path
//! names as the consent grants it, and the opening of a transaction report.
//! [`Granted`] is what the two kinds differ in, their answer bodies included.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use fintechapi_domain::StoreError;
use fintechapi_domain::consent::{AccountGrant, Consent, GrantedResource};
use fintechapi_domain::ids::{AccountId, PsuId};
use fintechapi_domain::ledger::AccountEntry;
use serde::Deserialize;

use crate::accounts::live_consent;
use crate::body::{Balance, Href};
use crate::caller::Ais;
use crate::error::MessageCode;
use crate::transactions::{
    Report, ReportLinks, ReportPage, TransactionReport, TransactionsQuery, report_json,
};
use crate::{Caller, Xs2aError, Xs2aService, Xs2aStore};

/// A kind of resource a consent grants: a payment account or a card account.
pub(crate) trait Granted: Clone + Send + Sync {
    /// The resource in the words of error texts: "account", "card account".
    const NOUN: &'static str;
    const RESOURCE: GrantedResource;
    /// The text when a transaction report asks for balances that are not
    /// granted (the two kinds have always worded it differently).
    const REPORT_BALANCES_NOT_COVERED: &'static str;

    fn id(&self) -> AccountId;
    /// The grant of this kind for the account `id`.
    fn grant_for(consent: &Consent, id: AccountId) -> Option<&AccountGrant>;
    /// The grants a list of this kind goes through, in the consent's order.
    fn listed(consent: &Consent) -> Vec<&AccountGrant>;
    /// The `_links` of a report on the resource at `href`.
    fn report_links(href: Href) -> ReportLinks;
    /// The resource's path, under which its reports are.
    fn path(id: AccountId) -> String;

    fn load<R: Xs2aStore>(
        service: &Xs2aService<R>,
        id: AccountId,
    ) -> impl Future<Output = Result<Option<Self>, StoreError>> + Send;
    /// The PSU's resources of this kind.
    fn held<R: Xs2aStore>(
        service: &Xs2aService<R>,
        psu: PsuId,
    ) -> impl Future<Output = Result<Vec<Self>, StoreError>> + Send;
    fn balances<R: Xs2aStore>(
        &self,
        service: &Xs2aService<R>,
    ) -> impl Future<Output = Result<Vec<Balance>, StoreError>> + Send;
    /// The resource `id` with its balances; one read where the kind allows.
    fn load_with_balances<R: Xs2aStore>(
        service: &Xs2aService<R>,
        id: AccountId,
    ) -> impl Future<Output = Result<Option<(Self, Vec<Balance>)>, StoreError>> + Send {
        async move {
            let Some(resource) = Self::load(service, id).await? else {
                return Ok(None);
            };
            let balances = resource.balances(service).await?;
            Ok(Some((resource, balances)))
        }
    }

    /// The answer to the list (`GET /v1/accounts`, `GET /v1/card-accounts`).
    fn list_answer(shown: Vec<Shown<Self>>) -> Response;
    /// The answer to the details of one.
    fn details_answer(shown: Shown<Self>) -> Response;
    /// The answer to `…/balances`.
    fn balances_answer(&self, balances: Vec<Balance>) -> Response;
    /// The answer to `…/transactions`, from the report read up to its page.
    fn report_answer<R: Xs2aStore>(
        read: &ReportRead<Self>,
        service: &Xs2aService<R>,
    ) -> impl Future<Output = Result<Response, Xs2aError>> + Send;
}

pub(crate) async fn list<K: Granted, R: Xs2aStore>(
    State(service): State<Arc<Xs2aService<R>>>,
    headers: HeaderMap,
    Ais(caller): Ais,
    query: Result<Query<WithBalance>, QueryRejection>,
) -> Response {
    let result = async {
        let with_balance = with_balance(query)?;
        let consent = live_consent(&service, &caller, &headers).await?;
        let shown = granted_list::<K, R>(&service, &consent, with_balance).await?;
        Ok(K::list_answer(shown))
    }
    .await;
    caller.answer(result)
}

pub(crate) async fn details<K: Granted, R: Xs2aStore>(
    State(service): State<Arc<Xs2aService<R>>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Ais(caller): Ais,
    query: Result<Query<WithBalance>, QueryRejection>,
) -> Response {
    let result = async {
        let with_balance = with_balance(query)?;
        let consent = live_consent(&service, &caller, &headers).await?;
        let shown = granted_details::<K, R>(&service, &consent, &id, with_balance).await?;
        Ok(K::details_answer(shown))
    }
    .await;
    caller.answer(result)
}

pub(crate) async fn transactions<K: Granted, R: Xs2aStore>(
    State(service): State<Arc<Xs2aService<R>>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Ais(caller): Ais,
    query: Result<Query<TransactionsQuery>, QueryRejection>,
) -> Response {
    let result = async {
        let read = read_report::<K, R>(&service, &caller, &headers, &id, query).await?;
        let answer = K::report_answer(&read, &service).await?;
        read.found.complete(&service).await?;
        Ok(answer)
    }
    .await;
    caller.answer(result)
}

pub(crate) async fn balances<K: Granted, R: Xs2aStore>(
    State(service): State<Arc<Xs2aService<R>>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Ais(caller): Ais,
) -> Response {
    let result = async {
        let consent = live_consent(&service, &caller, &headers).await?;
        let (resource, balances) = granted_balances::<K, R>(&service, &consent, &id).await?;
        Ok(resource.balances_answer(balances))
    }
    .await;
    caller.answer(result)
}

/// "The consent does not cover this account's `what`" (401).
fn not_covered<K: Granted>(what: &str) -> Xs2aError {
    Xs2aError::new(
        MessageCode::ConsentInvalid,
        format!("the consent does not cover this {}'s {what}", K::NOUN),
    )
}

/// The `withBalance` query of a list or details read.
#[derive(Deserialize)]
pub(crate) struct WithBalance {
    #[serde(rename = "withBalance")]
    with_balance: Option<bool>,
}

/// Whether the query asks for balances (400 unless true or false).
fn with_balance(query: Result<Query<WithBalance>, QueryRejection>) -> Result<bool, Xs2aError> {
    match query {
        Ok(Query(query)) => Ok(query.with_balance.unwrap_or(false)),
        Err(_) => Err(Xs2aError::format("withBalance must be true or false").at("withBalance")),
    }
}

/// The grant of the resource the path names (403 when there is none).
fn path_grant<K: Granted>(consent: &Consent, id: &str) -> Result<AccountGrant, Xs2aError> {
    id.parse::<AccountId>()
        .ok()
        .and_then(|id| K::grant_for(consent, id).copied())
        .ok_or_else(|| {
            Xs2aError::new(
                MessageCode::ConsentInvalid,
                format!("the {} is not covered by the consent", K::NOUN),
            )
            // Kept as before; the spec pairs CONSENT_INVALID with 401.
            .with_status(StatusCode::FORBIDDEN)
            .at("account-id")
        })
}

/// The resource the path names, if the consent grants it (403) and it is
/// still in the ledger (404).
pub(crate) async fn granted<K: Granted, R: Xs2aStore>(
    service: &Xs2aService<R>,
    consent: &Consent,
    id: &str,
) -> Result<(K, AccountGrant), Xs2aError> {
    let grant = path_grant::<K>(consent, id)?;
    let resource = K::load(service, grant.account)
        .await?
        .ok_or_else(gone::<K>)?;
    Ok((resource, grant))
}

/// The granted resource is no longer in the ledger (404).
fn gone<K: Granted>() -> Xs2aError {
    Xs2aError::resource_unknown(format!("the {} no longer exists", K::NOUN)).at("account-id")
}

/// A granted resource as a read shows it: with its balances when asked for.
pub(crate) struct Shown<K> {
    pub resource: K,
    pub grant: AccountGrant,
    pub balances: Option<Vec<Balance>>,
}

/// The resources of kind `K` the consent grants and the PSU holds, in the
/// consent's order; with their balances when `with_balance` and granted
/// (401 when no grant covers balances).
async fn granted_list<K: Granted, R: Xs2aStore>(
    service: &Xs2aService<R>,
    consent: &Consent,
    with_balance: bool,
) -> Result<Vec<Shown<K>>, Xs2aError> {
    let grants = K::listed(consent);
    if with_balance && !grants.iter().any(|g| g.balances) {
        return Err(Xs2aError::new(
            MessageCode::ConsentInvalid,
            "withBalance asks for balances, which the consent does not cover",
        )
        .at("withBalance"));
    }
    // One query for the PSU's resources, not one per grant.
    let held = match consent.psu_id {
        Some(psu) => K::held(service, psu).await?,
        None => Vec::new(),
    };
    let mut shown = Vec::with_capacity(grants.len());
    for grant in grants {
        let Some(resource) = held.iter().find(|r| r.id() == grant.account) else {
            continue;
        };
        let resource = resource.clone();
        let balances = match with_balance && grant.balances {
            true => Some(resource.balances(service).await?),
            false => None,
        };
        shown.push(Shown {
            resource,
            grant: *grant,
            balances,
        });
    }
    Ok(shown)
}

/// The resource the path names, with its balances when `with_balance` (401
/// when they are not granted).
async fn granted_details<K: Granted, R: Xs2aStore>(
    service: &Xs2aService<R>,
    consent: &Consent,
    id: &str,
    with_balance: bool,
) -> Result<Shown<K>, Xs2aError> {
    let (resource, grant) = granted::<K, R>(service, consent, id).await?;
    if with_balance && !grant.balances {
        return Err(not_covered::<K>("balances").at("withBalance"));
    }
    let balances = match with_balance {
        true => Some(resource.balances(service).await?),
        false => None,
    };
    Ok(Shown {
        resource,
        grant,
        balances,
    })
}

/// The resource the path names and its balances (401 when not granted).
async fn granted_balances<K: Granted, R: Xs2aStore>(
    service: &Xs2aService<R>,
    consent: &Consent,
    id: &str,
) -> Result<(K, Vec<Balance>), Xs2aError> {
    let grant = path_grant::<K>(consent, id)?;
    if !grant.balances {
        return Err(not_covered::<K>("balances"));
    }
    K::load_with_balances(service, grant.account)
        .await?
        .ok_or_else(gone::<K>)
}

/// The resource the path names, with its transactions granted (401).
pub(crate) async fn with_transactions<K: Granted, R: Xs2aStore>(
    service: &Xs2aService<R>,
    consent: &Consent,
    id: &str,
) -> Result<(K, AccountGrant), Xs2aError> {
    let (resource, grant) = granted::<K, R>(service, consent, id).await?;
    if !grant.transactions {
        return Err(not_covered::<K>("transactions"));
    }
    Ok((resource, grant))
}

/// A transaction report read up to its page of entries, for the handler to
/// show them and then [`ReportPage::complete`] it.
pub(crate) struct ReportRead<K> {
    report: Report,
    pub resource: K,
    links: ReportLinks,
    pub found: ReportPage,
    pub balances: Option<Vec<Balance>>,
}

impl<K> ReportRead<K> {
    /// The report's `transactions` object, each entry shown by `item`.
    pub(crate) fn transactions<'a, T>(
        &'a self,
        item: impl Fn(&'a AccountEntry) -> T,
    ) -> TransactionReport<'a, T> {
        report_json(self.report.booking, &self.found.entries, &self.links, item)
    }
}

/// The report the query asks for on the resource the path names: the query
/// checked, the consent live, the resource's transactions (and balances,
/// when asked for) granted.
pub(crate) async fn read_report<K: Granted, R: Xs2aStore>(
    service: &Xs2aService<R>,
    caller: &Caller,
    headers: &HeaderMap,
    id: &str,
    query: Result<Query<TransactionsQuery>, QueryRejection>,
) -> Result<ReportRead<K>, Xs2aError> {
    let Ok(Query(query)) = query else {
        return Err(Xs2aError::format("the query string is malformed"));
    };
    let report = Report::parse(query, K::RESOURCE)?;
    // Checked before the consent, so a bad cursor costs no access.
    let page = report.page(service.pepper(), id)?;
    let consent = live_consent(service, caller, headers).await?;
    let (resource, grant) = with_transactions::<K, R>(service, &consent, id).await?;
    if report.with_balance && !grant.balances {
        return Err(
            Xs2aError::new(MessageCode::ConsentInvalid, K::REPORT_BALANCES_NOT_COVERED)
                .at("withBalance"),
        );
    }
    let mut links = K::report_links(Href::to(K::path(resource.id())));
    let found = report
        .entries(service, consent.id, resource.id(), page, &mut links)
        .await?;
    let balances = match report.with_balance {
        true => Some(resource.balances(service).await?),
        false => None,
    };
    Ok(ReportRead {
        report,
        resource,
        links,
        found,
        balances,
    })
}
