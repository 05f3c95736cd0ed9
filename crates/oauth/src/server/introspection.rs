//! Introspection (RFC 7662, signed as RFC 9701 asks) and revocation
//! (RFC 7009): a client learns about and revokes its own tokens only.

use fintechapi_domain::consent::ConsentStatus;
use fintechapi_registry::AuthenticatedClient;
use serde::Serialize;

use super::base::{AsRepo, AuthorizationServer, client_id_of, details_json};
use super::scope::ScopedResource;
use super::tokens::token_key;
use crate::error::OAuthError;

/// RFC 7662 introspection answer.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// RFC 9449 §6.2: the key a DPoP-bound token is bound to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnf: Option<serde_json::Value>,
    /// RFC 9396 §9.2: the authorization details of the grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_details: Option<serde_json::Value>,
}

impl Introspection {
    fn inactive() -> Self {
        Self {
            active: false,
            scope: None,
            client_id: None,
            token_type: None,
            exp: None,
            iat: None,
            iss: None,
            cnf: None,
            authorization_details: None,
        }
    }
}

impl<R: AsRepo> AuthorizationServer<R> {
    /// RFC 7662: a client learns about its own tokens only.
    pub async fn introspect(
        &self,
        client: &AuthenticatedClient,
        token: &str,
    ) -> Result<Introspection, OAuthError> {
        let Some(record) = self
            .tokens
            .token_by_hash(&token_key(&self.pepper, token))
            .await?
        else {
            return Ok(Introspection::inactive());
        };
        // The client authenticated just now, so its application and organisation are active.
        if record.application_id != client.application.id
            || !record.is_active_at(self.clock.now())
            || !self.bound_consent_is_valid(&record.scope).await?
        {
            return Ok(Introspection::inactive());
        }
        Ok(Introspection {
            active: true,
            scope: Some(record.scope),
            client_id: Some(record.client_id),
            token_type: Some(if record.dpop_jkt.is_some() {
                "DPoP"
            } else {
                "Bearer"
            }),
            cnf: match (&record.dpop_jkt, &record.mtls_x5t) {
                (Some(jkt), _) => Some(serde_json::json!({ "jkt": jkt })),
                (None, Some(x5t)) => Some(serde_json::json!({ "x5t#S256": x5t })),
                (None, None) => None,
            },
            exp: Some(record.expires_at.unix_timestamp()),
            iat: Some(record.issued_at.unix_timestamp()),
            iss: Some(self.settings.issuer.clone()),
            authorization_details: details_json(record.authorization_details.as_deref()),
        })
    }

    /// A token bound to a consent is as live as the consent: one the PSU
    /// withdrew, the TPP deleted or that expired makes the XS2A API refuse
    /// the token, so introspection must not call it active either.
    async fn bound_consent_is_valid(&self, scope: &str) -> Result<bool, OAuthError> {
        let (Some(ScopedResource::Consent(id)) | Some(ScopedResource::FundsConsent(id))) =
            ScopedResource::parse(scope)
        else {
            return Ok(true);
        };
        let today = self.clock.today();
        Ok(self
            .tokens
            .consent(id)
            .await?
            .is_some_and(|consent| consent.status_on(today) == ConsentStatus::Valid))
    }

    /// RFC 7009: revokes the client's own token; unknown tokens are not an error.
    pub async fn revoke(
        &self,
        client: &AuthenticatedClient,
        token: &str,
    ) -> Result<(), OAuthError> {
        let hash = token_key(&self.pepper, token);
        if let Some(record) = self.tokens.token_by_hash(&hash).await?
            && record.application_id == client.application.id
        {
            self.tokens.revoke_token(&hash, self.clock.now()).await?;
            self.registry.tokens_revoked(record.application_id);
        }
        Ok(())
    }

    /// RFC 9701: the introspection answer as a JWT signed by the current key.
    pub async fn signed_introspection(
        &self,
        client: &AuthenticatedClient,
        answer: &Introspection,
    ) -> Result<String, OAuthError> {
        let claims = serde_json::json!({
            "iss": self.settings.issuer,
            "aud": client_id_of(client),
            "iat": self.clock.now().unix_timestamp(),
            "token_introspection": answer,
        });
        self.signed("token-introspection+jwt", &claims).await
    }
}
