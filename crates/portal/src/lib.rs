//! The Developer Portal's use cases, independent of HTTP:
//!
//! - [`registry`]: organisations, applications, subscriptions, consumer
//!   key/secret issue, rotation with a grace period, revocation, client
//!   authentication and suspension.
//! - [`validation`]: field-level errors for forms and the JSON API.
//!
//! Storage is reached only through `fintechapi_domain::portal::PortalRepository`.

pub mod registry;
pub mod validation;

pub use registry::{IssuedCredential, NewApplication, NewOrganisation, Registry};
pub use validation::FieldErrors;
