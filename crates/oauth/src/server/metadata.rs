//! What the server publishes: its metadata (only what it enforces; RFC 8414
//! and OpenID Connect Discovery in one document) and its signing keys
//! (`/oauth2/jwks`), kept rotated, with which it signs.

use fintechapi_domain::StoreError;
use fintechapi_domain::oauth::OPENID;
use fintechapi_domain::registry::ApiProduct;

use serde::Serialize;

use super::base::{AsRepo, AuthorizationServer};
use crate::error::{ErrorCode, OAuthError};
use crate::jose;
use crate::keys::SIGNING_ALGORITHMS;
use crate::policy::ClientPolicy;

impl<R: AsRepo> AuthorizationServer<R> {
    /// Keeps a signing key active and the next one published.
    pub async fn rotate_keys(&self) -> Result<(), crate::keys::KeyError> {
        crate::keys::ensure(&self.tokens, &self.pepper, self.clock.now()).await
    }

    pub async fn jwks(&self) -> Result<serde_json::Value, StoreError> {
        crate::keys::jwks(&self.tokens, self.clock.now()).await
    }

    /// `claims` as a JWT of type `typ`, signed with the active key.
    pub(super) async fn signed<C: Serialize>(
        &self,
        typ: &str,
        claims: &C,
    ) -> Result<String, OAuthError> {
        crate::keys::sign(&self.tokens, &self.pepper, self.clock.now(), typ, claims)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, typ, "cannot sign");
                OAuthError::new(
                    ErrorCode::TemporarilyUnavailable,
                    "cannot sign the answer now",
                )
            })
    }

    /// The metadata, only what the server enforces: RFC 8414 and OpenID
    /// Connect Discovery 1.0 ask for one document, served at both
    /// `/.well-known/oauth-authorization-server` and
    /// `/.well-known/openid-configuration`.
    pub fn metadata(&self) -> serde_json::Value {
        let issuer = &self.settings.issuer;
        let mut scopes: Vec<&str> = ApiProduct::ALL.iter().map(|p| p.as_str()).collect();
        scopes.push(OPENID);
        serde_json::json!({
            "issuer": issuer,
            "token_endpoint": format!("{issuer}/oauth2/token"),
            "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
            "introspection_signing_alg_values_supported": SIGNING_ALGORITHMS,
            "jwks_uri": format!("{issuer}/oauth2/jwks"),
            "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
            "authorization_endpoint": format!("{issuer}/oauth2/authorize"),
            "pushed_authorization_request_endpoint": format!("{issuer}/oauth2/par"),
            "require_pushed_authorization_requests": true,
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "response_types_supported": ["code"],
            // JARM: `jwt` (and its explicit form `query.jwt`) signs the response.
            "response_modes_supported": ["query", "jwt", "query.jwt"],
            "authorization_signing_alg_values_supported": SIGNING_ALGORITHMS,
            // RFC 9101 request objects, pushed (PAR is required).
            "request_parameter_supported": true,
            "request_object_signing_alg_values_supported": jose::algorithm_names(),
            "require_signed_request_object": false,
            "code_challenge_methods_supported": ["S256"],
            "authorization_details_types_supported": crate::rar::TYPES,
            "authorization_response_iss_parameter_supported": true,
            // Client credentials: the products; authorization code: AIS:<consentId>,
            // with or without openid, or openid alone.
            "scopes_supported": scopes,
            "userinfo_endpoint": format!("{issuer}/oauth2/userinfo"),
            "id_token_signing_alg_values_supported": SIGNING_ALGORITHMS,
            "subject_types_supported": ["pairwise"],
            "claims_supported": super::oidc::CLAIMS,
            "claims_parameter_supported": false,
            "token_endpoint_auth_methods_supported": ClientPolicy::advertised_auth_methods(),
            "token_endpoint_auth_signing_alg_values_supported": jose::algorithm_names(),
            "tls_client_certificate_bound_access_tokens": true,
            "dpop_signing_alg_values_supported": jose::algorithm_names(),
            "introspection_endpoint_auth_methods_supported": ClientPolicy::advertised_auth_methods(),
            "revocation_endpoint_auth_methods_supported": ClientPolicy::advertised_auth_methods(),
            "service_documentation": format!("{issuer}/portal/docs"),
        })
    }
}
