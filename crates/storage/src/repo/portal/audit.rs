//! The audit trail of registry and account changes.

use fintechapi_domain::StoreError;
use fintechapi_domain::portal::{AuditEntry, AuditLine};

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

    /// The latest lines, each target named by a primary-key lookup where it
    /// is a row that has a name.
    pub(crate) async fn audit_trail(&self, limit: u32) -> Result<Vec<AuditLine>, StoreError> {
        Ok(sqlx::query_as::<_, AuditRow>(
            "SELECT l.at, l.actor, l.action, l.target, l.detail, \
                    COALESCE(a.name, o.legal_name, p.display_name || ' (' || p.login || ')', \
                             u.email, ca.name, sa.name || ' · ' || s.product) AS target_name \
             FROM audit_log l \
             LEFT JOIN applications a ON a.id = l.target \
             LEFT JOIN organisations o ON o.id = l.target \
             LEFT JOIN psus p ON p.id = l.target \
             LEFT JOIN users u ON u.id = l.target \
             LEFT JOIN credentials c ON c.id = l.target \
             LEFT JOIN applications ca ON ca.id = c.application_id \
             LEFT JOIN subscriptions s ON s.id = l.target \
             LEFT JOIN applications sa ON sa.id = s.application_id \
             ORDER BY l.id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.0)
        .await
        .map_err(store)?
        .into_iter()
        .map(AuditLine::from)
        .collect())
    }
}
