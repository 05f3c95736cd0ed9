//! DPoP (RFC 9449): the server's nonces, proof checks (on the signature pool,
//! each proof once) and what a new token is bound to (a DPoP key or the
//! mutual-TLS certificate, per the client's policy).

use fintechapi_domain::secret::constant_time_eq;
use fintechapi_registry::AuthenticatedClient;
use time::Duration;

use super::base::{AsRepo, AuthorizationServer};
use crate::error::{ErrorCode, OAuthError};
use crate::jose;
use crate::policy::ClientPolicy;

/// DPoP nonces change every 5 minutes; the previous one stays valid.
const DPOP_NONCE_WINDOW_SECS: i64 = 300;

/// The nonce of the last window asked for: every token and PAR answer carries
/// one, and computing it is a keyed hash.
#[derive(Default)]
pub(super) struct NonceMemo(std::sync::Mutex<Option<(i64, String)>>);

/// Why a DPoP proof was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DpopFailure {
    /// Retry with the nonce in the `DPoP-Nonce` header.
    UseNonce,
    Invalid(String),
    /// Every signature slot is busy: 503, retry after the given wait.
    Busy(std::time::Duration),
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

impl<R: AsRepo> AuthorizationServer<R> {
    /// A fresh server nonce for DPoP proofs (RFC 9449 §8), valid for 5 to 10 minutes.
    pub fn dpop_nonce(&self) -> String {
        let window = self.clock.now().unix_timestamp() / DPOP_NONCE_WINDOW_SECS;
        let mut memo = self
            .dpop_nonce
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match &*memo {
            Some((known, nonce)) if *known == window => nonce.clone(),
            _ => {
                let nonce = self.nonce_for_window(window);
                *memo = Some((window, nonce.clone()));
                nonce
            }
        }
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
    pub(super) fn binding(
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
pub(super) struct Binding {
    pub(super) dpop_jkt: Option<String>,
    pub(super) mtls_x5t: Option<String>,
}

impl Binding {
    /// `DPoP` for a DPoP-bound token; certificate-bound tokens stay `Bearer` (RFC 8705).
    pub(super) fn token_type(&self) -> &'static str {
        if self.dpop_jkt.is_some() {
            "DPoP"
        } else {
            "Bearer"
        }
    }
}
