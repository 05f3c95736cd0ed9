//! Portal queries: users, sessions, tokens, the TPP registry, mail, audit.

use fintechapi_domain::StoreError;
use fintechapi_domain::ids::{ApplicationId, CredentialId, OrganisationId, SubscriptionId, UserId};
use fintechapi_domain::password::PasswordHash;
use fintechapi_domain::portal::PortalRepository;
use fintechapi_domain::portal::{
    AuditEntry, Email, Invitation, Mail, MemberRole, NewUser, PortalError, Session, TokenPurpose,
    User,
};
use fintechapi_domain::registry::{
    Application, ApplicationStanding, Credential, Organisation, Status, Subscription,
    SubscriptionStatus,
};
use fintechapi_domain::secret::KeyedHash;
use sqlx::{Database, Pool};
use time::OffsetDateTime;

use super::{BEGIN_WRITE, Db};
use crate::error::{is_unique_violation, store};
use crate::has_nul;
use crate::rows::{
    ApplicationRow, AuditRow, CredentialRow, MailRow, OrganisationRow, SessionRow, SubscriptionRow,
    UserRow, join_uris,
};

type Conn = <Db as Database>::Connection;

macro_rules! user_columns {
    () => {
        "id, email, display_name, kind, password_hash, email_verified_at, failed_logins, locked_until, \
         totp_secret, created_at"
    };
}
macro_rules! organisation_columns {
    () => {
        "o.id, o.legal_name, o.country, o.roles, o.competent_authority, o.authorisation_number, o.status, o.created_at"
    };
}
macro_rules! application_columns {
    () => {
        "id, organisation_id, name, description, redirect_uris, security_profile, jwks, jwks_uri, \
         tls_subject_dn, environment, status, created_at, plan"
    };
}
macro_rules! subscription_columns {
    () => {
        "id, application_id, product, plan, status, reason, created_at, decided_at"
    };
}
macro_rules! credential_columns {
    () => {
        "id, application_id, consumer_key, secret_hash, created_at, expires_at, revoked_at, last_used_at"
    };
}

async fn run(
    pool: &Pool<Db>,
    query: sqlx::query::Query<'_, Db, <Db as Database>::Arguments>,
) -> Result<(), StoreError> {
    query.execute(pool).await.map_err(store)?;
    Ok(())
}

impl PortalRepository for super::Store {
    async fn create_user(&self, user: NewUser) -> Result<User, PortalError> {
        let pool = &self.0;
        let u = user;
        let inserted = sqlx::query(
        "INSERT INTO users (id, email, display_name, kind, password_hash, email_verified_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(u.id.to_string())
    .bind(u.email.as_str())
    .bind(&u.display_name)
    .bind(u.kind.as_str())
    .bind(u.password.as_phc())
    .bind(u.email_verified_at)
    .bind(u.created_at)
    .execute(pool)
    .await;
        match inserted {
            Ok(_) => Ok(User {
                id: u.id,
                email: u.email,
                display_name: u.display_name,
                kind: u.kind,
                email_verified_at: u.email_verified_at,
                failed_logins: 0,
                locked_until: None,
                totp_enabled: false,
                created_at: u.created_at,
            }),
            Err(e) if is_unique_violation(&e, "email") => Err(PortalError::EmailTaken),
            Err(e) => Err(store(e).into()),
        }
    }

    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let pool = &self.0;
        user(pool, id).await
    }

    async fn user_by_email(
        &self,
        email: &Email,
    ) -> Result<Option<(User, PasswordHash)>, StoreError> {
        let pool = &self.0;
        sqlx::query_as::<_, UserRow>(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE email = $1"
        ))
        .bind(email.as_str())
        .fetch_optional(pool)
        .await
        .map_err(store)?
        .map(|r| Ok((r.user()?, PasswordHash::from_phc(r.password_hash))))
        .transpose()
    }

    async fn begin_login_attempt(
        &self,
        id: UserId,
        max: u32,
        lock_until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let pool = &self.0;
        let counted = sqlx::query(
        // A lock that ran out starts a new count.
        "UPDATE users SET \
         failed_logins = CASE WHEN locked_until IS NULL THEN failed_logins + 1 ELSE 1 END, \
         locked_until = CASE WHEN (CASE WHEN locked_until IS NULL THEN failed_logins + 1 ELSE 1 END) \
         >= $2 THEN $3 ELSE NULL END \
         WHERE id = $1 AND ((locked_until IS NULL AND failed_logins < $2) OR locked_until <= $4)",
    )
    .bind(id.to_string())
    .bind(i64::from(max))
    .bind(lock_until)
    .bind(now)
    .execute(pool)
    .await
    .map_err(store)?;
        Ok(counted.rows_affected() == 1)
    }

    async fn reset_login_failures(&self, id: UserId) -> Result<(), StoreError> {
        let pool = &self.0;
        run(
            pool,
            sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1")
                .bind(id.to_string()),
        )
        .await
    }

    async fn mark_email_verified(&self, id: UserId, at: OffsetDateTime) -> Result<(), StoreError> {
        let pool = &self.0;
        run(
        pool,
        sqlx::query(
            "UPDATE users SET email_verified_at = COALESCE(email_verified_at, $2) WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(at),
    )
    .await
    }

    async fn set_password(&self, id: UserId, password: PasswordHash) -> Result<(), StoreError> {
        let pool = &self.0;
        run(pool, sqlx::query("UPDATE users SET password_hash = $2, failed_logins = 0, locked_until = NULL WHERE id = $1")
        .bind(id.to_string())
        .bind(password.as_phc().to_owned())).await
    }

    async fn set_totp(&self, id: UserId, sealed_seed: Option<String>) -> Result<(), StoreError> {
        let pool = &self.0;
        super::totp::set_seed(pool, super::totp::Holder::User, id.to_string(), sealed_seed).await
    }

    async fn totp_seed(&self, id: UserId) -> Result<Option<String>, StoreError> {
        let pool = &self.0;
        super::totp::seed(pool, super::totp::Holder::User, id.to_string()).await
    }

    async fn accept_totp_step(&self, id: UserId, step: i64) -> Result<bool, StoreError> {
        let pool = &self.0;
        super::totp::accept_step(pool, super::totp::Holder::User, id.to_string(), step).await
    }

    async fn create_session(&self, key: &KeyedHash, session: Session) -> Result<(), StoreError> {
        let pool = &self.0;
        let s = session;
        run(pool, sqlx::query(
        "INSERT INTO sessions (key_hash, user_id, csrf_token, created_at, last_seen_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(key.as_str().to_owned())
    .bind(s.user_id.to_string())
    .bind(s.csrf_token)
    .bind(s.created_at)
    .bind(s.last_seen_at)
    .bind(s.expires_at)).await
    }

    async fn session(&self, key: &KeyedHash) -> Result<Option<Session>, StoreError> {
        let pool = &self.0;
        sqlx::query_as::<_, SessionRow>(
        "SELECT user_id, csrf_token, created_at, last_seen_at, expires_at FROM sessions WHERE key_hash = $1",
    )
    .bind(key.as_str())
    .fetch_optional(pool)
    .await
    .map_err(store)?
    .map(Session::try_from)
    .transpose()
    }

    async fn touch_session(&self, key: &KeyedHash, at: OffsetDateTime) -> Result<(), StoreError> {
        let pool = &self.0;
        run(
            pool,
            sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE key_hash = $1")
                .bind(key.as_str().to_owned())
                .bind(at),
        )
        .await
    }

    async fn delete_session(&self, key: &KeyedHash) -> Result<(), StoreError> {
        let pool = &self.0;
        run(
            pool,
            sqlx::query("DELETE FROM sessions WHERE key_hash = $1").bind(key.as_str().to_owned()),
        )
        .await
    }

    async fn prune_expired(
        &self,
        now: OffsetDateTime,
        idle_before: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let pool = &self.0;
        let sessions =
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
                .bind(now)
                .bind(idle_before)
                .execute(pool)
                .await
                .map_err(store)?;
        let tokens = sqlx::query("DELETE FROM one_time_tokens WHERE expires_at <= $1")
            .bind(now)
            .execute(pool)
            .await
            .map_err(store)?;
        Ok(sessions.rows_affected() + tokens.rows_affected())
    }

    async fn delete_sessions_of(&self, user: UserId) -> Result<(), StoreError> {
        let pool = &self.0;
        run(
            pool,
            sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user.to_string()),
        )
        .await
    }

    async fn create_token(
        &self,
        key: &KeyedHash,
        user: UserId,
        purpose: TokenPurpose,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let pool = &self.0;
        run(pool, sqlx::query("INSERT INTO one_time_tokens (key_hash, user_id, purpose, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(key.as_str().to_owned())
        .bind(user.to_string())
        .bind(purpose.as_str())
        .bind(expires_at)).await
    }

    async fn consume_token(
        &self,
        key: &KeyedHash,
        purpose: TokenPurpose,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError> {
        let pool = &self.0;
        let user: Option<String> = sqlx::query_scalar(
        "UPDATE one_time_tokens SET used_at = $3 \
         WHERE key_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 RETURNING user_id",
    )
    .bind(key.as_str())
    .bind(purpose.as_str())
    .bind(now)
    .fetch_optional(pool)
    .await
    .map_err(store)?;
        user.map(|u| crate::rows::parse::<UserId>("user id", &u))
            .transpose()
    }

    async fn create_organisation(
        &self,
        organisation: Organisation,
        owner: Option<UserId>,
    ) -> Result<(), PortalError> {
        let pool = &self.0;
        let o = organisation;
        let mut tx = pool.begin_with(BEGIN_WRITE).await.map_err(store)?;
        let inserted = sqlx::query(
        "INSERT INTO organisations (id, legal_name, country, roles, competent_authority, authorisation_number, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(o.id.to_string())
    .bind(&o.legal_name)
    .bind(&o.country)
    .bind(o.roles.to_string())
    .bind(&o.competent_authority)
    .bind(&o.authorisation_number)
    .bind(o.status.as_str())
    .bind(o.created_at)
    .execute(&mut *tx)
    .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e, "legal_name") => {
                return Err(PortalError::OrganisationNameTaken);
            }
            Err(e) => return Err(store(e).into()),
        }
        if let Some(owner) = owner {
            sqlx::query(
                "INSERT INTO memberships (organisation_id, user_id, role) VALUES ($1, $2, 'owner')",
            )
            .bind(o.id.to_string())
            .bind(owner.to_string())
            .execute(&mut *tx)
            .await
            .map_err(store)?;
        }
        tx.commit().await.map_err(store)?;
        Ok(())
    }

    async fn organisation(&self, id: OrganisationId) -> Result<Option<Organisation>, StoreError> {
        let pool = &self.0;
        sqlx::query_as::<_, OrganisationRow>(concat!(
            "SELECT ",
            organisation_columns!(),
            " FROM organisations o WHERE o.id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(pool)
        .await
        .map_err(store)?
        .map(Organisation::try_from)
        .transpose()
    }

    async fn organisation_by_name(
        &self,
        legal_name: &str,
    ) -> Result<Option<Organisation>, StoreError> {
        let pool = &self.0;
        let name = legal_name;
        sqlx::query_as::<_, OrganisationRow>(concat!(
            "SELECT ",
            organisation_columns!(),
            " FROM organisations o WHERE o.legal_name = $1"
        ))
        .bind(name)
        .fetch_optional(pool)
        .await
        .map_err(store)?
        .map(Organisation::try_from)
        .transpose()
    }

    async fn organisations_of(
        &self,
        user: UserId,
    ) -> Result<Vec<(Organisation, MemberRole)>, StoreError> {
        let pool = &self.0;
        sqlx::query_as::<_, MemberOrganisationRow>(concat!(
            "SELECT ",
            organisation_columns!(),
            ", m.role FROM organisations o \
         JOIN memberships m ON m.organisation_id = o.id WHERE m.user_id = $1 ORDER BY o.legal_name"
        ))
        .bind(user.to_string())
        .fetch_all(pool)
        .await
        .map_err(store)?
        .into_iter()
        .map(|r| Ok((Organisation::try_from(r.organisation)?, r.role.parse()?)))
        .collect()
    }

    async fn membership(
        &self,
        organisation: OrganisationId,
        user: UserId,
    ) -> Result<Option<MemberRole>, StoreError> {
        let pool = &self.0;
        let role: Option<String> = sqlx::query_scalar(
            "SELECT role FROM memberships WHERE organisation_id = $1 AND user_id = $2",
        )
        .bind(organisation.to_string())
        .bind(user.to_string())
        .fetch_optional(pool)
        .await
        .map_err(store)?;
        role.map(|r| r.parse()).transpose()
    }

    async fn all_organisations(&self) -> Result<Vec<Organisation>, StoreError> {
        let pool = &self.0;
        sqlx::query_as::<_, OrganisationRow>(concat!(
            "SELECT ",
            organisation_columns!(),
            " FROM organisations o ORDER BY o.legal_name"
        ))
        .fetch_all(pool)
        .await
        .map_err(store)?
        .into_iter()
        .map(Organisation::try_from)
        .collect()
    }

    async fn members_of(
        &self,
        organisation: OrganisationId,
    ) -> Result<Vec<(User, MemberRole)>, StoreError> {
        let pool = &self.0;
        sqlx::query_as::<_, MemberRow>(
            "SELECT u.id, u.email, u.display_name, u.kind, u.password_hash, u.email_verified_at, \
         u.failed_logins, u.locked_until, u.totp_secret, u.created_at, m.role FROM users u \
         JOIN memberships m ON m.user_id = u.id WHERE m.organisation_id = $1 ORDER BY u.email",
        )
        .bind(organisation.to_string())
        .fetch_all(pool)
        .await
        .map_err(store)?
        .into_iter()
        .map(|r| Ok((r.user.user()?, r.role.parse()?)))
        .collect()
    }

    async fn create_invitation(
        &self,
        key: &KeyedHash,
        invitation: Invitation,
    ) -> Result<(), StoreError> {
        let pool = &self.0;
        let i = invitation;
        run(
        pool,
        sqlx::query(
            "INSERT INTO invitations (key_hash, organisation_id, email, role, invited_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(key.as_str().to_owned())
        .bind(i.organisation_id.to_string())
        .bind(i.email.as_str().to_owned())
        .bind(i.role.as_str())
        .bind(i.invited_by.to_string())
        .bind(i.created_at)
        .bind(i.expires_at),
    )
    .await
    }

    async fn open_invitations(
        &self,
        organisation: OrganisationId,
        now: OffsetDateTime,
    ) -> Result<Vec<Invitation>, StoreError> {
        let pool = &self.0;
        sqlx::query_as::<_, InvitationRow>(
        "SELECT organisation_id, email, role, invited_by, created_at, expires_at FROM invitations \
         WHERE organisation_id = $1 AND accepted_at IS NULL AND expires_at > $2 ORDER BY created_at",
    )
    .bind(organisation.to_string())
    .bind(now)
    .fetch_all(pool)
    .await
    .map_err(store)?
    .into_iter()
    .map(|r| {
        Ok(Invitation {
            organisation_id: crate::rows::parse("organisation id", &r.organisation_id)?,
            email: crate::rows::parse("e-mail", &r.email)?,
            role: r.role.parse()?,
            invited_by: crate::rows::parse("user id", &r.invited_by)?,
            created_at: r.created_at,
            expires_at: r.expires_at,
        })
    })
    .collect()
    }

    async fn accept_invitation(
        &self,
        key: &KeyedHash,
        user: UserId,
        email: &Email,
        now: OffsetDateTime,
    ) -> Result<Option<OrganisationId>, StoreError> {
        let pool = &self.0;
        let mut tx = pool.begin_with(BEGIN_WRITE).await.map_err(store)?;
        let found: Option<(String, String)> = sqlx::query_as(
            "UPDATE invitations SET accepted_at = $3 WHERE key_hash = $1 AND email = $2 \
         AND accepted_at IS NULL AND expires_at > $3 RETURNING organisation_id, role",
        )
        .bind(key.as_str())
        .bind(email.as_str())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(store)?;
        let Some((organisation, role)) = found else {
            return Ok(None);
        };
        sqlx::query(
            "INSERT INTO memberships (organisation_id, user_id, role) VALUES ($1, $2, $3) \
         ON CONFLICT (organisation_id, user_id) DO UPDATE SET role = excluded.role",
        )
        .bind(&organisation)
        .bind(user.to_string())
        .bind(&role)
        .execute(&mut *tx)
        .await
        .map_err(store)?;
        tx.commit().await.map_err(store)?;
        crate::rows::parse("organisation id", &organisation).map(Some)
    }

    async fn remove_member(
        &self,
        organisation: OrganisationId,
        user: UserId,
    ) -> Result<(), StoreError> {
        let pool = &self.0;
        run(
            pool,
            sqlx::query("DELETE FROM memberships WHERE organisation_id = $1 AND user_id = $2")
                .bind(organisation.to_string())
                .bind(user.to_string()),
        )
        .await
    }

    async fn set_organisation_status(
        &self,
        id: OrganisationId,
        status: Status,
    ) -> Result<(), StoreError> {
        let pool = &self.0;
        run(
            pool,
            sqlx::query("UPDATE organisations SET status = $2 WHERE id = $1")
                .bind(id.to_string())
                .bind(status.as_str()),
        )
        .await
    }

    async fn create_application(
        &self,
        application: Application,
        subscriptions: Vec<Subscription>,
        credential: Credential,
    ) -> Result<(), PortalError> {
        let pool = &self.0;
        let a = application;
        let mut tx = pool.begin_with(BEGIN_WRITE).await.map_err(store)?;
        let inserted = sqlx::query(concat!(
            "INSERT INTO applications (",
            application_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(a.id.to_string())
        .bind(a.organisation_id.to_string())
        .bind(&a.name)
        .bind(&a.description)
        .bind(join_uris(&a.redirect_uris))
        .bind(a.security_profile.as_str())
        .bind(a.jwks.as_deref())
        .bind(a.jwks_uri.as_deref())
        .bind(a.tls_subject_dn.as_deref())
        .bind(a.environment.as_str())
        .bind(a.status.as_str())
        .bind(a.created_at)
        .bind(a.assigned_plan.as_deref())
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e, "name") => {
                return Err(PortalError::ApplicationNameTaken);
            }
            Err(e) => return Err(store(e).into()),
        }
        for s in &subscriptions {
            insert_subscription(&mut tx, s).await.map_err(store)?;
        }
        insert_credential(&mut tx, &credential).await?;
        tx.commit().await.map_err(store)?;
        Ok(())
    }

    async fn application(&self, id: ApplicationId) -> Result<Option<Application>, StoreError> {
        let pool = &self.0;
        sqlx::query_as::<_, ApplicationRow>(concat!(
            "SELECT ",
            application_columns!(),
            " FROM applications WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(pool)
        .await
        .map_err(store)?
        .map(Application::try_from)
        .transpose()
    }

    async fn applications_of(
        &self,
        organisation: OrganisationId,
    ) -> Result<Vec<Application>, StoreError> {
        let pool = &self.0;
        sqlx::query_as::<_, ApplicationRow>(concat!(
            "SELECT ",
            application_columns!(),
            " FROM applications WHERE organisation_id = $1 ORDER BY name"
        ))
        .bind(organisation.to_string())
        .fetch_all(pool)
        .await
        .map_err(store)?
        .into_iter()
        .map(Application::try_from)
        .collect()
    }

    async fn all_applications(&self) -> Result<Vec<Application>, StoreError> {
        let pool = &self.0;
        sqlx::query_as::<_, ApplicationRow>(concat!(
            "SELECT ",
            application_columns!(),
            " FROM applications ORDER BY created_at, id"
        ))
        .fetch_all(pool)
        .await
        .map_err(store)?
        .into_iter()
        .map(Application::try_from)
        .collect()
    }

    async fn set_application_status(
        &self,
        id: ApplicationId,
        status: Status,
    ) -> Result<(), StoreError> {
        let pool = &self.0;
        run(
            pool,
            sqlx::query("UPDATE applications SET status = $2 WHERE id = $1")
                .bind(id.to_string())
                .bind(status.as_str()),
        )
        .await
    }

    async fn set_application_plan(
        &self,
        id: ApplicationId,
        plan: Option<&str>,
    ) -> Result<(), StoreError> {
        let pool = &self.0;
        run(
            pool,
            sqlx::query("UPDATE applications SET plan = $2 WHERE id = $1")
                .bind(id.to_string())
                .bind(plan),
        )
        .await
    }

    async fn subscriptions_of(
        &self,
        application: ApplicationId,
    ) -> Result<Vec<Subscription>, StoreError> {
        let pool = &self.0;
        sqlx::query_as::<_, SubscriptionRow>(concat!(
            "SELECT ",
            subscription_columns!(),
            " FROM subscriptions WHERE application_id = $1 ORDER BY product"
        ))
        .bind(application.to_string())
        .fetch_all(pool)
        .await
        .map_err(store)?
        .into_iter()
        .map(Subscription::try_from)
        .collect()
    }

    async fn application_standing(
        &self,
        application: ApplicationId,
    ) -> Result<Option<ApplicationStanding>, StoreError> {
        let pool = &self.0;
        // Roles, then per approved subscription its product and tier, then the assigned plan.
        type StandingRow = (String, Option<String>, Option<String>, Option<String>);
        let rows: Vec<StandingRow> = sqlx::query_as(
            "SELECT o.roles, s.product, s.plan, a.plan FROM applications a \
         JOIN organisations o ON o.id = a.organisation_id \
         LEFT JOIN subscriptions s ON s.application_id = a.id AND s.status = 'approved' \
         WHERE a.id = $1 AND a.status = 'active' AND o.status = 'active' ORDER BY s.product",
        )
        .bind(application.to_string())
        .fetch_all(pool)
        .await
        .map_err(store)?;
        let Some((roles, _, _, assigned_plan)) = rows.first() else {
            return Ok(None);
        };
        let mut standing = ApplicationStanding {
            roles: roles.parse()?,
            approved: Vec::with_capacity(rows.len()),
            assigned_plan: assigned_plan.clone(),
        };
        for (_, product, plan, _) in &rows {
            if let (Some(product), Some(plan)) = (product, plan) {
                standing.approved.push((product.parse()?, plan.parse()?));
            }
        }
        Ok(Some(standing))
    }

    async fn subscription(&self, id: SubscriptionId) -> Result<Option<Subscription>, StoreError> {
        let pool = &self.0;
        sqlx::query_as::<_, SubscriptionRow>(concat!(
            "SELECT ",
            subscription_columns!(),
            " FROM subscriptions WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(pool)
        .await
        .map_err(store)?
        .map(Subscription::try_from)
        .transpose()
    }

    async fn pending_subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        let pool = &self.0;
        sqlx::query_as::<_, SubscriptionRow>(concat!(
            "SELECT ",
            subscription_columns!(),
            " FROM subscriptions WHERE status = 'pending' ORDER BY created_at, id"
        ))
        .fetch_all(pool)
        .await
        .map_err(store)?
        .into_iter()
        .map(Subscription::try_from)
        .collect()
    }

    async fn add_subscription(&self, subscription: Subscription) -> Result<(), PortalError> {
        let pool = &self.0;
        let s = subscription;
        let mut conn = pool.acquire().await.map_err(store)?;
        match insert_subscription(&mut conn, &s).await {
            Ok(()) => Ok(()),
            Err(e) if is_unique_violation(&e, "product") => Err(PortalError::AlreadySubscribed),
            Err(e) => Err(store(e).into()),
        }
    }

    async fn decide_subscription(
        &self,
        id: SubscriptionId,
        status: SubscriptionStatus,
        reason: Option<String>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let pool = &self.0;
        run(
            pool,
            sqlx::query(
                "UPDATE subscriptions SET status = $2, reason = $3, decided_at = $4 WHERE id = $1",
            )
            .bind(id.to_string())
            .bind(status.as_str())
            .bind(reason)
            .bind(at),
        )
        .await
    }

    async fn credentials_of(
        &self,
        application: ApplicationId,
    ) -> Result<Vec<Credential>, StoreError> {
        let pool = &self.0;
        sqlx::query_as::<_, CredentialRow>(concat!(
            "SELECT ",
            credential_columns!(),
            " FROM credentials WHERE application_id = $1 ORDER BY created_at DESC, id"
        ))
        .bind(application.to_string())
        .fetch_all(pool)
        .await
        .map_err(store)?
        .into_iter()
        .map(Credential::try_from)
        .collect()
    }

    async fn credential_by_key(
        &self,
        consumer_key: &str,
    ) -> Result<Option<Credential>, StoreError> {
        let pool = &self.0;
        if has_nul(consumer_key) {
            return Ok(None);
        }
        credential_by_key(pool, consumer_key).await
    }

    async fn rotate_credential(
        &self,
        credential: Credential,
        old_until: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let pool = &self.0;
        let mut tx = pool.begin_with(BEGIN_WRITE).await.map_err(store)?;
        sqlx::query(
        "UPDATE credentials SET expires_at = $2 WHERE application_id = $1 AND revoked_at IS NULL \
         AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(credential.application_id.to_string())
    .bind(old_until)
    .execute(&mut *tx)
    .await
    .map_err(store)?;
        insert_credential(&mut tx, &credential).await?;
        tx.commit().await.map_err(store)
    }

    async fn revoke_credential(
        &self,
        id: CredentialId,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let pool = &self.0;
        run(
            pool,
            sqlx::query(
                "UPDATE credentials SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
            )
            .bind(id.to_string())
            .bind(at),
        )
        .await
    }

    async fn touch_credential(
        &self,
        id: CredentialId,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let pool = &self.0;
        run(
            pool,
            sqlx::query("UPDATE credentials SET last_used_at = $2 WHERE id = $1")
                .bind(id.to_string())
                .bind(at),
        )
        .await
    }

    async fn registry_version(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT version FROM registry_version")
            .fetch_one(&self.0)
            .await
            .map_err(store)
    }

    async fn enqueue_mail(&self, mail: Mail) -> Result<(), StoreError> {
        let pool = &self.0;
        let m = mail;
        run(pool, sqlx::query("INSERT INTO outbox (recipient, subject, body_text, body_html, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(m.recipient.as_str().to_owned())
        .bind(m.subject)
        .bind(m.body_text)
        .bind(m.body_html)
        .bind(m.created_at)).await
    }

    async fn mails_to(&self, recipient: &Email) -> Result<Vec<Mail>, StoreError> {
        let pool = &self.0;
        sqlx::query_as::<_, MailRow>("SELECT recipient, subject, body_text, body_html, created_at FROM outbox WHERE recipient = $1 ORDER BY id")
        .bind(recipient.as_str())
        .fetch_all(pool)
        .await
        .map_err(store)?
        .into_iter()
        .map(Mail::try_from)
        .collect()
    }

    async fn claim_mails(
        &self,
        limit: u32,
        now: OffsetDateTime,
        stale_before: OffsetDateTime,
    ) -> Result<Vec<(i64, Mail)>, StoreError> {
        let pool = &self.0;
        // The outer condition is checked again on each locked row, so two nodes never take the same mail.
        sqlx::query_as::<_, ClaimedMailRow>(
            "UPDATE outbox SET claimed_at = $1 \
         WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NULL \
                      AND (claimed_at IS NULL OR claimed_at < $2) ORDER BY id LIMIT $3) \
         AND sent_at IS NULL AND (claimed_at IS NULL OR claimed_at < $2) \
         RETURNING id, recipient, subject, body_text, body_html, created_at",
        )
        .bind(now)
        .bind(stale_before)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(store)?
        .into_iter()
        .map(|r| Ok((r.id, Mail::try_from(r.mail)?)))
        .collect()
    }

    async fn mark_mail_sent(&self, id: i64, at: OffsetDateTime) -> Result<(), StoreError> {
        let pool = &self.0;
        run(
            pool,
            sqlx::query("UPDATE outbox SET sent_at = $2 WHERE id = $1")
                .bind(id)
                .bind(at),
        )
        .await
    }

    async fn record_audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        let pool = &self.0;
        let e = entry;
        run(
        pool,
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(e.at)
        .bind(e.actor)
        .bind(e.action)
        .bind(e.target)
        .bind(e.detail),
    )
    .await
    }

    async fn audit_trail(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let pool = &self.0;
        Ok(sqlx::query_as::<_, AuditRow>(
            "SELECT at, actor, action, target, detail FROM audit_log ORDER BY id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(store)?
        .into_iter()
        .map(AuditEntry::from)
        .collect())
    }
}

pub(crate) async fn user(pool: &Pool<Db>, id: UserId) -> Result<Option<User>, StoreError> {
    sqlx::query_as::<_, UserRow>(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE id = $1"
    ))
    .bind(id.to_string())
    .fetch_optional(pool)
    .await
    .map_err(store)?
    .map(|r| r.user())
    .transpose()
}

#[derive(sqlx::FromRow)]
struct MemberOrganisationRow {
    #[sqlx(flatten)]
    organisation: OrganisationRow,
    role: String,
}

async fn insert_subscription(conn: &mut Conn, s: &Subscription) -> Result<(), sqlx::Error> {
    sqlx::query(concat!(
        "INSERT INTO subscriptions (",
        subscription_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(s.id.to_string())
    .bind(s.application_id.to_string())
    .bind(s.product.as_str())
    .bind(s.plan.as_str())
    .bind(s.status.as_str())
    .bind(s.reason.as_deref())
    .bind(s.created_at)
    .bind(s.decided_at)
    .execute(&mut *conn)
    .await
    .map(|_| ())
}

async fn insert_credential(conn: &mut Conn, c: &Credential) -> Result<(), StoreError> {
    sqlx::query(concat!(
        "INSERT INTO credentials (",
        credential_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(c.id.to_string())
    .bind(c.application_id.to_string())
    .bind(&c.consumer_key)
    .bind(c.secret_hash.as_str())
    .bind(c.created_at)
    .bind(c.expires_at)
    .bind(c.revoked_at)
    .bind(c.last_used_at)
    .execute(&mut *conn)
    .await
    .map_err(store)?;
    Ok(())
}

pub(crate) async fn credential_by_key(
    pool: &Pool<Db>,
    consumer_key: &str,
) -> Result<Option<Credential>, StoreError> {
    sqlx::query_as::<_, CredentialRow>(concat!(
        "SELECT ",
        credential_columns!(),
        " FROM credentials WHERE consumer_key = $1"
    ))
    .bind(consumer_key)
    .fetch_optional(pool)
    .await
    .map_err(store)?
    .map(Credential::try_from)
    .transpose()
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    #[sqlx(flatten)]
    user: UserRow,
    role: String,
}

#[derive(sqlx::FromRow)]
struct InvitationRow {
    organisation_id: String,
    email: String,
    role: String,
    invited_by: String,
    created_at: OffsetDateTime,
    expires_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct ClaimedMailRow {
    id: i64,
    #[sqlx(flatten)]
    mail: MailRow,
}
