//! Embedded core banking: the bank's side of every account the API exposes.
//!
//! - [`service`]: [`Ledger`], opening accounts, executing transfers (internal
//!   payee credited directly, external payee through the clearing account),
//!   Berlin Group balances, the audit behind `fintechapi ledger verify`.
//! - [`cards`]: card accounts: opening, card payments, the monthly statement
//!   cycle, the card balances (`nonInvoiced`, credit limit included).
//! - [`lifecycle`]: a payment's authorisation, refusal and cancellation in
//!   one place, each answered by a typed outcome.
//! - [`baskets`]: a signing basket's decision applied to each of its payments, once.
//! - [`payments`]: exactly-once settlement of authorised payment initiations.
//! - [`schedule`]: the durable scheduler of future-dated payments and standing orders.
//! - [`sandbox`]: current accounts an operator opens for sandbox PSUs.
//! - [`demo`]: the deterministic demo bank seeded on an empty data directory.
//!
//! Storage is reached only through the ports in `fintechapi_domain`.

pub mod baskets;
pub mod cards;
pub mod demo;
pub mod lifecycle;
pub mod payments;
pub mod sandbox;
pub mod schedule;
pub mod service;

pub use service::{Balance, BalanceType, Ledger, TransferOrder};
