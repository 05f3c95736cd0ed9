//! Client authentication at the token, PAR, introspection and revocation
//! endpoints: a consumer secret (checked by the `registry` crate),
//! `private_key_jwt` (RFC 7523; the registered JWKS or the one at the
//! `jwks_uri`, verified on the signature pool, each `jti` once) or
//! `tls_client_auth` (RFC 8705; the registered subject DN), each only where
//! the client's security profile allows the method.

use std::sync::Arc;

use fintechapi_domain::dn::Dn;
use fintechapi_domain::registry::Application;
use fintechapi_domain::tls::ClientCertificate;
use fintechapi_limits::CpuPoolError;
use fintechapi_registry::AuthenticatedClient;

use super::base::{AsRepo, AuthorizationServer};
use crate::error::{ErrorCode, OAuthError};
use crate::jose;
use crate::policy::{ClientAuthMethod, ClientPolicy};

/// Credentials a client presented, with how it presented them.
#[derive(Clone)]
pub enum PresentedClient {
    Secret {
        client_id: String,
        secret: String,
        method: ClientAuthMethod,
    },
    /// RFC 7523: `client_assertion` (client_id optional; the assertion names it).
    Assertion {
        client_id: Option<String>,
        assertion: String,
    },
    /// RFC 8705 `tls_client_auth`: the client_id and the connection's certificate.
    Certificate {
        client_id: String,
        certificate: ClientCertificate,
    },
}

impl PresentedClient {
    pub fn method(&self) -> ClientAuthMethod {
        match self {
            PresentedClient::Secret { method, .. } => *method,
            PresentedClient::Assertion { .. } => ClientAuthMethod::PrivateKeyJwt,
            PresentedClient::Certificate { .. } => ClientAuthMethod::TlsClientAuth,
        }
    }
}

impl std::fmt::Debug for PresentedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresentedClient")
            .field("method", &self.method())
            .finish_non_exhaustive()
    }
}

/// A signature check refused by a full pool: 503 with `Retry-After`.
pub(super) fn busy(e: CpuPoolError) -> OAuthError {
    OAuthError {
        retry_after: Some(e.retry_after()),
        ..OAuthError::new(ErrorCode::TemporarilyUnavailable, e.to_string())
    }
}

impl<R: AsRepo> AuthorizationServer<R> {
    /// Checks the presented credentials and that the client's profile allows the method.
    pub async fn authenticate_client(
        &self,
        presented: &PresentedClient,
    ) -> Result<AuthenticatedClient, OAuthError> {
        let method = presented.method();
        let unauthenticated = |description: String| OAuthError {
            basic_challenge: method == ClientAuthMethod::ClientSecretBasic,
            ..OAuthError::new(ErrorCode::InvalidClient, description)
        };
        let client = match presented {
            PresentedClient::Secret {
                client_id, secret, ..
            } => self
                .registry
                .authenticate(client_id, secret)
                .await?
                .ok_or_else(|| unauthenticated("client authentication failed".into()))?,
            PresentedClient::Assertion {
                client_id,
                assertion,
            } => {
                self.assertion_client(client_id.as_deref(), assertion)
                    .await?
            }
            PresentedClient::Certificate {
                client_id,
                certificate,
            } => {
                let client = self
                    .registry
                    .identify(client_id)
                    .await?
                    .ok_or_else(|| unauthenticated("client authentication failed".into()))?;
                let registered = client.application.tls_subject_dn.as_deref();
                match registered {
                    Some(dn) if subject_is(certificate, dn) => client,
                    _ => {
                        return Err(unauthenticated(
                            "the client certificate's subject DN is not the one registered for \
                             this client"
                                .into(),
                        ));
                    }
                }
            }
        };
        let policy = ClientPolicy::of(client.application.security_profile);
        if !policy.allows(method) {
            return Err(unauthenticated(format!(
                "a {} client must not authenticate with {}",
                policy.profile,
                method.as_str()
            )));
        }
        Ok(client)
    }

    /// RFC 7523 `private_key_jwt`: the assertion names the client; its registered
    /// JWKS (or the one at its `jwks_uri`) verifies it; a `jti` works once.
    async fn assertion_client(
        &self,
        client_id: Option<&str>,
        assertion: &str,
    ) -> Result<AuthenticatedClient, OAuthError> {
        let invalid = |d: String| OAuthError::new(ErrorCode::InvalidClient, d);
        let named = jose::unverified_issuer(assertion);
        let id = match (client_id, named.as_deref()) {
            (Some(id), Some(iss)) if id != iss => {
                return Err(invalid("client_id differs from the assertion's iss".into()));
            }
            (Some(id), _) => id.to_owned(),
            (None, Some(iss)) => iss.to_owned(),
            (None, None) => return Err(invalid("the client assertion names no client".into())),
        };
        let client = self
            .registry
            .identify(&id)
            .await?
            .ok_or_else(|| invalid("client authentication failed".into()))?;
        let jwks = self
            .client_jwks(&client.application, jose::unverified_kid(assertion))
            .await
            .map_err(invalid)?;
        let now = self.clock.now();
        let (assertion, client_id, issuer) = (
            assertion.to_owned(),
            id.clone(),
            self.settings.issuer.clone(),
        );
        let verified = self
            .signatures
            .run(move || jose::verify_client_assertion(&assertion, &jwks, &client_id, &issuer, now))
            .await
            .map_err(busy)?
            .map_err(|e| invalid(e.0))?;
        let key = self
            .pepper
            .hash(&format!("client-assertion:{id}:{}", verified.jti));
        if !self.tokens.remember_jti(&key, verified.expires_at).await? {
            return Err(invalid(
                "the client assertion was used before (jti replay)".into(),
            ));
        }
        Ok(client)
    }
}

impl<R: AsRepo> AuthorizationServer<R> {
    /// The JWK Set the client registered, or the one at its `jwks_uri`
    /// (fetched again for an unknown `kid`): what verifies its signatures.
    pub(super) async fn client_jwks(
        &self,
        app: &Application,
        kid: Option<String>,
    ) -> Result<Arc<str>, String> {
        match (&app.jwks, &app.jwks_uri) {
            (Some(jwks), _) => Ok(Arc::from(jwks.as_str())),
            (None, Some(uri)) => self
                .client_keys
                .jwks(app.id, uri, kid.as_deref())
                .await
                .map_err(|e| e.to_string()),
            (None, None) => Err("the client has registered neither a JWKS nor a jwks_uri".into()),
        }
    }
}

/// RFC 5280 §7.1: the certificate's subject is the registered DN (an RFC 4514 string).
fn subject_is(certificate: &ClientCertificate, registered: &str) -> bool {
    let Ok(registered) = Dn::parse(registered) else {
        return false;
    };
    x509_parser::parse_x509_certificate(&certificate.0)
        .is_ok_and(|(_, parsed)| Dn::from_x509(parsed.subject()) == registered)
}
