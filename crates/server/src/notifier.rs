//! Delivers the notification outbox to the TPPs' `TPP-Notification-URI`.
//!
//! Status changes enter the outbox in the transaction that makes them (the
//! store's triggers). Each node's deliverer claims due notifications with a
//! lease, only the oldest open one per resource, so a resource's changes
//! arrive in order and one attempt at a time runs per notification across
//! nodes; at most `concurrency` run at once. Each is a `POST` of JSON
//! (resource, attribute, new status, time: nothing about the PSU) through the
//! `outbound` client (https only, no redirects, public addresses only unless
//! configured otherwise, a timeout); the answer's body is read up to 1 KiB
//! and ignored. A 2xx answer delivers it; anything else is tried again after
//! an exponentially growing wait until `max_attempts`, then given up and
//! recorded. At shutdown the attempts in flight finish and are recorded.

use std::sync::Arc;
use std::time::Duration;

use fintechapi_domain::Clock;
use fintechapi_domain::notification::{
    DeliveryOutcome, NotificationRepository, PendingNotification,
};
use fintechapi_outbound::{OutboundSettings, SetupError};
use fintechapi_storage::Store;
use time::format_description::well_known::Rfc3339;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// How much of an answer's body is read (and ignored).
const MAX_ANSWER_BYTES: usize = 1024;

#[derive(Debug, Clone)]
pub struct NotifierSettings {
    pub outbound: OutboundSettings,
    pub max_attempts: u32,
    pub retry_base: Duration,
    pub concurrency: u32,
    pub timeout: Duration,
    pub poll: Duration,
}

pub struct Notifier {
    http: reqwest::Client,
    settings: NotifierSettings,
}

/// Why an attempt failed.
#[derive(Debug, PartialEq, Eq)]
enum Failure {
    /// Worth another attempt: unreachable, timed out, a non-2xx answer.
    Transient(String),
    /// Never deliverable: the URI reaches no public address.
    Permanent(String),
}

/// The wait after failed attempt number `failed` (from 1): `base`·2^(failed−1),
/// at most an hour.
pub(crate) fn backoff(base: Duration, failed: u32) -> Duration {
    let doubling = 2u32.saturating_pow(failed.saturating_sub(1));
    base.saturating_mul(doubling).min(MAX_BACKOFF)
}

impl Notifier {
    pub fn new(settings: NotifierSettings) -> Result<Self, SetupError> {
        Ok(Self {
            http: fintechapi_outbound::client(&settings.outbound, settings.timeout)?,
            settings,
        })
    }

    /// Delivers until `stop` turns true.
    pub fn spawn(
        self,
        store: Store,
        clock: Arc<dyn Clock>,
        mut stop: watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        let notifier = Arc::new(self);
        tokio::spawn(async move {
            let batch = notifier.settings.concurrency.max(1);
            // Longer than an attempt can take, so a live claim never lapses.
            let lease = time::Duration::try_from(notifier.settings.timeout)
                .unwrap_or(time::Duration::MINUTE)
                + time::Duration::seconds(30);
            loop {
                let now = clock.now();
                let claimed = match store.claim_notifications(batch, now, now + lease).await {
                    Ok(claimed) => claimed,
                    Err(e) => {
                        tracing::warn!(error = %e, "reading the notification outbox failed");
                        Vec::new()
                    }
                };
                let full = u32::try_from(claimed.len()).unwrap_or(u32::MAX) >= batch;
                let mut attempts = JoinSet::new();
                for notification in claimed {
                    let (notifier, store, clock) = (notifier.clone(), store.clone(), clock.clone());
                    attempts.spawn(async move {
                        notifier.attempt(&store, clock.as_ref(), notification).await;
                    });
                }
                while attempts.join_next().await.is_some() {}
                if *stop.borrow() {
                    return;
                }
                if full {
                    continue;
                }
                tokio::select! {
                    _ = stop.changed() => return,
                    () = tokio::time::sleep(notifier.settings.poll) => {}
                }
            }
        })
    }

    /// One delivery attempt of `notification`, and its outcome recorded.
    async fn attempt(&self, store: &Store, clock: &dyn Clock, notification: PendingNotification) {
        let outcome = match self.deliver(&notification).await {
            Ok(()) => DeliveryOutcome::Delivered,
            Err(Failure::Permanent(error)) => DeliveryOutcome::GivenUp { error },
            Err(Failure::Transient(error))
                if notification.attempt >= self.settings.max_attempts =>
            {
                DeliveryOutcome::GivenUp { error }
            }
            Err(Failure::Transient(error)) => {
                let wait = backoff(self.settings.retry_base, notification.attempt);
                DeliveryOutcome::RetryAt {
                    at: clock.now()
                        + time::Duration::try_from(wait).unwrap_or(time::Duration::HOUR),
                    error,
                }
            }
        };
        match &outcome {
            DeliveryOutcome::Delivered => {}
            DeliveryOutcome::RetryAt { error, .. } => tracing::info!(
                notification_id = notification.id,
                attempt = notification.attempt,
                error = %error,
                "notification not delivered; will retry"
            ),
            DeliveryOutcome::GivenUp { error } => tracing::warn!(
                notification_id = notification.id,
                attempt = notification.attempt,
                error = %error,
                "notification given up"
            ),
        }
        if let Err(e) = store
            .record_delivery(notification.id, &outcome, clock.now())
            .await
        {
            tracing::warn!(error = %e, notification_id = notification.id, "notification outcome not recorded; its lease will lapse and it is tried again");
        }
    }

    async fn deliver(&self, notification: &PendingNotification) -> Result<(), Failure> {
        let url = reqwest::Url::parse(&notification.uri)
            .map_err(|e| Failure::Permanent(format!("the stored URI does not parse: {e}")))?;
        fintechapi_outbound::check_address(&url, &self.settings.outbound)
            .map_err(|e| Failure::Permanent(e.to_string()))?;
        let mut response = self
            .http
            .post(url)
            .header("x-request-id", uuid::Uuid::new_v4().to_string())
            .json(&body(notification))
            .send()
            .await
            .map_err(|e| {
                if fintechapi_outbound::is_non_public(&e) {
                    Failure::Permanent(fintechapi_outbound::NonPublicAddress.to_string())
                } else if e.is_timeout() {
                    Failure::Transient("timed out".into())
                } else {
                    Failure::Transient(fintechapi_outbound::innermost_cause(&e))
                }
            })?;
        let status = response.status();
        let mut read = 0;
        while read < MAX_ANSWER_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                Ok(None) | Err(_) => break,
            }
        }
        if status.is_success() {
            Ok(())
        } else {
            Err(Failure::Transient(format!(
                "answered HTTP {}",
                status.as_u16()
            )))
        }
    }
}

/// What the TPP receives: the resource, the attribute that changed, its new
/// value and when; no personal data.
fn body(n: &PendingNotification) -> serde_json::Value {
    let mut body = serde_json::json!({
        "notificationId": n.id.to_string(),
        "resourceType": n.resource.as_str(),
        "resourceId": n.resource_id,
        n.attribute.as_str(): n.status,
        "time": n.changed_at.format(&Rfc3339).unwrap_or_default(),
    });
    if let Some(authorisation) = &n.authorisation_id {
        body["authorisationId"] = authorisation.as_str().into();
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use fintechapi_domain::notification::{NotifiedResource, StatusAttribute};

    #[test]
    fn the_wait_doubles_from_the_base_up_to_an_hour() {
        let base = Duration::from_secs(10);
        let waits: Vec<u64> = (1..=6).map(|n| backoff(base, n).as_secs()).collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 320]);
        assert_eq!(backoff(base, 10), MAX_BACKOFF);
        assert_eq!(backoff(base, u32::MAX), MAX_BACKOFF);
        assert_eq!(
            backoff(Duration::from_millis(200), 0),
            Duration::from_millis(200)
        );
    }

    #[test]
    fn the_body_names_the_resource_and_its_new_status_only() {
        let n = PendingNotification {
            id: 7,
            resource: NotifiedResource::Consent,
            resource_id: "c-1".into(),
            authorisation_id: Some("a-1".into()),
            attribute: StatusAttribute::ScaStatus,
            status: "finalised".into(),
            uri: "https://tpp.example/n".into(),
            changed_at: time::macros::datetime!(2026-12-05 01:02:03 UTC),
            attempt: 1,
        };
        assert_eq!(
            body(&n),
            serde_json::json!({"notificationId": "7", "resourceType": "consent",
                "resourceId": "c-1", "authorisationId": "a-1", "scaStatus": "finalised",
                "time": "2026-12-05T01:02:03Z"})
        );
    }
}
