//! Demo requests from the public site in the admin console: the list (by
//! status), each request's status and notes, and a CSV export.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::ids::LeadId;
use fintechapi_domain::lead::{Lead, LeadStatus, MAX_LONG_FIELD};
use fintechapi_registry::RegistryError;
use serde::Deserialize;

use super::admin::{acting, admin_nav, operator, path_id, see_other};
use super::session::{OperatorPost, csrf_protected};
use super::{Nav, PageError, Portal, PortalStore};

/// The newest requests shown and exported at most.
const LIST_LIMIT: u32 = 1_000;

#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    #[serde(default)]
    status: String,
}

fn lead_status(text: &str) -> Result<LeadStatus, PageError> {
    text.parse()
        .map_err(|_| PageError::bad_request("Unknown status."))
}

impl Filter {
    fn status(&self) -> Result<Option<LeadStatus>, PageError> {
        match self.status.as_str() {
            "" | "all" => Ok(None),
            other => lead_status(other).map(Some),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct LeadForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    notes: String,
    #[serde(default)]
    csrf: String,
}

csrf_protected!(LeadForm);

#[derive(Template, WebTemplate)]
#[template(path = "admin/leads.html")]
struct LeadsPage {
    nav: Nav,
    leads: Vec<Lead>,
    shown: Option<LeadStatus>,
    statuses: &'static [LeadStatus],
}

impl LeadsPage {
    fn is_shown(&self, status: &LeadStatus) -> bool {
        self.shown == Some(*status)
    }
}

async fn operator_nav<R: PortalStore>(
    portal: &Portal<R>,
    headers: &HeaderMap,
) -> Result<Nav, PageError> {
    Ok(admin_nav(&operator(portal, headers).await?))
}

pub async fn list<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
    Query(filter): Query<Filter>,
) -> Result<Response, PageError> {
    let nav = operator_nav(&portal, &headers).await?;
    let shown = filter.status()?;
    let leads = portal
        .registry
        .repo()
        .leads(shown, LIST_LIMIT)
        .await
        .map_err(PageError::internal)?;
    Ok(LeadsPage {
        nav,
        leads,
        shown,
        statuses: LeadStatus::ALL,
    }
    .into_response())
}

pub async fn update<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    Path(id): Path<String>,
    post: OperatorPost<LeadForm>,
) -> Result<Response, PageError> {
    let (_, actor, input) = acting(post)?;
    let id: LeadId = path_id(&id)?;
    let status = lead_status(&input.status)?;
    let notes = input.notes.trim();
    if notes.chars().count() > MAX_LONG_FIELD {
        return Err(PageError::bad_request(
            "Notes take at most 2,000 characters.",
        ));
    }
    match portal.registry.update_lead(&actor, id, status, notes).await {
        Ok(()) => Ok(see_other(&format!("/admin/leads#lead-{id}"))),
        Err(RegistryError::NotFound) => Err(PageError::not_found()),
        Err(e) => Err(PageError::internal(e)),
    }
}

pub async fn export<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
    Query(filter): Query<Filter>,
) -> Result<Response, PageError> {
    operator_nav(&portal, &headers).await?;
    let leads = portal
        .registry
        .repo()
        .leads(filter.status()?, LIST_LIMIT)
        .await
        .map_err(PageError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"demo-requests.csv\"",
            ),
        ],
        csv(&leads),
    )
        .into_response())
}

fn csv(leads: &[Lead]) -> String {
    let mut out = String::from(
        "received_utc,name,organisation,role,email,message,status,notes,updated_utc\n",
    );
    for lead in leads {
        let cells = [
            timestamp(lead.created_at),
            lead.name.clone(),
            lead.organisation.clone(),
            lead.role.clone(),
            lead.email.as_str().to_owned(),
            lead.message.clone(),
            lead.status.to_string(),
            lead.notes.clone(),
            timestamp(lead.updated_at),
        ];
        let row: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

fn timestamp(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{} {:02}:{:02}:{:02}",
        at.date(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// One quoted CSV cell. What a visitor typed can start with `=`, `+`, `-`
/// or `@`, which spreadsheets run as a formula: such a cell gets a leading `'`.
fn csv_cell(value: &str) -> String {
    let guarded = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    format!("\"{}\"", guarded.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_never_run_as_formulas() {
        assert_eq!(csv_cell("Ada \"the\" first"), "\"Ada \"\"the\"\" first\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(csv_cell("line\nbreak"), "\"line\nbreak\"");
    }
}
