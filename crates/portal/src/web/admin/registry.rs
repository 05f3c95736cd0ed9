//! The registry as operators see it: subscriptions awaiting a decision,
//! organisations and applications with their status and plan, the audit trail.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::ids::{ApplicationId, OrganisationId, SubscriptionId};
use fintechapi_domain::portal::AuditLine;
use fintechapi_domain::registry::{Application, Organisation, Status, Subscription};
use fintechapi_registry::RegistryError;
use serde::Deserialize;

use super::{acting, admin_nav, operator, path_id, see_other};
use crate::web::session::{OperatorPost, Visitor, csrf_protected};
use crate::web::{Nav, PageError, Portal, PortalStore};

csrf_protected!(DecisionForm, StatusForm, PlanForm);

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

/// The subscriptions awaiting a decision, with their application and organisation.
async fn pending<R: PortalStore>(
    portal: &Portal<R>,
    organisations: &[Organisation],
) -> Result<Vec<PendingRow>, PageError> {
    let repo = portal.registry.repo();
    let mut pending = Vec::new();
    for subscription in repo
        .pending_subscriptions()
        .await
        .map_err(PageError::internal)?
    {
        let application = repo.application(subscription.application_id).await;
        let Some(application) = application.map_err(PageError::internal)? else {
            continue;
        };
        let organisation = organisations
            .iter()
            .find(|o| o.id == application.organisation_id);
        let Some(organisation) = organisation.cloned() else {
            continue;
        };
        pending.push(PendingRow {
            subscription,
            application,
            organisation,
        });
    }
    Ok(pending)
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
    let plans = portal.meter.plans().iter();
    Ok(OverviewPage {
        nav: admin_nav(visitor),
        pending: pending(portal, &organisations).await?,
        organisations,
        applications,
        plans: plans.map(|p| (p.name.clone(), p.to_string())).collect(),
        error,
    })
}

pub async fn overview<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let visitor = operator(&portal, &headers).await?;
    Ok(overview_page(&portal, &visitor, None)
        .await?
        .into_response())
}

/// A registry change's answer: back to the console, or what went wrong.
fn changed(result: Result<(), RegistryError>) -> Result<Response, PageError> {
    match result {
        Ok(()) => Ok(see_other("/admin")),
        Err(RegistryError::NotFound) => Err(PageError::not_found()),
        Err(e) => Err(PageError::internal(e)),
    }
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
    let (visitor, actor, input) = acting(post)?;
    let id: SubscriptionId = path_id(&id)?;
    let approve = match input.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(PageError::bad_request("Choose approve or reject.")),
    };
    let (reason, url) = (&input.reason, &portal.public_url);
    match portal
        .registry
        .decide(&actor, id, approve, reason, url)
        .await
    {
        Err(RegistryError::Invalid(errors)) => {
            let page = overview_page(&portal, &visitor, Some(errors.to_string())).await?;
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
        result => changed(result),
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
        .map_err(|_| PageError::bad_request("Unknown status."))
}

pub async fn org_status<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    Path(id): Path<String>,
    post: OperatorPost<StatusForm>,
) -> Result<Response, PageError> {
    let (_, actor, input) = acting(post)?;
    let id: OrganisationId = path_id(&id)?;
    let status = parse_status(&input.status)?;
    changed(
        portal
            .registry
            .set_organisation_status(&actor, id, status)
            .await,
    )
}

pub async fn app_status<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    Path(id): Path<String>,
    post: OperatorPost<StatusForm>,
) -> Result<Response, PageError> {
    let (_, actor, input) = acting(post)?;
    let id: ApplicationId = path_id(&id)?;
    let status = parse_status(&input.status)?;
    changed(
        portal
            .registry
            .set_application_status(&actor, id, status)
            .await,
    )
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
    let (_, actor, input) = acting(post)?;
    let id: ApplicationId = path_id(&id)?;
    let plan = match input.plan.as_str() {
        "" => None,
        name if portal.meter.plans().get(name).is_some() => Some(name),
        _ => return Err(PageError::bad_request("Unknown plan.")),
    };
    changed(portal.registry.set_application_plan(&actor, id, plan).await)
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    nav: Nav,
    lines: Vec<AuditLine>,
}

pub async fn audit<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let visitor = operator(&portal, &headers).await?;
    let lines = portal
        .registry
        .repo()
        .audit_trail(500)
        .await
        .map_err(PageError::internal)?;
    Ok(AuditPage {
        nav: admin_nav(&visitor),
        lines,
    }
    .into_response())
}
