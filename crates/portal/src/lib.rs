//! The Developer Portal and admin console over HTTP, and the developer
//! account use cases:
//!
//! - [`accounts`]: sign-up, e-mail verification, login with lockout, sessions, password reset.
//! - [`web`]: the server-rendered pages under `/portal` and `/admin`.
//! - [`usage`]: per-application usage report, SVG chart and CSV.
//!
//! The TPP registry (organisations, applications, credentials) is the
//! `fintechapi-registry` crate; cookies, CSRF, mails and the password pool
//! come from `fintechapi-web`. Storage is reached only through
//! `fintechapi_domain::portal::PortalRepository`.

pub mod accounts;
pub mod docs;
pub mod usage;
pub mod web;
