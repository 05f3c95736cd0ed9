//! Resource status notifications asked for on an initiation
//! (`TPP-Notification-URI`, `TPP-Notification-Content-Preferred`): the URI
//! checked against the application's registered redirect URIs (400
//! `FORMAT_ERROR` otherwise) and stored with the consent or payment; the
//! store's triggers then put each status change in the outbox, which the
//! server's deliverer sends.

use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use fintechapi_domain::notification::{
    NotificationContent, NotificationRepository, NotificationTarget, NotificationUri,
    NotifiedResource,
};
use fintechapi_domain::portal::PortalRepository;

use crate::{Caller, Xs2aError, Xs2aService, Xs2aStore, header_text};

const URI: &str = "tpp-notification-uri";
const URI_SHOWN: &str = "TPP-Notification-URI";
const CONTENT: &str = "tpp-notification-content-preferred";

/// What the TPP asked for and what it gets.
pub(crate) enum Notifications {
    NotAsked,
    /// A URI with content preferences this ASPSP does not offer:
    /// `ASPSP-Notification-Support: false`, nothing is sent.
    Unsupported,
    Accepted {
        uri: NotificationUri,
        content: NotificationContent,
    },
}

impl Notifications {
    /// The initiation's notification headers, checked before the resource is created.
    pub(crate) async fn requested<R: Xs2aStore>(
        service: &Xs2aService<R>,
        caller: &Caller,
        headers: &HeaderMap,
    ) -> Result<Self, Xs2aError> {
        let Some(uri) = header_text(headers, URI) else {
            if headers.contains_key(URI) {
                return Err(
                    Xs2aError::format(format!("{URI_SHOWN} must be an https URI")).at(URI_SHOWN),
                );
            }
            return Ok(Self::NotAsked);
        };
        let application = service
            .applications()
            .application(caller.grant.application_id)
            .await?
            .ok_or_else(|| Xs2aError::token_invalid("the token's application no longer exists"))?;
        let uri = NotificationUri::parse(uri, &application.redirect_uris)
            .map_err(|e| Xs2aError::format(format!("{URI_SHOWN} {e}")).at(URI_SHOWN))?;
        let content = match header_text(headers, CONTENT) {
            None => NotificationContent::DEFAULT,
            Some(preferred) => match NotificationContent::parse(preferred) {
                Some(content) => content,
                None => return Ok(Self::Unsupported),
            },
        };
        Ok(Self::Accepted { uri, content })
    }

    /// Stores where the new (or replayed) resource's changes go.
    pub(crate) async fn subscribe<R: Xs2aStore>(
        &self,
        service: &Xs2aService<R>,
        caller: &Caller,
        resource: NotifiedResource,
        resource_id: String,
    ) -> Result<(), Xs2aError> {
        let Self::Accepted { uri, content } = self else {
            return Ok(());
        };
        let target = NotificationTarget {
            resource,
            resource_id,
            application_id: caller.grant.application_id,
            uri: uri.clone(),
            content: *content,
            created_at: service.now(),
        };
        service
            .notifications()
            .subscribe_notifications(&target)
            .await?;
        Ok(())
    }

    /// `ASPSP-Notification-Support` and `ASPSP-Notification-Content` on the answer.
    pub(crate) fn mark(&self, mut response: Response) -> Response {
        let headers = response.headers_mut();
        match self {
            Self::NotAsked => {}
            Self::Unsupported => {
                headers.insert(
                    "aspsp-notification-support",
                    HeaderValue::from_static("false"),
                );
            }
            Self::Accepted { content, .. } => {
                headers.insert(
                    "aspsp-notification-support",
                    HeaderValue::from_static("true"),
                );
                if let Ok(value) = HeaderValue::from_str(&content.header_value()) {
                    headers.insert("aspsp-notification-content", value);
                }
            }
        }
        response
    }
}
