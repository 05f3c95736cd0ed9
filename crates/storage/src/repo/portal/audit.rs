//! The audit trail of registry and account changes.

use fintechapi_domain::StoreError;
use fintechapi_domain::portal::AuditEntry;

use super::{Store, Write};
use crate::error::store;
use crate::rows::AuditRow;

impl Store {
    pub(crate) async fn record_audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        let e = entry;
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(e.at)
        .bind(e.actor)
        .bind(e.action)
        .bind(e.target)
        .bind(e.detail)
        .run(&self.0)
        .await
    }

    pub(crate) async fn audit_trail(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(sqlx::query_as::<_, AuditRow>(
            "SELECT at, actor, action, target, detail FROM audit_log ORDER BY id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.0)
        .await
        .map_err(store)?
        .into_iter()
        .map(AuditEntry::from)
        .collect())
    }
}
