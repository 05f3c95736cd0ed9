//! Applications' subscriptions to API products and the operators' decisions.

use fintechapi_domain::StoreError;
use fintechapi_domain::ids::{ApplicationId, SubscriptionId};
use fintechapi_domain::portal::PortalError;
use fintechapi_domain::registry::{Subscription, SubscriptionStatus};
use time::OffsetDateTime;

use super::{Conn, Read, Store, Write};
use crate::error::{is_unique_violation, store};
use crate::rows::SubscriptionRow;

impl Store {
    pub(crate) async fn subscriptions_of(
        &self,
        application: ApplicationId,
    ) -> Result<Vec<Subscription>, StoreError> {
        select_rows!(
            SubscriptionRow,
            subscription_columns,
            "FROM subscriptions WHERE application_id = $1 ORDER BY product"
        )
        .bind(application)
        .all_into(&self.0)
        .await
    }

    pub(crate) async fn subscription(
        &self,
        id: SubscriptionId,
    ) -> Result<Option<Subscription>, StoreError> {
        select_rows!(
            SubscriptionRow,
            subscription_columns,
            "FROM subscriptions WHERE id = $1"
        )
        .bind(id)
        .optional_into(&self.0)
        .await
    }

    pub(crate) async fn pending_subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        select_rows!(
            SubscriptionRow,
            subscription_columns,
            "FROM subscriptions WHERE status = 'pending' ORDER BY created_at, id"
        )
        .all_into(&self.0)
        .await
    }

    pub(crate) async fn add_subscription(
        &self,
        subscription: Subscription,
    ) -> Result<(), PortalError> {
        let mut conn = self.0.acquire().await.map_err(store)?;
        match insert(&mut conn, &subscription).await {
            Ok(()) => Ok(()),
            Err(e) if is_unique_violation(&e, "product") => Err(PortalError::AlreadySubscribed),
            Err(e) => Err(store(e).into()),
        }
    }

    pub(crate) async fn decide_subscription(
        &self,
        id: SubscriptionId,
        status: SubscriptionStatus,
        reason: Option<String>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE subscriptions SET status = $2, reason = $3, decided_at = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(status.as_str())
        .bind(reason)
        .bind(at)
        .run(&self.0)
        .await
    }
}

/// The raw error, so that callers can tell a second subscription to a product.
pub(super) async fn insert(conn: &mut Conn, s: &Subscription) -> Result<(), sqlx::Error> {
    sqlx::query(concat!(
        "INSERT INTO subscriptions (",
        subscription_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(s.id)
    .bind(s.application_id)
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
