//! Berlin Group resource status notifications: the `TPP-Notification-URI` a
//! TPP names on an initiation, the content it prefers
//! (`TPP-Notification-Content-Preferred`), the notifications waiting in the
//! outbox, and their port.

use std::future::Future;

use time::OffsetDateTime;

use crate::StoreError;
use crate::ids::ApplicationId;
use crate::registry::RedirectUri;

/// The longest `TPP-Notification-URI` accepted.
pub const MAX_NOTIFICATION_URI_LEN: usize = 1000;

/// A `TPP-Notification-URI`: `https`, on the host of one of the application's
/// registered redirect URIs or a subdomain of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationUri(url::Url);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidNotificationUri {
    #[error("is longer than {MAX_NOTIFICATION_URI_LEN} characters once percent-encoded")]
    TooLong,
    #[error("is not an absolute URI")]
    NotAbsolute,
    #[error("must use https")]
    NotHttps,
    #[error("must not contain user information")]
    UserInfo,
    #[error("must not contain a fragment (#…)")]
    Fragment,
    #[error(
        "must be on the host of one of the application's registered redirect URIs or a subdomain of it"
    )]
    ForeignHost,
}

impl NotificationUri {
    /// `text` if it is an `https` URI on the host of one of `registered` or a
    /// subdomain of it. The registrable domain itself (`tpp.example` for
    /// `app.tpp.example`) would need the public-suffix list to tell
    /// `tpp.example` from `co.uk`; the redirect URI's own host is a domain
    /// the TPP proved it controls.
    pub fn parse(text: &str, registered: &[RedirectUri]) -> Result<Self, InvalidNotificationUri> {
        if text.len() > MAX_NOTIFICATION_URI_LEN {
            return Err(InvalidNotificationUri::TooLong);
        }
        let url = url::Url::parse(text).map_err(|_| InvalidNotificationUri::NotAbsolute)?;
        if url.scheme() != "https" {
            return Err(InvalidNotificationUri::NotHttps);
        }
        let Some(host) = url.host() else {
            return Err(InvalidNotificationUri::NotAbsolute);
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(InvalidNotificationUri::UserInfo);
        }
        if url.fragment().is_some() {
            return Err(InvalidNotificationUri::Fragment);
        }
        // What is stored and read back is the serialisation, which
        // percent-encoding can make three times the text's length.
        if url.as_str().len() > MAX_NOTIFICATION_URI_LEN {
            return Err(InvalidNotificationUri::TooLong);
        }
        let host = host.to_owned();
        let covered = registered.iter().any(|r| {
            url::Url::parse(r.as_str())
                .ok()
                .and_then(|r| r.host().map(|h| h.to_owned()))
                .is_some_and(|base| within(&host, &base))
        });
        if !covered {
            return Err(InvalidNotificationUri::ForeignHost);
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// `host` is `base` or, for domain names, a subdomain of it.
fn within(host: &url::Host<String>, base: &url::Host<String>) -> bool {
    match (host, base) {
        (url::Host::Domain(host), url::Host::Domain(base)) => {
            let (host, base) = (host.trim_end_matches('.'), base.trim_end_matches('.'));
            !base.is_empty()
                && (host == base
                    || host
                        .strip_suffix(base)
                        .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')))
        }
        (host, base) => host == base,
    }
}

/// Which status changes a TPP is notified of (`status=SCA,PROCESS,LAST`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotificationContent {
    /// Every change of an authorisation's `scaStatus`.
    pub sca: bool,
    /// Every change of `consentStatus` or `transactionStatus`.
    pub process: bool,
    /// The final `consentStatus` or `transactionStatus` only.
    pub last: bool,
}

impl NotificationContent {
    /// What is sent when the TPP states no preference.
    pub const DEFAULT: Self = Self {
        sca: true,
        process: true,
        last: false,
    };

    /// The preferences of `TPP-Notification-Content-Preferred`: `status=`
    /// followed by SCA, PROCESS and LAST, comma-separated, none repeated;
    /// `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let (key, list) = text.split_once('=')?;
        if !key.trim().eq_ignore_ascii_case("status") {
            return None;
        }
        let mut content = Self {
            sca: false,
            process: false,
            last: false,
        };
        for constant in list.split(',') {
            let flag = match constant.trim() {
                "SCA" => &mut content.sca,
                "PROCESS" => &mut content.process,
                "LAST" => &mut content.last,
                _ => return None,
            };
            if *flag {
                return None;
            }
            *flag = true;
        }
        Some(content)
    }

    /// As `ASPSP-Notification-Content` states it.
    pub fn header_value(&self) -> String {
        let constants: Vec<&str> = [
            (self.sca, "SCA"),
            (self.process, "PROCESS"),
            (self.last, "LAST"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        format!("status={}", constants.join(","))
    }
}

/// The kind of resource a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifiedResource {
    Consent,
    Payment,
}

impl NotifiedResource {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Consent => "consent",
            Self::Payment => "payment",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "consent" => Some(Self::Consent),
            "payment" => Some(Self::Payment),
            _ => None,
        }
    }
}

/// Which status attribute changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusAttribute {
    ScaStatus,
    ConsentStatus,
    TransactionStatus,
}

impl StatusAttribute {
    /// The attribute's name in the API.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ScaStatus => "scaStatus",
            Self::ConsentStatus => "consentStatus",
            Self::TransactionStatus => "transactionStatus",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "scaStatus" => Some(Self::ScaStatus),
            "consentStatus" => Some(Self::ConsentStatus),
            "transactionStatus" => Some(Self::TransactionStatus),
            _ => None,
        }
    }
}

/// Where a resource's status changes are sent, stored with the resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationTarget {
    pub resource: NotifiedResource,
    pub resource_id: String,
    pub application_id: ApplicationId,
    pub uri: NotificationUri,
    pub content: NotificationContent,
    pub created_at: OffsetDateTime,
}

/// A status change waiting in the outbox, claimed for one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingNotification {
    pub id: i64,
    pub resource: NotifiedResource,
    pub resource_id: String,
    /// The authorisation whose `scaStatus` changed.
    pub authorisation_id: Option<String>,
    pub attribute: StatusAttribute,
    pub status: String,
    pub uri: String,
    pub changed_at: OffsetDateTime,
    /// This attempt's number, from 1.
    pub attempt: u32,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    /// Failed; tried again from `at`.
    RetryAt {
        at: OffsetDateTime,
        error: String,
    },
    /// Failed for good: attempts used up, or a URI that can never be reached.
    GivenUp {
        error: String,
    },
}

/// The outbox of notifications. Status changes enter it in the transaction
/// that makes them (the store's own triggers); deliverers of any node claim
/// them.
pub trait NotificationRepository: Send + Sync {
    /// Stores where `target`'s resource notifies; a later call for the same
    /// resource (an explicit authorisation start with its own headers)
    /// replaces it, and a repeated initiation writes the same again.
    fn subscribe_notifications(
        &self,
        target: &NotificationTarget,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Up to `limit` notifications due at `now`, each the oldest undelivered
    /// one of its resource and unclaimed (or its claim lapsed), claimed until
    /// `lease_until`, so one attempt at a time runs per resource across nodes.
    fn claim_notifications(
        &self,
        limit: u32,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<PendingNotification>, StoreError>> + Send;

    /// Records how the claimed attempt `id` ended.
    fn record_delivery(
        &self,
        id: i64,
        outcome: &DeliveryOutcome,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes notifications delivered or given up before `before`, `batch`
    /// rows per statement; how many.
    fn prune_notifications(
        &self,
        before: OffsetDateTime,
        batch: u32,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Environment;

    fn registered() -> Vec<RedirectUri> {
        ["https://app.tpp.example/cb", "https://127.0.0.1:8443/cb"]
            .iter()
            .map(|u| RedirectUri::parse(u, Environment::Sandbox).unwrap())
            .collect()
    }

    #[test]
    fn a_notification_uri_is_on_a_registered_host_or_its_subdomains() {
        for ok in [
            "https://app.tpp.example/notify",
            "https://APP.tpp.example:9443/n?x=1",
            "https://hooks.app.tpp.example/n",
            "https://127.0.0.1:9/n",
        ] {
            assert!(NotificationUri::parse(ok, &registered()).is_ok(), "{ok}");
        }
        for (uri, error) in [
            ("https://tpp.example/n", InvalidNotificationUri::ForeignHost),
            (
                "https://evil.example/n",
                InvalidNotificationUri::ForeignHost,
            ),
            (
                "https://xapp.tpp.example/n",
                InvalidNotificationUri::ForeignHost,
            ),
            (
                "https://app.tpp.example.evil.example/n",
                InvalidNotificationUri::ForeignHost,
            ),
            ("https://127.0.0.2/n", InvalidNotificationUri::ForeignHost),
            ("http://app.tpp.example/n", InvalidNotificationUri::NotHttps),
            (
                "https://u:p@app.tpp.example/n",
                InvalidNotificationUri::UserInfo,
            ),
            (
                "https://app.tpp.example/n#x",
                InvalidNotificationUri::Fragment,
            ),
            ("/relative", InvalidNotificationUri::NotAbsolute),
        ] {
            assert_eq!(
                NotificationUri::parse(uri, &registered()),
                Err(error),
                "{uri}"
            );
        }
        let long = format!("https://app.tpp.example/{}", "a".repeat(1000));
        assert_eq!(
            NotificationUri::parse(&long, &registered()),
            Err(InvalidNotificationUri::TooLong)
        );
        assert_eq!(
            NotificationUri::parse("https://app.tpp.example/n", &[]),
            Err(InvalidNotificationUri::ForeignHost)
        );
        // Short enough as sent, too long once percent-encoded as stored.
        let encoded = format!("https://app.tpp.example/{}", "{".repeat(400));
        assert_eq!(
            NotificationUri::parse(&encoded, &registered()),
            Err(InvalidNotificationUri::TooLong)
        );
    }

    #[test]
    fn content_preferences_are_the_three_constants_each_once() {
        assert_eq!(
            NotificationContent::parse("status=SCA,PROCESS,LAST"),
            Some(NotificationContent {
                sca: true,
                process: true,
                last: true
            })
        );
        assert_eq!(
            NotificationContent::parse("status=LAST"),
            Some(NotificationContent {
                sca: false,
                process: false,
                last: true
            })
        );
        assert_eq!(
            NotificationContent::parse("status=SCA, PROCESS").map(|c| c.header_value()),
            Some("status=SCA,PROCESS".to_owned())
        );
        for unsupported in [
            "status=SCA,SCA",
            "status=FOO",
            "status=",
            "SCA,PROCESS",
            "state=SCA",
        ] {
            assert_eq!(
                NotificationContent::parse(unsupported),
                None,
                "{unsupported}"
            );
        }
    }
}
