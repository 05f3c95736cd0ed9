//! "Request a demo": a visitor leaves name, organisation, role, e-mail and a
//! message; the request is stored for the operators and confirmed by mail.
//! Posts must come from this site (origin check and a double-submit token)
//! and are throttled per client address and per e-mail address, since each
//! one sends a mail.

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use fintechapi_domain::ids::LeadId;
use fintechapi_domain::lead::{Lead, LeadFieldError, NewLead};
use fintechapi_domain::portal::Mail;
use fintechapi_limits::throttle::RetryAfter;
use fintechapi_web::Brand;
use fintechapi_web::csrf::{double_submit_matches, double_submit_token};
use fintechapi_web::mail::{MailKind, render};
use serde::Deserialize;

use crate::{Section, Site, SiteStore, message_page};

pub const CSRF_COOKIE: &str = "__Host-ftapi_site_csrf";

/// Roles offered as suggestions; any other text is accepted.
const ROLES: [&str; 5] = [
    "Bank engineering or IT",
    "TPP developer",
    "Compliance or risk",
    "Product or business",
    "Management",
];

#[derive(Debug, Default, Deserialize)]
pub struct DemoForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    organisation: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    message: String,
    /// Hidden from people; software that fills every field fills it.
    #[serde(default)]
    website: String,
}

impl DemoForm {
    /// The request as entered, or what is wrong with its fields.
    fn lead(&self) -> Result<NewLead, Vec<LeadFieldError>> {
        NewLead::parse(
            &self.name,
            &self.organisation,
            &self.role,
            &self.email,
            &self.message,
        )
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "demo.html")]
struct DemoPage<'a> {
    brand: &'a Brand,
    section: Section,
    csrf: String,
    form: DemoForm,
    errors: Vec<LeadFieldError>,
    roles: [&'static str; 5],
}

impl DemoPage<'_> {
    /// The problem with `field`, for the template.
    fn error_of(&self, field: &str) -> Option<&'static str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.problem)
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "thanks.html")]
struct ThanksPage<'a> {
    brand: &'a Brand,
    section: Section,
}

fn page(
    site: &Site<impl SiteStore>,
    headers: &HeaderMap,
    status: StatusCode,
    form: DemoForm,
    errors: Vec<LeadFieldError>,
) -> Response {
    let Ok((csrf, set_cookie)) = double_submit_token(headers, CSRF_COOKIE) else {
        return unavailable(&site.brand);
    };
    let page = DemoPage {
        brand: &site.brand,
        section: Section::Demo,
        csrf,
        form,
        errors,
        roles: ROLES,
    };
    let mut response = (status, page).into_response();
    if let Some(cookie) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

pub async fn form<R: SiteStore>(State(site): State<Arc<Site<R>>>, headers: HeaderMap) -> Response {
    page(
        &site,
        &headers,
        StatusCode::OK,
        DemoForm::default(),
        Vec::new(),
    )
}

pub async fn thanks<R: SiteStore>(State(site): State<Arc<Site<R>>>) -> Response {
    ThanksPage {
        brand: &site.brand,
        section: Section::Demo,
    }
    .into_response()
}

pub async fn submit<R: SiteStore>(
    State(site): State<Arc<Site<R>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<DemoForm>,
) -> Response {
    if let Some(refused) = refuse_forged(&site.brand, &headers, &uri, &form.csrf) {
        return refused;
    }
    if let Err(wait) = site.requests_per_address.allow(peer.ip()).await {
        return too_many(&site.brand, wait);
    }
    let lead = match form.lead() {
        Ok(lead) => lead,
        Err(errors) => return page(&site, &headers, StatusCode::BAD_REQUEST, form, errors),
    };
    if !form.website.is_empty() {
        tracing::info!("demo request with the hidden field filled in: not stored");
        return see_thanks();
    }
    take(&site, lead).await
}

/// A request from a person: throttled per e-mail address (each one sends a
/// mail), stored and confirmed; the answer to the visitor.
async fn take<R: SiteStore>(site: &Site<R>, lead: NewLead) -> Response {
    if let Err(wait) = site.requests_per_email.allow(lead.email.as_str()).await {
        return too_many(&site.brand, wait);
    }
    match store_and_confirm(site, lead).await {
        Ok(lead) => {
            tracing::info!(lead = %lead.id, "demo request received");
            see_thanks()
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot store a demo request");
            unavailable(&site.brand)
        }
    }
}

fn refuse_forged(brand: &Brand, headers: &HeaderMap, uri: &Uri, token: &str) -> Option<Response> {
    let host = fintechapi_web::request_host(headers, uri);
    let forged = fintechapi_web::check_origin(headers, host).is_err()
        || !double_submit_matches(headers, CSRF_COOKIE, token);
    forged.then(|| {
        message_page(
            brand,
            StatusCode::FORBIDDEN,
            "Form expired",
            "This form was not sent from this site's own page, or it was open for too long. Open the form again and send it from there.",
        )
    })
}

/// Stores the request, then queues the confirmation, which carries nothing
/// the visitor typed. A confirmation that cannot be queued does not undo the
/// stored request: the operators still see it.
async fn store_and_confirm<R: SiteStore>(
    site: &Site<R>,
    lead: NewLead,
) -> Result<Lead, fintechapi_domain::StoreError> {
    let now = site.clock.now();
    let lead = site.repo.create_lead(LeadId::random(), lead, now).await?;
    let link = format!("{}/", site.public_url);
    let rendered = render(&MailKind::DemoRequest { link: &link }, &site.brand.name);
    let confirmation = Mail {
        recipient: lead.email.clone(),
        subject: rendered.subject,
        body_text: rendered.text,
        body_html: rendered.html,
        created_at: now,
    };
    if let Err(e) = site.repo.enqueue_mail(confirmation).await {
        tracing::warn!(error = %e, lead = %lead.id, "demo request stored, its confirmation not queued");
    }
    Ok(lead)
}

fn see_thanks() -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, "/demo/thanks")]).into_response()
}

fn too_many(brand: &Brand, wait: RetryAfter) -> Response {
    let mut response = message_page(
        brand,
        StatusCode::TOO_MANY_REQUESTS,
        "Too many requests",
        "We received several demo requests from here in a short time. Please try again later, or write to us directly.",
    );
    if let Ok(value) = HeaderValue::from_str(&wait.secs().to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

fn unavailable(brand: &Brand) -> Response {
    message_page(
        brand,
        StatusCode::SERVICE_UNAVAILABLE,
        "Please try again",
        "We could not take your request just now. Nothing was stored; please send it again in a minute.",
    )
}
