//! The error a repository port returns when the store itself fails.

use std::error::Error as StdError;

/// A failure of the storage layer: the database is unreachable, a query failed,
/// or stored data no longer parses. Opaque to callers; logged with its cause.
#[derive(Debug, thiserror::Error)]
#[error("storage failure: {0}")]
pub struct StoreError(#[source] pub Box<dyn StdError + Send + Sync>);

impl StoreError {
    pub fn new(err: impl StdError + Send + Sync + 'static) -> Self {
        Self(Box::new(err))
    }

    /// Stored data that violates a domain invariant (a corrupt row).
    pub fn corrupt(what: impl Into<String>) -> Self {
        Self(what.into().into())
    }
}
