//! Applications: registration with their first credential, plans and status.

use fintechapi_domain::StoreError;
use fintechapi_domain::dn::Dn;
use fintechapi_domain::ids::{ApplicationId, SubscriptionId};
use fintechapi_domain::portal::PortalRepository;
use fintechapi_domain::registry::{
    ApiProduct, Application, Credential, Environment, JwksUri, Organisation, Plan, RedirectUri,
    RegistryChange, SecurityProfile, Status, Subscription, SubscriptionStatus,
};

use crate::validation::FieldErrors;
use crate::{Actor, IssuedCredential, Registry, RegistryError, check_public_jwks};

const MAX_REDIRECT_URIS: usize = 10;

/// A subscription on the environment's plan; an approved one is decided at once.
pub(crate) fn new_subscription(
    application: &Application,
    product: ApiProduct,
    approved: bool,
    now: time::OffsetDateTime,
) -> Subscription {
    Subscription {
        id: SubscriptionId::random(),
        application_id: application.id,
        product,
        plan: match application.environment {
            Environment::Sandbox => Plan::Sandbox,
            Environment::Production => Plan::Standard,
        },
        status: if approved {
            SubscriptionStatus::Approved
        } else {
            SubscriptionStatus::Pending
        },
        reason: None,
        created_at: now,
        decided_at: approved.then_some(now),
    }
}

/// A product is usable only within the organisation's PSD2 roles.
pub(crate) fn check_roles(
    errors: &mut FieldErrors,
    field: &'static str,
    organisation: &Organisation,
    products: &[ApiProduct],
) {
    for product in products {
        if !organisation.roles.has(product.required_role()) {
            errors.add(
                field,
                format!(
                    "{} needs the {} role, which the organisation does not hold",
                    product.title(),
                    product.required_role()
                ),
            );
        }
    }
}

/// What a developer submits to register an application.
#[derive(Debug, Clone)]
pub struct NewApplication {
    pub name: String,
    pub description: String,
    /// One URI per entry, as typed.
    pub redirect_uris: Vec<String>,
    pub security_profile: SecurityProfile,
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
    pub tls_subject_dn: Option<String>,
    /// Pushed requests only as request objects signed with the JWKS's keys.
    pub require_signed_request_object: bool,
    pub environment: Environment,
    pub products: Vec<ApiProduct>,
}

impl<R: PortalRepository> Registry<R> {
    /// Validates and registers an application with its subscriptions and first
    /// credential, atomically. Sandbox subscriptions are approved at once;
    /// production ones wait for an administrator unless `approve` is set.
    pub async fn create_application(
        &self,
        actor: &Actor,
        organisation: &Organisation,
        input: NewApplication,
        approve: bool,
    ) -> Result<(Application, IssuedCredential), RegistryError> {
        let mut errors = FieldErrors::new();
        let name = errors.text("name", &input.name, 100);
        let description = input.description.trim().to_owned();
        if description.chars().count() > 1000 {
            errors.add("description", "must be at most 1000 characters");
        }
        let mut redirect_uris = Vec::new();
        let typed: Vec<&str> = input
            .redirect_uris
            .iter()
            .map(|u| u.trim())
            .filter(|u| !u.is_empty())
            .collect();
        if typed.is_empty() {
            errors.add("redirect_uris", "at least one redirect URI is required");
        } else if typed.len() > MAX_REDIRECT_URIS {
            errors.add(
                "redirect_uris",
                format!("at most {MAX_REDIRECT_URIS} redirect URIs"),
            );
        }
        // Past the limit the list is refused anyway; parse no more of it.
        for uri in typed.into_iter().take(MAX_REDIRECT_URIS) {
            match RedirectUri::parse(uri, input.environment) {
                Ok(u) if !redirect_uris.contains(&u) => redirect_uris.push(u),
                Ok(_) => {}
                Err(e) => errors.add("redirect_uris", format!("{uri}: {e}")),
            }
        }
        let clean = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        let (jwks, jwks_uri, tls_subject_dn) = (
            clean(input.jwks),
            clean(input.jwks_uri),
            clean(input.tls_subject_dn),
        );
        if input.security_profile == SecurityProfile::Fapi2
            && jwks.is_none()
            && jwks_uri.is_none()
            && tls_subject_dn.is_none()
        {
            errors.add(
                "security_profile",
                "fapi2 needs a JWKS, a JWKS URI or a certificate subject DN",
            );
        }
        // RFC 7591 §2: one or the other, so there is one source of the keys.
        if jwks.is_some() && jwks_uri.is_some() {
            errors.add(
                "jwks",
                "must not be given together with a JWKS URI; choose one",
            );
        }
        let jwks_uri = match jwks_uri.as_deref().map(JwksUri::parse) {
            Some(Ok(uri)) => Some(uri.as_str().to_owned()),
            Some(Err(e)) => {
                errors.add("jwks_uri", e.to_string());
                None
            }
            None => None,
        };
        if let Some(text) = &jwks {
            if text.len() > 20_000 {
                errors.add("jwks", "must be at most 20000 characters");
            } else if let Err(problem) = check_public_jwks(text) {
                errors.add("jwks", problem.to_string());
            }
        }
        if input.require_signed_request_object && jwks.is_none() && jwks_uri.is_none() {
            errors.add(
                "require_signed_request_object",
                "needs a JWKS or a JWKS URI: request objects are checked with the client's keys",
            );
        }
        if let Some(Err(e)) = tls_subject_dn.as_deref().map(Dn::parse) {
            errors.add("tls_subject_dn", format!("is not an RFC 4514 DN: {e}"));
        }
        if input.products.is_empty() {
            errors.add("products", "select at least one API product");
        }
        check_roles(&mut errors, "products", organisation, &input.products);
        errors.into_result()?;

        let now = self.clock.now();
        let application = Application {
            id: ApplicationId::random(),
            organisation_id: organisation.id,
            name,
            description,
            redirect_uris,
            security_profile: input.security_profile,
            jwks,
            jwks_uri,
            tls_subject_dn,
            environment: input.environment,
            status: Status::Active,
            created_at: now,
            assigned_plan: None,
            require_signed_request_object: input.require_signed_request_object,
        };
        let approved = approve || input.environment == Environment::Sandbox;
        let mut products = input.products.clone();
        products.sort_by_key(|p| p.as_str());
        products.dedup();
        let subscriptions = products
            .iter()
            .map(|product| new_subscription(&application, *product, approved, now))
            .collect();
        let (credential, issued) =
            self.new_credential(application.id, application.security_profile)?;
        self.repo
            .create_application(application.clone(), subscriptions, credential)
            .await?;
        self.changed(RegistryChange::Application(application.id));
        self.audit(
            actor,
            "application.create",
            application.id.to_string(),
            format!("{} ({})", application.name, application.environment),
        )
        .await?;
        Ok((application, issued))
    }

    /// Assigns a plan (by its configured name) to every call of the
    /// application, or goes back to its subscriptions' tiers with None.
    pub async fn set_application_plan(
        &self,
        actor: &Actor,
        application: ApplicationId,
        plan: Option<&str>,
    ) -> Result<(), RegistryError> {
        if let Some(name) = plan
            && !fintechapi_domain::plan::is_plan_name(name)
        {
            let mut errors = FieldErrors::new();
            errors.add("plan", "is not a plan name");
            errors.into_result()?;
        }
        let current = self
            .repo
            .application(application)
            .await?
            .ok_or(RegistryError::NotFound)?;
        self.repo.set_application_plan(application, plan).await?;
        self.changed(RegistryChange::Application(application));
        self.audit(
            actor,
            "application.plan",
            application.to_string(),
            format!(
                "{} -> {}",
                current
                    .assigned_plan
                    .as_deref()
                    .unwrap_or("(subscriptions)"),
                plan.unwrap_or("(subscriptions)")
            ),
        )
        .await?;
        Ok(())
    }

    pub async fn set_application_status(
        &self,
        actor: &Actor,
        application: ApplicationId,
        status: Status,
    ) -> Result<(), RegistryError> {
        self.repo
            .application(application)
            .await?
            .ok_or(RegistryError::NotFound)?;
        self.repo
            .set_application_status(application, status)
            .await?;
        self.changed(RegistryChange::Application(application));
        self.audit(
            actor,
            &format!(
                "application.{}",
                if status == Status::Active {
                    "unsuspend"
                } else {
                    "suspend"
                }
            ),
            application.to_string(),
            String::new(),
        )
        .await?;
        Ok(())
    }

    /// What an application's page shows besides the application: its
    /// subscriptions and its credentials.
    pub async fn application_details(
        &self,
        application: ApplicationId,
    ) -> Result<(Vec<Subscription>, Vec<Credential>), StoreError> {
        let subscriptions = self.repo.subscriptions_of(application).await?;
        let credentials = self.repo.credentials_of(application).await?;
        Ok((subscriptions, credentials))
    }
}
