//! Organisations, their members and invitations.

use fintechapi_domain::StoreError;
use fintechapi_domain::ids::{OrganisationId, UserId};
use fintechapi_domain::portal::{Email, Invitation, MemberRole, PortalError, User};
use fintechapi_domain::registry::{Organisation, Status};
use fintechapi_domain::secret::KeyedHash;
use time::OffsetDateTime;

use super::{Read, Store, Write, begin_write};
use crate::error::{is_unique_violation, store};
use crate::rows::{OrganisationRow, UserRow, parse};

macro_rules! organisation_columns {
    () => {
        "o.id, o.legal_name, o.country, o.roles, o.competent_authority, o.authorisation_number, \
         o.status, o.created_at"
    };
}

#[derive(sqlx::FromRow)]
struct MemberOrganisationRow {
    #[sqlx(flatten)]
    organisation: OrganisationRow,
    role: String,
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    #[sqlx(flatten)]
    user: UserRow,
    role: String,
}

#[derive(sqlx::FromRow)]
struct InvitationRow {
    organisation_id: OrganisationId,
    email: String,
    role: String,
    invited_by: UserId,
    created_at: OffsetDateTime,
    expires_at: OffsetDateTime,
}

impl Store {
    pub(crate) async fn create_organisation(
        &self,
        organisation: Organisation,
        owner: Option<UserId>,
    ) -> Result<(), PortalError> {
        let o = organisation;
        let mut tx = begin_write(&self.0, &self.1).await?;
        let inserted = sqlx::query(
            "INSERT INTO organisations (id, legal_name, country, roles, competent_authority, \
             authorisation_number, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(o.id)
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
            .bind(o.id)
            .bind(owner)
            .run(&mut *tx)
            .await?;
        }
        tx.commit().await.map_err(store)?;
        Ok(())
    }

    pub(crate) async fn organisation(
        &self,
        id: OrganisationId,
    ) -> Result<Option<Organisation>, StoreError> {
        select_rows!(
            OrganisationRow,
            organisation_columns,
            "FROM organisations o WHERE o.id = $1"
        )
        .bind(id)
        .optional_into(&self.0)
        .await
    }

    pub(crate) async fn organisation_by_name(
        &self,
        legal_name: &str,
    ) -> Result<Option<Organisation>, StoreError> {
        select_rows!(
            OrganisationRow,
            organisation_columns,
            "FROM organisations o WHERE o.legal_name = $1"
        )
        .bind(legal_name)
        .optional_into(&self.0)
        .await
    }

    pub(crate) async fn organisations_of(
        &self,
        user: UserId,
    ) -> Result<Vec<(Organisation, MemberRole)>, StoreError> {
        sqlx::query_as::<_, MemberOrganisationRow>(concat!(
            "SELECT ",
            organisation_columns!(),
            ", m.role FROM organisations o JOIN memberships m ON m.organisation_id = o.id \
             WHERE m.user_id = $1 ORDER BY o.legal_name"
        ))
        .bind(user)
        .fetch_all(&self.0)
        .await
        .map_err(store)?
        .into_iter()
        .map(|r| Ok((Organisation::try_from(r.organisation)?, r.role.parse()?)))
        .collect()
    }

    pub(crate) async fn membership(
        &self,
        organisation: OrganisationId,
        user: UserId,
    ) -> Result<Option<MemberRole>, StoreError> {
        let role: Option<String> = sqlx::query_scalar(
            "SELECT role FROM memberships WHERE organisation_id = $1 AND user_id = $2",
        )
        .bind(organisation)
        .bind(user)
        .fetch_optional(&self.0)
        .await
        .map_err(store)?;
        role.map(|r| r.parse()).transpose()
    }

    pub(crate) async fn all_organisations(&self) -> Result<Vec<Organisation>, StoreError> {
        select_rows!(
            OrganisationRow,
            organisation_columns,
            "FROM organisations o ORDER BY o.legal_name"
        )
        .all_into(&self.0)
        .await
    }

    pub(crate) async fn members_of(
        &self,
        organisation: OrganisationId,
    ) -> Result<Vec<(User, MemberRole)>, StoreError> {
        sqlx::query_as::<_, MemberRow>(
            "SELECT u.id, u.email, u.display_name, u.kind, u.password_hash, u.email_verified_at, \
             u.failed_logins, u.locked_until, u.totp_secret, u.created_at, m.role FROM users u \
             JOIN memberships m ON m.user_id = u.id WHERE m.organisation_id = $1 ORDER BY u.email",
        )
        .bind(organisation)
        .fetch_all(&self.0)
        .await
        .map_err(store)?
        .into_iter()
        .map(|r| Ok((r.user.user()?, r.role.parse()?)))
        .collect()
    }

    pub(crate) async fn create_invitation(
        &self,
        key: &KeyedHash,
        invitation: Invitation,
    ) -> Result<(), StoreError> {
        let i = invitation;
        sqlx::query(
            "INSERT INTO invitations (key_hash, organisation_id, email, role, invited_by, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(key.as_str().to_owned())
        .bind(i.organisation_id)
        .bind(i.email.as_str().to_owned())
        .bind(i.role.as_str())
        .bind(i.invited_by)
        .bind(i.created_at)
        .bind(i.expires_at)
        .run(&self.0)
        .await
    }

    pub(crate) async fn open_invitations(
        &self,
        organisation: OrganisationId,
        now: OffsetDateTime,
    ) -> Result<Vec<Invitation>, StoreError> {
        sqlx::query_as::<_, InvitationRow>(
            "SELECT organisation_id, email, role, invited_by, created_at, expires_at \
             FROM invitations WHERE organisation_id = $1 AND accepted_at IS NULL \
             AND expires_at > $2 ORDER BY created_at",
        )
        .bind(organisation)
        .bind(now)
        .fetch_all(&self.0)
        .await
        .map_err(store)?
        .into_iter()
        .map(|r| {
            Ok(Invitation {
                organisation_id: r.organisation_id,
                email: parse("e-mail", &r.email)?,
                role: r.role.parse()?,
                invited_by: r.invited_by,
                created_at: r.created_at,
                expires_at: r.expires_at,
            })
        })
        .collect()
    }

    pub(crate) async fn accept_invitation(
        &self,
        key: &KeyedHash,
        user: UserId,
        email: &Email,
        now: OffsetDateTime,
    ) -> Result<Option<OrganisationId>, StoreError> {
        let mut tx = begin_write(&self.0, &self.1).await?;
        let found: Option<(OrganisationId, String)> = sqlx::query_as(
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
        .bind(organisation)
        .bind(user)
        .bind(&role)
        .run(&mut *tx)
        .await?;
        tx.commit().await.map_err(store)?;
        Ok(Some(organisation))
    }

    pub(crate) async fn remove_member(
        &self,
        organisation: OrganisationId,
        user: UserId,
    ) -> Result<(), StoreError> {
        let query =
            sqlx::query("DELETE FROM memberships WHERE organisation_id = $1 AND user_id = $2");
        query.bind(organisation).bind(user).run(&self.0).await
    }

    pub(crate) async fn set_organisation_status(
        &self,
        id: OrganisationId,
        status: Status,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE organisations SET status = $2 WHERE id = $1")
            .bind(id)
            .bind(status.as_str())
            .run(&self.0)
            .await
    }
}
