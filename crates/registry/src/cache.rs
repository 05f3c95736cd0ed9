//! What client authentication reads from the registry, cached on each node:
//! per consumer key its credential (with the secret's keyed hash), application,
//! organisation and usable products; per application its standing; and per
//! keyed hash the live access tokens resource servers check on every call,
//! and per id the valid recurring consents the account reads check.
//!
//! Only what the store holds is cached: an unknown key is looked up every
//! time, so a flood of made-up client ids grows nothing. Both maps are LRUs
//! of a fixed capacity. A hit is checked like a fresh read (credential expiry
//! and revocation against the clock, statuses), so a rotated secret's grace
//! period ends on time without any announcement.
//!
//! Every change forgets the entries it touches, on the writing node at once
//! (`Registry`'s write methods) and on the others when the store announces it
//! ([`Freshness`]). A load that began before a change is not stored after it:
//! each change bumps a generation, and a load stores only under the one it
//! started with.

use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};

use fintechapi_domain::consent::Consent;
use fintechapi_domain::ids::{ApplicationId, ConsentId, CredentialId};
use fintechapi_domain::oauth::TokenRecord;
use fintechapi_domain::registry::{
    ApiProduct, Application, Credential, Organisation, Plan, RegistryChange, RegistryEvent,
};
use fintechapi_domain::secret::KeyedHash;
use hashlink::LruCache;
use time::{Duration, OffsetDateTime};

use crate::Usable;

/// Entries per map. A client entry is about 1–2 KiB (an application with a
/// registered JWKS up to 20 KiB more): a few MiB, 90 MiB at the very worst.
pub const DEFAULT_CAPACITY: usize = 4_096;

/// Token entries per client entry: an application holds several live tokens
/// (one per consent, plus its client-credentials ones). A token entry is
/// about 0.5 KiB: 8 MiB at 16,384.
const TOKENS_PER_CLIENT: usize = 4;

/// How fresh "last used" must be: a write per token request would put the
/// credentials table on the hot path for a figure shown to the minute.
const LAST_USE_GRANULARITY: Duration = Duration::minutes(1);

/// Whether a credential last used at `last` should be recorded as used `now`.
pub(crate) fn use_is_due(last: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
    last.is_none_or(|used| now - used >= LAST_USE_GRANULARITY)
}

/// How a node learns that other processes changed the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// The store announces each change (PostgreSQL `NOTIFY`): entries serve
    /// only while the node's watch is connected, from its first
    /// [`RegistryEvent::Connected`] on.
    Announced,
    /// Each lookup first reads the store's registry version (tools and
    /// tests that run no watch).
    Versioned,
    /// The node's watch reads the registry version every moment and reports
    /// it ([`RegistryEvent::Version`]; SQLite: one node, but `fintechapi
    /// admin` may write from another process): entries serve from the first
    /// version seen until the watch fails to read one.
    Polled,
}

/// A consumer key's credential and what authenticating it needs.
#[derive(Debug, Clone)]
pub(crate) struct ClientRecord {
    pub credential: Credential,
    pub application: Application,
    pub organisation: Organisation,
    /// Approved subscriptions within the organisation's roles.
    pub products: Vec<(ApiProduct, Plan)>,
}

pub(crate) struct Tables {
    clients: LruCache<String, ClientRecord>,
    /// None: the application or its organisation is not active.
    standings: LruCache<ApplicationId, Option<Usable>>,
    /// Live access tokens by keyed hash; expiry and revocation checked on each hit.
    tokens: LruCache<KeyedHash, TokenRecord>,
    /// Valid recurring consents by id; their dates are checked on each hit.
    consents: LruCache<ConsentId, Consent>,
}

/// One of the cache's maps.
pub(crate) type Table<K, V> = fn(&mut Tables) -> &mut LruCache<K, V>;
pub(crate) const CLIENTS: Table<String, ClientRecord> = |t| &mut t.clients;
pub(crate) const STANDINGS: Table<ApplicationId, Option<Usable>> = |t| &mut t.standings;
pub(crate) const TOKENS: Table<KeyedHash, TokenRecord> = |t| &mut t.tokens;
pub(crate) const CONSENTS: Table<ConsentId, Consent> = |t| &mut t.consents;

struct State {
    tables: Tables,
    /// Bumped by every change: a load that began before one is not stored.
    generation: u64,
    /// Whether entries may serve (always, when `Versioned`).
    live: bool,
    /// `Versioned`: the store's version the entries were read at.
    version: Option<i64>,
}

/// Permission to store what a lookup that missed then loaded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket(u64);

pub(crate) enum Lookup<V> {
    Hit(V),
    Miss(Ticket),
}

pub struct RegistryCache {
    freshness: Freshness,
    state: Mutex<State>,
}

impl RegistryCache {
    pub fn new(freshness: Freshness, capacity: usize) -> Self {
        Self {
            freshness,
            state: Mutex::new(State {
                tables: Tables {
                    clients: LruCache::new(capacity),
                    standings: LruCache::new(capacity),
                    tokens: LruCache::new(capacity.saturating_mul(TOKENS_PER_CLIENT)),
                    consents: LruCache::new(capacity.saturating_mul(TOKENS_PER_CLIENT)),
                },
                generation: 0,
                live: freshness == Freshness::Versioned,
                version: None,
            }),
        }
    }

    pub fn freshness(&self) -> Freshness {
        self.freshness
    }

    /// Entries held, in all maps.
    pub fn len(&self) -> usize {
        let state = self.lock();
        let tables = &state.tables;
        tables.clients.len() + tables.standings.len() + tables.tokens.len() + tables.consents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What the node's watch of the store reports.
    pub fn apply(&self, event: RegistryEvent) {
        let mut state = self.lock();
        match event {
            // Changes may have gone unannounced before or in between.
            RegistryEvent::Connected | RegistryEvent::Lost => {
                state.forget_all();
                state.version = None;
                state.live = event == RegistryEvent::Connected;
            }
            RegistryEvent::Changed(change) => state.forget(change),
            RegistryEvent::Version(version) => state.observe_version(version),
        }
    }

    /// `Versioned`: the store's registry version, read before a lookup; any
    /// other than the entries were read at forgets them all.
    pub(crate) fn observe_version(&self, version: i64) {
        self.lock().observe_version(version);
    }

    pub(crate) fn lookup<K: Hash + Eq, V: Clone>(&self, table: Table<K, V>, key: &K) -> Lookup<V> {
        let mut state = self.lock();
        if state.live
            && let Some(value) = table(&mut state.tables).get(key)
        {
            return Lookup::Hit(value.clone());
        }
        Lookup::Miss(Ticket(state.generation))
    }

    /// Stores what a missed lookup loaded, unless a change came in meanwhile
    /// or the node cannot hear of changes now.
    pub(crate) fn store<K: Hash + Eq, V>(
        &self,
        table: Table<K, V>,
        ticket: Ticket,
        key: K,
        value: V,
    ) {
        let mut state = self.lock();
        if state.live && state.generation == ticket.0 {
            table(&mut state.tables).insert(key, value);
        }
    }

    /// Whether this use of `credential` is the one to record (at most one a
    /// minute per credential and node); the cached entry remembers it.
    pub(crate) fn claim_use(&self, credential: &Credential, now: OffsetDateTime) -> bool {
        let mut state = self.lock();
        let cached = state
            .tables
            .clients
            .peek_mut(credential.consumer_key.as_str())
            .filter(|r| r.credential.id == credential.id);
        let last = match &cached {
            Some(record) => record.credential.last_used_at,
            None => credential.last_used_at,
        };
        let due = use_is_due(last, now);
        if due && let Some(record) = cached {
            record.credential.last_used_at = Some(now);
        }
        due
    }

    /// This node changed `change`: forget it at once.
    pub(crate) fn changed(&self, change: RegistryChange) {
        self.lock().forget(change);
    }

    pub(crate) fn forget_credential(&self, id: CredentialId) {
        let mut state = self.lock();
        state.generation += 1;
        state.tables.clients.retain(|_, r| r.credential.id != id);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The maps stay consistent whatever panicked while holding the lock.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// A version other than the entries were read at forgets them all; the
    /// first one seen lets entries serve (`Polled`).
    fn observe_version(&mut self, version: i64) {
        if self.version != Some(version) {
            self.forget_all();
            self.version = Some(version);
        }
        self.live = true;
    }

    fn forget(&mut self, change: RegistryChange) {
        match change {
            RegistryChange::Application(id) => {
                self.generation += 1;
                self.tables.clients.retain(|_, r| r.application.id != id);
                self.tables.standings.remove(&id);
            }
            RegistryChange::Tokens(id) => {
                self.generation += 1;
                self.tables.tokens.retain(|_, r| r.application_id != id);
            }
            RegistryChange::Consent(id) => {
                self.generation += 1;
                self.tables.consents.remove(&id);
            }
            // Standings do not name their organisation; such changes are rare.
            RegistryChange::Organisation(_) | RegistryChange::All => self.forget_all(),
        }
    }

    fn forget_all(&mut self) {
        self.generation += 1;
        self.tables.clients.clear();
        self.tables.standings.clear();
        self.tables.tokens.clear();
        self.tables.consents.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fintechapi_domain::ids::{ApplicationId, OrganisationId};
    use fintechapi_domain::oauth::TokenKind;
    use fintechapi_domain::registry::{Environment, Psd2Roles, SecurityProfile, Status};

    fn record(key: &str) -> ClientRecord {
        let now = OffsetDateTime::UNIX_EPOCH;
        let organisation = Organisation {
            id: OrganisationId::random(),
            legal_name: "Acme".into(),
            country: "DE".into(),
            roles: Psd2Roles::default(),
            competent_authority: "BaFin".into(),
            authorisation_number: "1".into(),
            status: Status::Active,
            created_at: now,
        };
        let application = Application {
            id: ApplicationId::random(),
            organisation_id: organisation.id,
            name: "App".into(),
            description: String::new(),
            redirect_uris: vec![],
            security_profile: SecurityProfile::Basic,
            jwks: None,
            jwks_uri: None,
            tls_subject_dn: None,
            environment: Environment::Sandbox,
            status: Status::Active,
            created_at: now,
            assigned_plan: None,
            require_signed_request_object: false,
        };
        ClientRecord {
            credential: Credential {
                id: CredentialId::random(),
                application_id: application.id,
                consumer_key: key.into(),
                secret_hash: KeyedHash::from_stored("00".into()),
                created_at: now,
                expires_at: None,
                revoked_at: None,
                last_used_at: None,
            },
            application,
            organisation,
            products: vec![],
        }
    }

    fn hit(cache: &RegistryCache, key: &str) -> bool {
        matches!(cache.lookup(CLIENTS, &key.to_owned()), Lookup::Hit(_))
    }

    fn load(cache: &RegistryCache, r: &ClientRecord) {
        let key = r.credential.consumer_key.clone();
        let Lookup::Miss(ticket) = cache.lookup(CLIENTS, &key) else {
            panic!("{key} was cached already");
        };
        cache.store(CLIENTS, ticket, key, r.clone());
    }

    #[test]
    fn the_cache_holds_at_most_its_capacity_dropping_the_least_recently_used() {
        let cache = RegistryCache::new(Freshness::Versioned, 3);
        let records: Vec<_> = (0..10).map(|i| record(&format!("ck_{i}"))).collect();
        for r in &records[..3] {
            load(&cache, r);
        }
        assert!(hit(&cache, "ck_0"), "used again, so ck_1 is the oldest");
        for r in &records[3..] {
            load(&cache, r);
        }
        assert_eq!(cache.lock().tables.clients.len(), 3);
        let kept: Vec<_> = (0..10)
            .filter(|i| hit(&cache, &format!("ck_{i}")))
            .collect();
        assert_eq!(kept, [7, 8, 9]);
    }

    #[test]
    fn a_load_that_began_before_a_change_is_not_stored_after_it() {
        let cache = RegistryCache::new(Freshness::Versioned, 10);
        let r = record("ck_a");
        let key = r.credential.consumer_key.clone();
        let Lookup::Miss(ticket) = cache.lookup(CLIENTS, &key) else {
            panic!("empty cache");
        };
        // The application is suspended while the lookup reads the store.
        cache.changed(RegistryChange::Application(r.application.id));
        cache.store(CLIENTS, ticket, key.clone(), r.clone());
        assert!(!hit(&cache, &key), "the stale read was stored");

        // A change elsewhere counts too: the generation is global.
        let Lookup::Miss(ticket) = cache.lookup(CLIENTS, &key) else {
            panic!("nothing stored");
        };
        cache.forget_credential(CredentialId::random());
        cache.store(CLIENTS, ticket, key.clone(), r.clone());
        assert!(!hit(&cache, &key));
        load(&cache, &r);
        assert!(hit(&cache, &key));
    }

    #[test]
    fn a_change_forgets_its_application_its_organisation_or_a_credential() {
        let cache = RegistryCache::new(Freshness::Versioned, 10);
        let (a, b) = (record("ck_a"), record("ck_b"));
        load(&cache, &a);
        load(&cache, &b);
        let Lookup::Miss(ticket) = cache.lookup(STANDINGS, &a.application.id) else {
            panic!("empty");
        };
        cache.store(STANDINGS, ticket, a.application.id, None);
        cache.apply(RegistryEvent::Changed(RegistryChange::Application(
            a.application.id,
        )));
        assert!(!hit(&cache, "ck_a"));
        assert!(matches!(
            cache.lookup(STANDINGS, &a.application.id),
            Lookup::Miss(_)
        ));
        assert!(hit(&cache, "ck_b"), "another application's entry stays");
        cache.forget_credential(b.credential.id);
        assert!(!hit(&cache, "ck_b"));
        load(&cache, &a);
        cache.apply(RegistryEvent::Changed(RegistryChange::Organisation(
            a.organisation.id,
        )));
        assert!(!hit(&cache, "ck_a"));
    }

    #[test]
    fn announced_entries_serve_only_while_the_watch_is_connected() {
        let cache = RegistryCache::new(Freshness::Announced, 10);
        let r = record("ck_a");
        let key = r.credential.consumer_key.clone();
        let Lookup::Miss(ticket) = cache.lookup(CLIENTS, &key) else {
            panic!("empty");
        };
        cache.store(CLIENTS, ticket, key.clone(), r.clone());
        assert!(
            !hit(&cache, &key),
            "nothing is cached before the watch connects"
        );
        cache.apply(RegistryEvent::Connected);
        load(&cache, &r);
        assert!(hit(&cache, &key));
        cache.apply(RegistryEvent::Lost);
        assert!(!hit(&cache, &key), "a lost watch may have missed changes");
        cache.apply(RegistryEvent::Connected);
        assert!(!hit(&cache, &key), "what was cached before is gone");
    }

    #[test]
    fn a_new_registry_version_forgets_everything() {
        let cache = RegistryCache::new(Freshness::Versioned, 10);
        cache.observe_version(4);
        load(&cache, &record("ck_a"));
        cache.observe_version(4);
        assert!(hit(&cache, "ck_a"));
        cache.observe_version(5);
        assert!(!hit(&cache, "ck_a"));
    }

    #[test]
    fn polled_entries_serve_from_the_first_version_until_a_poll_fails() {
        let cache = RegistryCache::new(Freshness::Polled, 10);
        let r = record("ck_a");
        load(&cache, &r);
        assert!(
            !hit(&cache, "ck_a"),
            "nothing is cached before a version is read"
        );
        cache.apply(RegistryEvent::Version(7));
        load(&cache, &r);
        cache.apply(RegistryEvent::Version(7));
        assert!(hit(&cache, "ck_a"));
        cache.apply(RegistryEvent::Version(8));
        assert!(!hit(&cache, "ck_a"), "another process changed the registry");
        load(&cache, &r);
        cache.apply(RegistryEvent::Lost);
        assert!(!hit(&cache, "ck_a"));
        load(&cache, &r);
        assert!(
            !hit(&cache, "ck_a"),
            "nothing is cached while the version cannot be read"
        );
        cache.apply(RegistryEvent::Version(8));
        load(&cache, &r);
        assert!(hit(&cache, "ck_a"));
    }

    #[test]
    fn a_credentials_use_is_recorded_once_a_minute() {
        let cache = RegistryCache::new(Freshness::Versioned, 10);
        let r = record("ck_a");
        load(&cache, &r);
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(1);
        assert!(cache.claim_use(&r.credential, t0));
        assert!(!cache.claim_use(&r.credential, t0 + Duration::seconds(59)));
        assert!(cache.claim_use(&r.credential, t0 + Duration::seconds(60)));
        // Not cached: the stored last use decides.
        let other = record("ck_b").credential;
        assert!(cache.claim_use(&other, t0));
        assert!(cache.claim_use(&other, t0), "nothing remembered it");
    }

    fn token(application_id: ApplicationId, hash: &str) -> TokenRecord {
        let now = OffsetDateTime::UNIX_EPOCH;
        TokenRecord {
            hash: KeyedHash::from_stored(hash.into()),
            kind: TokenKind::Access,
            application_id,
            client_id: "ck".into(),
            scope: String::new(),
            authorization_id: None,
            authorization_details: None,
            dpop_jkt: None,
            mtls_x5t: None,
            issued_at: now,
            expires_at: now + Duration::minutes(5),
            revoked_at: None,
        }
    }

    #[test]
    fn a_revoked_token_forgets_its_applications_tokens_and_a_race_stores_nothing() {
        let cache = RegistryCache::new(Freshness::Versioned, 10);
        let (a, b) = (ApplicationId::random(), ApplicationId::random());
        let cached = |hash: &str| {
            matches!(
                cache.lookup(TOKENS, &KeyedHash::from_stored(hash.into())),
                Lookup::Hit(_)
            )
        };
        for t in [token(a, "a1"), token(a, "a2"), token(b, "b1")] {
            let Lookup::Miss(ticket) = cache.lookup(TOKENS, &t.hash) else {
                panic!("cached already");
            };
            cache.store(TOKENS, ticket, t.hash.clone(), t);
        }
        assert!(cached("a1") && cached("a2") && cached("b1"));
        cache.apply(RegistryEvent::Changed(RegistryChange::Tokens(a)));
        assert!(!cached("a1") && !cached("a2"), "a's tokens are read again");
        assert!(cached("b1"), "another application's token stays");

        // Read before a revocation, stored after it: dropped.
        let t = token(a, "a1");
        let Lookup::Miss(ticket) = cache.lookup(TOKENS, &t.hash) else {
            panic!("forgotten");
        };
        cache.changed(RegistryChange::Tokens(a));
        cache.store(TOKENS, ticket, t.hash.clone(), t);
        assert!(!cached("a1"));
        cache.apply(RegistryEvent::Lost);
        assert!(!cached("b1"), "a lost watch forgets tokens too");
    }
}
