//! OpenID Connect: the ID token of a code flow whose scope held `openid`, the
//! PSU's pairwise subject, and the userinfo endpoint's answer (only `sub`:
//! the bank shares no other personal data through OpenID Connect).

use fintechapi_domain::StoreError;
use fintechapi_domain::ids::{ApplicationId, PsuId};
use fintechapi_domain::oauth::{Authorization, AuthorizationFlow};
use serde::Serialize;
use time::Duration;

use super::base::{AsRepo, AuthorizationServer};
use super::resource::AccessGrant;
use crate::error::{ErrorCode, OAuthError};

/// An ID token proves a fresh authentication; clients validate it at once.
const ID_TOKEN_TTL: Duration = Duration::minutes(5);

/// What the ID token and userinfo say: the subject and no other PSU data.
pub const CLAIMS: [&str; 7] = ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce"];

#[derive(Serialize)]
struct IdTokenClaims<'a> {
    iss: &'a str,
    sub: String,
    aud: &'a str,
    exp: i64,
    iat: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
}

impl<R: AsRepo> AuthorizationServer<R> {
    /// The PSU's subject for one application: pairwise (OpenID Connect Core
    /// §8.1) with the application as its sector, so two TPPs cannot correlate
    /// a PSU, and a keyed hash, so it reveals nothing of the PSU's id. It
    /// stays the same across the application's credentials and redirect URIs.
    pub fn subject(&self, application: ApplicationId, psu: PsuId) -> String {
        self.pepper
            .hash(&format!("oidc-sub:{application}:{psu}"))
            .as_str()
            .to_owned()
    }

    /// OpenID Connect Core §2: signed with the server's key, for the client
    /// that asked, about the PSU who authenticated for `authorization`.
    pub(super) async fn id_token(
        &self,
        authorization: &Authorization,
        nonce: Option<&str>,
    ) -> Result<String, OAuthError> {
        let psu = authorization.psu_id.ok_or_else(|| {
            OAuthError::new(
                ErrorCode::InvalidGrant,
                "no PSU authenticated for this code",
            )
        })?;
        let now = self.clock.now();
        // Recorded when the second factor passed; a request pushed before that
        // column existed counts from its creation, never later than the truth.
        let auth_time = authorization
            .authenticated_at
            .unwrap_or(authorization.created_at);
        let claims = IdTokenClaims {
            iss: &self.settings.issuer,
            sub: self.subject(authorization.application_id, psu),
            aud: &authorization.client_id,
            exp: (now + ID_TOKEN_TTL).unix_timestamp(),
            iat: now.unix_timestamp(),
            auth_time: auth_time.unix_timestamp(),
            nonce,
        };
        self.signed("JWT", &claims).await
    }

    /// OpenID Connect Core §5.3: the subject of the PSU who granted the
    /// token, if it was granted with `openid`; None otherwise.
    pub async fn userinfo(
        &self,
        grant: &AccessGrant,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let Some(id) = grant.authorization else {
            return Ok(None);
        };
        let Some(authorization) = self.tokens.authorization(id).await? else {
            return Ok(None);
        };
        Ok(match (&authorization.flow, authorization.psu_id) {
            (
                AuthorizationFlow::OAuth {
                    openid: Some(_), ..
                },
                Some(psu),
            ) => Some(serde_json::json!({
                "sub": self.subject(authorization.application_id, psu),
            })),
            _ => None,
        })
    }
}
