//! HTTPS requests to URIs a TPP chose (a client's `jwks_uri`, a
//! `TPP-Notification-URI`): the guards against server-side request forgery
//! that every such request needs, in one place.
//!
//! The client built here speaks `https` only (plain-HTTP services such as
//! cloud metadata endpoints are out of reach), trusts the system's roots plus
//! the configured extra CAs, follows no redirect, uses no proxy (the address
//! check would then see only the proxy) and bounds the whole exchange in
//! time. Unless `allow_private_networks` (development only), it reaches no
//! loopback, private, link-local or otherwise non-public address: checked on
//! a literal IP by [`check_address`] and on every resolved address by its
//! resolver, so DNS rebinding does not get around it.

mod address;

use std::time::Duration;

pub use address::{NonPublicAddress, is_public};

/// How the client is set up.
#[derive(Debug, Clone, Default)]
pub struct OutboundSettings {
    /// PEM bundle of CA certificates trusted in addition to the system's roots.
    pub extra_roots_pem: Option<Vec<u8>>,
    /// Development only: allow loopback and private addresses.
    pub allow_private_networks: bool,
}

/// The client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("the extra CA certificates are not PEM certificates: {0}")]
    Certificates(reqwest::Error),
    #[error("the extra CA bundle holds no certificate")]
    NoCertificate,
    #[error("cannot build the HTTPS client: {0}")]
    Client(reqwest::Error),
}

/// A client for TPP-chosen URIs, `timeout` covering connecting, TLS and the answer.
pub fn client(
    settings: &OutboundSettings,
    timeout: Duration,
) -> Result<reqwest::Client, SetupError> {
    let mut builder = reqwest::Client::builder()
        .https_only(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(timeout)
        .timeout(timeout)
        .user_agent(concat!("fintechapi/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = &settings.extra_roots_pem {
        let certificates =
            reqwest::Certificate::from_pem_bundle(pem).map_err(SetupError::Certificates)?;
        if certificates.is_empty() {
            return Err(SetupError::NoCertificate);
        }
        builder = builder.tls_certs_merge(certificates);
    }
    if !settings.allow_private_networks {
        builder = builder.dns_resolver(address::PublicAddressesOnly);
    }
    builder.build().map_err(SetupError::Client)
}

/// Refuses a URI whose host is a literal non-public IP (a name is checked
/// when the client resolves it), unless private networks are allowed.
pub fn check_address(url: &url::Url, settings: &OutboundSettings) -> Result<(), NonPublicAddress> {
    match address::literal_ip(url) {
        Some(ip) if !settings.allow_private_networks && !is_public(ip) => Err(NonPublicAddress),
        _ => Ok(()),
    }
}

/// Whether a request failed because its host resolved to no public address.
pub fn is_non_public(error: &reqwest::Error) -> bool {
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        if source.is::<NonPublicAddress>() {
            return true;
        }
        cause = source;
    }
    false
}

/// The innermost cause of a failed request, for a log line or an error text.
pub fn innermost_cause(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_literal_non_public_ip_is_refused_unless_private_networks_are_allowed() {
        let public_only = OutboundSettings::default();
        let private = OutboundSettings {
            allow_private_networks: true,
            ..OutboundSettings::default()
        };
        for uri in [
            "https://127.0.0.1/n",
            "https://[::1]:8443/n",
            "https://10.0.0.1/n",
        ] {
            let url = url::Url::parse(uri).unwrap();
            assert!(check_address(&url, &public_only).is_err(), "{uri}");
            assert!(check_address(&url, &private).is_ok(), "{uri}");
        }
        // Names are checked on the addresses they resolve to, when connecting.
        for uri in ["https://93.184.215.14/n", "https://localhost/n"] {
            let url = url::Url::parse(uri).unwrap();
            assert!(check_address(&url, &public_only).is_ok(), "{uri}");
        }
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_not_reached() {
        let http = client(&OutboundSettings::default(), Duration::from_secs(5)).unwrap();
        let error = http.get("https://localhost:9/").send().await.unwrap_err();
        assert!(is_non_public(&error), "{error:?}");
    }
}
