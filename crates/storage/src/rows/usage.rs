//! Usage metering rows.

use fintechapi_domain::StoreError;
use fintechapi_domain::ids::ApplicationId;
use fintechapi_domain::usage::{UsageCounts, UsageKey, UsageRow};
use time::Date;

#[derive(sqlx::FromRow)]
pub(crate) struct UsageRowRaw {
    application_id: ApplicationId,
    day: Date,
    api: String,
    endpoint: String,
    status_class: i16,
    calls: i64,
    throttled: i64,
}

impl TryFrom<UsageRowRaw> for UsageRow {
    type Error = StoreError;
    fn try_from(r: UsageRowRaw) -> Result<Self, StoreError> {
        let count = |n: i64| {
            u64::try_from(n).map_err(|_| StoreError::corrupt(format!("negative usage count {n}")))
        };
        Ok(UsageRow {
            key: UsageKey {
                application_id: r.application_id,
                day: r.day,
                api: r.api.parse()?,
                endpoint: r.endpoint,
                status_class: u8::try_from(r.status_class)
                    .map_err(|_| StoreError::corrupt(format!("status class {}", r.status_class)))?,
            },
            counts: UsageCounts {
                calls: count(r.calls)?,
                throttled: count(r.throttled)?,
                latency: Default::default(),
            },
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct UsageLatencyRow {
    pub day: Date,
    pub api: String,
    pub endpoint: String,
    pub status_class: i16,
    pub bucket: i16,
    pub calls: i64,
}
