//! The ledger against real stores (SQLite and PostgreSQL), in one test
//! binary: transfers and balances, card accounts, the payment lifecycle.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly
#![allow(clippy::inconsistent_digit_grouping)] // amounts read as euros_cents

mod bank;
mod cards;
mod concurrency;
mod history;
mod lifecycle;
mod model;
mod transfers;
