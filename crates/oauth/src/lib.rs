//! The OAuth 2.0 authorization server: client authentication against the
//! portal's consumer keys and secrets, token issuance (stored as keyed hashes),
//! introspection (RFC 7662), revocation (RFC 7009), metadata (RFC 8414 and
//! OpenID Connect Discovery), OpenID Connect ID tokens and userinfo, and FAPI
//! 2.0 Message Signing (request objects, JARM).
//!
//! - [`policy`]: per-profile client policy, enforced and advertised.
//! - [`server`]: the logic, free of HTTP, one file per concern (client
//!   authentication, DPoP, PAR, grants, introspection and revocation,
//!   resource-server access, metadata).
//! - [`client_keys`]: clients' JWK Sets fetched from their `jwks_uri`, cached.
//! - [`keys`]: signing keys in the database with rotation, the JWKS.
//! - [`rar`]: Rich Authorization Requests for consents and payments.
//! - [`redirect`]: the Berlin Group Redirect SCA approach: its authorisations
//!   and their one-time link (the page behind it is `fintechapi-bank`'s).
//! - [`throttle`]: failed client authentications held per address and client_id.
//! - [`web`]: the endpoints, metered per application.
//!
//! The PSU's pages (login, second factor, consent) are `fintechapi-bank`.

pub mod client_keys;
pub mod decoupled;
pub mod error;
pub mod jose;
pub mod keys;
pub mod policy;
pub mod rar;
pub mod redirect;
pub mod server;
pub mod throttle;
pub mod web;

pub use error::{ErrorCode, OAuthError};
pub use server::{AccessGrant, AuthorizationServer, OAuthSettings, ScopedResource};
pub use web::{OAuthService, router};
