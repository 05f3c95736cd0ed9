//! The web toolkit shared by the server's HTTP surfaces (the Developer Portal,
//! the admin console, the bank's PSU pages, and the middleware of the APIs),
//! free of any one surface:
//!
//! - [`asset`]: stylesheets, scripts and downloads, cacheable.
//! - [`brand`]: the bank's name and accent colour.
//! - [`cookie`]: reading and setting `__Host-` cookies.
//! - [`csrf`]: double-submit tokens for forms shown before login.
//! - [`origin`]: the `Origin` / `Sec-Fetch-Site` check of form posts.
//! - [`headers`]: CSP, framing and referrer headers.
//! - [`hook`]: middleware as a function before the route and one after it.
//! - [`qr`]: QR codes as SVG for authenticator enrolment.
//! - [`mail`]: mails as text + HTML from templates.
//! - [`moment`]: times as pages show them (UTC, marked up for the viewer's zone).
//! - [`passwords`]: the bounded pool every argon2 job runs on.

pub mod asset;
pub mod brand;
pub mod cookie;
pub mod csrf;
pub mod headers;
pub mod hook;
pub mod mail;
pub mod moment;
pub mod origin;
pub mod passwords;
pub mod qr;

pub use asset::asset;
pub use brand::{Brand, Colour};
pub use cookie::{clear_cookie, cookie, set_cookie, set_lasting_cookie};
pub use headers::with_security_headers;
pub use moment::Moment;
pub use origin::{CrossSite, check_origin, request_host};
pub use qr::qr_svg;
