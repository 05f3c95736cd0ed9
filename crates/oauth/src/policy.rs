//! The per-client security policy: one object per security profile that the
//! token endpoint enforces and the metadata document advertises, so the two
//! cannot drift apart.

use fintechapi_domain::registry::SecurityProfile;

/// How a client proves its identity at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    /// RFC 7523 client assertion signed with a key of the client's JWKS.
    PrivateKeyJwt,
    /// RFC 8705: the verified TLS client certificate with the registered subject DN.
    TlsClientAuth,
}

impl ClientAuthMethod {
    pub fn as_str(&self) -> &'static str {
        match self {
            ClientAuthMethod::ClientSecretBasic => "client_secret_basic",
            ClientAuthMethod::ClientSecretPost => "client_secret_post",
            ClientAuthMethod::PrivateKeyJwt => "private_key_jwt",
            ClientAuthMethod::TlsClientAuth => "tls_client_auth",
        }
    }
}

/// What a client of one security profile must do and may get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientPolicy {
    pub profile: SecurityProfile,
    /// Accepted client authentication methods; empty: the profile's methods
    /// are not offered by this server yet, so its clients get no token.
    pub auth_methods: &'static [ClientAuthMethod],
    /// Whether unbound (bearer) access tokens may be issued; when false every
    /// token request needs a DPoP proof (FAPI 2.0 §5.3.2.1: sender-constrained).
    pub bearer_tokens: bool,
    /// Whether a used refresh token is replaced by a new one (with reuse
    /// detection); FAPI 2.0 §5.3.2.1 forbids rotation for its clients.
    pub rotate_refresh_tokens: bool,
}

const BASIC: ClientPolicy = ClientPolicy {
    profile: SecurityProfile::Basic,
    auth_methods: &[
        ClientAuthMethod::ClientSecretBasic,
        ClientAuthMethod::ClientSecretPost,
    ],
    bearer_tokens: true,
    rotate_refresh_tokens: true,
};

// FAPI 2.0: private_key_jwt or mutual TLS, tokens bound to a DPoP key or the certificate.
const FAPI2: ClientPolicy = ClientPolicy {
    profile: SecurityProfile::Fapi2,
    auth_methods: &[
        ClientAuthMethod::PrivateKeyJwt,
        ClientAuthMethod::TlsClientAuth,
    ],
    bearer_tokens: false,
    rotate_refresh_tokens: false,
};

impl ClientPolicy {
    pub const ALL: [ClientPolicy; 2] = [BASIC, FAPI2];

    pub fn of(profile: SecurityProfile) -> &'static ClientPolicy {
        match profile {
            SecurityProfile::Basic => &BASIC,
            SecurityProfile::Fapi2 => &FAPI2,
        }
    }

    pub fn allows(&self, method: ClientAuthMethod) -> bool {
        self.auth_methods.contains(&method)
    }

    /// Every method some profile accepts, for the metadata document.
    pub fn advertised_auth_methods() -> Vec<&'static str> {
        let mut methods: Vec<&'static str> = Vec::new();
        for method in Self::ALL.iter().flat_map(|p| p.auth_methods) {
            if !methods.contains(&method.as_str()) {
                methods.push(method.as_str());
            }
        }
        methods
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fapi2_clients_never_use_a_shared_secret_or_bearer_tokens() {
        let fapi2 = ClientPolicy::of(SecurityProfile::Fapi2);
        assert!(!fapi2.allows(ClientAuthMethod::ClientSecretBasic));
        assert!(!fapi2.allows(ClientAuthMethod::ClientSecretPost));
        assert!(fapi2.allows(ClientAuthMethod::PrivateKeyJwt));
        assert!(!fapi2.bearer_tokens && !fapi2.rotate_refresh_tokens);
        let basic = ClientPolicy::of(SecurityProfile::Basic);
        assert!(basic.allows(ClientAuthMethod::ClientSecretPost));
        assert!(!basic.allows(ClientAuthMethod::PrivateKeyJwt));
        assert!(basic.rotate_refresh_tokens);
        assert_eq!(
            ClientPolicy::advertised_auth_methods(),
            [
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
                "tls_client_auth"
            ]
        );
    }
}
