//! Applications (the TPPs' OAuth clients), their standing on the hot path and
//! the registry's change counter.

use fintechapi_domain::StoreError;
use fintechapi_domain::ids::{ApplicationId, OrganisationId};
use fintechapi_domain::portal::PortalError;
use fintechapi_domain::registry::{
    Application, ApplicationStanding, Credential, Status, Subscription,
};

use super::{Read, Store, Write, begin_write};
use crate::error::{is_unique_violation, store};
use crate::rows::{ApplicationRow, join_uris};

impl Store {
    pub(crate) async fn create_application(
        &self,
        application: Application,
        subscriptions: Vec<Subscription>,
        credential: Credential,
    ) -> Result<(), PortalError> {
        let a = application;
        let mut tx = begin_write(&self.0, &self.1).await?;
        let inserted = sqlx::query(concat!(
            "INSERT INTO applications (",
            application_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ))
        .bind(a.id)
        .bind(a.organisation_id)
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
        .bind(a.require_signed_request_object)
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
            super::subscriptions::insert(&mut tx, s)
                .await
                .map_err(store)?;
        }
        super::credentials::insert(&mut tx, &credential).await?;
        tx.commit().await.map_err(store)?;
        Ok(())
    }

    pub(crate) async fn application(
        &self,
        id: ApplicationId,
    ) -> Result<Option<Application>, StoreError> {
        select_rows!(
            ApplicationRow,
            application_columns,
            "FROM applications WHERE id = $1"
        )
        .bind(id)
        .optional_into(&self.0)
        .await
    }

    pub(crate) async fn applications_of(
        &self,
        organisation: OrganisationId,
    ) -> Result<Vec<Application>, StoreError> {
        select_rows!(
            ApplicationRow,
            application_columns,
            "FROM applications WHERE organisation_id = $1 ORDER BY name"
        )
        .bind(organisation)
        .all_into(&self.0)
        .await
    }

    pub(crate) async fn all_applications(&self) -> Result<Vec<Application>, StoreError> {
        select_rows!(
            ApplicationRow,
            application_columns,
            "FROM applications ORDER BY created_at, id"
        )
        .all_into(&self.0)
        .await
    }

    pub(crate) async fn set_application_status(
        &self,
        id: ApplicationId,
        status: Status,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE applications SET status = $2 WHERE id = $1")
            .bind(id)
            .bind(status.as_str())
            .run(&self.0)
            .await
    }

    pub(crate) async fn set_application_plan(
        &self,
        id: ApplicationId,
        plan: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE applications SET plan = $2 WHERE id = $1")
            .bind(id)
            .bind(plan)
            .run(&self.0)
            .await
    }

    pub(crate) async fn application_standing(
        &self,
        application: ApplicationId,
    ) -> Result<Option<ApplicationStanding>, StoreError> {
        // Roles, then per approved subscription its product and tier, then the assigned plan.
        type StandingRow = (String, Option<String>, Option<String>, Option<String>);
        let rows: Vec<StandingRow> = sqlx::query_as(
            "SELECT o.roles, s.product, s.plan, a.plan FROM applications a \
             JOIN organisations o ON o.id = a.organisation_id \
             LEFT JOIN subscriptions s ON s.application_id = a.id AND s.status = 'approved' \
             WHERE a.id = $1 AND a.status = 'active' AND o.status = 'active' ORDER BY s.product",
        )
        .bind(application)
        .fetch_all(&self.0)
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

    pub(crate) async fn registry_version(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT version FROM registry_version")
            .fetch_one(&self.0)
            .await
            .map_err(store)
    }
}
