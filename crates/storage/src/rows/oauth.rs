//! Authorization server rows: tokens and authorizations.

use fintechapi_domain::StoreError;
use fintechapi_domain::ids::ApplicationId;
use fintechapi_domain::ids::AuthorizationId;
use fintechapi_domain::ids::PsuId;
use fintechapi_domain::oauth::{
    Authorization, AuthorizationFlow, OpenIdRequest, ResponseMode, ScaApproach, ScopedResource,
    TokenRecord,
};
use fintechapi_domain::registry::RedirectUri;
use fintechapi_domain::secret::KeyedHash;
use time::OffsetDateTime;

#[derive(sqlx::FromRow)]
pub(crate) struct TokenRow {
    token_hash: String,
    kind: String,
    application_id: ApplicationId,
    client_id: String,
    scope: String,
    authorization_id: Option<AuthorizationId>,
    authorization_details: Option<String>,
    dpop_jkt: Option<String>,
    mtls_x5t: Option<String>,
    issued_at: OffsetDateTime,
    expires_at: OffsetDateTime,
    revoked_at: Option<OffsetDateTime>,
}

impl TryFrom<TokenRow> for TokenRecord {
    type Error = StoreError;
    fn try_from(r: TokenRow) -> Result<Self, StoreError> {
        Ok(TokenRecord {
            hash: KeyedHash::from_stored(r.token_hash),
            kind: r.kind.parse()?,
            application_id: r.application_id,
            client_id: r.client_id,
            scope: r.scope,
            authorization_id: r.authorization_id,
            authorization_details: r.authorization_details,
            dpop_jkt: r.dpop_jkt,
            mtls_x5t: r.mtls_x5t,
            issued_at: r.issued_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuthorizationRow {
    id: AuthorizationId,
    application_id: ApplicationId,
    client_id: String,
    redirect_uri: String,
    scope: String,
    authorization_details: Option<String>,
    state: Option<String>,
    code_challenge: String,
    dpop_jkt: Option<String>,
    request_uri_hash: String,
    request_expires_at: OffsetDateTime,
    session_hash: Option<String>,
    stage: String,
    psu_id: Option<PsuId>,
    code_hash: Option<String>,
    code_expires_at: Option<OffsetDateTime>,
    created_at: OffsetDateTime,
    last_activity_at: OffsetDateTime,
    approach: String,
    nok_redirect_uri: Option<String>,
    openid: bool,
    nonce: Option<String>,
    response_mode: String,
    authenticated_at: Option<OffsetDateTime>,
}

impl TryFrom<AuthorizationRow> for Authorization {
    type Error = StoreError;
    fn try_from(r: AuthorizationRow) -> Result<Self, StoreError> {
        // Both approaches share the columns: the approach says which ones hold what.
        let redirect_uri = RedirectUri::from_stored(r.redirect_uri);
        let flow = match r.approach.parse()? {
            ScaApproach::OAuth => AuthorizationFlow::OAuth {
                redirect_uri,
                state: r.state,
                code_challenge: r.code_challenge,
                dpop_jkt: r.dpop_jkt,
                authorization_details: r.authorization_details,
                openid: r.openid.then_some(OpenIdRequest { nonce: r.nonce }),
                response_mode: r.response_mode.parse()?,
            },
            ScaApproach::Redirect => AuthorizationFlow::Redirect {
                ok: redirect_uri,
                nok: r.nok_redirect_uri.map(RedirectUri::from_stored),
            },
            ScaApproach::Decoupled => AuthorizationFlow::Decoupled,
        };
        Ok(Authorization {
            id: r.id,
            application_id: r.application_id,
            client_id: r.client_id,
            flow,
            scope: ScopedResource::parse(&r.scope).ok_or_else(|| {
                StoreError::corrupt(format!("stored scope {:?} does not parse", r.scope))
            })?,
            request_uri_hash: KeyedHash::from_stored(r.request_uri_hash),
            request_expires_at: r.request_expires_at,
            session_hash: r.session_hash.map(KeyedHash::from_stored),
            stage: r.stage.parse()?,
            psu_id: r.psu_id,
            authenticated_at: r.authenticated_at,
            code_hash: r.code_hash.map(KeyedHash::from_stored),
            code_expires_at: r.code_expires_at,
            created_at: r.created_at,
            last_activity_at: r.last_activity_at,
        })
    }
}

/// The columns of an authorization's flow, as stored: the Redirect approach
/// keeps its NOK URI and no PKCE challenge (empty), state, DPoP key,
/// authorization details or OpenID Connect request; the Decoupled approach
/// no redirect URI either (empty).
pub(crate) struct FlowColumns<'a> {
    pub redirect_uri: &'a str,
    pub nok_redirect_uri: Option<&'a str>,
    pub state: Option<&'a str>,
    pub code_challenge: &'a str,
    pub dpop_jkt: Option<&'a str>,
    pub authorization_details: Option<&'a str>,
    pub approach: ScaApproach,
    pub openid: bool,
    pub nonce: Option<&'a str>,
    pub response_mode: ResponseMode,
}

impl<'a> From<&'a AuthorizationFlow> for FlowColumns<'a> {
    fn from(flow: &'a AuthorizationFlow) -> Self {
        match flow {
            AuthorizationFlow::OAuth {
                redirect_uri,
                state,
                code_challenge,
                dpop_jkt,
                authorization_details,
                openid,
                response_mode,
            } => FlowColumns {
                redirect_uri: redirect_uri.as_str(),
                nok_redirect_uri: None,
                state: state.as_deref(),
                code_challenge,
                dpop_jkt: dpop_jkt.as_deref(),
                authorization_details: authorization_details.as_deref(),
                approach: ScaApproach::OAuth,
                openid: openid.is_some(),
                nonce: openid.as_ref().and_then(|o| o.nonce.as_deref()),
                response_mode: *response_mode,
            },
            AuthorizationFlow::Redirect { ok, nok } => FlowColumns {
                redirect_uri: ok.as_str(),
                nok_redirect_uri: nok.as_ref().map(RedirectUri::as_str),
                state: None,
                code_challenge: "",
                dpop_jkt: None,
                authorization_details: None,
                approach: ScaApproach::Redirect,
                openid: false,
                nonce: None,
                response_mode: ResponseMode::Query,
            },
            AuthorizationFlow::Decoupled => FlowColumns {
                redirect_uri: "",
                nok_redirect_uri: None,
                state: None,
                code_challenge: "",
                dpop_jkt: None,
                authorization_details: None,
                approach: ScaApproach::Decoupled,
                openid: false,
                nonce: None,
                response_mode: ResponseMode::Query,
            },
        }
    }
}
