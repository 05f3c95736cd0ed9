//! Subscriptions of applications to API products and their approval.

use fintechapi_domain::ids::SubscriptionId;
use fintechapi_domain::portal::PortalRepository;
use fintechapi_domain::registry::{
    ApiProduct, Application, Environment, Organisation, RegistryChange, SubscriptionStatus,
};

use crate::applications::{check_roles, new_subscription};
use crate::validation::FieldErrors;
use crate::{Actor, Registry, RegistryError};

impl<R: PortalRepository> Registry<R> {
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
        self.changed(RegistryChange::Application(application.id));
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
            self.changed(RegistryChange::Application(application.id));
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
        self.changed(RegistryChange::Application(app.id));
        let link = format!("{public_url}/portal/apps/{}", app.id);
        let rendered = fintechapi_web::mail::render(
            &fintechapi_web::mail::MailKind::Decision {
                application: &app.name,
                product: sub.product.title(),
                approved: approve,
                reason,
                link: &link,
            },
            &self.bank_name,
        );
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
}
