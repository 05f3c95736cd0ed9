//! The authorization server's logic, free of HTTP. `AuthorizationServer`
//! (`base.rs`) gets its methods by concern, each in its own file:
//!
//! - `client_auth.rs`: client authentication (secret, `private_key_jwt`,
//!   `tls_client_auth`).
//! - `dpop.rs`: DPoP nonces and proofs, and what a token is bound to.
//! - `par.rs`: pushed authorization requests.
//! - `grants.rs`: client credentials, authorization code, refresh; token issuance.
//! - `introspection.rs`: introspection and revocation.
//! - `resource.rs`: the access check of resource servers (`access_grant`).
//! - `metadata.rs`: the metadata (RFC 8414, OpenID Connect Discovery), the
//!   published signing keys and signing with them.
//! - `oidc.rs`: OpenID Connect: ID tokens, pairwise subjects, userinfo.
//! - `message_signing.rs`: request objects (JAR) and signed responses (JARM).
//! - `tokens.rs`: what a token looks like and the key it is stored under.
//! - `writer.rs`: group commit of issued tokens (one transaction per batch).
//!
//! `base`, `scope` and `tokens` are shared below them; no concern uses
//! another except `grants` (the binding from `dpop`, the ID token from
//! `oidc`) and the signing ones (`metadata`'s signer, `client_auth`'s client
//! keys). This file only re-exports.

mod base;
mod client_auth;
mod dpop;
mod grants;
mod introspection;
mod message_signing;
mod metadata;
mod oidc;
mod par;
mod resource;
mod scope;
mod tokens;
mod writer;

pub use base::{AsRepo, AuthorizationServer, OAuthSettings, PSU_IDLE_TIMEOUT};
pub use client_auth::PresentedClient;
pub use dpop::{DpopFailure, Sender};
pub use grants::{SCA_EXEMPTION, TokenResponse};
pub use introspection::Introspection;
pub use par::PushedRequest;
pub(crate) use par::pushed;
pub use resource::AccessGrant;
pub use scope::ScopedResource;
