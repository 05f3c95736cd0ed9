//! The TPP registry against real stores, on SQLite and PostgreSQL, in one
//! test binary: applications and their products, credentials, members, and
//! the watch that keeps another node's cache fresh.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

mod applications;
mod credentials;
mod fixture;
mod members;
mod watch;
