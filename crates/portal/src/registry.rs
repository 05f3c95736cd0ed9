//! Organisations, applications, subscriptions and their credentials.

use std::sync::Arc;

use fintechapi_domain::Clock;
use fintechapi_domain::StoreError;
use fintechapi_domain::dn::Dn;
use fintechapi_domain::ids::{ApplicationId, CredentialId, OrganisationId, SubscriptionId, UserId};
use fintechapi_domain::portal::{AuditEntry, PortalError, PortalRepository};
use fintechapi_domain::registry::{
    ApiProduct, Application, Credential, Environment, JwksUri, Organisation, Plan, Psd2Roles,
    RedirectUri, SecurityProfile, Status, Subscription, SubscriptionStatus,
};
use fintechapi_domain::secret::{Pepper, Secret, SecretError, random_token};
use time::Duration;

use crate::validation::FieldErrors;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("invalid input: {0}")]
    Invalid(#[from] FieldErrors),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<PortalError> for RegistryError {
    fn from(e: PortalError) -> Self {
        let field = |f: &'static str, m: &str| {
            let mut errors = FieldErrors::new();
            errors.add(f, m);
            RegistryError::Invalid(errors)
        };
        match e {
            PortalError::OrganisationNameTaken => field("legal_name", "is already registered"),
            PortalError::ApplicationNameTaken => field(
                "name",
                "is already used by another application of this organisation",
            ),
            PortalError::AlreadySubscribed => field("product", "is already subscribed"),
            PortalError::EmailTaken => field("email", "is already registered"),
            PortalError::NotFound => RegistryError::NotFound,
            PortalError::Store(e) => RegistryError::Store(e),
        }
    }
}

/// Why a JWKS document is not accepted as a client's keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksProblem {
    #[error("must be a JSON Web Key Set document")]
    NotJwks,
    #[error("must hold a non-empty \"keys\" array")]
    NoKeys,
    #[error("every key needs a kty")]
    NoKty,
    #[error("must hold public keys only; never register a private key")]
    PrivateKey,
    #[error("RSA keys must have at least 2048 bits")]
    WeakRsa,
    #[error("EC keys must use P-256, P-384 or P-521")]
    Curve,
    /// FAPI 2.0 §5.4: a `kid` names one key.
    #[error("holds the kid {0:?} more than once; every key needs its own kid")]
    DuplicateKid(String),
    #[error("holds more than {MAX_JWKS_KEYS} keys")]
    TooManyKeys,
}

/// A client rotates a key or two at a time; a JWK Set needs no more than this.
pub const MAX_JWKS_KEYS: usize = 20;

/// A JWKS document of public keys only: `{"keys": [{…}, …]}`, no private
/// members, no `kid` twice. Used for registered documents and for documents
/// fetched from a client's `jwks_uri`.
pub fn check_public_jwks(text: &str) -> Result<(), JwksProblem> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|_| JwksProblem::NotJwks)?;
    let keys = doc["keys"]
        .as_array()
        .filter(|k| !k.is_empty())
        .ok_or(JwksProblem::NoKeys)?;
    if keys.len() > MAX_JWKS_KEYS {
        return Err(JwksProblem::TooManyKeys);
    }
    let mut kids = std::collections::HashSet::new();
    for key in keys {
        if !key["kty"].is_string() {
            return Err(JwksProblem::NoKty);
        }
        // Private members of EC, OKP and RSA keys.
        if ["d", "p", "q", "dp", "dq", "qi"]
            .iter()
            .any(|m| key.get(m).is_some())
        {
            return Err(JwksProblem::PrivateKey);
        }
        // FAPI 2.0 §5.4: RSA keys of 2048 bits or more (342 base64url characters).
        if key["kty"] == "RSA" && key["n"].as_str().is_none_or(|n| n.len() < 342) {
            return Err(JwksProblem::WeakRsa);
        }
        if key["kty"] == "EC" && !matches!(key["crv"].as_str(), Some("P-256" | "P-384" | "P-521")) {
            return Err(JwksProblem::Curve);
        }
        if let Some(kid) = key["kid"].as_str()
            && !kids.insert(kid)
        {
            return Err(JwksProblem::DuplicateKid(kid.to_owned()));
        }
    }
    Ok(())
}

/// A subscription on the environment's plan; an approved one is decided at once.
fn new_subscription(
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
fn check_roles(
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

/// What a developer (or an operator) submits to register an organisation.
#[derive(Debug, Clone, Default)]
pub struct NewOrganisation {
    pub legal_name: String,
    pub country: String,
    pub roles: Psd2Roles,
    pub competent_authority: String,
    pub authorisation_number: String,
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
    pub environment: Environment,
    pub products: Vec<ApiProduct>,
}

/// A consumer key and its secret, returned exactly once.
#[derive(Debug, Clone)]
pub struct IssuedCredential {
    pub application: ApplicationId,
    pub consumer_key: String,
    pub consumer_secret: Secret,
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

/// Who asks for a change, for the audit trail.
#[derive(Debug, Clone)]
pub struct Actor(pub String);

pub struct Registry<R> {
    repo: R,
    pepper: Pepper,
    clock: Arc<dyn Clock>,
    /// How long a rotated secret keeps working.
    rotation_grace: Duration,
}

const MAX_REDIRECT_URIS: usize = 10;
/// How fresh "last used" must be: a write per token request would put the
/// credentials table on the hot path for a figure shown to the minute.
const LAST_USE_GRANULARITY: Duration = Duration::minutes(1);

impl<R: PortalRepository> Registry<R> {
    pub fn new(repo: R, pepper: Pepper, clock: Arc<dyn Clock>, rotation_grace: Duration) -> Self {
        Self {
            repo,
            pepper,
            clock,
            rotation_grace,
        }
    }

    pub fn repo(&self) -> &R {
        &self.repo
    }

    async fn audit(
        &self,
        actor: &Actor,
        action: &str,
        target: String,
        detail: String,
    ) -> Result<(), StoreError> {
        self.repo
            .record_audit(AuditEntry {
                at: self.clock.now(),
                actor: actor.0.clone(),
                action: action.to_owned(),
                target,
                detail,
            })
            .await
    }

    pub async fn create_organisation(
        &self,
        actor: &Actor,
        owner: Option<UserId>,
        input: NewOrganisation,
    ) -> Result<Organisation, RegistryError> {
        let mut errors = FieldErrors::new();
        let legal_name = errors.text("legal_name", &input.legal_name, 200);
        let country = input.country.trim().to_uppercase();
        if country.len() != 2 || !country.chars().all(|c| c.is_ascii_uppercase()) {
            errors.add("country", "must be a two-letter ISO 3166 country code");
        }
        if input.roles.is_empty() {
            errors.add("roles", "select at least one PSD2 role");
        }
        let competent_authority =
            errors.text("competent_authority", &input.competent_authority, 200);
        let authorisation_number =
            errors.text("authorisation_number", &input.authorisation_number, 100);
        errors.into_result()?;
        let organisation = Organisation {
            id: OrganisationId::random(),
            legal_name,
            country,
            roles: input.roles,
            competent_authority,
            authorisation_number,
            status: Status::Active,
            created_at: self.clock.now(),
        };
        self.repo
            .create_organisation(organisation.clone(), owner)
            .await?;
        self.audit(
            actor,
            "organisation.create",
            organisation.id.to_string(),
            organisation.legal_name.clone(),
        )
        .await?;
        Ok(organisation)
    }

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
        };
        let approved = approve || input.environment == Environment::Sandbox;
        let mut products = input.products.clone();
        products.sort_by_key(|p| p.as_str());
        products.dedup();
        let subscriptions = products
            .iter()
            .map(|product| new_subscription(&application, *product, approved, now))
            .collect();
        let (credential, issued) = self.new_credential(application.id)?;
        self.repo
            .create_application(application.clone(), subscriptions, credential)
            .await?;
        self.audit(
            actor,
            "application.create",
            application.id.to_string(),
            format!("{} ({})", application.name, application.environment),
        )
        .await?;
        Ok((application, issued))
    }

    fn new_credential(
        &self,
        application: ApplicationId,
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
                consumer_secret: secret,
            },
        ))
    }

    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }

    /// A developer subscribes an application to one more product: approved at
    /// once in the sandbox, pending an administrator's decision in production.
    pub async fn subscribe(
        &self,
        actor: &Actor,
        organisation: &Organisation,
        application: &Application,
        product: ApiProduct,
    ) -> Result<(), RegistryError> {
        let mut errors = FieldErrors::new();
        check_roles(&mut errors, "product", organisation, &[product]);
        errors.into_result()?;
        let now = self.clock.now();
        let sandbox = application.environment == Environment::Sandbox;
        self.repo
            .add_subscription(new_subscription(application, product, sandbox, now))
            .await?;
        self.audit(
            actor,
            "subscription.request",
            application.id.to_string(),
            product.as_str().to_owned(),
        )
        .await?;
        Ok(())
    }

    /// Subscribes `application` to `products` with approved subscriptions,
    /// approving pending ones (an operator's decision).
    pub async fn approve_products(
        &self,
        actor: &Actor,
        organisation: &Organisation,
        application: &Application,
        products: &[ApiProduct],
    ) -> Result<(), RegistryError> {
        let mut errors = FieldErrors::new();
        check_roles(&mut errors, "products", organisation, products);
        errors.into_result()?;
        let now = self.clock.now();
        let current = self.repo.subscriptions_of(application.id).await?;
        for product in products {
            match current.iter().find(|s| s.product == *product) {
                Some(s) if s.status == SubscriptionStatus::Approved => continue,
                Some(s) => {
                    self.repo
                        .decide_subscription(s.id, SubscriptionStatus::Approved, None, now)
                        .await?;
                }
                None => {
                    self.repo
                        .add_subscription(new_subscription(application, *product, true, now))
                        .await?;
                }
            }
            self.audit(
                actor,
                "subscription.approve",
                application.id.to_string(),
                product.as_str().to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    /// An administrator approves or rejects a pending subscription; the
    /// organisation's members are told by mail and see it on the application page.
    pub async fn decide(
        &self,
        actor: &Actor,
        subscription: SubscriptionId,
        approve: bool,
        reason: &str,
        public_url: &str,
    ) -> Result<(), RegistryError> {
        let reason = reason.trim();
        if !approve && (reason.is_empty() || reason.chars().count() > 1000) {
            let mut errors = FieldErrors::new();
            errors.add(
                "reason",
                "a rejection needs a reason of at most 1000 characters",
            );
            return Err(errors.into());
        }
        let sub = self
            .repo
            .subscription(subscription)
            .await?
            .ok_or(RegistryError::NotFound)?;
        if sub.status != SubscriptionStatus::Pending {
            let mut errors = FieldErrors::new();
            errors.add("subscription", format!("is already {}", sub.status));
            return Err(errors.into());
        }
        let app = self
            .repo
            .application(sub.application_id)
            .await?
            .ok_or(RegistryError::NotFound)?;
        let (status, stored_reason) = if approve {
            (SubscriptionStatus::Approved, None)
        } else {
            (SubscriptionStatus::Rejected, Some(reason.to_owned()))
        };
        let now = self.clock.now();
        self.repo
            .decide_subscription(sub.id, status, stored_reason, now)
            .await?;
        let link = format!("{public_url}/portal/apps/{}", app.id);
        let rendered = crate::mail::render(&crate::mail::MailKind::Decision {
            application: &app.name,
            product: sub.product.title(),
            approved: approve,
            reason,
            link: &link,
        });
        for (member, _) in self.repo.members_of(app.organisation_id).await? {
            self.repo
                .enqueue_mail(fintechapi_domain::portal::Mail {
                    recipient: member.email,
                    subject: rendered.subject.clone(),
                    body_text: rendered.text.clone(),
                    body_html: rendered.html.clone(),
                    created_at: now,
                })
                .await?;
        }
        let action = if approve {
            "subscription.approve"
        } else {
            "subscription.reject"
        };
        self.audit(
            actor,
            action,
            app.id.to_string(),
            format!("{} {}", sub.product, reason),
        )
        .await?;
        Ok(())
    }

    /// Invites `email` into the organisation with `role`; the link is mailed.
    pub async fn invite(
        &self,
        actor: &Actor,
        inviter: &fintechapi_domain::portal::User,
        organisation: &Organisation,
        email: &str,
        role: &str,
        public_url: &str,
    ) -> Result<(), RegistryError> {
        let mut errors = FieldErrors::new();
        let email = email.parse::<fintechapi_domain::portal::Email>();
        if email.is_err() {
            errors.add("email", "is not a valid e-mail address");
        }
        let role = role.parse::<fintechapi_domain::portal::MemberRole>();
        if role.is_err() {
            errors.add("role", "is owner, developer or viewer");
        }
        let (Ok(email), Ok(role)) = (email, role) else {
            return Err(errors.into());
        };
        let token = random_token(32)?;
        let now = self.clock.now();
        self.repo
            .create_invitation(
                &self.pepper.hash(&token),
                fintechapi_domain::portal::Invitation {
                    organisation_id: organisation.id,
                    email: email.clone(),
                    role,
                    invited_by: inviter.id,
                    created_at: now,
                    expires_at: now + Duration::days(7),
                },
            )
            .await?;
        let link = format!("{public_url}/portal/invitations/accept?token={token}");
        let rendered = crate::mail::render(&crate::mail::MailKind::Invitation {
            organisation: &organisation.legal_name,
            inviter: &inviter.display_name,
            role: role.as_str(),
            link: &link,
        });
        self.repo
            .enqueue_mail(fintechapi_domain::portal::Mail {
                recipient: email.clone(),
                subject: rendered.subject,
                body_text: rendered.text,
                body_html: rendered.html,
                created_at: now,
            })
            .await?;
        self.audit(
            actor,
            "organisation.invite",
            organisation.id.to_string(),
            format!("{email} as {role}"),
        )
        .await?;
        Ok(())
    }

    /// Joins the organisation of an open invitation addressed to `user`.
    pub async fn accept_invitation(
        &self,
        user: &fintechapi_domain::portal::User,
        token: &str,
    ) -> Result<OrganisationId, RegistryError> {
        let org = self
            .repo
            .accept_invitation(
                &self.pepper.hash(token),
                user.id,
                &user.email,
                self.clock.now(),
            )
            .await?
            .ok_or(RegistryError::NotFound)?;
        self.audit(
            &Actor(user.email.to_string()),
            "organisation.join",
            org.to_string(),
            String::new(),
        )
        .await?;
        Ok(org)
    }

    /// Removes a member; the last owner stays.
    pub async fn remove_member(
        &self,
        actor: &Actor,
        organisation: OrganisationId,
        member: UserId,
    ) -> Result<(), RegistryError> {
        let members = self.repo.members_of(organisation).await?;
        let owners = members
            .iter()
            .filter(|(_, r)| *r == fintechapi_domain::portal::MemberRole::Owner)
            .count();
        let Some((user, role)) = members.iter().find(|(u, _)| u.id == member) else {
            return Err(RegistryError::NotFound);
        };
        if *role == fintechapi_domain::portal::MemberRole::Owner && owners == 1 {
            let mut errors = FieldErrors::new();
            errors.add("member", "the last owner cannot be removed");
            return Err(errors.into());
        }
        self.repo.remove_member(organisation, member).await?;
        self.audit(
            actor,
            "organisation.remove_member",
            organisation.to_string(),
            user.email.to_string(),
        )
        .await?;
        Ok(())
    }

    pub async fn set_organisation_status(
        &self,
        actor: &Actor,
        organisation: OrganisationId,
        status: Status,
    ) -> Result<(), RegistryError> {
        self.repo
            .organisation(organisation)
            .await?
            .ok_or(RegistryError::NotFound)?;
        self.repo
            .set_organisation_status(organisation, status)
            .await?;
        let action = if status == Status::Active {
            "organisation.unsuspend"
        } else {
            "organisation.suspend"
        };
        self.audit(actor, action, organisation.to_string(), String::new())
            .await?;
        Ok(())
    }

    /// Issues a new key and secret; the previous ones keep working for the grace period.
    pub async fn rotate_secret(
        &self,
        actor: &Actor,
        application: ApplicationId,
    ) -> Result<IssuedCredential, RegistryError> {
        self.repo
            .application(application)
            .await?
            .ok_or(RegistryError::NotFound)?;
        let (credential, issued) = self.new_credential(application)?;
        let old_until = self.clock.now() + self.rotation_grace;
        self.repo.rotate_credential(credential, old_until).await?;
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
    pub async fn revoke(
        &self,
        actor: &Actor,
        credential: CredentialId,
    ) -> Result<(), RegistryError> {
        self.repo
            .revoke_credential(credential, self.clock.now())
            .await?;
        self.audit(
            actor,
            "credential.revoke",
            credential.to_string(),
            String::new(),
        )
        .await?;
        Ok(())
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

    /// The products an application may call now, with their plans; None when
    /// the application or its organisation is not active.
    pub async fn active_products(&self, id: ApplicationId) -> Result<Option<Usable>, StoreError> {
        // Per request on the token path: one query, not four.
        Ok(self
            .repo
            .application_standing(id)
            .await?
            .map(|standing| Usable {
                products: standing
                    .approved
                    .into_iter()
                    .filter(|(product, _)| standing.roles.has(product.required_role()))
                    .collect(),
                assigned_plan: standing.assigned_plan,
            }))
    }

    /// Approved subscriptions within the organisation's PSD2 roles.
    async fn usable_products(
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
        let Some(credential) = self.repo.credential_by_key(consumer_key).await? else {
            // Same work as a known key, so timing does not tell keys apart.
            let _ = self.pepper.verify(secret, &self.pepper.hash("unknown"));
            return Ok(None);
        };
        if !self.pepper.verify(secret, &credential.secret_hash) {
            return Ok(None);
        }
        self.client_of(credential).await
    }

    /// The client behind a consumer key, for callers that authenticated it
    /// another way (a client assertion signed with its registered key).
    pub async fn identify(
        &self,
        consumer_key: &str,
    ) -> Result<Option<AuthenticatedClient>, StoreError> {
        match self.repo.credential_by_key(consumer_key).await? {
            Some(credential) => self.client_of(credential).await,
            None => Ok(None),
        }
    }

    /// A usable credential's client, if its application and organisation are active.
    async fn client_of(
        &self,
        credential: Credential,
    ) -> Result<Option<AuthenticatedClient>, StoreError> {
        let now = self.clock.now();
        if !credential.is_usable_at(now) {
            return Ok(None);
        }
        let Some(application) = self.repo.application(credential.application_id).await? else {
            return Ok(None);
        };
        let Some(organisation) = self.repo.organisation(application.organisation_id).await? else {
            return Ok(None);
        };
        if application.status != Status::Active || organisation.status != Status::Active {
            return Ok(None);
        }
        let products = self.usable_products(&organisation, application.id).await?;
        if credential
            .last_used_at
            .is_none_or(|used| now - used >= LAST_USE_GRANULARITY)
        {
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

#[cfg(test)]
mod tests {
    use super::{JwksProblem, MAX_JWKS_KEYS, check_public_jwks};

    #[test]
    fn only_public_strong_keys_are_registered() {
        let ec = r#"{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b"}]}"#;
        assert!(check_public_jwks(ec).is_ok());
        let private = r#"{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"secret"}]}"#;
        assert!(check_public_jwks(private).is_err());
        let curve = r#"{"keys":[{"kty":"EC","crv":"secp256k1","x":"a","y":"b"}]}"#;
        assert!(check_public_jwks(curve).is_err());
        assert!(check_public_jwks(r#"{"keys":[{"kty":"RSA","n":"short","e":"AQAB"}]}"#).is_err());
        let n = "A".repeat(342);
        let rsa = format!(r#"{{"keys":[{{"kty":"RSA","n":"{n}","e":"AQAB"}}]}}"#);
        assert!(check_public_jwks(&rsa).is_ok());
        assert!(check_public_jwks(r#"{"keys":[]}"#).is_err());
        assert!(check_public_jwks("not json").is_err());
        let twice = r#"{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b","kid":"k1"},{"kty":"EC","crv":"P-256","x":"c","y":"d","kid":"k1"}]}"#;
        assert_eq!(
            check_public_jwks(twice),
            Err(JwksProblem::DuplicateKid("k1".into()))
        );
    }

    #[test]
    fn a_jwk_set_holds_a_bounded_number_of_keys() {
        let set = |n: usize| {
            let keys: Vec<String> = (0..n)
                .map(|i| format!(r#"{{"kty":"EC","crv":"P-256","x":"a","y":"b","kid":"k{i}"}}"#))
                .collect();
            format!(r#"{{"keys":[{}]}}"#, keys.join(","))
        };
        assert!(check_public_jwks(&set(MAX_JWKS_KEYS)).is_ok());
        assert_eq!(
            check_public_jwks(&set(MAX_JWKS_KEYS + 1)),
            Err(JwksProblem::TooManyKeys)
        );
    }
}
