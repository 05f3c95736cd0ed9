//! Domain types of FinTechAPI and the ports the rest of the system implements.
//!
//! - [`money`]: currencies (ISO 4217) and amounts in integer minor units.
//! - [`iban`]: validated IBANs (ISO 13616).
//! - [`ids`]: one newtype per identifier.
//! - [`clock`]: the time seam; nothing else reads the wall clock.
//! - [`ledger`]: core-banking entities, the ledger's errors and its repository port.
//! - [`holders`]: an account's holders and their mandates (multilevel SCA).
//! - [`card`]: card accounts (masked PAN, credit limit), card payments and their port.
//! - [`psu`]: bank customers (payment service users) and their repository port.
//! - [`password`]: argon2id hashing for human secrets (passwords, PINs).
//! - [`store`]: the storage error every port returns.
//! - [`signed`]: tamper-evident tokens handed out and read back (paging cursors).
//! - [`tls`]: a verified client certificate and its thumbprint.
//! - [`dn`]: distinguished names (RFC 4514 strings, certificate subjects) and their matching.
//! - [`date`]: ISO dates exactly as `YYYY-MM-DD`.
//! - [`consent`]: account-information consents and their port.
//! - [`payment`]: payment initiations and their port.
//! - [`basket`]: signing baskets (payments and consents under one SCA) and their port.
//! - [`idempotency`]: how long an `X-Request-ID` names what it created.
//! - [`oauth`]: issued tokens (stored as keyed hashes) and their port.
//! - [`usage`]: per-application API usage aggregates and their port.
//! - [`notification`]: `TPP-Notification-URI`, content preferences, the notification outbox and its port.
//! - [`lead`]: demo requests from the public site and their port.
//! - [`plan`]: rate plans (per second, burst, per day) and the configured catalog.
//!
//! This crate knows no HTTP framework, no SQL and no wire format.

pub mod basket;
pub mod card;
pub mod clock;
pub mod consent;
pub mod date;
pub mod dn;
pub mod holders;
pub mod iban;
pub mod idempotency;
pub mod ids;
pub mod lead;
pub mod ledger;
pub mod money;
pub mod notification;
pub mod oauth;
pub mod otp;
pub mod password;
pub mod payment;
pub mod plan;
pub mod portal;
pub mod psu;
pub mod registry;
pub mod secret;
pub mod signed;
pub mod store;
pub mod tls;
pub mod usage;

pub use clock::{Clock, ManualClock, SystemClock};
pub use iban::Iban;
pub use money::{Currency, Money};
pub use store::StoreError;
