//! Tokens the authorization server issues, and their repository port.
//! Only keyed hashes of token values are stored: a database leak yields no
//! usable token.

use std::future::Future;

use time::OffsetDateTime;

use crate::ids::{ApplicationId, AuthorizationId, BasketId, ConsentId, PaymentId, PsuId};
use crate::ledger::text_enum;
use crate::registry::RedirectUri;
use crate::secret::KeyedHash;
use crate::store::StoreError;

text_enum!(
    /// What a token is for.
    TokenKind { Access = "access", Refresh = "refresh" }
);

/// An issued token, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub hash: KeyedHash,
    pub kind: TokenKind,
    pub application_id: ApplicationId,
    /// The consumer key the client authenticated with.
    pub client_id: String,
    /// Space-separated scope values granted.
    pub scope: String,
    /// The authorization (grant) it was issued from; None for client credentials.
    pub authorization_id: Option<AuthorizationId>,
    /// RFC 9396 authorization details of the grant (JSON), when it used them.
    pub authorization_details: Option<String>,
    /// RFC 9449: the thumbprint of the DPoP key the token is bound to.
    pub dpop_jkt: Option<String>,
    /// RFC 8705: the thumbprint of the client certificate the token is bound to.
    pub mtls_x5t: Option<String>,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

impl TokenRecord {
    pub fn is_active_at(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

pub trait TokenRepository: Send + Sync {
    /// Stores tokens in one transaction: all of them or none.
    fn insert_tokens(
        &self,
        tokens: &[TokenRecord],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn token_by_hash(
        &self,
        hash: &KeyedHash,
    ) -> impl Future<Output = Result<Option<TokenRecord>, StoreError>> + Send;

    /// Marks a token revoked; false when it does not exist or was revoked before.
    fn revoke_token(
        &self,
        hash: &KeyedHash,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Revokes every token issued from an authorization (code replay, refresh reuse).
    fn revoke_grant(
        &self,
        authorization: AuthorizationId,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Remembers a JWT id until `expires_at`; false when it was seen before (a replay).
    fn remember_jti(
        &self,
        jti_hash: &KeyedHash,
        expires_at: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes tokens and remembered JWT ids that expired before `before`, at
    /// most `batch` rows per statement; returns how many.
    fn prune_tokens(
        &self,
        before: OffsetDateTime,
        batch: u32,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

text_enum!(
    /// The Berlin Group SCA approach of an authorization: OAuth (a pushed
    /// request; a code for the TPP's token), Redirect (made by the initiation
    /// itself, opened by `_links.scaRedirect`, back to `TPP-Redirect-URI`
    /// without a code) or Decoupled (made by the initiation or an explicit
    /// start for the PSU named by `PSU-ID`, who decides in online banking;
    /// the TPP polls `scaStatus`).
    ScaApproach { OAuth = "oauth", Redirect = "redirect", Decoupled = "decoupled" }
);

text_enum!(
    /// Where an authorization stands: pushed (PAR, or the initiation for the
    /// Redirect approach) → login (the browser arrived) → second_factor
    /// (password checked) → consent (authenticated) → approved (code issued;
    /// final for the Redirect approach) → exchanged (code redeemed); or denied.
    AuthorizationStage {
        Pushed = "pushed",
        Login = "login",
        SecondFactor = "second_factor",
        Consent = "consent",
        Approved = "approved",
        Denied = "denied",
        Exchanged = "exchanged",
    }
);

/// A resource a PSU authorizes, named by the scope (`AIS:<consentId>`,
/// `PIS:<paymentId>`, `PIIS:<consentId>`, `PIS-CANCEL:<paymentId>`,
/// `SBS:<basketId>`), or only their identity (`openid` alone: a login without consent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopedResource {
    Consent(ConsentId),
    Payment(PaymentId),
    /// A funds-confirmation (PIIS) consent.
    FundsConsent(ConsentId),
    /// The PSU's confirmation that an authorised scheduled payment the TPP
    /// asked to cancel is cancelled.
    PaymentCancellation(PaymentId),
    /// A signing basket: its payments and consents under one SCA (Redirect
    /// approach only; never pushed).
    Basket(BasketId),
    /// OpenID Connect without a PSD2 resource: the PSU signs in and shares
    /// who they are (the ID token's pairwise `sub`), nothing else.
    Identity,
}

/// The OpenID Connect scope value.
pub const OPENID: &str = "openid";

impl ScopedResource {
    pub fn parse(scope: &str) -> Option<Self> {
        if scope == OPENID {
            return Some(ScopedResource::Identity);
        }
        let (kind, id) = scope.split_once(':')?;
        match kind {
            "AIS" => id.parse().ok().map(ScopedResource::Consent),
            "PIS" => id.parse().ok().map(ScopedResource::Payment),
            "PIIS" => id.parse().ok().map(ScopedResource::FundsConsent),
            "PIS-CANCEL" => id.parse().ok().map(ScopedResource::PaymentCancellation),
            "SBS" => id.parse().ok().map(ScopedResource::Basket),
            _ => None,
        }
    }

    pub fn scope(&self) -> String {
        match self {
            ScopedResource::Consent(id) => format!("AIS:{id}"),
            ScopedResource::Payment(id) => format!("PIS:{id}"),
            ScopedResource::FundsConsent(id) => format!("PIIS:{id}"),
            ScopedResource::PaymentCancellation(id) => format!("PIS-CANCEL:{id}"),
            ScopedResource::Basket(id) => format!("SBS:{id}"),
            ScopedResource::Identity => OPENID.to_owned(),
        }
    }
}

text_enum!(
    /// How the authorization response reaches the client: in the query, or
    /// (JARM, FAPI 2.0 Message Signing) as one signed JWT `response`.
    ResponseMode { Query = "query", Jwt = "jwt" }
);

/// An OpenID Connect request (`openid` in the scope): an ID token comes with
/// the tokens, carrying `nonce` when the request sent one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenIdRequest {
    pub nonce: Option<String>,
}

/// What only one SCA approach carries: how the PSU's browser goes back to
/// the TPP and what the TPP proves afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizationFlow {
    /// A pushed request: a code goes back to the registered `redirect_uri`
    /// with `state`, redeemed with the PKCE verifier of `code_challenge`
    /// (S256) and, when `dpop_jkt` is set (RFC 9449 §10), that DPoP key.
    OAuth {
        redirect_uri: RedirectUri,
        state: Option<String>,
        code_challenge: String,
        dpop_jkt: Option<String>,
        /// RFC 9396 authorization details (JSON) the request used instead of a scope.
        authorization_details: Option<String>,
        /// Set when the scope held `openid`.
        openid: Option<OpenIdRequest>,
        response_mode: ResponseMode,
    },
    /// Started by the XS2A initiation; no code is issued. Back to `ok`
    /// (`TPP-Redirect-URI`) on approval, to `nok` (`TPP-Nok-Redirect-URI`),
    /// else `ok`, on refusal.
    Redirect {
        ok: RedirectUri,
        nok: Option<RedirectUri>,
    },
    /// Started for the PSU the TPP named (`PSU-ID`); no browser comes from
    /// the TPP, so there is nowhere to go back to and no code.
    Decoupled,
}

impl AuthorizationFlow {
    pub fn approach(&self) -> ScaApproach {
        match self {
            AuthorizationFlow::OAuth { .. } => ScaApproach::OAuth,
            AuthorizationFlow::Redirect { .. } => ScaApproach::Redirect,
            AuthorizationFlow::Decoupled => ScaApproach::Decoupled,
        }
    }

    /// Where an approval sends the browser back to (none for Decoupled).
    pub fn redirect_uri(&self) -> Option<&RedirectUri> {
        match self {
            AuthorizationFlow::OAuth { redirect_uri, .. } => Some(redirect_uri),
            AuthorizationFlow::Redirect { ok, .. } => Some(ok),
            AuthorizationFlow::Decoupled => None,
        }
    }

    /// Every URI the browser may be sent back to.
    pub fn return_uris(&self) -> impl Iterator<Item = &RedirectUri> {
        let nok = match self {
            AuthorizationFlow::Redirect { nok, .. } => nok.as_ref(),
            AuthorizationFlow::OAuth { .. } | AuthorizationFlow::Decoupled => None,
        };
        self.redirect_uri().into_iter().chain(nok)
    }
}

/// One authorization request and its progress through the bank's pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub id: AuthorizationId,
    pub application_id: ApplicationId,
    pub client_id: String,
    pub flow: AuthorizationFlow,
    pub scope: ScopedResource,
    /// Keyed hash of what opens it in the browser: the request URI (OAuth) or
    /// the `scaRedirect` link's token (Redirect); for Decoupled, of a random
    /// value never handed out (nothing opens it).
    pub request_uri_hash: KeyedHash,
    /// Until when it opens; for Decoupled, until when the PSU may answer.
    pub request_expires_at: OffsetDateTime,
    /// Keyed hash of the browser's session cookie, once it arrived.
    pub session_hash: Option<KeyedHash>,
    pub stage: AuthorizationStage,
    pub psu_id: Option<PsuId>,
    /// When the PSU passed the second factor (the ID token's `auth_time`).
    pub authenticated_at: Option<OffsetDateTime>,
    pub code_hash: Option<KeyedHash>,
    pub code_expires_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub last_activity_at: OffsetDateTime,
}

pub trait AuthorizationRepository: Send + Sync {
    fn insert_authorization(
        &self,
        authorization: Authorization,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Binds a pushed, unexpired OAuth request of `client_id` to a browser session and moves it to
    /// `login`. Once opened it belongs to that browser: until the PSU has logged in,
    /// only the session in `bound` (the one that opened it, reloading) may open it
    /// again, under the new `session_hash`; afterwards it cannot be opened.
    fn open_authorization(
        &self,
        request_uri_hash: &KeyedHash,
        client_id: &str,
        bound: Option<&KeyedHash>,
        session_hash: &KeyedHash,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<Authorization>, StoreError>> + Send;

    /// An application's authorizations of one resource (`AIS:<id>`, `PIS:<id>`), oldest first.
    /// Binds a Redirect-approach authorization, unexpired and never opened, to a
    /// browser session and moves it to `login`: its link works once.
    fn open_redirect_authorization(
        &self,
        link_hash: &KeyedHash,
        session_hash: &KeyedHash,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<Authorization>, StoreError>> + Send;

    /// The Decoupled authorizations awaiting `psu`'s answer at `at` (not yet
    /// decided, unexpired), oldest first, at most `limit`.
    fn pending_decoupled(
        &self,
        psu: PsuId,
        at: OffsetDateTime,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Authorization>, StoreError>> + Send;

    /// A Decoupled authorization awaiting `psu`'s answer, moved from `pushed`
    /// to `login` (`scaStatus` started) as the PSU opens it; None when it is
    /// not theirs, decided or expired.
    fn open_decoupled(
        &self,
        id: AuthorizationId,
        psu: PsuId,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<Authorization>, StoreError>> + Send;

    /// The PSU passed the second factor on a Decoupled authorization awaiting
    /// their answer: `pushed` or `login` → `consent`, unexpired, in one
    /// statement; false when it was not theirs, decided or expired meanwhile.
    fn authenticate_decoupled(
        &self,
        id: AuthorizationId,
        psu: PsuId,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records every Decoupled authorization still undecided at `at` past its
    /// time as denied (its `scaStatus` was already `failed`), so the change
    /// reaches the TPP's notification target; at most `batch` per call.
    fn expire_decoupled(
        &self,
        at: OffsetDateTime,
        batch: u32,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    fn authorizations_for_scope(
        &self,
        application: ApplicationId,
        scope: &str,
    ) -> impl Future<Output = Result<Vec<Authorization>, StoreError>> + Send;

    fn authorization(
        &self,
        id: AuthorizationId,
    ) -> impl Future<Output = Result<Option<Authorization>, StoreError>> + Send;

    fn authorization_by_session(
        &self,
        session_hash: &KeyedHash,
    ) -> impl Future<Output = Result<Option<Authorization>, StoreError>> + Send;

    /// Moves `from` → `to` (setting the PSU when given, and the activity time;
    /// moving to `consent` records the time of authentication); false when
    /// the authorization was no longer at `from`.
    fn advance_authorization(
        &self,
        id: AuthorizationId,
        from: AuthorizationStage,
        to: AuthorizationStage,
        psu: Option<PsuId>,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// `advance_authorization` that also moves the browser to a new session id
    /// (`session_hash`), so a session id known before a privilege change is dead after it.
    fn advance_authorization_session(
        &self,
        id: AuthorizationId,
        from: AuthorizationStage,
        to: AuthorizationStage,
        psu: Option<PsuId>,
        session_hash: &KeyedHash,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// `consent` → `approved` with the code's hash and expiry (OAuth approach only).
    fn approve_authorization(
        &self,
        id: AuthorizationId,
        code_hash: &KeyedHash,
        code_expires_at: OffsetDateTime,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The authorization that issued a code, at whatever stage; nothing changes.
    fn authorization_by_code(
        &self,
        code_hash: &KeyedHash,
    ) -> impl Future<Output = Result<Option<Authorization>, StoreError>> + Send;

    /// Single use: `approved` → `exchanged` if the code is unexpired; false
    /// when it was spent (or expired) meanwhile.
    fn redeem_code(
        &self,
        code_hash: &KeyedHash,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

impl Authorization {
    /// The Berlin Group `scaStatus` at `now`: a Decoupled authorization the
    /// PSU did not answer before it expired has `failed`.
    pub fn sca_status_at(&self, now: OffsetDateTime) -> &'static str {
        if self.lapsed_at(now) {
            return AuthorizationStage::Denied.sca_status();
        }
        self.stage.sca_status()
    }

    /// Whether this is a Decoupled authorization the PSU left unanswered
    /// until it expired: still undecided past its time, or denied by the
    /// sweep that records the expiry (a PSU's own decline is always earlier,
    /// as an expired one can no longer be answered).
    pub fn lapsed_at(&self, now: OffsetDateTime) -> bool {
        if self.flow != AuthorizationFlow::Decoupled {
            return false;
        }
        match self.stage {
            AuthorizationStage::Pushed
            | AuthorizationStage::Login
            | AuthorizationStage::SecondFactor
            | AuthorizationStage::Consent => now >= self.request_expires_at,
            AuthorizationStage::Denied => self.last_activity_at >= self.request_expires_at,
            AuthorizationStage::Approved | AuthorizationStage::Exchanged => false,
        }
    }
}

impl AuthorizationStage {
    /// The Berlin Group `scaStatus` of an authorization at this stage.
    pub fn sca_status(&self) -> &'static str {
        match self {
            AuthorizationStage::Pushed => "received",
            AuthorizationStage::Login => "started",
            AuthorizationStage::SecondFactor => "psuIdentified",
            AuthorizationStage::Consent => "psuAuthenticated",
            AuthorizationStage::Approved | AuthorizationStage::Exchanged => "finalised",
            AuthorizationStage::Denied => "failed",
        }
    }
}

/// A signing key of the authorization server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub kid: String,
    /// `ES256`.
    pub alg: String,
    /// PKCS#8 private key, sealed with the server key.
    pub sealed_key: String,
    /// The public JWK (JSON), as published.
    pub public_jwk: String,
    pub created_at: OffsetDateTime,
    /// Signs from then on (published before).
    pub activates_at: OffsetDateTime,
    /// Signs until then (published a while after).
    pub retires_at: OffsetDateTime,
}

pub trait SigningKeyRepository: Send + Sync {
    fn insert_signing_key(
        &self,
        key: SigningKey,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Keys retiring after `after`, by activation.
    fn signing_keys(
        &self,
        after: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<SigningKey>, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;
    use time::macros::datetime;

    fn authorization(flow: AuthorizationFlow, stage: AuthorizationStage) -> Authorization {
        let at = datetime!(2026-12-05 00:00 UTC);
        Authorization {
            id: AuthorizationId::random(),
            application_id: ApplicationId::random(),
            client_id: "client".into(),
            flow,
            scope: ScopedResource::Identity,
            request_uri_hash: KeyedHash::from_stored("hash".into()),
            request_expires_at: at + Duration::minutes(10),
            session_hash: None,
            stage,
            psu_id: None,
            authenticated_at: None,
            code_hash: None,
            code_expires_at: None,
            created_at: at,
            last_activity_at: at,
        }
    }

    #[test]
    fn an_unanswered_decoupled_authorisation_fails_when_it_expires() {
        let pending = authorization(AuthorizationFlow::Decoupled, AuthorizationStage::Login);
        let expiry = pending.request_expires_at;
        assert_eq!(
            pending.sca_status_at(expiry - Duration::seconds(1)),
            "started"
        );
        assert_eq!(pending.sca_status_at(expiry), "failed");
        let answered = authorization(AuthorizationFlow::Decoupled, AuthorizationStage::Approved);
        assert_eq!(
            answered.sca_status_at(expiry + Duration::days(1)),
            "finalised"
        );
    }

    #[test]
    fn a_redirect_authorisation_keeps_its_stage_after_the_link_expired() {
        let ok = RedirectUri::from_stored("https://acme.example/cb".into());
        let flow = AuthorizationFlow::Redirect { ok, nok: None };
        let opened = authorization(flow, AuthorizationStage::Consent);
        let later = opened.request_expires_at + Duration::minutes(1);
        assert_eq!(opened.sca_status_at(later), "psuAuthenticated");
    }
}
