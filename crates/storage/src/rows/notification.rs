//! Notification outbox rows.

use fintechapi_domain::StoreError;
use fintechapi_domain::notification::{NotifiedResource, PendingNotification, StatusAttribute};
use time::OffsetDateTime;

#[derive(sqlx::FromRow)]
pub(crate) struct NotificationRow {
    id: i64,
    resource_id: String,
    resource_type: String,
    authorisation_id: Option<String>,
    attribute: String,
    status: String,
    uri: String,
    changed_at: OffsetDateTime,
    attempts: i32,
}

impl TryFrom<NotificationRow> for PendingNotification {
    type Error = StoreError;
    fn try_from(r: NotificationRow) -> Result<Self, StoreError> {
        let corrupt = |what: &str, text: &str| {
            StoreError::corrupt(format!(
                "stored notification {what} {text:?} does not parse"
            ))
        };
        Ok(PendingNotification {
            id: r.id,
            resource: NotifiedResource::parse(&r.resource_type)
                .ok_or_else(|| corrupt("resource type", &r.resource_type))?,
            resource_id: r.resource_id,
            authorisation_id: r.authorisation_id,
            attribute: StatusAttribute::parse(&r.attribute)
                .ok_or_else(|| corrupt("attribute", &r.attribute))?,
            status: r.status,
            uri: r.uri,
            changed_at: r.changed_at,
            attempt: u32::try_from(r.attempts).map_err(|_| corrupt("attempts", "negative"))?,
        })
    }
}
