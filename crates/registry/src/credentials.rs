//! Consumer keys and secrets: issue, rotation with a grace period,
//! revocation, and client authentication by secret.

use fintechapi_domain::StoreError;
use fintechapi_domain::ids::{ApplicationId, CredentialId};
use fintechapi_domain::portal::PortalRepository;
use fintechapi_domain::registry::{
    ApiProduct, Application, Credential, Organisation, Plan, RegistryChange, SecurityProfile,
    Status, SubscriptionStatus,
};
use fintechapi_domain::secret::{Secret, SecretError, random_token};

use crate::cache::{CLIENTS, ClientRecord, STANDINGS, use_is_due};
use crate::{Actor, Registry, RegistryError};

/// A consumer key and its secret, returned exactly once.
#[derive(Debug, Clone)]
pub struct IssuedCredential {
    pub application: ApplicationId,
    pub consumer_key: String,
    /// None for applications that may not authenticate with a secret
    /// (`fapi2`: a private key or a certificate): they are never shown one.
    pub consumer_secret: Option<Secret>,
}

impl IssuedCredential {
    /// The secret to show once, if the application may use one.
    pub fn secret(&self) -> Option<&str> {
        self.consumer_secret.as_ref().map(Secret::expose)
    }
}

/// An application that presented valid credentials.
#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    pub application: Application,
    pub organisation: Organisation,
    pub credential: CredentialId,
    /// The consumer key it authenticated with: its OAuth `client_id`.
    pub consumer_key: String,
    /// Products the client may call, with their plans: approved subscriptions
    /// within the organisation's PSD2 roles.
    pub products: Vec<(ApiProduct, Plan)>,
}

impl AuthenticatedClient {
    pub fn plan_for(&self, product: ApiProduct) -> Option<Plan> {
        self.products
            .iter()
            .find(|(p, _)| *p == product)
            .map(|(_, plan)| *plan)
    }

    /// The highest tier of any product (what the OAuth server throttles by,
    /// unless an operator assigned the application a plan).
    pub fn best_plan(&self) -> Plan {
        self.products
            .iter()
            .map(|(_, plan)| *plan)
            .max()
            .unwrap_or(Plan::Sandbox)
    }
}

/// What an active application may call now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usable {
    /// Approved subscriptions within the organisation's roles, with their tiers.
    pub products: Vec<(ApiProduct, Plan)>,
    /// The plan an operator assigned, overriding the tiers.
    pub assigned_plan: Option<String>,
}

impl<R: PortalRepository> Registry<R> {
    /// A new consumer key. Its secret is shown only to a profile that may use
    /// one; for the others the stored hash is of a secret nobody ever saw.
    pub(crate) fn new_credential(
        &self,
        application: ApplicationId,
        profile: SecurityProfile,
    ) -> Result<(Credential, IssuedCredential), SecretError> {
        let consumer_key = format!("ck_{}", random_token(18)?);
        let secret = Secret::new(format!("cs_{}", random_token(32)?));
        let credential = Credential {
            id: CredentialId::random(),
            application_id: application,
            consumer_key: consumer_key.clone(),
            secret_hash: self.pepper.hash(secret.expose()),
            created_at: self.clock.now(),
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
        };
        Ok((
            credential,
            IssuedCredential {
                application,
                consumer_key,
                consumer_secret: (profile == SecurityProfile::Basic).then_some(secret),
            },
        ))
    }

    /// Issues a new key and secret; the previous ones keep working for the grace period.
    pub async fn rotate_secret(
        &self,
        actor: &Actor,
        application: ApplicationId,
    ) -> Result<IssuedCredential, RegistryError> {
        let app = self
            .repo
            .application(application)
            .await?
            .ok_or(RegistryError::NotFound)?;
        let (credential, issued) = self.new_credential(application, app.security_profile)?;
        let old_until = self.clock.now() + self.rotation_grace;
        self.repo.rotate_credential(credential, old_until).await?;
        self.changed(RegistryChange::Application(application));
        self.audit(
            actor,
            "credential.rotate",
            application.to_string(),
            format!("previous secrets valid until {old_until}"),
        )
        .await?;
        Ok(issued)
    }

    /// Ends a credential at once.
    /// Revokes `credential` of the application `application`; `NotFound`
    /// for one of another application.
    pub async fn revoke_of(
        &self,
        actor: &Actor,
        application: ApplicationId,
        credential: CredentialId,
    ) -> Result<(), RegistryError> {
        let owned = self.repo.credentials_of(application).await?;
        if !owned.iter().any(|c| c.id == credential) {
            return Err(RegistryError::NotFound);
        }
        self.revoke(actor, credential).await
    }

    pub async fn revoke(
        &self,
        actor: &Actor,
        credential: CredentialId,
    ) -> Result<(), RegistryError> {
        self.repo
            .revoke_credential(credential, self.clock.now())
            .await?;
        if let Some(cache) = &self.cache {
            cache.forget_credential(credential);
        }
        self.audit(
            actor,
            "credential.revoke",
            credential.to_string(),
            String::new(),
        )
        .await?;
        Ok(())
    }

    /// The products an application may call now, with their plans; None when
    /// the application or its organisation is not active.
    pub async fn active_products(&self, id: ApplicationId) -> Result<Option<Usable>, StoreError> {
        let load = async {
            // Per request on the token path: one query, not four.
            let standing = self.repo.application_standing(id).await?;
            Ok(Some(standing.map(|standing| {
                Usable {
                    products: standing
                        .approved
                        .into_iter()
                        .filter(|(product, _)| standing.roles.has(product.required_role()))
                        .collect(),
                    assigned_plan: standing.assigned_plan,
                }
            })))
        };
        Ok(self.cached(STANDINGS, id, load).await?.flatten())
    }

    /// Approved subscriptions within the organisation's PSD2 roles.
    pub(crate) async fn usable_products(
        &self,
        organisation: &Organisation,
        application: ApplicationId,
    ) -> Result<Vec<(ApiProduct, Plan)>, StoreError> {
        Ok(self
            .repo
            .subscriptions_of(application)
            .await?
            .into_iter()
            .filter(|s| {
                s.status == SubscriptionStatus::Approved
                    && organisation.roles.has(s.product.required_role())
            })
            .map(|s| (s.product, s.plan))
            .collect())
    }

    /// Checks a consumer key and secret (constant time). None for anything that
    /// does not authenticate: unknown key, wrong, expired or revoked secret,
    /// suspended application or organisation.
    pub async fn authenticate(
        &self,
        consumer_key: &str,
        secret: &str,
    ) -> Result<Option<AuthenticatedClient>, StoreError> {
        let Some(record) = self.client_record(consumer_key).await? else {
            // Same work as a known key, so timing does not tell keys apart.
            let _ = self.pepper.verify(secret, &self.pepper.hash("unknown"));
            return Ok(None);
        };
        if !self.pepper.verify(secret, &record.credential.secret_hash) {
            return Ok(None);
        }
        self.client_of(record).await
    }

    /// The client behind a consumer key, for callers that authenticated it
    /// another way (a client assertion signed with its registered key).
    pub async fn identify(
        &self,
        consumer_key: &str,
    ) -> Result<Option<AuthenticatedClient>, StoreError> {
        match self.client_record(consumer_key).await? {
            Some(record) => self.client_of(record).await,
            None => Ok(None),
        }
    }

    /// A consumer key's credential with its application, organisation and
    /// products, from the cache or the store; None for an unknown key.
    async fn client_record(&self, consumer_key: &str) -> Result<Option<ClientRecord>, StoreError> {
        let load = async {
            let Some(credential) = self.repo.credential_by_key(consumer_key).await? else {
                return Ok(None);
            };
            let Some(application) = self.repo.application(credential.application_id).await? else {
                return Ok(None);
            };
            let Some(organisation) = self.repo.organisation(application.organisation_id).await?
            else {
                return Ok(None);
            };
            let products = self.usable_products(&organisation, application.id).await?;
            Ok(Some(ClientRecord {
                credential,
                application,
                organisation,
                products,
            }))
        };
        self.cached(CLIENTS, consumer_key.to_owned(), load).await
    }

    /// A usable credential's client, if its application and organisation are
    /// active now: checked on every use, cached or not.
    async fn client_of(
        &self,
        record: ClientRecord,
    ) -> Result<Option<AuthenticatedClient>, StoreError> {
        let now = self.clock.now();
        let ClientRecord {
            credential,
            application,
            organisation,
            products,
        } = record;
        if !credential.is_usable_at(now)
            || application.status != Status::Active
            || organisation.status != Status::Active
        {
            return Ok(None);
        }
        let due = match &self.cache {
            Some(cache) => cache.claim_use(&credential, now),
            None => use_is_due(credential.last_used_at, now),
        };
        if due {
            self.repo.touch_credential(credential.id, now).await?;
        }
        Ok(Some(AuthenticatedClient {
            application,
            organisation,
            credential: credential.id,
            consumer_key: credential.consumer_key,
            products,
        }))
    }
}
