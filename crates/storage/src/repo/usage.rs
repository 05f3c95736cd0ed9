//! API usage aggregates: counters are added in the database, so several server
//! nodes can flush into the same cells.

use fintechapi_domain::StoreError;
use fintechapi_domain::ids::ApplicationId;
use fintechapi_domain::usage::UsageRepository;
use std::collections::HashMap;

use fintechapi_domain::usage::{LatencyHistogram, MeteredApi, UsageCounts, UsageKey, UsageRow};
use time::Date;

use super::{Read, Write, begin_write};
use crate::error::store;
use crate::rows::{UsageLatencyRow, UsageRowRaw};

impl UsageRepository for super::Store {
    async fn add_usage(&self, cells: Vec<(UsageKey, UsageCounts)>) -> Result<(), StoreError> {
        let pool = &self.0;
        // Cells in key order: concurrent flushes lock rows in the same order.
        let mut cells = cells;
        cells.sort_by(|a, b| a.0.cmp(&b.0));
        let mut tx = begin_write(pool, &self.1).await?;
        for (key, counts) in &cells {
            let class = i16::from(key.status_class);
            sqlx::query(
                "INSERT INTO api_usage \
             (application_id, day, api, endpoint, status_class, calls, throttled) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (application_id, day, api, endpoint, status_class) DO UPDATE SET \
             calls = api_usage.calls + excluded.calls, \
             throttled = api_usage.throttled + excluded.throttled",
            )
            .bind(key.application_id)
            .bind(key.day)
            .bind(key.api.as_str())
            .bind(&key.endpoint)
            .bind(class)
            .bind(i64::try_from(counts.calls).unwrap_or(i64::MAX))
            .bind(i64::try_from(counts.throttled).unwrap_or(i64::MAX))
            .run(&mut *tx)
            .await?;
            for (bucket, calls) in counts.latency.buckets() {
                sqlx::query(
                    "INSERT INTO api_usage_latency \
                 (application_id, day, api, endpoint, status_class, bucket, calls) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (application_id, day, api, endpoint, status_class, bucket) \
                 DO UPDATE SET calls = api_usage_latency.calls + excluded.calls",
                )
                .bind(key.application_id)
                .bind(key.day)
                .bind(key.api.as_str())
                .bind(&key.endpoint)
                .bind(class)
                .bind(i16::try_from(bucket).unwrap_or(i16::MAX))
                .bind(i64::try_from(calls).unwrap_or(i64::MAX))
                .run(&mut *tx)
                .await?;
            }
        }
        tx.commit().await.map_err(store)
    }

    async fn usage(
        &self,
        application: ApplicationId,
        from: Date,
        to: Date,
    ) -> Result<Vec<UsageRow>, StoreError> {
        let pool = &self.0;
        let mut out: Vec<UsageRow> = sqlx::query_as::<_, UsageRowRaw>(
            "SELECT application_id, day, api, endpoint, status_class, calls, throttled \
         FROM api_usage WHERE application_id = $1 AND day >= $2 AND day <= $3 \
         ORDER BY day, api, endpoint, status_class",
        )
        .bind(application)
        .bind(from)
        .bind(to)
        .all_into(pool)
        .await?;
        let latencies = sqlx::query_as::<_, UsageLatencyRow>(
            "SELECT day, api, endpoint, status_class, bucket, calls \
         FROM api_usage_latency WHERE application_id = $1 AND day >= $2 AND day <= $3",
        )
        .bind(application)
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await
        .map_err(store)?;
        let index: HashMap<(Date, &str, &str, u8), usize> = out
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let k = &r.key;
                (
                    (k.day, k.api.as_str(), k.endpoint.as_str(), k.status_class),
                    i,
                )
            })
            .collect();
        let mut histograms = vec![LatencyHistogram::default(); out.len()];
        for l in &latencies {
            let class = u8::try_from(l.status_class).unwrap_or(0);
            if let Some(&i) = index.get(&(l.day, l.api.as_str(), l.endpoint.as_str(), class)) {
                let bucket = u16::try_from(l.bucket).unwrap_or(0);
                histograms[i].add_bucket(bucket, u64::try_from(l.calls).unwrap_or(0));
            }
        }
        drop(index);
        for (row, histogram) in out.iter_mut().zip(histograms) {
            row.counts.latency = histogram;
        }
        Ok(out)
    }

    async fn calls_on(
        &self,
        application: ApplicationId,
        api: MeteredApi,
        day: Date,
    ) -> Result<u64, StoreError> {
        let pool = &self.0;
        let total: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(SUM(calls) AS BIGINT) FROM api_usage \
         WHERE application_id = $1 AND api = $2 AND day = $3",
        )
        .bind(application)
        .bind(api.as_str())
        .bind(day)
        .fetch_one(pool)
        .await
        .map_err(store)?;
        Ok(total.map_or(0, |t| u64::try_from(t).unwrap_or(0)))
    }
}
