//! Mapping of database errors to domain errors, in one place.

use fintechapi_domain::StoreError;
use sqlx::error::ErrorKind;

pub(crate) fn store(err: sqlx::Error) -> StoreError {
    StoreError::new(err)
}

/// True when `err` is a unique violation on a constraint or column whose name contains `hint`.
/// PostgreSQL names the constraint; SQLite names the column in its message.
pub(crate) fn is_unique_violation(err: &sqlx::Error, hint: &str) -> bool {
    err.as_database_error().is_some_and(|db| {
        db.kind() == ErrorKind::UniqueViolation
            && (db.constraint().is_some_and(|c| c.contains(hint)) || db.message().contains(hint))
    })
}

pub(crate) fn is_check_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|db| db.kind() == ErrorKind::CheckViolation)
}
