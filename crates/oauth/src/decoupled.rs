//! The Berlin Group Decoupled SCA approach at the bank: the XS2A initiation
//! (or an explicit start) of a consent or payment starts an authorisation
//! for the PSU the TPP named with `PSU-ID`; the PSU finds it among the
//! pending approvals of online banking (the bank's app, `fintechapi-bank`)
//! and approves or declines it there with a fresh second factor, while the
//! TPP polls its `scaStatus`. No browser comes from the TPP: there is no
//! link, no redirect URI and no code.
//!
//! An unknown `PSU-ID` gets the same answer as a known one and an
//! authorisation that nobody will ever see, so the TPP learns nothing about
//! who banks here.

use fintechapi_domain::ids::{ApplicationId, AuthorizationId, PsuId};
use fintechapi_domain::oauth::AuthorizationFlow;
use fintechapi_domain::secret::random_token;
use fintechapi_domain::store::StoreError;
use time::Duration;

use crate::redirect::StartError;
use crate::server::{AsRepo, AuthorizationServer, ScopedResource, pushed};

/// How long the PSU has to answer in online banking; unanswered, the
/// authorisation's `scaStatus` becomes `failed`. Long enough to open online
/// banking and sign in with both factors, short enough that a forgotten
/// request does not wait for an approval given by mistake days later.
pub const DECOUPLED_TTL: Duration = Duration::minutes(10);

impl<R: AsRepo> AuthorizationServer<R> {
    /// Starts a Decoupled authorisation of `resource` for an application
    /// (`client_id`: the consumer key its token was issued to), awaiting the
    /// answer of `psu` (None: a `PSU-ID` naming nobody, which nobody answers).
    pub async fn start_decoupled(
        &self,
        application: ApplicationId,
        client_id: &str,
        resource: ScopedResource,
        psu: Option<PsuId>,
    ) -> Result<AuthorizationId, StartError> {
        // Nothing opens it, but the column is unique and never empty.
        let unused = random_token(32).map_err(|e| {
            tracing::error!(error = %e, "no randomness for an authorisation");
            StartError::Randomness
        })?;
        let now = self.now();
        let mut authorization = pushed(
            application,
            client_id.to_owned(),
            AuthorizationFlow::Decoupled,
            resource,
            self.pepper().hash(&unused),
            now + DECOUPLED_TTL,
            now,
        );
        authorization.psu_id = psu;
        let id = authorization.id;
        self.repo().insert_authorization(authorization).await?;
        Ok(id)
    }

    /// Records the Decoupled authorisations that lapsed unanswered, so each
    /// one's `failed` reaches the TPP's notification target as it happens
    /// (their `scaStatus` already read `failed`). Run with the settlement loop.
    pub async fn expire_decoupled(&self) -> Result<u64, StoreError> {
        let mut expired = 0;
        loop {
            let batch = self
                .repo()
                .expire_decoupled(self.now(), EXPIRY_BATCH)
                .await?;
            expired += batch;
            if batch < u64::from(EXPIRY_BATCH) {
                return Ok(expired);
            }
        }
    }
}

/// Rows per statement of the expiry sweep: a backlog never holds a write lock long.
const EXPIRY_BATCH: u32 = 500;
