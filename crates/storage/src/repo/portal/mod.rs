//! Portal queries, one file per aggregate: users, sessions and one-time
//! tokens, organisations (members, invitations), applications, subscriptions,
//! credentials, the mail outbox, the audit trail.
//!
//! `PortalRepository` is one port and a trait's impl cannot span files, so
//! these files give the backend store inherent methods and `Store`
//! implements the port with them (`ports.rs`).

use fintechapi_domain::StoreError;
use sqlx::{Database, Pool};

use super::{BEGIN_WRITE, Db, Store};
use crate::error::store;

type Conn = <Db as Database>::Connection;

// Column lists shared by the files below (textual scope: defined before the modules).
macro_rules! user_columns {
    () => {
        "id, email, display_name, kind, password_hash, email_verified_at, failed_logins, locked_until, \
         totp_secret, created_at"
    };
}
macro_rules! application_columns {
    () => {
        "id, organisation_id, name, description, redirect_uris, security_profile, jwks, jwks_uri, \
         tls_subject_dn, environment, status, created_at, plan"
    };
}
macro_rules! subscription_columns {
    () => {
        "id, application_id, product, plan, status, reason, created_at, decided_at"
    };
}
macro_rules! credential_columns {
    () => {
        "id, application_id, consumer_key, secret_hash, created_at, expires_at, revoked_at, last_used_at"
    };
}

mod applications;
mod audit;
mod credentials;
mod organisations;
mod outbox;
mod sessions;
mod subscriptions;
mod users;

type QueryAs<'q, R> = sqlx::query::QueryAs<'q, Db, R, <Db as Database>::Arguments>;

/// Every row `query` returns, each made its domain type.
async fn all<R, T>(pool: &Pool<Db>, query: QueryAs<'_, R>) -> Result<Vec<T>, StoreError>
where
    R: Send + Unpin + for<'r> sqlx::FromRow<'r, <Db as Database>::Row>,
    T: TryFrom<R, Error = StoreError>,
{
    let rows = query.fetch_all(pool).await.map_err(store)?;
    rows.into_iter().map(T::try_from).collect()
}

/// The row `query` returns, if any, made its domain type.
async fn one<R, T>(pool: &Pool<Db>, query: QueryAs<'_, R>) -> Result<Option<T>, StoreError>
where
    R: Send + Unpin + for<'r> sqlx::FromRow<'r, <Db as Database>::Row>,
    T: TryFrom<R, Error = StoreError>,
{
    let row = query.fetch_optional(pool).await.map_err(store)?;
    row.map(T::try_from).transpose()
}

/// Runs a statement whose result is only success or failure.
async fn run(
    pool: &Pool<Db>,
    query: sqlx::query::Query<'_, Db, <Db as Database>::Arguments>,
) -> Result<(), StoreError> {
    query.execute(pool).await.map_err(store)?;
    Ok(())
}
