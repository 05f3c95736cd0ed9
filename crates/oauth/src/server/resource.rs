//! Resource-server access: what a presented access token lets its bearer do
//! (the check every XS2A call makes), live only while the token, its
//! application and its organisation are.

use fintechapi_domain::StoreError;
use fintechapi_domain::consent::{Consent, ConsentStatus};
use fintechapi_domain::ids::{ApplicationId, AuthorizationId, ConsentId, PaymentId};
use fintechapi_domain::oauth::TokenKind;
use fintechapi_domain::registry::{ApiProduct, Plan};
use time::OffsetDateTime;

use super::base::{AsRepo, AuthorizationServer};
use super::scope::{ScopedResource, parse_scope};
use super::tokens::{ACCESS_TOKEN_PREFIX, token_key};

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
    /// The grant an authorization-code token was issued from.
    pub authorization: Option<AuthorizationId>,
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

impl<R: AsRepo> AuthorizationServer<R> {
    /// For resource servers: the grant behind a presented access token, if it
    /// is live and its application and organisation may still act.
    pub async fn access_grant(&self, token: &str) -> Result<Option<AccessGrant>, StoreError> {
        if !token.starts_with(ACCESS_TOKEN_PREFIX) {
            return Ok(None);
        }
        let hash = token_key(&self.pepper, token);
        let load = self.tokens.token_by_hash(&hash);
        let Some(record) = self.registry.cached_token(hash.clone(), load).await? else {
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
            // A PSU's token names its one resource, never products.
            scope_products: match resource {
                Some(_) => Vec::new(),
                None => parse_scope(&record.scope).unwrap_or_default(),
            },
            consent,
            funds_consent,
            payment,
            usable: usable.products,
            assigned_plan: usable.assigned_plan,
            authorization: record.authorization_id,
            dpop_jkt: record.dpop_jkt,
            mtls_x5t: record.mtls_x5t,
        }))
    }
}

impl<R: AsRepo> AuthorizationServer<R> {
    /// A consent for a resource server's read, through the node's cache:
    /// only a valid recurring consent is cached; its dates are the caller's
    /// to check on every use.
    pub async fn consent(&self, id: ConsentId) -> Result<Option<Consent>, StoreError> {
        let load = self.tokens.consent(id);
        self.registry.cached_consent(id, load).await
    }

    /// Moves a consent from one of `from` to `to`, and forgets this node's
    /// cached copy at once (other nodes hear of it from the store). Every
    /// change of a consent's status after its authorisation goes through here.
    pub async fn set_consent_status(
        &self,
        id: ConsentId,
        from: &[ConsentStatus],
        to: ConsentStatus,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let changed = self.tokens.set_consent_status(id, from, to, at).await?;
        if changed {
            self.registry.consent_changed(id);
        }
        Ok(changed)
    }
}
