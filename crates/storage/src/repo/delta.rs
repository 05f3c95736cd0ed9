//! Delta report marks (`deltaList`): one row per consent and account.

use fintechapi_domain::StoreError;
use fintechapi_domain::consent::DeltaReportRepository;
use fintechapi_domain::ids::{AccountId, ConsentId};
use time::OffsetDateTime;

use super::Write;
use crate::error::store;

impl DeltaReportRepository for super::Store {
    async fn delta_mark(
        &self,
        consent: ConsentId,
        account: AccountId,
    ) -> Result<Option<i64>, StoreError> {
        let pool = &self.0;
        sqlx::query_scalar(
            "SELECT last_entry_reference FROM delta_reports \
         WHERE consent_id = $1 AND account_id = $2",
        )
        .bind(consent)
        .bind(account)
        .fetch_optional(pool)
        .await
        .map_err(store)
    }

    async fn advance_delta_mark(
        &self,
        consent: ConsentId,
        account: AccountId,
        reference: i64,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let pool = &self.0;
        // One statement, and only upwards: whichever of two concurrent reports
        // commits last, the mark ends at the greater reference.
        sqlx::query(
            "INSERT INTO delta_reports (consent_id, account_id, last_entry_reference, reported_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (consent_id, account_id) DO UPDATE \
         SET last_entry_reference = excluded.last_entry_reference, \
         reported_at = excluded.reported_at \
         WHERE delta_reports.last_entry_reference < excluded.last_entry_reference",
        )
        .bind(consent)
        .bind(account)
        .bind(reference)
        .bind(at)
        .run(pool)
        .await
    }
}
