//! An application's usage statistics as a page and as CSV.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::registry::{Application, Organisation};
use fintechapi_domain::usage::UsageRow;
use serde::Deserialize;
use time::Date;

use super::app_access;
use crate::web::session::Visitor;
use crate::web::{Nav, PageError, Portal, PortalStore};

#[derive(Deserialize)]
pub struct UsageQuery {
    days: Option<u16>,
}

impl UsageQuery {
    fn days(&self) -> Result<u16, PageError> {
        match self.days {
            None => Ok(30),
            Some(d) if crate::usage::PERIODS.contains(&d) => Ok(d),
            Some(_) => Err(PageError::bad_request(
                "The period must be 7, 30 or 90 days.",
            )),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "usage.html")]
struct UsagePage {
    nav: Nav,
    app: Application,
    org: Organisation,
    days: u16,
    periods: [u16; 3],
    report: crate::usage::UsageReport,
    chart: String,
}

/// The usage an application's member asked for.
struct Asked {
    visitor: Visitor,
    app: Application,
    org: Organisation,
    days: u16,
    from: Date,
    to: Date,
    rows: Vec<UsageRow>,
}

async fn asked<R: PortalStore>(
    portal: &Portal<R>,
    headers: &HeaderMap,
    app: &str,
    query: &UsageQuery,
) -> Result<Asked, PageError> {
    let visitor = Visitor::load(portal, headers).await?;
    let (app, org, _) = app_access(portal, visitor.user()?.1, app).await?;
    let days = query.days()?;
    let usage = portal.usage(app.id, days).await;
    let (from, to, rows) = usage.map_err(PageError::internal)?;
    Ok(Asked {
        visitor,
        app,
        org,
        days,
        from,
        to,
        rows,
    })
}

pub async fn usage<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
    Path(app): Path<String>,
    axum::extract::Query(query): axum::extract::Query<UsageQuery>,
) -> Result<Response, PageError> {
    let asked = asked(&portal, &headers, &app, &query).await?;
    let report = crate::usage::UsageReport::build(asked.from, asked.to, &asked.rows);
    Ok(UsagePage {
        nav: asked.visitor.nav(),
        chart: report.svg(),
        app: asked.app,
        org: asked.org,
        days: asked.days,
        periods: crate::usage::PERIODS,
        report,
    }
    .into_response())
}

pub async fn usage_csv<R: PortalStore>(
    State(portal): State<Arc<Portal<R>>>,
    headers: HeaderMap,
    Path(app): Path<String>,
    axum::extract::Query(query): axum::extract::Query<UsageQuery>,
) -> Result<Response, PageError> {
    let Asked {
        app,
        from,
        to,
        rows,
        ..
    } = asked(&portal, &headers, &app, &query).await?;
    let filename = format!("attachment; filename=\"usage-{}-{from}-{to}.csv\"", app.id);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, filename),
        ],
        crate::usage::UsageReport::csv(&rows),
    )
        .into_response())
}
