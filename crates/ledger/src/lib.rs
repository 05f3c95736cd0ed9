//! Embedded core banking: the bank's side of every account the API exposes.
//!
//! - [`service`]: [`Ledger`], opening accounts, executing transfers (internal
//!   payee credited directly, external payee through the clearing account),
//!   Berlin Group balances, the audit behind `fintechapi ledger verify`.
//! - [`cards`]: card accounts: opening, card payments, the monthly statement
//!   cycle, the card balances (`nonInvoiced`, credit limit included).
//! - [`payments`]: exactly-once settlement of authorised payment initiations.
//! - [`demo`]: the deterministic demo bank seeded on an empty data directory.
//!
//! Storage is reached only through the ports in `fintechapi_domain`.

pub mod cards;
pub mod demo;
pub mod payments;
pub mod schedule;
pub mod service;

pub use service::{Balance, BalanceType, Ledger, TransferOrder};
