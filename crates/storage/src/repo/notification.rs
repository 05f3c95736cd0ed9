//! The notification outbox: targets stored with their resources, status
//! changes written by the migrations' triggers, claimed by the deliverers of
//! any node.

use fintechapi_domain::StoreError;
use fintechapi_domain::notification::{
    DeliveryOutcome, NotificationRepository, NotificationTarget, PendingNotification,
};
use time::OffsetDateTime;

use super::{Read, SKIP_LOCKED, Write};
use crate::rows::NotificationRow;

impl NotificationRepository for super::Store {
    async fn subscribe_notifications(&self, target: &NotificationTarget) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO notification_targets \
             (resource_id, resource_type, application_id, uri, sca, process, last, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (resource_id) DO UPDATE SET uri = excluded.uri, sca = excluded.sca, \
             process = excluded.process, last = excluded.last",
        )
        .bind(&target.resource_id)
        .bind(target.resource.as_str())
        .bind(target.application_id)
        .bind(target.uri.as_str())
        .bind(target.content.sca)
        .bind(target.content.process)
        .bind(target.content.last)
        .bind(target.created_at)
        .run(&self.0)
        .await
    }

    async fn claim_notifications(
        &self,
        limit: u32,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Vec<PendingNotification>, StoreError> {
        // Only the oldest open notification of a resource is claimable, so a
        // resource's changes arrive in order; the outer conditions are checked
        // again on each row, so two nodes never claim the same one.
        let sql = format!(
            "UPDATE notifications SET lease_until = $2, attempts = attempts + 1 \
             WHERE id IN (SELECT n.id FROM notifications n \
                 WHERE n.delivered_at IS NULL AND n.given_up_at IS NULL \
                 AND (n.next_attempt_at IS NULL OR n.next_attempt_at <= $1) \
                 AND (n.lease_until IS NULL OR n.lease_until <= $1) \
                 AND NOT EXISTS (SELECT 1 FROM notifications e \
                     WHERE e.resource_id = n.resource_id AND e.id < n.id \
                     AND e.delivered_at IS NULL AND e.given_up_at IS NULL) \
                 ORDER BY n.id LIMIT $3{SKIP_LOCKED}) \
             AND delivered_at IS NULL AND given_up_at IS NULL \
             AND (lease_until IS NULL OR lease_until <= $1) \
             RETURNING id, resource_id, resource_type, authorisation_id, attribute, status, uri, \
             changed_at, attempts"
        );
        let mut claimed: Vec<PendingNotification> = sqlx::query_as::<_, NotificationRow>(
            // Built from constants only: nothing of the request enters it.
            sqlx::AssertSqlSafe(sql),
        )
        .bind(now)
        .bind(lease_until)
        .bind(i64::from(limit))
        .all_into(&self.0)
        .await?;
        claimed.sort_by_key(|n| n.id);
        Ok(claimed)
    }

    async fn record_delivery(
        &self,
        id: i64,
        outcome: &DeliveryOutcome,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let query = match outcome {
            DeliveryOutcome::Delivered => sqlx::query(
                "UPDATE notifications SET delivered_at = $2, lease_until = NULL, \
                 last_error = NULL WHERE id = $1",
            )
            .bind(id)
            .bind(at),
            DeliveryOutcome::RetryAt { at: next, error } => sqlx::query(
                "UPDATE notifications SET next_attempt_at = $2, lease_until = NULL, \
                 last_error = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(*next)
            .bind(error.as_str()),
            DeliveryOutcome::GivenUp { error } => sqlx::query(
                "UPDATE notifications SET given_up_at = $2, lease_until = NULL, \
                 last_error = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(at)
            .bind(error.as_str()),
        };
        query.run(&self.0).await
    }

    async fn prune_notifications(
        &self,
        before: OffsetDateTime,
        batch: u32,
    ) -> Result<u64, StoreError> {
        // Bounded statements, each its own transaction, as for tokens.
        let batch = batch.max(1);
        let mut pruned = 0;
        loop {
            let deleted = sqlx::query(
                "DELETE FROM notifications WHERE id IN (SELECT id FROM notifications \
                 WHERE delivered_at < $1 OR given_up_at < $1 LIMIT $2)",
            )
            .bind(before)
            .bind(i64::from(batch))
            .changed(&self.0)
            .await?;
            pruned += deleted;
            if deleted < u64::from(batch) {
                return Ok(pruned);
            }
        }
    }
}
