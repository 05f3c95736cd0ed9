//! What the server publishes: its RFC 8414 metadata (only what it enforces)
//! and its signing keys (`/oauth2/jwks`), kept rotated.

use fintechapi_domain::StoreError;
use fintechapi_domain::registry::ApiProduct;

use super::base::{AsRepo, AuthorizationServer};
use crate::jose;
use crate::policy::ClientPolicy;

impl<R: AsRepo> AuthorizationServer<R> {
    /// Keeps a signing key active and the next one published.
    pub async fn rotate_keys(&self) -> Result<(), crate::keys::KeyError> {
        crate::keys::ensure(&self.tokens, &self.pepper, self.clock.now()).await
    }

    pub async fn jwks(&self) -> Result<serde_json::Value, StoreError> {
        crate::keys::jwks(&self.tokens, self.clock.now()).await
    }

    /// RFC 8414 metadata: only what the server enforces.
    pub fn metadata(&self) -> serde_json::Value {
        let issuer = &self.settings.issuer;
        serde_json::json!({
            "issuer": issuer,
            "token_endpoint": format!("{issuer}/oauth2/token"),
            "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
            "introspection_signing_alg_values_supported": ["ES256"],
            "jwks_uri": format!("{issuer}/oauth2/jwks"),
            "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
            "authorization_endpoint": format!("{issuer}/oauth2/authorize"),
            "pushed_authorization_request_endpoint": format!("{issuer}/oauth2/par"),
            "require_pushed_authorization_requests": true,
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "request_parameter_supported": false,
            "code_challenge_methods_supported": ["S256"],
            "authorization_details_types_supported": crate::rar::TYPES,
            "authorization_response_iss_parameter_supported": true,
            // Client credentials: the products; authorization code: AIS:<consentId>.
            "scopes_supported": ApiProduct::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
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
