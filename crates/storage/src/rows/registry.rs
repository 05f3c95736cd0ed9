//! Registry rows: organisations, applications, subscriptions, credentials.

use fintechapi_domain::StoreError;
use fintechapi_domain::ids::{ApplicationId, CredentialId, OrganisationId, SubscriptionId};
use fintechapi_domain::registry::{
    Application, Credential, Organisation, RedirectUri, Subscription,
};
use fintechapi_domain::secret::KeyedHash;
use time::OffsetDateTime;

#[derive(sqlx::FromRow)]
pub(crate) struct OrganisationRow {
    id: OrganisationId,
    legal_name: String,
    country: String,
    roles: String,
    competent_authority: String,
    authorisation_number: String,
    status: String,
    created_at: OffsetDateTime,
}

impl TryFrom<OrganisationRow> for Organisation {
    type Error = StoreError;
    fn try_from(r: OrganisationRow) -> Result<Self, StoreError> {
        Ok(Organisation {
            id: r.id,
            legal_name: r.legal_name,
            country: r.country,
            roles: r.roles.parse()?,
            competent_authority: r.competent_authority,
            authorisation_number: r.authorisation_number,
            status: r.status.parse()?,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApplicationRow {
    id: ApplicationId,
    organisation_id: OrganisationId,
    name: String,
    description: String,
    redirect_uris: String,
    security_profile: String,
    jwks: Option<String>,
    jwks_uri: Option<String>,
    tls_subject_dn: Option<String>,
    environment: String,
    status: String,
    created_at: OffsetDateTime,
    plan: Option<String>,
    require_signed_request_object: bool,
}

/// Redirect URIs are stored one per line (a URI cannot contain a newline).
pub(crate) fn join_uris(uris: &[RedirectUri]) -> String {
    uris.iter()
        .map(RedirectUri::as_str)
        .collect::<Vec<_>>()
        .join("\n")
}

impl TryFrom<ApplicationRow> for Application {
    type Error = StoreError;
    fn try_from(r: ApplicationRow) -> Result<Self, StoreError> {
        Ok(Application {
            id: r.id,
            organisation_id: r.organisation_id,
            name: r.name,
            description: r.description,
            redirect_uris: r
                .redirect_uris
                .lines()
                .filter(|l| !l.is_empty())
                .map(|l| RedirectUri::from_stored(l.to_owned()))
                .collect(),
            security_profile: r.security_profile.parse()?,
            jwks: r.jwks,
            jwks_uri: r.jwks_uri,
            tls_subject_dn: r.tls_subject_dn,
            environment: r.environment.parse()?,
            status: r.status.parse()?,
            created_at: r.created_at,
            assigned_plan: r.plan,
            require_signed_request_object: r.require_signed_request_object,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SubscriptionRow {
    id: SubscriptionId,
    application_id: ApplicationId,
    product: String,
    plan: String,
    status: String,
    reason: Option<String>,
    created_at: OffsetDateTime,
    decided_at: Option<OffsetDateTime>,
}

impl TryFrom<SubscriptionRow> for Subscription {
    type Error = StoreError;
    fn try_from(r: SubscriptionRow) -> Result<Self, StoreError> {
        Ok(Subscription {
            id: r.id,
            application_id: r.application_id,
            product: r.product.parse()?,
            plan: r.plan.parse()?,
            status: r.status.parse()?,
            reason: r.reason,
            created_at: r.created_at,
            decided_at: r.decided_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CredentialRow {
    id: CredentialId,
    application_id: ApplicationId,
    consumer_key: String,
    secret_hash: String,
    created_at: OffsetDateTime,
    expires_at: Option<OffsetDateTime>,
    revoked_at: Option<OffsetDateTime>,
    last_used_at: Option<OffsetDateTime>,
}

impl TryFrom<CredentialRow> for Credential {
    type Error = StoreError;
    fn try_from(r: CredentialRow) -> Result<Self, StoreError> {
        Ok(Credential {
            id: r.id,
            application_id: r.application_id,
            consumer_key: r.consumer_key,
            secret_hash: KeyedHash::from_stored(r.secret_hash),
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            last_used_at: r.last_used_at,
        })
    }
}
