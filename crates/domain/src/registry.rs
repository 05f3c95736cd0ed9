//! The TPP registry: organisations (the licensed TPPs), their applications,
//! subscriptions to API products, and the consumer key/secret credentials that
//! identify an application to the OAuth server.

use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;

use crate::ids::{ApplicationId, ConsentId, CredentialId, OrganisationId, SubscriptionId};
use crate::ledger::text_enum;
use crate::store::StoreError;

text_enum!(
    /// Whether an organisation or application may act.
    Status { Active = "active", Suspended = "suspended" }
);
text_enum!(
    /// Sandbox apps reach demo data; production apps need approval.
    Environment { Sandbox = "sandbox", Production = "production" }
);
text_enum!(
    /// How strongly an application must authenticate and bind its tokens.
    SecurityProfile { Basic = "basic", Fapi2 = "fapi2" }
);
text_enum!(
    /// The APIs an application can subscribe to.
    ApiProduct { Ais = "ais", Pis = "pis", Piis = "piis" }
);
text_enum!(
    /// A subscription's decision state.
    SubscriptionStatus { Pending = "pending", Approved = "approved", Rejected = "rejected" }
);
text_enum!(
    /// Throttling tier of a subscription, in increasing order; the limits
    /// of each are configured (`crate::plan::PlanCatalog`).
    Plan { Sandbox = "sandbox", Standard = "standard", Premium = "premium" }
);

impl ApiProduct {
    pub fn title(&self) -> &'static str {
        match self {
            ApiProduct::Ais => "Account Information",
            ApiProduct::Pis => "Payment Initiation",
            ApiProduct::Piis => "Funds Confirmation",
        }
    }

    /// The PSD2 role an organisation must hold to use the product.
    pub fn required_role(&self) -> Psd2Role {
        match self {
            ApiProduct::Ais => Psd2Role::Aisp,
            ApiProduct::Pis => Psd2Role::Pisp,
            ApiProduct::Piis => Psd2Role::Piisp,
        }
    }
}

text_enum!(
    /// PSD2 roles a national competent authority grants.
    Psd2Role { Aisp = "AISP", Pisp = "PISP", Piisp = "PIISP" }
);

/// What an active application may be granted: its organisation's roles and
/// its approved subscriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationStanding {
    pub roles: Psd2Roles,
    pub approved: Vec<(ApiProduct, Plan)>,
    /// The plan an operator assigned, overriding the subscriptions' tiers.
    pub assigned_plan: Option<String>,
}

/// A committed change to what client authentication reads, as the store
/// announces it to every node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryChange {
    /// The application, its subscriptions or its credentials.
    Application(ApplicationId),
    /// The organisation: every application of it.
    Organisation(OrganisationId),
    /// A token of the application was revoked (its cached tokens go).
    Tokens(ApplicationId),
    /// A valid consent stopped being valid (withdrawn, terminated, used up, revoked).
    Consent(ConsentId),
    /// Something unrecognised: everything.
    All,
}

impl RegistryChange {
    /// The announcement's text, as the database triggers write it.
    pub fn parse(payload: &str) -> Self {
        let parsed = match payload.split_once(':') {
            Some(("application", id)) => id.parse().ok().map(Self::Application),
            Some(("organisation", id)) => id.parse().ok().map(Self::Organisation),
            Some(("tokens", id)) => id.parse().ok().map(Self::Tokens),
            Some(("consent", id)) => id.parse().ok().map(Self::Consent),
            _ => None,
        };
        parsed.unwrap_or(Self::All)
    }
}

/// What a node's watch of the registry reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryEvent {
    /// Listening: changes from now on are announced.
    Connected,
    /// The watch broke; changes may go unannounced until `Connected`.
    Lost,
    Changed(RegistryChange),
    /// The store's registry version, which every committed change bumps
    /// (SQLite's nodes poll it; PostgreSQL announces changes instead).
    Version(i64),
}

/// The set of PSD2 roles an organisation holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Psd2Roles {
    pub aisp: bool,
    pub pisp: bool,
    pub piisp: bool,
}

impl Psd2Roles {
    pub fn has(&self, role: Psd2Role) -> bool {
        match role {
            Psd2Role::Aisp => self.aisp,
            Psd2Role::Pisp => self.pisp,
            Psd2Role::Piisp => self.piisp,
        }
    }

    pub fn with(mut self, role: Psd2Role) -> Self {
        match role {
            Psd2Role::Aisp => self.aisp = true,
            Psd2Role::Pisp => self.pisp = true,
            Psd2Role::Piisp => self.piisp = true,
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        !(self.aisp || self.pisp || self.piisp)
    }

    /// For people: "AISP, PISP".
    pub fn human(&self) -> String {
        self.iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn iter(&self) -> impl Iterator<Item = Psd2Role> + '_ {
        [Psd2Role::Aisp, Psd2Role::Pisp, Psd2Role::Piisp]
            .into_iter()
            .filter(|r| self.has(*r))
    }
}

impl fmt::Display for Psd2Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(|r| r.as_str()).collect();
        f.write_str(&names.join(","))
    }
}

impl FromStr for Psd2Roles {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        s.split(',')
            .filter(|p| !p.is_empty())
            .try_fold(
                Psd2Roles::default(),
                |acc, part| Ok(acc.with(part.parse()?)),
            )
    }
}

/// A redirect URI an application registered: an absolute `https` URI without
/// fragment, user info or wildcard; `http://localhost` only in the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RedirectUri(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRedirectUri {
    #[error("not an absolute URI")]
    NotAbsolute,
    #[error("must use https (http only for localhost in the sandbox)")]
    NotHttps,
    #[error("must not contain a fragment (#…)")]
    Fragment,
    #[error("must not contain a wildcard")]
    Wildcard,
    #[error("must not contain user information")]
    UserInfo,
    #[error("is longer than 2000 characters")]
    TooLong,
    /// Spaces, quotes, angle brackets, control characters, or a form the
    /// URL standard rewrites (an upper-case host, a missing path).
    #[error("must be written exactly as the URL standard writes it: {0}")]
    NotNormal(String),
}

impl RedirectUri {
    pub fn parse(text: &str, environment: Environment) -> Result<Self, InvalidRedirectUri> {
        if text.len() > 2000 {
            return Err(InvalidRedirectUri::TooLong);
        }
        if text.contains('*') {
            return Err(InvalidRedirectUri::Wildcard);
        }
        if text.contains('#') {
            return Err(InvalidRedirectUri::Fragment);
        }
        let url = url::Url::parse(text).map_err(|_| InvalidRedirectUri::NotAbsolute)?;
        if url.cannot_be_a_base() || url.host_str().is_none() {
            return Err(InvalidRedirectUri::NotAbsolute);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(InvalidRedirectUri::UserInfo);
        }
        let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        match url.scheme() {
            "https" => {}
            "http" if local && environment == Environment::Sandbox => {}
            _ => return Err(InvalidRedirectUri::NotHttps),
        }
        // Redirect matching is exact string comparison and the URI goes into
        // `Location` as registered, so only the URL standard's own serialisation
        // (which percent-encodes or drops anything unsafe) is accepted.
        if url.as_str() != text {
            return Err(InvalidRedirectUri::NotNormal(url.into()));
        }
        Ok(Self(text.to_owned()))
    }

    /// A stored value, trusted as validated at registration.
    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a `private_key_jwt` client publishes its JWK Set: an absolute `https`
/// URI without user information or fragment (FAPI 2.0 §5.4: `jwks_uri` only
/// over TLS). Checked at registration and again before every fetch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JwksUri(url::Url);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidJwksUri {
    #[error("is not an absolute URI")]
    NotAbsolute,
    #[error("must use https")]
    NotHttps,
    #[error("must not contain user information")]
    UserInfo,
    #[error("must not contain a fragment (#…)")]
    Fragment,
    #[error("is longer than 2000 characters once percent-encoded")]
    TooLong,
}

impl JwksUri {
    pub fn parse(text: &str) -> Result<Self, InvalidJwksUri> {
        if text.len() > 2000 {
            return Err(InvalidJwksUri::TooLong);
        }
        let url = url::Url::parse(text).map_err(|_| InvalidJwksUri::NotAbsolute)?;
        if url.scheme() != "https" {
            return Err(InvalidJwksUri::NotHttps);
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(InvalidJwksUri::NotAbsolute);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(InvalidJwksUri::UserInfo);
        }
        if url.fragment().is_some() {
            return Err(InvalidJwksUri::Fragment);
        }
        // What is stored and read back is the serialisation, which
        // percent-encoding can make three times the text's length.
        if url.as_str().len() > 2000 {
            return Err(InvalidJwksUri::TooLong);
        }
        Ok(Self(url))
    }

    pub fn url(&self) -> &url::Url {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    pub id: OrganisationId,
    pub legal_name: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub roles: Psd2Roles,
    /// National competent authority, e.g. "BaFin".
    pub competent_authority: String,
    pub authorisation_number: String,
    pub status: Status,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub id: ApplicationId,
    pub organisation_id: OrganisationId,
    pub name: String,
    pub description: String,
    pub redirect_uris: Vec<RedirectUri>,
    pub security_profile: SecurityProfile,
    /// fapi2 with private_key_jwt: the client's JWKS document or its URI.
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
    /// fapi2 with mutual TLS: the subject DN of the client certificate.
    pub tls_subject_dn: Option<String>,
    pub environment: Environment,
    pub status: Status,
    pub created_at: OffsetDateTime,
    /// The plan an operator assigned by its configured name; it overrides the
    /// subscriptions' tiers.
    pub assigned_plan: Option<String>,
    /// FAPI 2.0 Message Signing (RFC 9101 §10.5): its pushed requests are
    /// accepted only as a request object signed with one of its keys.
    pub require_signed_request_object: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: SubscriptionId,
    pub application_id: ApplicationId,
    pub product: ApiProduct,
    pub plan: Plan,
    pub status: SubscriptionStatus,
    /// Why an administrator rejected it.
    pub reason: Option<String>,
    pub created_at: OffsetDateTime,
    pub decided_at: Option<OffsetDateTime>,
}

/// A consumer key and the keyed hash of its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub id: CredentialId,
    pub application_id: ApplicationId,
    /// Public identifier of the application: the OAuth `client_id`.
    pub consumer_key: String,
    pub secret_hash: crate::secret::KeyedHash,
    pub created_at: OffsetDateTime,
    /// Set when rotated: the old secret works until then.
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
}

impl Credential {
    pub fn is_usable_at(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|end| now < end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_announcements_name_an_application_its_tokens_or_an_organisation_else_everything() {
        let app = ApplicationId::random();
        let org = OrganisationId::random();
        assert_eq!(
            RegistryChange::parse(&format!("application:{app}")),
            RegistryChange::Application(app)
        );
        assert_eq!(
            RegistryChange::parse(&format!("organisation:{org}")),
            RegistryChange::Organisation(org)
        );
        assert_eq!(
            RegistryChange::parse(&format!("tokens:{app}")),
            RegistryChange::Tokens(app)
        );
        for odd in ["", "application:", "application:nope", "user:x", "x"] {
            assert_eq!(RegistryChange::parse(odd), RegistryChange::All, "{odd}");
        }
    }

    #[test]
    fn redirect_uris_must_be_exact_https_without_fragments_or_wildcards() {
        let sandbox = Environment::Sandbox;
        let prod = Environment::Production;
        assert!(RedirectUri::parse("https://tpp.example/cb?x=1", prod).is_ok());
        for unsafe_uri in [
            "https://tpp.example/cb?x=\"<script>",
            "https://tpp.example/a b",
            "https://tpp.example/cb\r\nSet-Cookie: x=1",
            "https://tpp.example/c\tb",
            "https://TPP.example/cb",
            "https://tpp.example",
            " https://tpp.example/cb",
        ] {
            assert!(
                matches!(
                    RedirectUri::parse(unsafe_uri, prod),
                    Err(InvalidRedirectUri::NotNormal(_))
                ),
                "{unsafe_uri:?}"
            );
        }
        assert!(RedirectUri::parse("https://tpp.example/cb?a=%22x%22&b=%3C", prod).is_ok());
        assert!(RedirectUri::parse("http://localhost:3000/cb", sandbox).is_ok());
        use InvalidRedirectUri::{Fragment, NotAbsolute, NotHttps, NotNormal, UserInfo, Wildcard};
        for (uri, environment, refusal) in [
            (
                "https://tpp.example",
                prod,
                NotNormal("https://tpp.example/".into()),
            ),
            ("http://tpp.example/cb", sandbox, NotHttps),
            ("http://localhost:3000/cb", prod, NotHttps),
            ("https://tpp.example/cb#frag", prod, Fragment),
            ("https://*.tpp.example/cb", prod, Wildcard),
            ("https://u:p@tpp.example/cb", prod, UserInfo),
            ("/cb", prod, NotAbsolute),
            ("javascript:alert(1)", prod, NotAbsolute),
        ] {
            assert_eq!(RedirectUri::parse(uri, environment), Err(refusal), "{uri}");
        }
    }

    #[test]
    fn jwks_uris_must_be_https_without_user_info_or_fragment() {
        assert!(JwksUri::parse("https://tpp.example/.well-known/jwks.json?v=2").is_ok());
        assert_eq!(
            JwksUri::parse("http://tpp.example/jwks"),
            Err(InvalidJwksUri::NotHttps)
        );
        assert_eq!(
            JwksUri::parse("http://localhost/jwks"),
            Err(InvalidJwksUri::NotHttps)
        );
        assert_eq!(
            JwksUri::parse("file:///etc/passwd"),
            Err(InvalidJwksUri::NotHttps)
        );
        assert_eq!(
            JwksUri::parse("ftp://tpp.example/jwks"),
            Err(InvalidJwksUri::NotHttps)
        );
        assert_eq!(
            JwksUri::parse("https://u:p@tpp.example/jwks"),
            Err(InvalidJwksUri::UserInfo)
        );
        assert_eq!(
            JwksUri::parse("https://tpp.example/jwks#k"),
            Err(InvalidJwksUri::Fragment)
        );
        assert_eq!(JwksUri::parse("/jwks"), Err(InvalidJwksUri::NotAbsolute));
        // 1,000 characters that percent-encoding turns into 3,000: what
        // would be stored could not be read back.
        let encoded = format!("https://tpp.example/{}", "{".repeat(1000));
        assert_eq!(JwksUri::parse(&encoded), Err(InvalidJwksUri::TooLong));
        let short = format!("https://tpp.example/{}", "{".repeat(600));
        let uri = JwksUri::parse(&short).unwrap();
        assert_eq!(JwksUri::parse(uri.as_str()), Ok(uri));
    }

    #[test]
    fn roles_round_trip_and_gate_products() {
        let roles: Psd2Roles = "AISP,PIISP".parse().unwrap();
        assert!(roles.has(ApiProduct::Ais.required_role()));
        assert!(!roles.has(ApiProduct::Pis.required_role()));
        assert_eq!(roles.to_string(), "AISP,PIISP");
        assert_eq!(roles.human(), "AISP, PIISP");
        assert!("AISP,BANK".parse::<Psd2Roles>().is_err());
    }
}
