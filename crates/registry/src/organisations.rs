//! Organisations, their members and invitations.

use fintechapi_domain::StoreError;
use fintechapi_domain::ids::{ApplicationId, OrganisationId, UserId};
use fintechapi_domain::portal::{MemberRole, PortalRepository};
use fintechapi_domain::registry::{Application, Organisation, Psd2Roles, RegistryChange, Status};
use fintechapi_domain::secret::random_token;
use time::Duration;

use crate::validation::FieldErrors;
use crate::{Actor, Registry, RegistryError};

/// An organisation a user is a member of: their role and its applications.
pub struct Membership {
    pub org: Organisation,
    pub role: MemberRole,
    pub apps: Vec<Application>,
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

impl<R: PortalRepository> Registry<R> {
    /// The organisations `user` is a member of, each with its applications.
    pub async fn memberships(&self, user: UserId) -> Result<Vec<Membership>, StoreError> {
        let mut memberships = Vec::new();
        for (org, role) in self.repo.organisations_of(user).await? {
            let apps = self.repo.applications_of(org.id).await?;
            memberships.push(Membership { org, role, apps });
        }
        Ok(memberships)
    }

    /// The organisation `id` as its member `user` sees it, with their role;
    /// `NotFound` for anyone else too, which hides that it exists.
    pub async fn organisation_of_member(
        &self,
        user: UserId,
        id: OrganisationId,
    ) -> Result<(Organisation, MemberRole), RegistryError> {
        let role = self.repo.membership(id, user).await?;
        let role = role.ok_or(RegistryError::NotFound)?;
        let organisation = self.repo.organisation(id).await?;
        Ok((organisation.ok_or(RegistryError::NotFound)?, role))
    }

    /// The application `id` of an organisation `user` is a member of, with
    /// the organisation and their role; `NotFound` otherwise.
    pub async fn application_of_member(
        &self,
        user: UserId,
        id: ApplicationId,
    ) -> Result<(Application, Organisation, MemberRole), RegistryError> {
        let application = self.repo.application(id).await?;
        let application = application.ok_or(RegistryError::NotFound)?;
        let (organisation, role) = self
            .organisation_of_member(user, application.organisation_id)
            .await?;
        Ok((application, organisation, role))
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

    /// `inviter` invites `email` into the organisation with `role`; the link
    /// is mailed. Only the organisation's owners invite.
    pub async fn invite(
        &self,
        actor: &Actor,
        inviter: &fintechapi_domain::portal::User,
        organisation: &Organisation,
        email: &str,
        role: &str,
        public_url: &str,
    ) -> Result<(), RegistryError> {
        if self.repo.membership(organisation.id, inviter.id).await?
            != Some(fintechapi_domain::portal::MemberRole::Owner)
        {
            return Err(RegistryError::NotOwner);
        }
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
        let rendered = fintechapi_web::mail::render(
            &fintechapi_web::mail::MailKind::Invitation {
                organisation: &organisation.legal_name,
                inviter: &inviter.display_name,
                role: role.as_str(),
                link: &link,
            },
            &self.bank_name,
        );
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
    /// `remover`, an owner, removes `member` from the organisation; the last
    /// owner stays.
    pub async fn remove_member(
        &self,
        actor: &Actor,
        remover: UserId,
        organisation: OrganisationId,
        member: UserId,
    ) -> Result<(), RegistryError> {
        if self.repo.membership(organisation, remover).await? != Some(MemberRole::Owner) {
            return Err(RegistryError::NotOwner);
        }
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
        self.changed(RegistryChange::Organisation(organisation));
        let action = if status == Status::Active {
            "organisation.unsuspend"
        } else {
            "organisation.suspend"
        };
        self.audit(actor, action, organisation.to_string(), String::new())
            .await?;
        Ok(())
    }
}
