//! The authorization server's logic, free of HTTP: client authentication,
//! token issuance, introspection and revocation.

use std::sync::Arc;

use fintechapi_domain::Clock;
use fintechapi_domain::StoreError;
use fintechapi_domain::consent::{
    Consent, ConsentAccess, ConsentCreation, ConsentRepository, ConsentStatus,
};
use fintechapi_domain::dn::Dn;
use fintechapi_domain::iban::Iban;
use fintechapi_domain::ids::{ApplicationId, AuthorizationId, ConsentId, PaymentId};
use fintechapi_domain::oauth::{
    Authorization, AuthorizationRepository, AuthorizationStage, ScaApproach, SigningKeyRepository,
    TokenKind, TokenRecord, TokenRepository,
};
use fintechapi_domain::payment::{PaymentRepository, PaymentStatus};
use fintechapi_domain::portal::PortalRepository;
use fintechapi_domain::registry::{ApiProduct, Plan};
use fintechapi_domain::secret::{Pepper, constant_time_eq, pkce_s256, random_token};
use fintechapi_domain::tls::ClientCertificate;
use fintechapi_limits::{CpuPool, CpuPoolError};
use fintechapi_registry::AuthenticatedClient;
use fintechapi_registry::Registry;
use serde::Serialize;
use time::{Date, Duration, OffsetDateTime};

use crate::client_keys::ClientKeys;
use crate::error::{ErrorCode, OAuthError};
use crate::jose;
use crate::policy::{ClientAuthMethod, ClientPolicy};
use crate::rar::Requested;

/// Token prefixes, so secret scanners can recognise a leaked one.
const ACCESS_TOKEN_PREFIX: &str = "ftat_";
const REFRESH_TOKEN_PREFIX: &str = "ftrt_";
const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// RFC 9126 §2.2: short-lived, single use.
const REQUEST_URI_TTL: Duration = Duration::seconds(60);
/// FAPI 2.0 §5.3.2.1: at most 60 s.
const CODE_TTL: Duration = Duration::seconds(60);
/// RTS Art. 10a: how long after a full SCA account information may be read
/// without another one (the refresh token's longest life; for the Redirect
/// approach, of reads with the client's token).
pub const SCA_EXEMPTION: Duration = Duration::days(180);
/// DPoP nonces change every 5 minutes; the previous one stays valid.
const DPOP_NONCE_WINDOW_SECS: i64 = 300;
/// RTS Art. 4(3)(d): an authentication session ends after 5 minutes without activity.
pub const PSU_IDLE_TIMEOUT: Duration = Duration::minutes(5);

fn fresh_random() -> Result<String, OAuthError> {
    random_token(32).map_err(|e| {
        tracing::error!(error = %e, "no randomness for a token");
        OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            "cannot issue a token now",
        )
    })
}

#[derive(Debug, Clone)]
pub struct OAuthSettings {
    /// The issuer identifier: the server's public base URL, no trailing slash.
    pub issuer: String,
    pub access_token_ttl: Duration,
    /// Longest validity of a funds-confirmation consent made from a pushed request.
    pub max_consent_days: u32,
}

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

/// Why a DPoP proof was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DpopFailure {
    /// Retry with the nonce in the `DPoP-Nonce` header.
    UseNonce,
    Invalid(String),
    /// Every signature slot is busy: 503, retry after the given wait.
    Busy(std::time::Duration),
}

/// A signature check refused by a full pool: 503 with `Retry-After`.
fn busy(e: CpuPoolError) -> OAuthError {
    OAuthError {
        retry_after: Some(e.retry_after()),
        ..OAuthError::new(ErrorCode::TemporarilyUnavailable, e.to_string())
    }
}

impl From<DpopFailure> for OAuthError {
    fn from(f: DpopFailure) -> Self {
        match f {
            DpopFailure::UseNonce => OAuthError::new(
                ErrorCode::UseDpopNonce,
                "send a DPoP proof with the nonce from the DPoP-Nonce header",
            ),
            DpopFailure::Invalid(text) => OAuthError::new(ErrorCode::InvalidDpopProof, text),
            DpopFailure::Busy(wait) => OAuthError {
                retry_after: Some(wait),
                ..OAuthError::new(
                    ErrorCode::TemporarilyUnavailable,
                    "too many signature checks at once; retry shortly",
                )
            },
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TokenResponse {
    pub access_token: String,
    /// `DPoP` when bound to a key, else `Bearer`.
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// RFC 9396 §7: the authorization details the token carries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_details: Option<serde_json::Value>,
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

pub struct AuthorizationServer<R> {
    registry: Registry<R>,
    tokens: R,
    pepper: Pepper,
    clock: Arc<dyn Clock>,
    settings: OAuthSettings,
    client_keys: ClientKeys,
    /// Client assertions and DPoP proofs are verified here, off the async
    /// workers and a bounded number at once.
    signatures: CpuPool,
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

/// The stored details name the consent a funds-confirmation request made,
/// so the TPP learns its id from the token response (for `Consent-ID`).
fn with_consent_id(mut details: serde_json::Value, resource: ScopedResource) -> String {
    if let ScopedResource::FundsConsent(id) = resource
        && let Some(detail) = details.get_mut(0).and_then(|d| d.as_object_mut())
    {
        detail.insert("consentId".into(), id.to_string().into());
    }
    details.to_string()
}

fn format_scope(products: &[ApiProduct]) -> String {
    products
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The storage the authorization server needs.
pub trait AsRepo:
    PortalRepository
    + SigningKeyRepository
    + TokenRepository
    + AuthorizationRepository
    + ConsentRepository
    + PaymentRepository
    + Clone
{
}
impl<
    T: PortalRepository
        + SigningKeyRepository
        + TokenRepository
        + AuthorizationRepository
        + ConsentRepository
        + PaymentRepository
        + Clone,
> AsRepo for T
{
}

/// What a valid access token lets its bearer do, for a resource server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessGrant {
    pub application_id: ApplicationId,
    pub client_id: String,
    /// Products a client-credentials token covers.
    pub scope_products: Vec<ApiProduct>,
    /// The account-information consent an authorization-code token is bound to.
    pub consent: Option<ConsentId>,
    /// The funds-confirmation consent an authorization-code token is bound to.
    pub funds_consent: Option<ConsentId>,
    /// The payment an authorization-code token is bound to.
    pub payment: Option<PaymentId>,
    /// What the application may use right now (approved, within its roles), with plans.
    pub usable: Vec<(ApiProduct, Plan)>,
    /// The plan an operator assigned to the application, overriding the tiers.
    pub assigned_plan: Option<String>,
    /// The DPoP key the token is bound to: every use needs a proof by it.
    pub dpop_jkt: Option<String>,
    /// The client certificate the token is bound to: every use needs it (mutual TLS).
    pub mtls_x5t: Option<String>,
}

impl AccessGrant {
    pub fn plan_for(&self, product: ApiProduct) -> Option<Plan> {
        self.usable
            .iter()
            .find(|(p, _)| *p == product)
            .map(|(_, plan)| *plan)
    }
}

/// A resource a PSU authorizes, named by the scope (`AIS:<consentId>`,
/// `PIS:<paymentId>`, `PIIS:<consentId>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopedResource {
    Consent(ConsentId),
    Payment(PaymentId),
    /// A funds-confirmation (PIIS) consent.
    FundsConsent(ConsentId),
    /// The PSU's confirmation that an authorised scheduled payment the TPP
    /// asked to cancel is cancelled.
    PaymentCancellation(PaymentId),
}

impl ScopedResource {
    pub fn parse(scope: &str) -> Option<Self> {
        let (kind, id) = scope.split_once(':')?;
        match kind {
            "AIS" => id.parse().ok().map(ScopedResource::Consent),
            "PIS" => id.parse().ok().map(ScopedResource::Payment),
            "PIIS" => id.parse().ok().map(ScopedResource::FundsConsent),
            "PIS-CANCEL" => id.parse().ok().map(ScopedResource::PaymentCancellation),
            _ => None,
        }
    }

    pub fn scope(&self) -> String {
        match self {
            ScopedResource::Consent(id) => format!("AIS:{id}"),
            ScopedResource::Payment(id) => format!("PIS:{id}"),
            ScopedResource::FundsConsent(id) => format!("PIIS:{id}"),
            ScopedResource::PaymentCancellation(id) => format!("PIS-CANCEL:{id}"),
        }
    }
}

/// A validated pushed authorization request.
#[derive(Debug, Clone)]
pub struct PushedRequest {
    pub response_type: String,
    pub redirect_uri: String,
    pub scope: Option<String>,
    /// RFC 9396: a JSON array naming the resource instead of `scope`.
    pub authorization_details: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    /// RFC 9449 §10: the key the code will be redeemed with (`dpop_jkt`, or a proof at PAR).
    pub dpop_jkt: Option<String>,
}

impl<R: AsRepo> AuthorizationServer<R> {
    pub fn new(
        registry: Registry<R>,
        pepper: Pepper,
        clock: Arc<dyn Clock>,
        settings: OAuthSettings,
        client_keys: ClientKeys,
        signatures: CpuPool,
    ) -> Self {
        let tokens = registry.repo().clone();
        Self {
            registry,
            tokens,
            pepper,
            clock,
            settings,
            client_keys,
            signatures,
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
        let app = &client.application;
        let jwks = match (&app.jwks, &app.jwks_uri) {
            (Some(jwks), _) => Arc::from(jwks.as_str()),
            (None, Some(uri)) => {
                let kid = jose::unverified_kid(assertion);
                self.client_keys
                    .jwks(app.id, uri, kid.as_deref())
                    .await
                    .map_err(|e| invalid(e.to_string()))?
            }
            (None, None) => {
                return Err(invalid(
                    "the client has registered neither a JWKS nor a jwks_uri".into(),
                ));
            }
        };
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

    /// A fresh server nonce for DPoP proofs (RFC 9449 §8), valid for 5 to 10 minutes.
    pub fn dpop_nonce(&self) -> String {
        self.nonce_for_window(self.clock.now().unix_timestamp() / DPOP_NONCE_WINDOW_SECS)
    }

    fn nonce_for_window(&self, window: i64) -> String {
        self.pepper
            .hash(&format!("dpop-nonce:{window}"))
            .as_str()
            .to_owned()
    }

    /// Verifies a DPoP proof for `method` on `path` of this server (and, at a
    /// resource server, for `access_token`); each proof works once. Returns the
    /// key's thumbprint.
    pub async fn check_dpop(
        &self,
        proof: &str,
        method: &str,
        path: &str,
        access_token: Option<&str>,
    ) -> Result<String, DpopFailure> {
        let uri = format!("{}{path}", self.settings.issuer);
        let now = self.clock.now();
        let window = now.unix_timestamp() / DPOP_NONCE_WINDOW_SECS;
        let nonces = [
            self.nonce_for_window(window),
            self.nonce_for_window(window - 1),
        ];
        let (proof, method, access_token) = (
            proof.to_owned(),
            method.to_owned(),
            access_token.map(str::to_owned),
        );
        let verified = self
            .signatures
            .run(move || {
                let nonce_ok = |n: &str| nonces.iter().any(|valid| constant_time_eq(n, valid));
                jose::verify_dpop(
                    &proof,
                    &method,
                    &uri,
                    now,
                    nonce_ok,
                    access_token.as_deref(),
                )
            })
            .await
            .map_err(|e| DpopFailure::Busy(e.retry_after()))?
            .map_err(|r| match r {
                jose::DpopRefusal::UseNonce => DpopFailure::UseNonce,
                jose::DpopRefusal::Invalid(t) => DpopFailure::Invalid(t),
            })?;
        let key = self
            .pepper
            .hash(&format!("dpop:{}:{}", verified.jkt, verified.jti));
        let keep_until = now + Duration::seconds(2 * jose::DPOP_IAT_WINDOW_SECS);
        match self.tokens.remember_jti(&key, keep_until).await {
            Ok(true) => Ok(verified.jkt),
            Ok(false) => Err(DpopFailure::Invalid(
                "the DPoP proof was used before (jti replay)".into(),
            )),
            Err(e) => {
                tracing::error!(error = %e, "cannot record a DPoP proof");
                Err(DpopFailure::Invalid(
                    "the DPoP proof cannot be checked now".into(),
                ))
            }
        }
    }

    /// What a new token will be bound to, per the client's policy: the DPoP key
    /// when a proof came, else (for clients that must be sender-constrained)
    /// the mutual-TLS certificate, else nothing where bearer tokens are allowed.
    fn binding(
        &self,
        client: &AuthenticatedClient,
        sender: &Sender,
    ) -> Result<Binding, OAuthError> {
        let policy = ClientPolicy::of(client.application.security_profile);
        if let Some(jkt) = &sender.dpop_jkt {
            return Ok(Binding {
                dpop_jkt: Some(jkt.clone()),
                mtls_x5t: None,
            });
        }
        if policy.bearer_tokens {
            return Ok(Binding::default());
        }
        match &sender.certificate_x5t {
            Some(x5t) => Ok(Binding {
                dpop_jkt: None,
                mtls_x5t: Some(x5t.clone()),
            }),
            None => Err(OAuthError::invalid_request(format!(
                "a {} client gets sender-constrained tokens only: send a DPoP proof or use mutual TLS",
                policy.profile
            ))),
        }
    }

    /// RFC 6749 §4.4: a token for the client itself, limited to its usable products.
    pub async fn client_credentials(
        &self,
        client: &AuthenticatedClient,
        scope: Option<&str>,
        sender: &Sender,
    ) -> Result<TokenResponse, OAuthError> {
        let binding = self.binding(client, sender)?;
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
        let scope = format_scope(&granted);
        let access_token = self
            .issue(
                TokenKind::Access,
                client,
                &scope,
                None,
                &binding,
                self.settings.access_token_ttl,
            )
            .await?;
        Ok(TokenResponse {
            access_token,
            token_type: binding.token_type(),
            expires_in: self.settings.access_token_ttl.whole_seconds(),
            scope,
            refresh_token: None,
            authorization_details: None,
        })
    }

    /// Stores a new token's keyed hash and returns the token.
    async fn issue(
        &self,
        kind: TokenKind,
        client: &AuthenticatedClient,
        scope: &str,
        grant: Option<(AuthorizationId, Option<&str>)>,
        binding: &Binding,
        ttl: Duration,
    ) -> Result<String, OAuthError> {
        let prefix = match kind {
            TokenKind::Access => ACCESS_TOKEN_PREFIX,
            TokenKind::Refresh => REFRESH_TOKEN_PREFIX,
        };
        let token = format!("{prefix}{}", fresh_random()?);
        let now = self.clock.now();
        self.tokens
            .insert_token(TokenRecord {
                hash: self.pepper.hash(&token),
                kind,
                application_id: client.application.id,
                client_id: client_id_of(client),
                scope: scope.to_owned(),
                authorization_id: grant.map(|(id, _)| id),
                authorization_details: grant.and_then(|(_, d)| d.map(str::to_owned)),
                dpop_jkt: binding.dpop_jkt.clone(),
                mtls_x5t: binding.mtls_x5t.clone(),
                issued_at: now,
                expires_at: now + ttl,
                revoked_at: None,
            })
            .await?;
        Ok(token)
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

    /// RFC 9126: validates and stores an authorization request; returns the
    /// `request_uri` and its lifetime in seconds.
    pub async fn push(
        &self,
        client: &AuthenticatedClient,
        request: PushedRequest,
        dpop: Option<String>,
    ) -> Result<(String, i64), OAuthError> {
        let dpop_jkt = match (request.dpop_jkt.clone(), dpop) {
            (Some(param), Some(proof)) if param != proof => {
                return Err(OAuthError::invalid_request(
                    "dpop_jkt differs from the key of the DPoP proof",
                ));
            }
            (param, proof) => param.or(proof),
        };
        if request.response_type != "code" {
            return Err(OAuthError::invalid_request(
                "response_type must be code (the only response type offered)",
            ));
        }
        if !client
            .application
            .redirect_uris
            .iter()
            .any(|u| u.as_str() == request.redirect_uri)
        {
            return Err(OAuthError::invalid_request(
                "redirect_uri is not registered for this client (exact match required)",
            ));
        }
        let challenge = match (
            request.code_challenge,
            request.code_challenge_method.as_deref(),
        ) {
            (None, _) => {
                return Err(OAuthError::invalid_request(
                    "PKCE is required: send code_challenge with code_challenge_method=S256",
                ));
            }
            (Some(_), Some("plain") | None) => {
                return Err(OAuthError::invalid_request(
                    "code_challenge_method must be S256; plain PKCE is not accepted",
                ));
            }
            (Some(_), Some(m)) if m != "S256" => {
                return Err(OAuthError::invalid_request(format!(
                    "code_challenge_method {m:?} is not supported; use S256"
                )));
            }
            (Some(c), _) if c.len() != 43 || !c.bytes().all(is_base64url) => {
                return Err(OAuthError::invalid_request(
                    "code_challenge must be the 43-character BASE64URL SHA-256 of the verifier",
                ));
            }
            (Some(c), _) => c,
        };
        if request.state.as_ref().is_some_and(|s| s.len() > 512) {
            return Err(OAuthError::invalid_request(
                "state is longer than 512 characters",
            ));
        }
        let (resource, details) = match (&request.scope, &request.authorization_details) {
            (Some(_), Some(_)) => {
                return Err(OAuthError::invalid_request(
                    "send either scope or authorization_details, not both",
                ));
            }
            (None, None) => {
                return Err(OAuthError::invalid_request(
                    "name the resource to authorize with scope or authorization_details",
                ));
            }
            (Some(scope), None) => {
                let resource = ScopedResource::parse(scope).ok_or_else(|| {
                    OAuthError::new(
                        ErrorCode::InvalidScope,
                        "scope must name one resource to authorize: AIS:<consentId>, \
                         PIS:<paymentId> or PIIS:<consentId>",
                    )
                })?;
                (resource, None)
            }
            (None, Some(text)) => {
                let (requested, details) = crate::rar::parse(text)?;
                let resource = match requested {
                    Requested::Existing(resource) => resource,
                    Requested::FundsConfirmation { iban, valid_until } => {
                        self.funds_consent(client, iban, valid_until).await?
                    }
                };
                (resource, Some(with_consent_id(details, resource)))
            }
        };
        let mut resource = resource;
        match resource {
            ScopedResource::Consent(id) | ScopedResource::FundsConsent(id) => {
                let funds = matches!(resource, ScopedResource::FundsConsent(_));
                let (product, title) = if funds {
                    (ApiProduct::Piis, "Funds Confirmation")
                } else {
                    (ApiProduct::Ais, "Account Information")
                };
                if client.plan_for(product).is_none() {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidScope,
                        format!("the application has no approved {title} subscription"),
                    ));
                }
                let consent = self.tokens.consent(id).await?;
                match consent {
                    Some(c)
                        if c.application_id == client.application.id
                            && c.funds_account().is_some() == funds =>
                    {
                        if c.status != ConsentStatus::Received {
                            return Err(OAuthError::new(
                                ErrorCode::InvalidScope,
                                format!("consent {id} is {}, not received", c.status),
                            ));
                        }
                    }
                    _ => {
                        return Err(OAuthError::new(
                            ErrorCode::InvalidScope,
                            format!("consent {id} is unknown to this client"),
                        ));
                    }
                }
            }
            ScopedResource::Payment(id) | ScopedResource::PaymentCancellation(id) => {
                if client.plan_for(ApiProduct::Pis).is_none() {
                    return Err(OAuthError::new(
                        ErrorCode::InvalidScope,
                        "the application has no approved Payment Initiation subscription",
                    ));
                }
                match self.tokens.payment(id).await? {
                    Some(p) if p.application_id == client.application.id => {
                        // PIS:<id> of an authorised scheduled payment the TPP
                        // asked to cancel is the cancellation's authorisation.
                        let cancelling = p.status == PaymentStatus::AcceptedCustomerProfile
                            && p.cancellation_requested_at.is_some();
                        let expected = if cancelling {
                            ScopedResource::PaymentCancellation(id)
                        } else {
                            ScopedResource::Payment(id)
                        };
                        if p.status != PaymentStatus::Received && !cancelling
                            || resource != expected
                                && !matches!(resource, ScopedResource::Payment(_))
                        {
                            return Err(OAuthError::new(
                                ErrorCode::InvalidScope,
                                format!(
                                    "payment {id} is {}: neither RCVD nor a scheduled payment \
                                     whose cancellation was requested",
                                    p.status
                                ),
                            ));
                        }
                        resource = expected;
                    }
                    _ => {
                        return Err(OAuthError::new(
                            ErrorCode::InvalidScope,
                            format!("payment {id} is unknown to this client"),
                        ));
                    }
                }
            }
        }
        let request_uri = format!("{REQUEST_URI_PREFIX}{}", fresh_random()?);
        let now = self.clock.now();
        self.tokens
            .insert_authorization(Authorization {
                id: AuthorizationId::random(),
                application_id: client.application.id,
                client_id: client_id_of(client),
                approach: ScaApproach::OAuth,
                redirect_uri: request.redirect_uri,
                nok_redirect_uri: None,
                scope: resource.scope(),
                authorization_details: details,
                state: request.state,
                code_challenge: challenge,
                dpop_jkt,
                request_uri_hash: self.pepper.hash(&request_uri),
                request_expires_at: now + REQUEST_URI_TTL,
                session_hash: None,
                stage: AuthorizationStage::Pushed,
                psu_id: None,
                code_hash: None,
                code_expires_at: None,
                created_at: now,
                last_activity_at: now,
            })
            .await?;
        Ok((request_uri, REQUEST_URI_TTL.whole_seconds()))
    }

    /// A funds-confirmation consent made from a pushed request (this API's
    /// spec has no endpoint that creates one): received until the PSU decides
    /// on the consent screen.
    async fn funds_consent(
        &self,
        client: &AuthenticatedClient,
        iban: Iban,
        valid_until: Option<Date>,
    ) -> Result<ScopedResource, OAuthError> {
        let refused = |text: String| OAuthError::new(ErrorCode::InvalidAuthorizationDetails, text);
        if client.plan_for(ApiProduct::Piis).is_none() {
            return Err(refused(
                "the application has no approved Funds Confirmation subscription".into(),
            ));
        }
        let now = self.clock.now();
        let today = now.date();
        let longest = today
            .checked_add(Duration::days(i64::from(self.settings.max_consent_days)))
            .unwrap_or(today);
        let valid_until = match valid_until {
            Some(date) if date < today => {
                return Err(refused("validUntil lies in the past".into()));
            }
            Some(date) => date.min(longest),
            None => longest,
        };
        let id = ConsentId::random();
        let created = self
            .tokens
            .create_consent(Consent {
                id,
                application_id: client.application.id,
                status: ConsentStatus::Received,
                access: ConsentAccess::FundsConfirmation { iban },
                recurring: true,
                valid_until,
                frequency_per_day: 1,
                psu_id: None,
                grants: Vec::new(),
                request_id: format!("par:{id}"),
                request_hash: self.pepper.hash(&format!("par:{id}")).as_str().to_owned(),
                created_at: now,
                status_changed_at: now,
            })
            .await?;
        match created {
            ConsentCreation::Created => Ok(ScopedResource::FundsConsent(id)),
            // A fresh id cannot collide; should it, the TPP simply retries.
            ConsentCreation::Existing(_) => Err(OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "the funds-confirmation consent could not be created; retry",
            )),
        }
    }

    /// RFC 6749 §4.1.3 with RFC 7636: exchanges a code once; a replay revokes
    /// everything issued from it.
    pub async fn exchange_code(
        &self,
        client: &AuthenticatedClient,
        code: &str,
        redirect_uri: Option<&str>,
        code_verifier: Option<&str>,
        sender: &Sender,
    ) -> Result<TokenResponse, OAuthError> {
        let invalid = |d: &'static str| OAuthError::new(ErrorCode::InvalidGrant, d);
        let now = self.clock.now();
        let code_hash = self.pepper.hash(code);
        // Every check comes before the code is spent: a request that fails them
        // (another client, a wrong verifier) leaves the code to its rightful client.
        let Some(authorization) = self.tokens.authorization_by_code(&code_hash).await? else {
            return Err(invalid("the authorization code is unknown or expired"));
        };
        if authorization.application_id != client.application.id {
            return Err(invalid(
                "the authorization code was issued to another client",
            ));
        }
        if authorization.stage == AuthorizationStage::Exchanged {
            return Err(self.replayed(authorization.id, now).await?);
        }
        if authorization.stage != AuthorizationStage::Approved
            || authorization.code_expires_at.is_none_or(|at| at <= now)
        {
            return Err(invalid("the authorization code is unknown or expired"));
        }
        if redirect_uri != Some(authorization.redirect_uri.as_str()) {
            return Err(invalid(
                "redirect_uri differs from the authorization request",
            ));
        }
        let verifier = code_verifier
            .ok_or_else(|| OAuthError::invalid_request("code_verifier is missing (PKCE)"))?;
        if !(43..=128).contains(&verifier.len()) || !verifier.bytes().all(is_unreserved) {
            return Err(OAuthError::invalid_request(
                "code_verifier must be 43-128 characters of [A-Za-z0-9-._~]",
            ));
        }
        if !constant_time_eq(&pkce_s256(verifier), &authorization.code_challenge) {
            return Err(invalid("code_verifier does not match the code_challenge"));
        }
        if authorization.dpop_jkt.is_some() && authorization.dpop_jkt != sender.dpop_jkt {
            return Err(invalid(
                "the code is bound to another DPoP key than this request's proof",
            ));
        }
        let binding = self.binding(client, sender)?;
        // Only a valid redemption spends the code; losing this race to a
        // concurrent redemption is a replay.
        if !self.tokens.redeem_code(&code_hash, now).await? {
            return Err(self.replayed(authorization.id, now).await?);
        }
        let refresh_ttl = self.refresh_ttl(&authorization.scope).await?;
        self.token_pair(
            client,
            &authorization.scope,
            authorization.id,
            authorization.authorization_details.as_deref(),
            &binding,
            refresh_ttl,
        )
        .await
    }

    /// RFC 6749 §4.1.2: a code used twice revokes what was issued from it.
    async fn replayed(
        &self,
        id: AuthorizationId,
        now: OffsetDateTime,
    ) -> Result<OAuthError, OAuthError> {
        let revoked = self.tokens.revoke_grant(id, now).await?;
        tracing::warn!(authorization = %id, revoked, "authorization code replayed; its tokens are revoked");
        Ok(OAuthError::new(
            ErrorCode::InvalidGrant,
            "the authorization code was already used; tokens issued from it are revoked",
        ))
    }

    /// RFC 6749 §6. `basic` clients rotate: each refresh token works once and
    /// presenting a used one again revokes the whole grant. `fapi2` clients
    /// keep their refresh token (FAPI 2.0 §5.3.2.1), bound to their DPoP key.
    pub async fn refresh(
        &self,
        client: &AuthenticatedClient,
        refresh_token: &str,
        sender: &Sender,
    ) -> Result<TokenResponse, OAuthError> {
        let invalid = |d: &'static str| OAuthError::new(ErrorCode::InvalidGrant, d);
        let hash = self.pepper.hash(refresh_token);
        let now = self.clock.now();
        let Some(record) = self.tokens.token_by_hash(&hash).await? else {
            return Err(invalid("the refresh token is unknown"));
        };
        if record.kind != TokenKind::Refresh || record.application_id != client.application.id {
            return Err(invalid("the refresh token was not issued to this client"));
        }
        let Some(authorization) = record.authorization_id else {
            return Err(invalid("the refresh token belongs to no grant"));
        };
        if now >= record.expires_at {
            return Err(invalid("the refresh token expired"));
        }
        if record.dpop_jkt.is_some() && record.dpop_jkt != sender.dpop_jkt {
            return Err(invalid(
                "the refresh token is bound to another DPoP key than this request's proof",
            ));
        }
        if record.mtls_x5t.is_some() && record.mtls_x5t != sender.certificate_x5t {
            return Err(invalid(
                "the refresh token is bound to another client certificate than this connection's",
            ));
        }
        let policy = ClientPolicy::of(client.application.security_profile);
        if policy.rotate_refresh_tokens {
            // Only the first presentation wins; a second one is reuse.
            if !self.tokens.revoke_token(&hash, now).await? {
                let revoked = self.tokens.revoke_grant(authorization, now).await?;
                tracing::warn!(authorization = %authorization, revoked, "refresh token reused; the grant is revoked");
                return Err(invalid(
                    "the refresh token was already used; the whole grant is revoked",
                ));
            }
        } else if record.revoked_at.is_some() {
            return Err(invalid("the refresh token was revoked"));
        }
        self.refresh_ttl(&record.scope).await?;
        let binding = self.binding(client, sender)?;
        let next_refresh = policy
            .rotate_refresh_tokens
            .then_some(record.expires_at - now);
        self.token_pair(
            client,
            &record.scope,
            authorization,
            record.authorization_details.as_deref(),
            &binding,
            next_refresh,
        )
        .await
    }

    /// How long a refresh token for `scope` may live: to the end of the
    /// consent's `validUntil` day; refused once the consent is no longer
    /// valid. A payment authorization gets no refresh token.
    async fn refresh_ttl(&self, scope: &str) -> Result<Option<Duration>, OAuthError> {
        let invalid = |d: String| OAuthError::new(ErrorCode::InvalidGrant, d);
        let id = match ScopedResource::parse(scope) {
            Some(ScopedResource::Consent(id) | ScopedResource::FundsConsent(id)) => id,
            Some(ScopedResource::Payment(_) | ScopedResource::PaymentCancellation(_)) => {
                return Ok(None);
            }
            None => return Err(invalid(format!("scope {scope:?} names no resource"))),
        };
        let now = self.clock.now();
        let consent = self
            .tokens
            .consent(id)
            .await?
            .ok_or_else(|| invalid(format!("consent {id} no longer exists")))?;
        let status = consent.status_on(now.date());
        if status != ConsentStatus::Valid {
            return Err(invalid(format!("consent {id} is {status}")));
        }
        let end = consent
            .valid_until
            .next_day()
            .map_or(now, |d| d.midnight().assume_utc());
        // RTS Art. 10a: account information without a new SCA for 180 days at most.
        Ok(Some((end - now).min(SCA_EXEMPTION)))
    }

    /// An access token, and a refresh token when `refresh_ttl` is given.
    async fn token_pair(
        &self,
        client: &AuthenticatedClient,
        scope: &str,
        authorization: AuthorizationId,
        details: Option<&str>,
        binding: &Binding,
        refresh_ttl: Option<Duration>,
    ) -> Result<TokenResponse, OAuthError> {
        let access_ttl = refresh_ttl.map_or(self.settings.access_token_ttl, |r| {
            self.settings.access_token_ttl.min(r)
        });
        let access_token = self
            .issue(
                TokenKind::Access,
                client,
                scope,
                Some((authorization, details)),
                binding,
                access_ttl,
            )
            .await?;
        let refresh_token = match refresh_ttl {
            Some(ttl) => Some(
                self.issue(
                    TokenKind::Refresh,
                    client,
                    scope,
                    Some((authorization, details)),
                    binding,
                    ttl,
                )
                .await?,
            ),
            None => None,
        };
        Ok(TokenResponse {
            access_token,
            token_type: binding.token_type(),
            expires_in: access_ttl.whole_seconds(),
            scope: scope.to_owned(),
            refresh_token,
            authorization_details: details_json(details),
        })
    }

    /// For resource servers: the grant behind a presented access token, if it
    /// is live and its application and organisation may still act.
    pub async fn access_grant(&self, token: &str) -> Result<Option<AccessGrant>, StoreError> {
        if !token.starts_with(ACCESS_TOKEN_PREFIX) {
            return Ok(None);
        }
        let Some(record) = self.tokens.token_by_hash(&self.pepper.hash(token)).await? else {
            return Ok(None);
        };
        if record.kind != TokenKind::Access || !record.is_active_at(self.clock.now()) {
            return Ok(None);
        }
        let Some(usable) = self.registry.active_products(record.application_id).await? else {
            return Ok(None);
        };
        let resource = ScopedResource::parse(&record.scope);
        let consent = match resource {
            Some(ScopedResource::Consent(id)) => Some(id),
            _ => None,
        };
        let funds_consent = match resource {
            Some(ScopedResource::FundsConsent(id)) => Some(id),
            _ => None,
        };
        let payment = match resource {
            Some(ScopedResource::Payment(id) | ScopedResource::PaymentCancellation(id)) => Some(id),
            _ => None,
        };
        Ok(Some(AccessGrant {
            application_id: record.application_id,
            client_id: record.client_id,
            scope_products: parse_scope(&record.scope).unwrap_or_default(),
            consent,
            funds_consent,
            payment,
            usable: usable.products,
            assigned_plan: usable.assigned_plan,
            dpop_jkt: record.dpop_jkt,
            mtls_x5t: record.mtls_x5t,
        }))
    }

    pub fn pepper(&self) -> &Pepper {
        &self.pepper
    }

    pub fn repo(&self) -> &R {
        &self.tokens
    }

    pub fn registry(&self) -> &Registry<R> {
        &self.registry
    }

    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }

    /// Issues the code for an authorization the PSU approved.
    pub async fn approve(
        &self,
        authorization: &Authorization,
    ) -> Result<Option<String>, OAuthError> {
        let code = fresh_random()?;
        let now = self.clock.now();
        let approved = self
            .tokens
            .approve_authorization(
                authorization.id,
                &self.pepper.hash(&code),
                now + CODE_TTL,
                now,
            )
            .await?;
        Ok(approved.then_some(code))
    }

    /// Keeps a signing key active and the next one published.
    pub async fn rotate_keys(&self) -> Result<(), crate::keys::KeyError> {
        crate::keys::ensure(&self.tokens, &self.pepper, self.clock.now()).await
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
        crate::keys::sign(
            &self.tokens,
            &self.pepper,
            self.clock.now(),
            "token-introspection+jwt",
            &claims,
        )
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cannot sign an introspection answer");
            OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "cannot sign the answer now",
            )
        })
    }

    pub async fn jwks(&self) -> Result<serde_json::Value, StoreError> {
        crate::keys::jwks(&self.tokens, self.clock.now()).await
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
            "introspection_signing_alg_values_supported": ["ES256"],
            "jwks_uri": format!("{issuer}/oauth2/jwks"),
            "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
            "authorization_endpoint": format!("{issuer}/oauth2/authorize"),
            "pushed_authorization_request_endpoint": format!("{issuer}/oauth2/par"),
            "require_pushed_authorization_requests": true,
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
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

/// RFC 5280 §7.1: the certificate's subject is the registered DN (an RFC 4514 string).
fn subject_is(certificate: &ClientCertificate, registered: &str) -> bool {
    let Ok(registered) = Dn::parse(registered) else {
        return false;
    };
    x509_parser::parse_x509_certificate(&certificate.0)
        .is_ok_and(|(_, parsed)| Dn::from_x509(parsed.subject()) == registered)
}

/// Stored authorization details as JSON for an answer.
fn details_json(details: Option<&str>) -> Option<serde_json::Value> {
    details.and_then(|d| serde_json::from_str(d).ok())
}

/// How the client proved possession in a token request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sender {
    /// Thumbprint of the key of a valid DPoP proof.
    pub dpop_jkt: Option<String>,
    /// Thumbprint of the verified mutual-TLS client certificate.
    pub certificate_x5t: Option<String>,
}

/// What a token is bound to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Binding {
    dpop_jkt: Option<String>,
    mtls_x5t: Option<String>,
}

impl Binding {
    /// `DPoP` for a DPoP-bound token; certificate-bound tokens stay `Bearer` (RFC 8705).
    fn token_type(&self) -> &'static str {
        if self.dpop_jkt.is_some() {
            "DPoP"
        } else {
            "Bearer"
        }
    }
}

fn client_id_of(client: &AuthenticatedClient) -> String {
    client.consumer_key.clone()
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// RFC 7636 §4.1 `unreserved`.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}
