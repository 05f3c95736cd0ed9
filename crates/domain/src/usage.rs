//! API usage per application: what the portal's statistics show and what plan
//! throttling counts. Recorded on the real request path (token endpoint and
//! XS2A), aggregated per UTC day, product, endpoint and status class.

use std::collections::BTreeMap;
use std::future::Future;

use time::Date;

use crate::ids::ApplicationId;
use crate::ledger::text_enum;
use crate::registry::ApiProduct;
use crate::store::StoreError;

text_enum!(
    /// What an API call belongs to: the OAuth server or one of the API products.
    MeteredApi { Oauth = "oauth", Ais = "ais", Pis = "pis", Piis = "piis" }
);

impl MeteredApi {
    pub fn title(&self) -> &'static str {
        match self {
            MeteredApi::Oauth => "OAuth",
            MeteredApi::Ais => ApiProduct::Ais.title(),
            MeteredApi::Pis => ApiProduct::Pis.title(),
            MeteredApi::Piis => ApiProduct::Piis.title(),
        }
    }
}

impl From<ApiProduct> for MeteredApi {
    fn from(p: ApiProduct) -> Self {
        match p {
            ApiProduct::Ais => MeteredApi::Ais,
            ApiProduct::Pis => MeteredApi::Pis,
            ApiProduct::Piis => MeteredApi::Piis,
        }
    }
}

/// One aggregation cell.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UsageKey {
    pub application_id: ApplicationId,
    pub day: Date,
    pub api: MeteredApi,
    /// Method and route template, e.g. `GET /v1/accounts/{account-id}`.
    pub endpoint: String,
    /// 2, 3, 4 or 5.
    pub status_class: u8,
}

/// Counts added to or read from a cell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageCounts {
    pub calls: u64,
    /// Calls refused by plan throttling (a subset of `calls`, status class 4).
    pub throttled: u64,
    pub latency: LatencyHistogram,
}

impl UsageCounts {
    pub fn merge(&mut self, other: &UsageCounts) {
        self.calls += other.calls;
        self.throttled += other.throttled;
        self.latency.merge(&other.latency);
    }
}

/// Latencies in logarithmic buckets, four per power of two of microseconds
/// (each bucket ≤ 19 % wide): small, mergeable, and precise enough for p50/p95.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LatencyHistogram {
    buckets: BTreeMap<u16, u64>,
}

impl LatencyHistogram {
    pub fn bucket_of(micros: u64) -> u16 {
        let micros = micros.max(1) as f64;
        // 4·log2: 0 for 1 µs, 80 for ~1 s, 103 for ~60 s.
        (4.0 * micros.log2()).floor().clamp(0.0, u16::MAX as f64) as u16
    }

    /// The upper bound of a bucket, in microseconds.
    pub fn bucket_upper_micros(bucket: u16) -> u64 {
        2f64.powf(f64::from(bucket + 1) / 4.0).ceil() as u64
    }

    pub fn record(&mut self, micros: u64) {
        *self.buckets.entry(Self::bucket_of(micros)).or_default() += 1;
    }

    pub fn add_bucket(&mut self, bucket: u16, count: u64) {
        if count > 0 {
            *self.buckets.entry(bucket).or_default() += count;
        }
    }

    pub fn merge(&mut self, other: &LatencyHistogram) {
        for (&bucket, &count) in &other.buckets {
            self.add_bucket(bucket, count);
        }
    }

    pub fn buckets(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        self.buckets.iter().map(|(&b, &c)| (b, c))
    }

    pub fn count(&self) -> u64 {
        self.buckets.values().sum()
    }

    /// The latency (µs, bucket upper bound) at or below which `quantile` of the
    /// calls fall; None without calls.
    pub fn quantile_micros(&self, quantile: f64) -> Option<u64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((quantile.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (&bucket, &count) in &self.buckets {
            seen += count;
            if seen >= rank {
                return Some(Self::bucket_upper_micros(bucket));
            }
        }
        None
    }
}

/// A stored cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    pub key: UsageKey,
    pub counts: UsageCounts,
}

pub trait UsageRepository: Send + Sync {
    /// Adds the counts to their cells, all or nothing.
    fn add_usage(
        &self,
        cells: Vec<(UsageKey, UsageCounts)>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// An application's cells for days `from..=to`.
    fn usage(
        &self,
        application: ApplicationId,
        from: Date,
        to: Date,
    ) -> impl Future<Output = Result<Vec<UsageRow>, StoreError>> + Send;

    /// Calls of an application to an API on one day (what daily quotas count).
    fn calls_on(
        &self,
        application: ApplicationId,
        api: MeteredApi,
        day: Date,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_bound_their_values() {
        let mut last = 0;
        for micros in [1u64, 2, 3, 10, 999, 1_000, 1_001, 250_000, 60_000_000] {
            let bucket = LatencyHistogram::bucket_of(micros);
            assert!(bucket >= last, "{micros}");
            last = bucket;
            assert!(
                LatencyHistogram::bucket_upper_micros(bucket) >= micros,
                "{micros}"
            );
            // Upper bound within 19 % (+1 µs of rounding) of the value.
            assert!(
                LatencyHistogram::bucket_upper_micros(bucket) as f64 <= micros as f64 * 1.19 + 1.0,
                "{micros}"
            );
        }
    }

    #[test]
    fn quantiles_follow_the_distribution() {
        let mut h = LatencyHistogram::default();
        assert_eq!(h.quantile_micros(0.5), None);
        for _ in 0..90 {
            h.record(1_000);
        }
        for _ in 0..10 {
            h.record(100_000);
        }
        let p50 = h.quantile_micros(0.5).unwrap();
        let p95 = h.quantile_micros(0.95).unwrap();
        assert!((1_000..1_200).contains(&p50), "{p50}");
        assert!((100_000..120_000).contains(&p95), "{p95}");

        let mut merged = LatencyHistogram::default();
        merged.merge(&h);
        merged.merge(&h);
        assert_eq!(merged.count(), 200);
        assert_eq!(merged.quantile_micros(0.95), Some(p95));
    }
}
