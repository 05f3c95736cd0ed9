//! The registry under test, its clock and owner, and the inputs most tests
//! start from.

use std::sync::Arc;

use fintechapi_domain::ids::{ApplicationId, UserId};
use fintechapi_domain::password::PasswordHash;
use fintechapi_domain::portal::{NewUser, PortalRepository, User, UserKind};
use fintechapi_domain::registry::{
    ApiProduct, Application, Environment, Organisation, Psd2Role, Psd2Roles, SecurityProfile,
    Status,
};
use fintechapi_domain::secret::Pepper;
use fintechapi_domain::{Clock, ManualClock};
use fintechapi_registry::{
    Actor, Freshness, IssuedCredential, NewApplication, NewOrganisation, Registry, RegistryCache,
};
use fintechapi_storage::Store;
use fintechapi_testkit::TestDb;
use time::macros::datetime;

pub(crate) struct Fixture {
    pub registry: Registry<Store>,
    pub cache: Arc<RegistryCache>,
    pub clock: Arc<ManualClock>,
    pub owner: UserId,
}

pub(crate) async fn fixture(db: &TestDb) -> Fixture {
    let store = db.store().await;
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-25 10:00 UTC)));
    let owner = UserId::random();
    create_user(&store, owner, "owner@tpp.example", "Owner", clock.now()).await;
    // Compared with the store's registry version on every lookup, as on
    // SQLite, so changes made past the registry (`repo()`) count too.
    let cache = Arc::new(RegistryCache::new(Freshness::Versioned, 100));
    let registry = registry(store, clock.clone()).with_cache(cache.clone());
    Fixture {
        registry,
        cache,
        clock,
        owner,
    }
}

/// A registry on `store` with the tests' pepper and a 24-hour grace period.
pub(crate) fn registry(store: Store, clock: Arc<ManualClock>) -> Registry<Store> {
    Registry::new(
        store,
        Pepper::from_bytes(&[42; 32]).unwrap(),
        clock,
        time::Duration::hours(24),
        fintechapi_web::Brand::default().name.into(),
    )
}

/// A developer with a verified email and a password nobody can use.
pub(crate) async fn create_user(
    store: &Store,
    id: UserId,
    email: &str,
    display_name: &str,
    at: time::OffsetDateTime,
) -> User {
    store
        .create_user(NewUser {
            id,
            email: email.parse().unwrap(),
            display_name: display_name.into(),
            kind: UserKind::Developer,
            password: PasswordHash::from_phc("$argon2id$unused".into()),
            email_verified_at: Some(at),
            created_at: at,
        })
        .await
        .unwrap()
}

pub(crate) fn actor() -> Actor {
    Actor("owner@tpp.example".into())
}

pub(crate) fn aisp() -> Psd2Roles {
    Psd2Roles::default().with(Psd2Role::Aisp)
}

pub(crate) fn org_input(name: &str, roles: Psd2Roles) -> NewOrganisation {
    NewOrganisation {
        legal_name: name.into(),
        country: "de".into(),
        roles,
        competent_authority: "BaFin".into(),
        authorisation_number: "HRB 12345".into(),
    }
}

pub(crate) fn app_input(env: Environment, products: Vec<ApiProduct>) -> NewApplication {
    NewApplication {
        name: "Budget Buddy".into(),
        description: "Shows your spending".into(),
        redirect_uris: vec!["https://buddy.example/cb".into()],
        security_profile: SecurityProfile::Basic,
        jwks: None,
        jwks_uri: None,
        tls_subject_dn: None,
        require_signed_request_object: false,
        environment: env,
        products,
    }
}

impl Fixture {
    /// An organisation the fixture's owner creates and owns.
    pub(crate) async fn org(&self, name: &str, roles: Psd2Roles) -> Organisation {
        self.registry
            .create_organisation(&actor(), Some(self.owner), org_input(name, roles))
            .await
            .unwrap()
    }

    /// An application of `org`, created by the owner.
    pub(crate) async fn app_from(
        &self,
        org: &Organisation,
        input: NewApplication,
    ) -> (Application, IssuedCredential) {
        self.registry
            .create_application(&actor(), org, input, false)
            .await
            .unwrap()
    }

    /// The owner's application of `org` in `env` for `products`.
    pub(crate) async fn app(
        &self,
        org: &Organisation,
        env: Environment,
        products: Vec<ApiProduct>,
    ) -> (Application, IssuedCredential) {
        self.app_from(org, app_input(env, products)).await
    }

    /// A sandbox application of `org` for account information only.
    pub(crate) async fn sandbox_ais_app(
        &self,
        org: &Organisation,
    ) -> (Application, IssuedCredential) {
        self.app(org, Environment::Sandbox, vec![ApiProduct::Ais])
            .await
    }

    /// Suspends or reactivates an application, as its owner.
    pub(crate) async fn set_application_status(&self, application: ApplicationId, status: Status) {
        self.registry
            .set_application_status(&actor(), application, status)
            .await
            .unwrap();
    }

    /// Whether the registry lets this key and secret in.
    pub(crate) async fn authenticates(&self, consumer_key: &str, secret: &str) -> bool {
        self.registry
            .authenticate(consumer_key, secret)
            .await
            .unwrap()
            .is_some()
    }
}
