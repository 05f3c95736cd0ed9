//! The grants of the token endpoint and the tokens they issue: client
//! credentials (RFC 6749 §4.4), the authorization code with PKCE (its code
//! issued when the PSU approves; once only, a replay revokes), refresh
//! (rotation with reuse detection where the profile asks for it, never past
//! the consent nor 180 days after SCA). Tokens are random and stored as
//! keyed hashes.

use fintechapi_domain::StoreError;
use fintechapi_domain::consent::ConsentStatus;
use fintechapi_domain::ids::AuthorizationId;
use fintechapi_domain::oauth::{
    Authorization, AuthorizationFlow, AuthorizationStage, TokenKind, TokenRecord,
};
use fintechapi_domain::registry::ApiProduct;
use fintechapi_domain::secret::{constant_time_eq, pkce_s256};
use fintechapi_registry::AuthenticatedClient;
use serde::Serialize;
use time::{Duration, OffsetDateTime};

use super::base::{AsRepo, AuthorizationServer, client_id_of, details_json, fresh_random};
use super::dpop::{Binding, Sender};
use super::scope::{ScopedResource, format_scope, parse_scope};
use super::tokens::{new_token, token_key};
use crate::error::{ErrorCode, OAuthError};
use crate::policy::ClientPolicy;

/// FAPI 2.0 §5.3.2.1: at most 60 s.
const CODE_TTL: Duration = Duration::seconds(60);
/// Expired rows one pruning statement deletes.
const PRUNE_BATCH: u32 = 5_000;
/// RTS Art. 10a: how long after a full SCA account information may be read
/// without another one (the refresh token's longest life; for the Redirect
/// approach, of reads with the client's token).
pub const SCA_EXEMPTION: Duration = Duration::days(180);

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
    /// OpenID Connect: for a code whose request asked for `openid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl<R: AsRepo> AuthorizationServer<R> {
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
        let (access_token, record) = self.mint(
            TokenKind::Access,
            client,
            &scope,
            None,
            &binding,
            self.settings.access_token_ttl,
        )?;
        self.store_tokens(vec![record]).await?;
        Ok(TokenResponse {
            access_token,
            token_type: binding.token_type(),
            expires_in: self.settings.access_token_ttl.whole_seconds(),
            scope,
            refresh_token: None,
            authorization_details: None,
            id_token: None,
        })
    }

    /// A new token and its record (its keyed hash), not stored yet.
    fn mint(
        &self,
        kind: TokenKind,
        client: &AuthenticatedClient,
        scope: &str,
        grant: Option<(AuthorizationId, Option<&str>)>,
        binding: &Binding,
        ttl: Duration,
    ) -> Result<(String, TokenRecord), OAuthError> {
        let now = self.clock.now();
        let token = new_token(kind, now)?;
        let record = TokenRecord {
            hash: token_key(&self.pepper, &token),
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
        };
        Ok((token, record))
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
            return Err(self.replayed(&authorization, now).await?);
        }
        if authorization.stage != AuthorizationStage::Approved
            || authorization.code_expires_at.is_none_or(|at| at <= now)
        {
            return Err(invalid("the authorization code is unknown or expired"));
        }
        // The Redirect approach issues no code, so only an OAuth one redeems.
        let AuthorizationFlow::OAuth {
            redirect_uri: pushed_uri,
            code_challenge,
            dpop_jkt,
            authorization_details,
            openid,
            ..
        } = &authorization.flow
        else {
            return Err(invalid("the authorization code is unknown or expired"));
        };
        if redirect_uri != Some(pushed_uri.as_str()) {
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
        if !constant_time_eq(&pkce_s256(verifier), code_challenge) {
            return Err(invalid("code_verifier does not match the code_challenge"));
        }
        if dpop_jkt.is_some() && *dpop_jkt != sender.dpop_jkt {
            return Err(invalid(
                "the code is bound to another DPoP key than this request's proof",
            ));
        }
        let binding = self.binding(client, sender)?;
        // Only a valid redemption spends the code; losing this race to a
        // concurrent redemption is a replay.
        if !self.tokens.redeem_code(&code_hash, now).await? {
            return Err(self.replayed(&authorization, now).await?);
        }
        let scope = authorization.scope.scope();
        let refresh_ttl = self.refresh_ttl(&scope).await?;
        let mut issued = self
            .token_pair(
                client,
                &scope,
                authorization.id,
                authorization_details.as_deref(),
                &binding,
                refresh_ttl,
            )
            .await?;
        if let Some(openid) = openid {
            issued.id_token = Some(
                self.id_token(&authorization, openid.nonce.as_deref())
                    .await?,
            );
        }
        Ok(issued)
    }

    /// RFC 6749 §4.1.2: a code used twice revokes what was issued from it.
    async fn replayed(
        &self,
        authorization: &Authorization,
        now: OffsetDateTime,
    ) -> Result<OAuthError, OAuthError> {
        let id = authorization.id;
        let revoked = self.tokens.revoke_grant(id, now).await?;
        self.registry.tokens_revoked(authorization.application_id);
        tracing::warn!(authorization = %id, revoked, "authorization code replayed; its tokens are revoked");
        self.end_consent_of(&authorization.scope, now).await?;
        Ok(OAuthError::new(
            ErrorCode::InvalidGrant,
            "the authorization code was already used; tokens issued from it are revoked",
        ))
    }

    /// A revoked grant leaves its consent unusable for good: only a received
    /// consent can be authorised, so no new grant can revive it. The consent
    /// ends as `expired`, the spec's nearest status for an end neither the PSU
    /// nor the TPP chose, so online banking and the consent's status say so.
    async fn end_consent_of(
        &self,
        scope: &ScopedResource,
        now: OffsetDateTime,
    ) -> Result<(), OAuthError> {
        if let ScopedResource::Consent(id) | ScopedResource::FundsConsent(id) = scope {
            self.set_consent_status(*id, &[ConsentStatus::Valid], ConsentStatus::Expired, now)
                .await?;
        }
        Ok(())
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
        let hash = token_key(&self.pepper, refresh_token);
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
                self.registry.tokens_revoked(record.application_id);
                tracing::warn!(authorization = %authorization, revoked, "refresh token reused; the grant is revoked");
                if let Some(scope) = ScopedResource::parse(&record.scope) {
                    self.end_consent_of(&scope, now).await?;
                }
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
    /// valid (or, multilevel SCA, partially authorised). A payment or
    /// identity-only authorization gets no refresh token.
    async fn refresh_ttl(&self, scope: &str) -> Result<Option<Duration>, OAuthError> {
        let invalid = |d: String| OAuthError::new(ErrorCode::InvalidGrant, d);
        let id = match ScopedResource::parse(scope) {
            Some(ScopedResource::Consent(id) | ScopedResource::FundsConsent(id)) => id,
            Some(
                ScopedResource::Payment(_)
                | ScopedResource::PaymentCancellation(_)
                | ScopedResource::Basket(_)
                | ScopedResource::Identity,
            ) => return Ok(None),
            None => return Err(invalid(format!("scope {scope:?} names no resource"))),
        };
        let now = self.clock.now();
        let consent = self
            .tokens
            .consent(id)
            .await?
            .ok_or_else(|| invalid(format!("consent {id} no longer exists")))?;
        let status = consent.status_on(now.date());
        // A joint account's consent after the first holder's approval: the
        // token is issued, and serves reads once the last holder approved.
        if !matches!(
            status,
            ConsentStatus::Valid | ConsentStatus::PartiallyAuthorised
        ) {
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
        let grant = Some((authorization, details));
        let (access_token, access) =
            self.mint(TokenKind::Access, client, scope, grant, binding, access_ttl)?;
        let mut records = vec![access];
        let refresh_token = match refresh_ttl {
            Some(ttl) => {
                let (token, record) =
                    self.mint(TokenKind::Refresh, client, scope, grant, binding, ttl)?;
                records.push(record);
                Some(token)
            }
            None => None,
        };
        // Both in one commit: a pair is stored whole or not at all.
        self.store_tokens(records).await?;
        Ok(TokenResponse {
            access_token,
            token_type: binding.token_type(),
            expires_in: access_ttl.whole_seconds(),
            scope: scope.to_owned(),
            refresh_token,
            authorization_details: details_json(details),
            id_token: None,
        })
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

    pub async fn prune(&self) -> Result<u64, StoreError> {
        self.tokens
            .prune_tokens(self.clock.now(), PRUNE_BATCH)
            .await
    }
}

/// RFC 7636 §4.1 `unreserved`.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}
