//! The authorization server's logic, free of HTTP: client authentication,
//! token issuance, introspection and revocation.

use std::sync::Arc;

use fintechapi_domain::Clock;
use fintechapi_domain::StoreError;
use fintechapi_domain::oauth::{TokenKind, TokenRecord, TokenRepository};
use fintechapi_domain::portal::PortalRepository;
use fintechapi_domain::registry::ApiProduct;
use fintechapi_domain::secret::{Pepper, random_token};
use fintechapi_portal::Registry;
use fintechapi_portal::registry::AuthenticatedClient;
use serde::Serialize;
use time::Duration;

use crate::error::{ErrorCode, OAuthError};
use crate::policy::{ClientAuthMethod, ClientPolicy};

/// Access tokens start with this, so secret scanners can recognise a leaked one.
const ACCESS_TOKEN_PREFIX: &str = "ftat_";

#[derive(Debug, Clone)]
pub struct OAuthSettings {
    /// The issuer identifier: the server's public base URL, no trailing slash.
    pub issuer: String,
    pub access_token_ttl: Duration,
}

/// Credentials a client presented, with how it presented them.
#[derive(Clone)]
pub struct PresentedClient {
    pub client_id: String,
    pub secret: String,
    pub method: ClientAuthMethod,
}

impl std::fmt::Debug for PresentedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresentedClient")
            .field("client_id", &self.client_id)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
}

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
        }
    }
}

pub struct AuthorizationServer<R> {
    registry: Registry<R>,
    tokens: R,
    pepper: Pepper,
    clock: Arc<dyn Clock>,
    settings: OAuthSettings,
}

fn parse_scope(scope: &str) -> Result<Vec<ApiProduct>, OAuthError> {
    let mut products = Vec::new();
    for value in scope.split(' ').filter(|v| !v.is_empty()) {
        let product = ApiProduct::ALL
            .into_iter()
            .find(|p| p.as_str() == value)
            .ok_or_else(|| {
                OAuthError::new(
                    ErrorCode::InvalidScope,
                    format!("unknown scope value {value:?}; this server knows ais, pis and piis"),
                )
            })?;
        if !products.contains(&product) {
            products.push(product);
        }
    }
    Ok(products)
}

fn format_scope(products: &[ApiProduct]) -> String {
    products
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

impl<R: PortalRepository + TokenRepository + Clone> AuthorizationServer<R> {
    pub fn new(
        registry: Registry<R>,
        pepper: Pepper,
        clock: Arc<dyn Clock>,
        settings: OAuthSettings,
    ) -> Self {
        let tokens = registry.repo().clone();
        Self {
            registry,
            tokens,
            pepper,
            clock,
            settings,
        }
    }

    pub fn settings(&self) -> &OAuthSettings {
        &self.settings
    }

    /// Checks the presented credentials and that the client's profile allows the method.
    pub async fn authenticate_client(
        &self,
        presented: &PresentedClient,
    ) -> Result<AuthenticatedClient, OAuthError> {
        let unauthenticated = || OAuthError {
            basic_challenge: presented.method == ClientAuthMethod::ClientSecretBasic,
            ..OAuthError::new(ErrorCode::InvalidClient, "client authentication failed")
        };
        let client = self
            .registry
            .authenticate(&presented.client_id, &presented.secret)
            .await?
            .ok_or_else(unauthenticated)?;
        let policy = ClientPolicy::of(client.application.security_profile);
        if !policy.allows(presented.method) {
            let description = format!(
                "a {} client must not authenticate with {}",
                policy.profile,
                presented.method.as_str()
            );
            return Err(OAuthError {
                description: description.into(),
                ..unauthenticated()
            });
        }
        Ok(client)
    }

    /// RFC 6749 §4.4: a token for the client itself, limited to its usable products.
    pub async fn client_credentials(
        &self,
        client: &AuthenticatedClient,
        scope: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        let usable: Vec<ApiProduct> = client.products.iter().map(|(p, _)| *p).collect();
        let granted = match scope {
            Some(scope) => {
                let requested = parse_scope(scope)?;
                if let Some(missing) = requested.iter().find(|p| !usable.contains(p)) {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidScope,
                        format!(
                            "the application has no approved subscription for {} ({}) within its \
                             organisation's PSD2 roles",
                            missing.as_str(),
                            missing.title()
                        ),
                    ));
                }
                requested
            }
            None => usable,
        };
        if granted.is_empty() {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                "the application has no approved subscription to any API product",
            ));
        }
        let now = self.clock.now();
        let access_token = format!(
            "{ACCESS_TOKEN_PREFIX}{}",
            random_token(32).map_err(|e| {
                tracing::error!(error = %e, "no randomness for a token");
                OAuthError::new(
                    ErrorCode::TemporarilyUnavailable,
                    "cannot issue a token now",
                )
            })?
        );
        let scope = format_scope(&granted);
        self.tokens
            .insert_token(TokenRecord {
                hash: self.pepper.hash(&access_token),
                kind: TokenKind::Access,
                application_id: client.application.id,
                client_id: client_id_of(client),
                scope: scope.clone(),
                issued_at: now,
                expires_at: now + self.settings.access_token_ttl,
                revoked_at: None,
            })
            .await?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: self.settings.access_token_ttl.whole_seconds(),
            scope,
        })
    }

    /// RFC 7662: a client learns about its own tokens only.
    pub async fn introspect(
        &self,
        client: &AuthenticatedClient,
        token: &str,
    ) -> Result<Introspection, OAuthError> {
        let Some(record) = self.tokens.token_by_hash(&self.pepper.hash(token)).await? else {
            return Ok(Introspection::inactive());
        };
        // The client authenticated just now, so its application and organisation are active.
        if record.application_id != client.application.id || !record.is_active_at(self.clock.now())
        {
            return Ok(Introspection::inactive());
        }
        Ok(Introspection {
            active: true,
            scope: Some(record.scope),
            client_id: Some(record.client_id),
            token_type: Some("Bearer"),
            exp: Some(record.expires_at.unix_timestamp()),
            iat: Some(record.issued_at.unix_timestamp()),
            iss: Some(self.settings.issuer.clone()),
        })
    }

    /// RFC 7009: revokes the client's own token; unknown tokens are not an error.
    pub async fn revoke(
        &self,
        client: &AuthenticatedClient,
        token: &str,
    ) -> Result<(), OAuthError> {
        let hash = self.pepper.hash(token);
        if let Some(record) = self.tokens.token_by_hash(&hash).await?
            && record.application_id == client.application.id
        {
            self.tokens.revoke_token(&hash, self.clock.now()).await?;
        }
        Ok(())
    }

    pub async fn prune(&self) -> Result<u64, StoreError> {
        self.tokens.prune_tokens(self.clock.now()).await
    }

    /// RFC 8414 metadata: only what the server enforces.
    pub fn metadata(&self) -> serde_json::Value {
        let issuer = &self.settings.issuer;
        serde_json::json!({
            "issuer": issuer,
            "token_endpoint": format!("{issuer}/oauth2/token"),
            "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
            "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
            "grant_types_supported": ["client_credentials"],
            // The authorization endpoint is not offered yet.
            "response_types_supported": [],
            "scopes_supported": ApiProduct::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            "token_endpoint_auth_methods_supported": ClientPolicy::advertised_auth_methods(),
            "introspection_endpoint_auth_methods_supported": ClientPolicy::advertised_auth_methods(),
            "revocation_endpoint_auth_methods_supported": ClientPolicy::advertised_auth_methods(),
            "service_documentation": format!("{issuer}/portal/docs"),
        })
    }
}

fn client_id_of(client: &AuthenticatedClient) -> String {
    client.consumer_key.clone()
}
