//! The `fintechapi` server: the only crate that wires storage into the others.
//!
//! - [`cli`]: subcommands (`serve`, `migrate`, `config show`, `ledger verify`, `admin …`).
//! - [`admin`]: operator commands (create an administrator, create/list/suspend apps, rotate secrets).
//! - [`config`]: layered settings and the production-profile guard.
//! - [`app`]: startup as a value ([`app::Application`]) and shared state.
//! - [`tls`]: rustls with FAPI cipher suites; the development CA.
//! - [`listener`]: the HTTPS accept loop, timeouts, graceful shutdown, client certificates.
//! - [`mailer`]: SMTP delivery of the outbox.
//! - [`http`]: router and middleware; [`metrics`] and [`telemetry`] for operations.

pub mod admin;
pub mod app;
pub mod cli;
pub mod config;
pub mod http;
pub mod listener;
pub mod mailer;
pub mod metrics;
pub mod notifier;
pub mod telemetry;
pub mod tls;
