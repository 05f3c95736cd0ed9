//! The Developer Portal's use cases, independent of HTTP:
//!
//! - [`registry`]: organisations, applications, subscriptions, consumer
//!   key/secret issue, rotation with a grace period, revocation, client
//!   authentication and suspension.
//! - [`accounts`]: sign-up, e-mail verification, login with lockout, sessions, password reset.
//! - [`mail`]: mails as text + HTML from templates.
//! - [`web`]: the server-rendered pages under `/portal`.
//! - [`validation`]: field-level errors for forms and the JSON API.
//! - [`usage`]: per-application usage report, SVG chart and CSV.
//!
//! Storage is reached only through `fintechapi_domain::portal::PortalRepository`.

pub mod accounts;
pub mod docs;
pub mod mail;
pub mod passwords;
pub mod registry;
pub mod throttle;
pub mod usage;
pub mod validation;
pub mod web;

pub use registry::{IssuedCredential, NewApplication, NewOrganisation, Registry};
pub use validation::FieldErrors;
