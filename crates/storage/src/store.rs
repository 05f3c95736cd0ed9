//! The store: one pool of either backend, migrations, readiness, and the port
//! implementations, which dispatch to the backend's copy of the queries.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use fintechapi_domain::card::{
    CardAccount, CardPayment, CardRepository, NewCardAccount, NewCardTransfer,
};
use fintechapi_domain::consent::{
    AccountGrant, Consent, ConsentCreation, ConsentRepository, ConsentStatus, DeltaReportRepository,
};
use fintechapi_domain::iban::Iban;
use fintechapi_domain::ids::{AccountId, PsuId, TransactionId};
use fintechapi_domain::ids::{ApplicationId, CredentialId, OrganisationId, SubscriptionId, UserId};
use fintechapi_domain::ids::{AuthorizationId, ConsentId, PaymentId};
use fintechapi_domain::ledger::{
    Account, AccountEntry, EntryFilter, LedgerAudit, LedgerError, LedgerRepository, NewAccount,
    NewTransfer, PageStart, TransferReceipt,
};
use fintechapi_domain::oauth::{
    Authorization, AuthorizationRepository, AuthorizationStage, SigningKey, SigningKeyRepository,
    TokenRecord, TokenRepository,
};
use fintechapi_domain::password::PasswordHash;
use fintechapi_domain::payment::{
    ExecutionAdvance, ExecutionOutcome, Payment, PaymentCreation, PaymentRepository, PaymentStatus,
    PaymentUpdate,
};
use fintechapi_domain::portal::{
    AuditEntry, Email, Invitation, Mail, MemberRole, NewUser, PortalError, PortalRepository,
    Session, TokenPurpose, User,
};
use fintechapi_domain::psu::{
    NewPsu, Psu, PsuError, PsuNotice, PsuPasskey, PsuRepository, PsuSession, PsuSessionStage,
};
use fintechapi_domain::registry::{
    Application, ApplicationStanding, Credential, Organisation, Status, Subscription,
    SubscriptionStatus,
};
use fintechapi_domain::secret::KeyedHash;
use fintechapi_domain::usage::{MeteredApi, UsageCounts, UsageKey, UsageRepository, UsageRow};
use fintechapi_domain::{Currency, StoreError};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use time::{Date, OffsetDateTime};

use crate::{postgres, sqlite};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("unsupported database URL {0:?}: expected sqlite:… or postgres://…")]
    UnsupportedUrl(String),
    #[error("invalid database URL {url}: {source}")]
    InvalidUrl {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot connect to {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot make {path} readable by this user only: {source}")]
    Permissions {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    pub reachable: bool,
    pub migrations_current: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The database behind every repository port. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    max_connections: u32,
}

/// Runs `$body` with `$db` bound to the backend's query module and `$pool` to its pool.
macro_rules! dispatch {
    ($self:expr, |$db:ident, $pool:ident| $body:expr) => {
        match &$self.pool {
            Pool::Sqlite($pool) => {
                use sqlite as $db;
                $body
            }
            Pool::Postgres($pool) => {
                use postgres as $db;
                $body
            }
        }
    };
}

/// PostgreSQL refuses a NUL in text, and nothing stored holds one: a lookup
/// by such a name (a login, a client id from a request) finds nothing on
/// either store instead of failing.
fn has_nul(name: &str) -> bool {
    name.contains('\0')
}

/// The URL with any password replaced by `***`, safe to print and log.
pub fn redact_database_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let masked = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_owned()
            };
            format!("{scheme}://{masked}@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

/// Sets `path` to mode 0600 whatever the umask, creating it empty first when
/// `create` (an empty file is a new SQLite database); a missing file is left alone otherwise.
fn private_file(path: &Path, create: bool) -> Result<(), ConnectError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let failed = |source| ConnectError::Permissions {
        path: path.display().to_string(),
        source,
    };
    if create {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(failed)?;
    } else if !path.exists() {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(failed)
}

impl Store {
    /// Opens (creating if needed) the SQLite database file at `path`.
    pub async fn open_sqlite(path: &Path, options: &StoreOptions) -> Result<Self, ConnectError> {
        let connect = SqliteConnectOptions::new().filename(path);
        Self::sqlite(connect, path.display().to_string(), options).await
    }

    /// Connects to `sqlite:…` or `postgres://…`.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self, ConnectError> {
        let shown = redact_database_url(url);
        let invalid = |source| ConnectError::InvalidUrl {
            url: shown.clone(),
            source,
        };
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let connect = PgConnectOptions::from_str(url).map_err(invalid)?;
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect)
                .await
                .map_err(|source| ConnectError::Connect { url: shown, source })?;
            Ok(Self {
                pool: Pool::Postgres(pool),
                max_connections: options.max_connections,
            })
        } else if url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(url).map_err(invalid)?;
            Self::sqlite(connect, shown, options).await
        } else {
            Err(ConnectError::UnsupportedUrl(shown))
        }
    }

    async fn sqlite(
        connect: SqliteConnectOptions,
        shown: String,
        options: &StoreOptions,
    ) -> Result<Self, ConnectError> {
        // Customer data: the file exists, mode 0600, before SQLite opens it, so
        // the -wal and -shm files SQLite creates take the same mode.
        let file = connect.get_filename().to_owned();
        let on_disk = file.as_os_str() != ":memory:" && !file.as_os_str().is_empty();
        if on_disk {
            private_file(&file, true)?;
        }
        let connect = connect
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(|source| ConnectError::Connect { url: shown, source })?;
        if on_disk {
            // Files an older version left readable to others.
            for suffix in ["-wal", "-shm"] {
                let mut companion = file.clone().into_os_string();
                companion.push(suffix);
                private_file(Path::new(&companion), false)?;
            }
        }
        Ok(Self {
            pool: Pool::Sqlite(pool),
            max_connections: options.max_connections,
        })
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies every embedded migration not yet applied.
    pub async fn migrate(&self) -> Result<(), ConnectError> {
        match &self.pool {
            Pool::Sqlite(p) => SQLITE_MIGRATIONS.run(p).await?,
            Pool::Postgres(p) => POSTGRES_MIGRATIONS.run(p).await?,
        }
        Ok(())
    }

    /// Whether the database answers and has exactly the migrations this binary embeds.
    pub async fn readiness(&self) -> Readiness {
        let (migrator, applied) = match &self.pool {
            Pool::Sqlite(p) => (
                &SQLITE_MIGRATIONS,
                sqlite::meta::applied_migrations(p).await,
            ),
            Pool::Postgres(p) => (
                &POSTGRES_MIGRATIONS,
                postgres::meta::applied_migrations(p).await,
            ),
        };
        let Ok(applied) = applied else {
            let reachable = self.ping().await;
            return Readiness {
                reachable,
                migrations_current: false,
            };
        };
        let embedded: Vec<i64> = migrator.iter().map(|m| m.version).collect();
        Readiness {
            reachable: true,
            migrations_current: applied == embedded,
        }
    }

    async fn ping(&self) -> bool {
        dispatch!(self, |db, pool| db::meta::ping(pool).await.is_ok())
    }

    pub fn pool_stats(&self) -> PoolStats {
        let (size, idle) = match &self.pool {
            Pool::Sqlite(p) => (p.size(), p.num_idle()),
            Pool::Postgres(p) => (p.size(), p.num_idle()),
        };
        PoolStats {
            size,
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
            max: self.max_connections,
        }
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }

    pub async fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        dispatch!(self, |db, pool| db::meta::get(pool, key).await)
    }

    pub async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::meta::set(pool, key, value).await)
    }
}

impl LedgerRepository for Store {
    async fn entry(
        &self,
        account: AccountId,
        transaction: TransactionId,
    ) -> Result<Option<AccountEntry>, StoreError> {
        dispatch!(self, |db, pool| db::ledger::entry(
            pool,
            account,
            transaction
        )
        .await)
    }

    async fn create_account(&self, account: NewAccount) -> Result<Account, LedgerError> {
        dispatch!(self, |db, pool| db::ledger::create_account(pool, account)
            .await)
    }

    async fn account(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        dispatch!(self, |db, pool| db::ledger::account(pool, id).await)
    }

    async fn account_by_iban(&self, iban: &Iban) -> Result<Option<Account>, StoreError> {
        dispatch!(self, |db, pool| db::ledger::account_by_iban(pool, iban)
            .await)
    }

    async fn clearing_account(&self, currency: Currency) -> Result<Option<Account>, StoreError> {
        dispatch!(self, |db, pool| db::ledger::clearing_account(
            pool, currency
        )
        .await)
    }

    async fn accounts_of_psu(&self, psu: PsuId) -> Result<Vec<Account>, StoreError> {
        dispatch!(self, |db, pool| db::ledger::accounts_of_psu(pool, psu)
            .await)
    }

    async fn post_transfers(
        &self,
        transfers: Vec<NewTransfer>,
    ) -> Result<Vec<TransferReceipt>, LedgerError> {
        dispatch!(self, |db, pool| db::ledger::post_transfers(
            pool, &transfers
        )
        .await)
    }

    async fn entries(
        &self,
        filter: &EntryFilter,
        start: PageStart,
        limit: u32,
    ) -> Result<Vec<AccountEntry>, StoreError> {
        dispatch!(self, |db, pool| db::ledger::entries(
            pool, filter, start, limit
        )
        .await)
    }

    async fn count_entries(&self, filter: &EntryFilter) -> Result<u64, StoreError> {
        dispatch!(self, |db, pool| db::ledger::count_entries(pool, filter)
            .await)
    }

    async fn booked_entries_after(
        &self,
        account: AccountId,
        reference: i64,
        limit: u32,
    ) -> Result<Vec<AccountEntry>, StoreError> {
        dispatch!(self, |db, pool| db::ledger::booked_entries_after(
            pool, account, reference, limit
        )
        .await)
    }

    async fn booked_since(&self, account: AccountId, date: Date) -> Result<i64, StoreError> {
        dispatch!(self, |db, pool| db::ledger::booked_since(
            pool, account, date
        )
        .await)
    }

    async fn audit(&self) -> Result<LedgerAudit, StoreError> {
        dispatch!(self, |db, pool| db::ledger::audit(pool).await)
    }
}

impl CardRepository for Store {
    async fn create_card_account(&self, card: NewCardAccount) -> Result<CardAccount, LedgerError> {
        dispatch!(self, |db, pool| db::card::create_card_account(pool, card)
            .await)
    }

    async fn card_account(&self, id: AccountId) -> Result<Option<CardAccount>, StoreError> {
        dispatch!(self, |db, pool| db::card::card_account(pool, id).await)
    }

    async fn card_accounts_of_psu(&self, psu: PsuId) -> Result<Vec<CardAccount>, StoreError> {
        dispatch!(self, |db, pool| db::card::card_accounts_of_psu(pool, psu)
            .await)
    }

    async fn post_card_transfers(
        &self,
        transfers: Vec<NewCardTransfer>,
    ) -> Result<Vec<TransferReceipt>, LedgerError> {
        dispatch!(self, |db, pool| db::card::post_card_transfers(
            pool, &transfers
        )
        .await)
    }

    async fn card_payments(
        &self,
        transactions: &[TransactionId],
    ) -> Result<HashMap<TransactionId, CardPayment>, StoreError> {
        dispatch!(self, |db, pool| db::card::card_payments(pool, transactions)
            .await)
    }

    async fn card_payments_booked_after(
        &self,
        account: AccountId,
        date: Date,
    ) -> Result<i64, StoreError> {
        dispatch!(self, |db, pool| db::card::card_payments_booked_after(
            pool, account, date
        )
        .await)
    }
}

impl PsuRepository for Store {
    async fn create_psu_session(
        &self,
        session_hash: &KeyedHash,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::psu::create_session(
            pool,
            session_hash,
            at
        )
        .await)
    }

    async fn psu_session(
        &self,
        session_hash: &KeyedHash,
    ) -> Result<Option<PsuSession>, StoreError> {
        dispatch!(self, |db, pool| db::psu::session(pool, session_hash).await)
    }

    async fn advance_psu_session(
        &self,
        session_hash: &KeyedHash,
        from: PsuSessionStage,
        to: PsuSessionStage,
        psu: Option<PsuId>,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        dispatch!(self, |db, pool| db::psu::advance_session(
            pool,
            session_hash,
            from,
            to,
            psu,
            at
        )
        .await)
    }

    async fn renew_psu_session(
        &self,
        session_hash: &KeyedHash,
        renewed: &KeyedHash,
        stages: (PsuSessionStage, PsuSessionStage),
        psu: Option<PsuId>,
        factor: bool,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        dispatch!(self, |db, pool| db::psu::renew_session(
            pool,
            session_hash,
            renewed,
            stages,
            psu,
            factor,
            at
        )
        .await)
    }

    async fn end_psu_session(&self, session_hash: &KeyedHash) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::psu::end_session(pool, session_hash)
            .await)
    }

    async fn create_psu(&self, psu: NewPsu) -> Result<Psu, PsuError> {
        dispatch!(self, |db, pool| db::psu::create(pool, psu).await)
    }

    async fn psu_by_login(&self, login: &str) -> Result<Option<(Psu, PasswordHash)>, StoreError> {
        if has_nul(login) {
            return Ok(None);
        }
        dispatch!(self, |db, pool| db::psu::by_login(pool, login).await)
    }

    async fn list_psus(&self) -> Result<Vec<Psu>, StoreError> {
        dispatch!(self, |db, pool| db::psu::list(pool).await)
    }

    async fn psu(&self, id: PsuId) -> Result<Option<Psu>, StoreError> {
        dispatch!(self, |db, pool| db::psu::by_id(pool, id).await)
    }

    async fn set_psu_password(&self, id: PsuId, password: PasswordHash) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::psu::set_password(pool, id, password)
            .await)
    }

    async fn begin_psu_attempt(
        &self,
        id: PsuId,
        at: OffsetDateTime,
    ) -> Result<Option<Psu>, StoreError> {
        dispatch!(self, |db, pool| db::psu::begin_attempt(pool, id, at).await)
    }

    async fn block_psu(
        &self,
        id: PsuId,
        at: OffsetDateTime,
        blocks_in_row: u32,
        until: Option<OffsetDateTime>,
    ) -> Result<Option<Psu>, StoreError> {
        dispatch!(self, |db, pool| db::psu::block(
            pool,
            id,
            at,
            blocks_in_row,
            until
        )
        .await)
    }

    async fn clear_psu_failed_logins(&self, id: PsuId) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::psu::clear_failed_logins(pool, id)
            .await)
    }

    async fn set_psu_email(&self, id: PsuId, email: Option<String>) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::psu::set_email(pool, id, email).await)
    }

    async fn add_psu_notice(&self, notice: PsuNotice) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::psu::add_notice(pool, notice).await)
    }

    async fn psu_notices(&self, id: PsuId, limit: u32) -> Result<Vec<PsuNotice>, StoreError> {
        dispatch!(self, |db, pool| db::psu::notices(pool, id, limit).await)
    }

    async fn set_psu_totp(&self, id: PsuId, sealed_seed: Option<String>) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::totp::set_seed(
            pool,
            db::totp::Holder::Psu,
            id.to_string(),
            sealed_seed
        )
        .await)
    }

    async fn psu_totp_seed(&self, id: PsuId) -> Result<Option<String>, StoreError> {
        dispatch!(self, |db, pool| db::totp::seed(
            pool,
            db::totp::Holder::Psu,
            id.to_string()
        )
        .await)
    }

    async fn accept_psu_totp_step(&self, id: PsuId, step: i64) -> Result<bool, StoreError> {
        dispatch!(self, |db, pool| db::totp::accept_step(
            pool,
            db::totp::Holder::Psu,
            id.to_string(),
            step
        )
        .await)
    }

    async fn reset_psu_login_failures(&self, id: PsuId) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::psu::reset_login_failures(pool, id)
            .await)
    }

    async fn add_psu_passkey(&self, passkey: PsuPasskey) -> Result<bool, StoreError> {
        dispatch!(self, |db, pool| db::passkey::add(pool, passkey).await)
    }

    async fn psu_passkeys(&self, id: PsuId) -> Result<Vec<PsuPasskey>, StoreError> {
        dispatch!(self, |db, pool| db::passkey::of_psu(pool, id).await)
    }

    async fn record_psu_passkey_use(
        &self,
        credential_id: &str,
        credential: String,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::passkey::record_use(
            pool,
            credential_id,
            credential,
            at
        )
        .await)
    }

    async fn remove_psu_passkey(&self, id: PsuId, credential_id: &str) -> Result<bool, StoreError> {
        dispatch!(self, |db, pool| db::passkey::remove(
            pool,
            id,
            credential_id
        )
        .await)
    }

    async fn put_webauthn_ceremony(
        &self,
        key: &KeyedHash,
        state: String,
        at: OffsetDateTime,
        stale_before: OffsetDateTime,
    ) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::passkey::put_ceremony(
            pool,
            key,
            state,
            at,
            stale_before
        )
        .await)
    }

    async fn take_webauthn_ceremony(
        &self,
        key: &KeyedHash,
    ) -> Result<Option<(String, OffsetDateTime)>, StoreError> {
        dispatch!(self, |db, pool| db::passkey::take_ceremony(pool, key).await)
    }
}

impl TokenRepository for Store {
    async fn insert_token(&self, token: TokenRecord) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::oauth::insert(pool, token).await)
    }

    async fn token_by_hash(&self, hash: &KeyedHash) -> Result<Option<TokenRecord>, StoreError> {
        dispatch!(self, |db, pool| db::oauth::by_hash(pool, hash).await)
    }

    async fn revoke_token(&self, hash: &KeyedHash, at: OffsetDateTime) -> Result<bool, StoreError> {
        dispatch!(self, |db, pool| db::oauth::revoke(pool, hash, at).await)
    }

    async fn revoke_grant(
        &self,
        authorization: AuthorizationId,
        at: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        dispatch!(self, |db, pool| db::oauth::revoke_grant(
            pool,
            authorization,
            at
        )
        .await)
    }

    async fn remember_jti(
        &self,
        jti_hash: &KeyedHash,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        dispatch!(self, |db, pool| db::oauth::remember_jti(
            pool, jti_hash, expires_at
        )
        .await)
    }

    async fn prune_tokens(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        dispatch!(self, |db, pool| db::oauth::prune(pool, before).await)
    }
}

impl SigningKeyRepository for Store {
    async fn insert_signing_key(&self, key: SigningKey) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::oauth::insert_signing_key(pool, key)
            .await)
    }

    async fn signing_keys(&self, after: OffsetDateTime) -> Result<Vec<SigningKey>, StoreError> {
        dispatch!(self, |db, pool| db::oauth::signing_keys(pool, after).await)
    }
}

impl AuthorizationRepository for Store {
    async fn insert_authorization(&self, authorization: Authorization) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::oauth::insert_authorization(
            pool,
            authorization
        )
        .await)
    }

    async fn open_authorization(
        &self,
        request_uri_hash: &KeyedHash,
        client_id: &str,
        bound: Option<&KeyedHash>,
        session_hash: &KeyedHash,
        at: OffsetDateTime,
    ) -> Result<Option<Authorization>, StoreError> {
        if has_nul(client_id) {
            return Ok(None);
        }
        dispatch!(self, |db, pool| db::oauth::open_authorization(
            pool,
            request_uri_hash,
            client_id,
            bound,
            session_hash,
            at
        )
        .await)
    }

    async fn open_redirect_authorization(
        &self,
        link_hash: &KeyedHash,
        session_hash: &KeyedHash,
        at: OffsetDateTime,
    ) -> Result<Option<Authorization>, StoreError> {
        dispatch!(self, |db, pool| db::oauth::open_redirect(
            pool,
            link_hash,
            session_hash,
            at
        )
        .await)
    }

    async fn authorizations_for_scope(
        &self,
        application: ApplicationId,
        scope: &str,
    ) -> Result<Vec<Authorization>, StoreError> {
        dispatch!(self, |db, pool| db::oauth::for_scope(
            pool,
            application,
            scope
        )
        .await)
    }

    async fn authorization_by_session(
        &self,
        session_hash: &KeyedHash,
    ) -> Result<Option<Authorization>, StoreError> {
        dispatch!(self, |db, pool| db::oauth::by_session(pool, session_hash)
            .await)
    }

    async fn advance_authorization(
        &self,
        id: AuthorizationId,
        from: AuthorizationStage,
        to: AuthorizationStage,
        psu: Option<PsuId>,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        dispatch!(self, |db, pool| db::oauth::advance(
            pool, id, from, to, psu, None, at
        )
        .await)
    }

    async fn advance_authorization_session(
        &self,
        id: AuthorizationId,
        from: AuthorizationStage,
        to: AuthorizationStage,
        psu: Option<PsuId>,
        session_hash: &KeyedHash,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        dispatch!(self, |db, pool| db::oauth::advance(
            pool,
            id,
            from,
            to,
            psu,
            Some(session_hash),
            at
        )
        .await)
    }

    async fn approve_authorization(
        &self,
        id: AuthorizationId,
        code_hash: &KeyedHash,
        code_expires_at: OffsetDateTime,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        dispatch!(self, |db, pool| db::oauth::approve(
            pool,
            id,
            code_hash,
            code_expires_at,
            at
        )
        .await)
    }

    async fn authorization_by_code(
        &self,
        code_hash: &KeyedHash,
    ) -> Result<Option<Authorization>, StoreError> {
        dispatch!(self, |db, pool| db::oauth::by_code(pool, code_hash).await)
    }

    async fn redeem_code(
        &self,
        code_hash: &KeyedHash,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        dispatch!(self, |db, pool| db::oauth::redeem_code(pool, code_hash, at)
            .await)
    }
}

impl PaymentRepository for Store {
    async fn create_payment(&self, payment: Payment) -> Result<PaymentCreation, StoreError> {
        dispatch!(self, |db, pool| db::payment::create(pool, payment).await)
    }

    async fn payment(&self, id: PaymentId) -> Result<Option<Payment>, StoreError> {
        dispatch!(self, |db, pool| db::payment::by_id(pool, id).await)
    }

    async fn payments_in_status(
        &self,
        status: PaymentStatus,
        before: OffsetDateTime,
    ) -> Result<Vec<Payment>, StoreError> {
        dispatch!(self, |db, pool| db::payment::in_status(
            pool, status, before
        )
        .await)
    }

    async fn set_payment_status(
        &self,
        id: PaymentId,
        from: PaymentStatus,
        to: PaymentStatus,
        update: PaymentUpdate,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        dispatch!(self, |db, pool| db::payment::set_status(
            pool, id, from, to, update, at
        )
        .await)
    }
    async fn scheduled_payments_due(
        &self,
        horizon: Date,
        after: (Date, PaymentId),
    ) -> Result<Vec<Payment>, StoreError> {
        dispatch!(self, |db, pool| db::payment::scheduled_due(
            pool, horizon, after
        )
        .await)
    }

    async fn claim_execution(
        &self,
        payment: PaymentId,
        due: Date,
        token: &str,
        at: OffsetDateTime,
        stale_before: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        dispatch!(self, |db, pool| db::payment::claim_execution(
            pool,
            payment,
            due,
            token,
            at,
            stale_before
        )
        .await)
    }

    async fn finish_execution(
        &self,
        payment: PaymentId,
        due: Date,
        token: &str,
        outcome: ExecutionOutcome,
        advance: ExecutionAdvance,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        dispatch!(self, |db, pool| db::payment::finish_execution(
            pool, payment, due, token, outcome, advance, at
        )
        .await)
    }

    async fn request_payment_cancellation(
        &self,
        id: PaymentId,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        dispatch!(self, |db, pool| db::payment::request_cancellation(
            pool, id, at
        )
        .await)
    }

    async fn claim_settlement(
        &self,
        id: PaymentId,
        token: &str,
        at: OffsetDateTime,
        stale_before: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        dispatch!(self, |db, pool| db::payment::claim_settlement(
            pool,
            id,
            token,
            at,
            stale_before
        )
        .await)
    }

    async fn record_bulk_entry(
        &self,
        payment: PaymentId,
        position: usize,
        status: PaymentStatus,
        transaction_id: Option<TransactionId>,
        reason: Option<String>,
    ) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::payment::record_bulk_entry(
            pool,
            payment,
            position,
            status,
            transaction_id,
            reason
        )
        .await)
    }
}

impl DeltaReportRepository for Store {
    async fn delta_mark(
        &self,
        consent: ConsentId,
        account: AccountId,
    ) -> Result<Option<i64>, StoreError> {
        dispatch!(self, |db, pool| db::delta::mark(pool, consent, account)
            .await)
    }

    async fn advance_delta_mark(
        &self,
        consent: ConsentId,
        account: AccountId,
        reference: i64,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::delta::advance(
            pool, consent, account, reference, at
        )
        .await)
    }
}

impl ConsentRepository for Store {
    async fn create_consent(&self, consent: Consent) -> Result<ConsentCreation, StoreError> {
        dispatch!(self, |db, pool| db::consent::create(pool, consent).await)
    }

    async fn consent(&self, id: ConsentId) -> Result<Option<Consent>, StoreError> {
        dispatch!(self, |db, pool| db::consent::by_id(pool, id).await)
    }

    async fn consents_of_psu(&self, psu: PsuId) -> Result<Vec<Consent>, StoreError> {
        dispatch!(self, |db, pool| db::consent::of_psu(pool, psu).await)
    }

    async fn authorise_consent(
        &self,
        id: ConsentId,
        psu: PsuId,
        grants: Vec<AccountGrant>,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        dispatch!(self, |db, pool| db::consent::authorise(
            pool, id, psu, grants, at
        )
        .await)
    }

    async fn count_unattended_access(
        &self,
        id: ConsentId,
        day: Date,
        limit: u32,
    ) -> Result<bool, StoreError> {
        dispatch!(self, |db, pool| db::consent::count_unattended_access(
            pool, id, day, limit
        )
        .await)
    }

    async fn set_consent_status(
        &self,
        id: ConsentId,
        from: &[ConsentStatus],
        to: ConsentStatus,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        dispatch!(self, |db, pool| db::consent::set_status(
            pool, id, from, to, at
        )
        .await)
    }
}

impl UsageRepository for Store {
    async fn add_usage(&self, cells: Vec<(UsageKey, UsageCounts)>) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::usage::add(pool, cells).await)
    }

    async fn usage(
        &self,
        application: ApplicationId,
        from: Date,
        to: Date,
    ) -> Result<Vec<UsageRow>, StoreError> {
        dispatch!(self, |db, pool| db::usage::usage(
            pool,
            application,
            from,
            to
        )
        .await)
    }

    async fn calls_on(
        &self,
        application: ApplicationId,
        api: MeteredApi,
        day: Date,
    ) -> Result<u64, StoreError> {
        dispatch!(self, |db, pool| db::usage::calls_on(
            pool,
            application,
            api,
            day
        )
        .await)
    }
}

impl PortalRepository for Store {
    async fn create_user(&self, user: NewUser) -> Result<User, PortalError> {
        dispatch!(self, |db, pool| db::portal::create_user(pool, user).await)
    }

    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        dispatch!(self, |db, pool| db::portal::user(pool, id).await)
    }

    async fn user_by_email(
        &self,
        email: &Email,
    ) -> Result<Option<(User, PasswordHash)>, StoreError> {
        dispatch!(self, |db, pool| db::portal::user_by_email(pool, email)
            .await)
    }

    async fn begin_login_attempt(
        &self,
        id: UserId,
        max: u32,
        lock_until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        dispatch!(self, |db, pool| db::portal::begin_login_attempt(
            pool, id, max, lock_until, now
        )
        .await)
    }

    async fn reset_login_failures(&self, id: UserId) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::portal::reset_login_failures(pool, id)
            .await)
    }

    async fn mark_email_verified(&self, id: UserId, at: OffsetDateTime) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::portal::mark_email_verified(
            pool, id, at
        )
        .await)
    }

    async fn set_password(&self, id: UserId, password: PasswordHash) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::portal::set_password(
            pool, id, password
        )
        .await)
    }

    async fn set_totp(&self, id: UserId, sealed_seed: Option<String>) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::totp::set_seed(
            pool,
            db::totp::Holder::User,
            id.to_string(),
            sealed_seed
        )
        .await)
    }

    async fn totp_seed(&self, id: UserId) -> Result<Option<String>, StoreError> {
        dispatch!(self, |db, pool| db::totp::seed(
            pool,
            db::totp::Holder::User,
            id.to_string()
        )
        .await)
    }

    async fn accept_totp_step(&self, id: UserId, step: i64) -> Result<bool, StoreError> {
        dispatch!(self, |db, pool| db::totp::accept_step(
            pool,
            db::totp::Holder::User,
            id.to_string(),
            step
        )
        .await)
    }

    async fn create_session(&self, key: &KeyedHash, session: Session) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::portal::create_session(
            pool, key, session
        )
        .await)
    }

    async fn session(&self, key: &KeyedHash) -> Result<Option<Session>, StoreError> {
        dispatch!(self, |db, pool| db::portal::session(pool, key).await)
    }

    async fn touch_session(&self, key: &KeyedHash, at: OffsetDateTime) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::portal::touch_session(pool, key, at)
            .await)
    }

    async fn delete_session(&self, key: &KeyedHash) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::portal::delete_session(pool, key).await)
    }

    async fn prune_expired(
        &self,
        now: OffsetDateTime,
        idle_before: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        dispatch!(self, |db, pool| db::portal::prune_expired(
            pool,
            now,
            idle_before
        )
        .await)
    }

    async fn delete_sessions_of(&self, user: UserId) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::portal::delete_sessions_of(pool, user)
            .await)
    }

    async fn create_token(
        &self,
        key: &KeyedHash,
        user: UserId,
        purpose: TokenPurpose,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::portal::create_token(
            pool, key, user, purpose, expires_at
        )
        .await)
    }

    async fn consume_token(
        &self,
        key: &KeyedHash,
        purpose: TokenPurpose,
        now: OffsetDateTime,
    ) -> Result<Option<UserId>, StoreError> {
        dispatch!(self, |db, pool| db::portal::consume_token(
            pool, key, purpose, now
        )
        .await)
    }

    async fn create_organisation(
        &self,
        organisation: Organisation,
        owner: Option<UserId>,
    ) -> Result<(), PortalError> {
        dispatch!(self, |db, pool| db::portal::create_organisation(
            pool,
            organisation,
            owner
        )
        .await)
    }

    async fn organisation(&self, id: OrganisationId) -> Result<Option<Organisation>, StoreError> {
        dispatch!(self, |db, pool| db::portal::organisation(pool, id).await)
    }

    async fn organisation_by_name(
        &self,
        legal_name: &str,
    ) -> Result<Option<Organisation>, StoreError> {
        dispatch!(self, |db, pool| db::portal::organisation_by_name(
            pool, legal_name
        )
        .await)
    }

    async fn organisations_of(
        &self,
        user: UserId,
    ) -> Result<Vec<(Organisation, MemberRole)>, StoreError> {
        dispatch!(self, |db, pool| db::portal::organisations_of(pool, user)
            .await)
    }

    async fn membership(
        &self,
        organisation: OrganisationId,
        user: UserId,
    ) -> Result<Option<MemberRole>, StoreError> {
        dispatch!(self, |db, pool| db::portal::membership(
            pool,
            organisation,
            user
        )
        .await)
    }

    async fn all_organisations(&self) -> Result<Vec<Organisation>, StoreError> {
        dispatch!(self, |db, pool| db::portal::all_organisations(pool).await)
    }

    async fn members_of(
        &self,
        organisation: OrganisationId,
    ) -> Result<Vec<(User, MemberRole)>, StoreError> {
        dispatch!(self, |db, pool| db::portal::members_of(pool, organisation)
            .await)
    }

    async fn create_invitation(
        &self,
        key: &KeyedHash,
        invitation: Invitation,
    ) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::portal::create_invitation(
            pool, key, invitation
        )
        .await)
    }

    async fn open_invitations(
        &self,
        organisation: OrganisationId,
        now: OffsetDateTime,
    ) -> Result<Vec<Invitation>, StoreError> {
        dispatch!(self, |db, pool| db::portal::open_invitations(
            pool,
            organisation,
            now
        )
        .await)
    }

    async fn accept_invitation(
        &self,
        key: &KeyedHash,
        user: UserId,
        email: &Email,
        now: OffsetDateTime,
    ) -> Result<Option<OrganisationId>, StoreError> {
        dispatch!(self, |db, pool| db::portal::accept_invitation(
            pool, key, user, email, now
        )
        .await)
    }

    async fn remove_member(
        &self,
        organisation: OrganisationId,
        user: UserId,
    ) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::portal::remove_member(
            pool,
            organisation,
            user
        )
        .await)
    }

    async fn set_organisation_status(
        &self,
        id: OrganisationId,
        status: Status,
    ) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::portal::set_organisation_status(
            pool, id, status
        )
        .await)
    }

    async fn create_application(
        &self,
        application: Application,
        subscriptions: Vec<Subscription>,
        credential: Credential,
    ) -> Result<(), PortalError> {
        dispatch!(self, |db, pool| db::portal::create_application(
            pool,
            application,
            subscriptions,
            credential
        )
        .await)
    }

    async fn application(&self, id: ApplicationId) -> Result<Option<Application>, StoreError> {
        dispatch!(self, |db, pool| db::portal::application(pool, id).await)
    }

    async fn applications_of(
        &self,
        organisation: OrganisationId,
    ) -> Result<Vec<Application>, StoreError> {
        dispatch!(self, |db, pool| db::portal::applications_of(
            pool,
            organisation
        )
        .await)
    }

    async fn all_applications(&self) -> Result<Vec<Application>, StoreError> {
        dispatch!(self, |db, pool| db::portal::all_applications(pool).await)
    }

    async fn set_application_status(
        &self,
        id: ApplicationId,
        status: Status,
    ) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::portal::set_application_status(
            pool, id, status
        )
        .await)
    }

    async fn set_application_plan(
        &self,
        id: ApplicationId,
        plan: Option<&str>,
    ) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::portal::set_application_plan(
            pool, id, plan
        )
        .await)
    }

    async fn subscriptions_of(
        &self,
        application: ApplicationId,
    ) -> Result<Vec<Subscription>, StoreError> {
        dispatch!(self, |db, pool| db::portal::subscriptions_of(
            pool,
            application
        )
        .await)
    }

    async fn application_standing(
        &self,
        application: ApplicationId,
    ) -> Result<Option<ApplicationStanding>, StoreError> {
        dispatch!(self, |db, pool| db::portal::application_standing(
            pool,
            application
        )
        .await)
    }

    async fn subscription(&self, id: SubscriptionId) -> Result<Option<Subscription>, StoreError> {
        dispatch!(self, |db, pool| db::portal::subscription(pool, id).await)
    }

    async fn pending_subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        dispatch!(self, |db, pool| db::portal::pending_subscriptions(pool)
            .await)
    }

    async fn add_subscription(&self, subscription: Subscription) -> Result<(), PortalError> {
        dispatch!(self, |db, pool| db::portal::add_subscription(
            pool,
            subscription
        )
        .await)
    }

    async fn decide_subscription(
        &self,
        id: SubscriptionId,
        status: SubscriptionStatus,
        reason: Option<String>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::portal::decide_subscription(
            pool, id, status, reason, at
        )
        .await)
    }

    async fn credentials_of(
        &self,
        application: ApplicationId,
    ) -> Result<Vec<Credential>, StoreError> {
        dispatch!(self, |db, pool| db::portal::credentials_of(
            pool,
            application
        )
        .await)
    }

    async fn credential_by_key(
        &self,
        consumer_key: &str,
    ) -> Result<Option<Credential>, StoreError> {
        if has_nul(consumer_key) {
            return Ok(None);
        }
        dispatch!(self, |db, pool| db::portal::credential_by_key(
            pool,
            consumer_key
        )
        .await)
    }

    async fn rotate_credential(
        &self,
        credential: Credential,
        old_until: OffsetDateTime,
    ) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::portal::rotate_credential(
            pool, credential, old_until
        )
        .await)
    }

    async fn revoke_credential(
        &self,
        id: CredentialId,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::portal::revoke_credential(pool, id, at)
            .await)
    }

    async fn touch_credential(
        &self,
        id: CredentialId,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::portal::touch_credential(pool, id, at)
            .await)
    }

    async fn enqueue_mail(&self, mail: Mail) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::portal::enqueue_mail(pool, mail).await)
    }

    async fn mails_to(&self, recipient: &Email) -> Result<Vec<Mail>, StoreError> {
        dispatch!(self, |db, pool| db::portal::mails_to(pool, recipient).await)
    }

    async fn claim_mails(
        &self,
        limit: u32,
        now: OffsetDateTime,
        stale_before: OffsetDateTime,
    ) -> Result<Vec<(i64, Mail)>, StoreError> {
        dispatch!(self, |db, pool| db::portal::claim_mails(
            pool,
            limit,
            now,
            stale_before
        )
        .await)
    }

    async fn mark_mail_sent(&self, id: i64, at: OffsetDateTime) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::portal::mark_mail_sent(pool, id, at)
            .await)
    }

    async fn record_audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        dispatch!(self, |db, pool| db::portal::record_audit(pool, entry).await)
    }

    async fn audit_trail(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        dispatch!(self, |db, pool| db::portal::audit_trail(pool, limit).await)
    }
}

#[cfg(test)]
mod tests {
    use super::redact_database_url;

    #[test]
    fn database_urls_are_printed_without_their_password() {
        assert_eq!(
            redact_database_url("postgres://app:s3cret@db.example:5432/bank?sslmode=require"),
            "postgres://app:***@db.example:5432/bank?sslmode=require"
        );
        assert_eq!(
            redact_database_url("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(redact_database_url("sqlite:data/x.db"), "sqlite:data/x.db");
    }
}
