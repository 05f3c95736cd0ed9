//! The Berlin Group Redirect SCA approach at the bank, beside the OAuth one:
//! the XS2A initiation of a consent or payment starts an authorisation of it
//! and hands the TPP a one-time `scaRedirect` link; the link binds the PSU's
//! browser to that authorisation, and the bank's own pages (login, second
//! factor, consent or payment screen) take over unchanged. The PSU's decision
//! sends the browser to `TPP-Redirect-URI` (a refusal to
//! `TPP-Nok-Redirect-URI` when given) without a code: the TPP learns the
//! outcome from the resource's status.
//!
//! Only URIs registered for the application are redirected to (exact match),
//! and the link's token is stored as a keyed hash only. This module starts
//! the authorisation and issues the link; the page behind the link is the
//! bank's (`fintechapi-bank`).

use fintechapi_domain::StoreError;
use fintechapi_domain::ids::{ApplicationId, AuthorizationId};
use fintechapi_domain::oauth::AuthorizationFlow;
use fintechapi_domain::registry::{Application, RedirectUri};
use fintechapi_domain::secret::random_token;
use time::Duration;

use crate::server::{AsRepo, AuthorizationServer, ScopedResource, pushed};

/// How long the `scaRedirect` link opens: the TPP sends the PSU there with
/// the initiation's answer, so no longer than an idle session lives.
const LINK_TTL: Duration = Duration::minutes(5);

/// Where the bank's page for a Redirect authorisation lives.
pub const LINK_PATH: &str = "/bank/redirect";

/// Where the PSU returns after a Redirect authorisation: URIs registered for
/// the application, as the TPP named them at initiation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectTarget {
    ok: RedirectUri,
    nok: Option<RedirectUri>,
}

/// A TPP URI that is not one of the application's registered redirect URIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnregisteredUri {
    #[error(
        "TPP-Redirect-URI is not a valid redirect URI registered for this application (exact match)"
    )]
    Ok,
    #[error(
        "TPP-Nok-Redirect-URI is not a valid redirect URI registered for this application (exact \
         match)"
    )]
    Nok,
}

impl RedirectTarget {
    /// Never an open redirect: both URIs must be registered, character for character.
    pub fn registered(
        application: &Application,
        ok: &str,
        nok: Option<&str>,
    ) -> Result<Self, UnregisteredUri> {
        // Registered, and still valid by today's rules (older registrations were
        // checked less strictly), since the URI goes into `Location` as given.
        let known = |uri: &str| {
            application
                .redirect_uris
                .iter()
                .find(|r| r.as_str() == uri)
                .filter(|_| RedirectUri::parse(uri, application.environment).is_ok())
                .cloned()
        };
        let ok = known(ok).ok_or(UnregisteredUri::Ok)?;
        let nok = match nok {
            Some(nok) => Some(known(nok).ok_or(UnregisteredUri::Nok)?),
            None => None,
        };
        Ok(Self { ok, nok })
    }
}

/// A Redirect authorisation just started: the authorisation sub-resource's
/// id, and the link (`_links.scaRedirect`) that opens it once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectStart {
    pub authorisation: AuthorizationId,
    pub link: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no randomness for a redirect link")]
    Randomness,
}

impl<R: AsRepo> AuthorizationServer<R> {
    /// Starts a Redirect authorisation of `resource` for an application
    /// (`client_id`: the consumer key its token was issued to).
    pub async fn start_redirect(
        &self,
        application: ApplicationId,
        client_id: &str,
        resource: ScopedResource,
        target: RedirectTarget,
    ) -> Result<RedirectStart, StartError> {
        let token = random_token(32).map_err(|e| {
            tracing::error!(error = %e, "no randomness for a redirect link");
            StartError::Randomness
        })?;
        let now = self.now();
        let flow = AuthorizationFlow::Redirect {
            ok: target.ok,
            nok: target.nok,
        };
        let authorization = pushed(
            application,
            client_id.to_owned(),
            flow,
            resource,
            self.pepper().hash(&token),
            now + LINK_TTL,
            now,
        );
        let id = authorization.id;
        self.repo().insert_authorization(authorization).await?;
        Ok(RedirectStart {
            authorisation: id,
            link: format!("{}{LINK_PATH}?token={token}", self.settings().issuer),
        })
    }
}
