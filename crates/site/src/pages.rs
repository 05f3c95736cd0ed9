//! The informational pages: each is a template over the bank's brand.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use fintechapi_web::Brand;

use crate::glossary::{GLOSSARY, Term};
use crate::{Section, Site, SiteStore};

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage<'a> {
    brand: &'a Brand,
    section: Section,
}

#[derive(Template, WebTemplate)]
#[template(path = "security.html")]
struct SecurityPage<'a> {
    brand: &'a Brand,
    section: Section,
}

#[derive(Template, WebTemplate)]
#[template(path = "glossary.html")]
struct GlossaryPage<'a> {
    brand: &'a Brand,
    section: Section,
    terms: &'a [Term],
}

#[derive(Template, WebTemplate)]
#[template(path = "api.html")]
struct ApiPage<'a> {
    brand: &'a Brand,
    section: Section,
}

pub async fn home<R: SiteStore>(State(site): State<Arc<Site<R>>>) -> Response {
    HomePage {
        brand: &site.brand,
        section: Section::Home,
    }
    .into_response()
}

pub async fn security<R: SiteStore>(State(site): State<Arc<Site<R>>>) -> Response {
    SecurityPage {
        brand: &site.brand,
        section: Section::Security,
    }
    .into_response()
}

pub async fn glossary<R: SiteStore>(State(site): State<Arc<Site<R>>>) -> Response {
    GlossaryPage {
        brand: &site.brand,
        section: Section::Glossary,
        terms: &GLOSSARY,
    }
    .into_response()
}

pub async fn api<R: SiteStore>(State(site): State<Arc<Site<R>>>) -> Response {
    ApiPage {
        brand: &site.brand,
        section: Section::Api,
    }
    .into_response()
}
