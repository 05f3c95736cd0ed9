//! FAPI 2.0 Message Signing: signed request objects at PAR (RFC 9101, JAR),
//! verified with the client's keys, and signed authorization responses
//! (JARM, `response_mode=jwt`) for the bank's pages to send back.

use fintechapi_domain::oauth::Authorization;
use fintechapi_registry::AuthenticatedClient;
use serde_json::Value;
use time::Duration;

use super::base::{AsRepo, AuthorizationServer};
use super::client_auth::busy;
use crate::error::{ErrorCode, OAuthError};
use crate::jose;

/// JARM §2.1: the response is used at once; FAPI 2.0 Message Signing allows 10 minutes.
const RESPONSE_TTL: Duration = Duration::minutes(5);

/// Claims of a request object that describe the JWT, not the request.
const JWT_CLAIMS: [&str; 7] = ["iss", "aud", "exp", "nbf", "iat", "jti", "client_id"];

impl<R: AsRepo> AuthorizationServer<R> {
    /// RFC 9101 §6.3: the request object's claims, checked by the client's
    /// keys (registered, or at its `jwks_uri`), as the request's parameters;
    /// JSON members (`authorization_details`) as their JSON text.
    pub async fn request_object(
        &self,
        client: &AuthenticatedClient,
        request: &str,
    ) -> Result<Vec<(String, String)>, OAuthError> {
        let invalid = |d: String| OAuthError::new(ErrorCode::InvalidRequestObject, d);
        let jwks = self
            .client_jwks(&client.application, jose::unverified_kid(request))
            .await
            .map_err(invalid)?;
        let (request, client_id, issuer, now) = (
            request.to_owned(),
            client.consumer_key.clone(),
            self.settings.issuer.clone(),
            self.clock.now(),
        );
        let claims = self
            .signatures
            .run(move || jose::verify_request_object(&request, &jwks, &client_id, &issuer, now))
            .await
            .map_err(busy)?
            .map_err(|e| invalid(e.0))?;
        Ok(claims
            .into_iter()
            .filter(|(name, _)| !JWT_CLAIMS.contains(&name.as_str()))
            .map(|(name, value)| match value {
                Value::String(text) => (name, text),
                other => (name, other.to_string()),
            })
            .collect())
    }

    /// JARM §2.3.1: the authorization response's parameters (code or error,
    /// state) as one JWT from this issuer for the client alone.
    pub async fn signed_response(
        &self,
        authorization: &Authorization,
        params: &[(&str, &str)],
    ) -> Result<String, OAuthError> {
        let now = self.clock.now();
        let mut claims = serde_json::Map::new();
        for (name, value) in params {
            claims.insert((*name).to_owned(), (*value).into());
        }
        claims.insert("iss".into(), self.settings.issuer.clone().into());
        claims.insert("aud".into(), authorization.client_id.clone().into());
        claims.insert("iat".into(), now.unix_timestamp().into());
        claims.insert("exp".into(), (now + RESPONSE_TTL).unix_timestamp().into());
        self.signed("JWT", &claims).await
    }
}
