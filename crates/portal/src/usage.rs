//! Usage statistics of one application: daily series for the chart, a table
//! per API and endpoint with latency percentiles, CSV export, and the chart
//! itself as SVG rendered on the server.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use fintechapi_domain::usage::{LatencyHistogram, MeteredApi, UsageCounts, UsageRow};
use serde::Serialize;
use time::{Date, Duration};

/// Periods the pages offer, in days.
pub const PERIODS: [u16; 3] = [7, 30, 90];

/// One day of the chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayTotals {
    #[serde(with = "iso_date")]
    pub day: Date,
    pub success: u64,
    pub redirect: u64,
    /// Client errors other than throttling.
    pub client_error: u64,
    pub throttled: u64,
    pub server_error: u64,
}

impl DayTotals {
    pub fn calls(&self) -> u64 {
        self.success + self.redirect + self.client_error + self.throttled + self.server_error
    }
}

/// One line of the per-endpoint table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndpointTotals {
    pub api: String,
    pub api_title: &'static str,
    pub endpoint: String,
    pub calls: u64,
    pub success: u64,
    pub client_error: u64,
    pub server_error: u64,
    pub throttled: u64,
    /// Milliseconds, rounded up; None without calls.
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageReport {
    #[serde(with = "iso_date")]
    pub from: Date,
    #[serde(with = "iso_date")]
    pub to: Date,
    pub days: Vec<DayTotals>,
    pub endpoints: Vec<EndpointTotals>,
    pub total_calls: u64,
    pub total_throttled: u64,
}

mod iso_date {
    use serde::Serializer;
    use time::Date;

    pub fn serialize<S: Serializer>(date: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(date)
    }
}

fn millis(micros: Option<u64>) -> Option<f64> {
    micros.map(|us| (us as f64 / 100.0).ceil() / 10.0)
}

/// The period ending `today` (inclusive) of `days` days.
pub fn period(today: Date, days: u16) -> (Date, Date) {
    let from = today - Duration::days(i64::from(days.max(1)) - 1);
    (from, today)
}

impl UsageReport {
    pub fn build(from: Date, to: Date, rows: &[UsageRow]) -> Self {
        let mut days: BTreeMap<Date, DayTotals> = BTreeMap::new();
        let mut day = from;
        while day <= to {
            days.insert(
                day,
                DayTotals {
                    day,
                    success: 0,
                    redirect: 0,
                    client_error: 0,
                    throttled: 0,
                    server_error: 0,
                },
            );
            match day.next_day() {
                Some(next) => day = next,
                None => break,
            }
        }
        let mut endpoints: BTreeMap<(MeteredApi, String), (EndpointTotals, UsageCounts)> =
            BTreeMap::new();
        for row in rows {
            let k = &row.key;
            let c = &row.counts;
            if let Some(d) = days.get_mut(&k.day) {
                match k.status_class {
                    2 => d.success += c.calls,
                    3 => d.redirect += c.calls,
                    4 => {
                        d.client_error += c.calls - c.throttled;
                        d.throttled += c.throttled;
                    }
                    _ => d.server_error += c.calls,
                }
            }
            let (line, all) = endpoints
                .entry((k.api, k.endpoint.clone()))
                .or_insert_with(|| {
                    (
                        EndpointTotals {
                            api: k.api.as_str().to_owned(),
                            api_title: k.api.title(),
                            endpoint: k.endpoint.clone(),
                            calls: 0,
                            success: 0,
                            client_error: 0,
                            server_error: 0,
                            throttled: 0,
                            p50_ms: None,
                            p95_ms: None,
                        },
                        UsageCounts::default(),
                    )
                });
            line.calls += c.calls;
            line.throttled += c.throttled;
            match k.status_class {
                2 => line.success += c.calls,
                4 => line.client_error += c.calls - c.throttled,
                5 => line.server_error += c.calls,
                _ => {}
            }
            all.merge(c);
        }
        let endpoints: Vec<EndpointTotals> = endpoints
            .into_values()
            .map(|(mut line, all)| {
                line.p50_ms = millis(all.latency.quantile_micros(0.50));
                line.p95_ms = millis(all.latency.quantile_micros(0.95));
                line
            })
            .collect();
        let days: Vec<DayTotals> = days.into_values().collect();
        Self {
            from,
            to,
            total_calls: days.iter().map(DayTotals::calls).sum(),
            total_throttled: days.iter().map(|d| d.throttled).sum(),
            days,
            endpoints,
        }
    }

    /// One line per stored cell, with its own percentiles.
    pub fn csv(rows: &[UsageRow]) -> String {
        let mut out = String::from("day,api,endpoint,status_class,calls,throttled,p50_ms,p95_ms\n");
        for row in rows {
            let k = &row.key;
            let latency: &LatencyHistogram = &row.counts.latency;
            let ms =
                |q| millis(latency.quantile_micros(q)).map_or(String::new(), |m| m.to_string());
            let _ = writeln!(
                out,
                "{},{},{},{}xx,{},{},{},{}",
                k.day,
                k.api,
                csv_field(&k.endpoint),
                k.status_class,
                row.counts.calls,
                row.counts.throttled,
                ms(0.50),
                ms(0.95)
            );
        }
        out
    }

    /// Stacked bars per day: successes, redirects, client errors, throttled,
    /// server errors. Only numbers and dates reach the markup.
    pub fn svg(&self) -> String {
        const WIDTH: f64 = 720.0;
        const HEIGHT: f64 = 220.0;
        const LEFT: f64 = 48.0;
        const BOTTOM: f64 = 24.0;
        const TOP: f64 = 8.0;
        let plot_w = WIDTH - LEFT - 8.0;
        let plot_h = HEIGHT - BOTTOM - TOP;
        let max = self
            .days
            .iter()
            .map(DayTotals::calls)
            .max()
            .unwrap_or(0)
            .max(1);
        let scale = nice_ceiling(max);
        let slot = plot_w / self.days.len().max(1) as f64;
        let bar = (slot * 0.8).max(1.0);
        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" class="chart" role="img" aria-labelledby="chart-title chart-desc"><title id="chart-title">API calls per day</title><desc id="chart-desc">{} calls from {} to {}, {} throttled</desc>"#,
            self.total_calls, self.from, self.to, self.total_throttled
        );
        // Gridlines at whole numbers: 4 or 5 intervals, or one per unit below 5.
        let intervals = match scale {
            s if s % 4 == 0 => 4,
            s if s % 5 == 0 => 5,
            s => s,
        };
        for i in 0..=intervals {
            let value = scale * i / intervals;
            let y = TOP + plot_h - plot_h * value as f64 / scale as f64;
            let _ = write!(
                svg,
                r##"<line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#d0d4dc" stroke-width="1"/><text x="{}" y="{:.1}" font-size="10" text-anchor="end" fill="#444">{value}</text>"##,
                WIDTH - 8.0,
                LEFT - 4.0,
                y + 3.0
            );
        }
        let series: [Series; 5] = [
            ("2xx", "#2e7d32", |d| d.success),
            ("3xx", "#607d8b", |d| d.redirect),
            ("4xx", "#f9a825", |d| d.client_error),
            ("throttled", "#6a1b9a", |d| d.throttled),
            ("5xx", "#c62828", |d| d.server_error),
        ];
        let label_every = (self.days.len() / 8).max(1);
        for (i, day) in self.days.iter().enumerate() {
            let x = LEFT + slot * i as f64 + (slot - bar) / 2.0;
            let mut y = TOP + plot_h;
            for (name, colour, value) in &series {
                let v = value(day);
                if v == 0 {
                    continue;
                }
                let h = plot_h * v as f64 / scale as f64;
                y -= h;
                let _ = write!(
                    svg,
                    r#"<rect x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{h:.1}" fill="{colour}"><title>{}: {v} {name}</title></rect>"#,
                    day.day
                );
            }
            if i % label_every == 0 {
                let _ = write!(
                    svg,
                    r##"<text x="{:.1}" y="{}" font-size="10" text-anchor="middle" fill="#444">{}-{:02}</text>"##,
                    x + bar / 2.0,
                    HEIGHT - 8.0,
                    u8::from(day.day.month()),
                    day.day.day()
                );
            }
        }
        svg.push_str("</svg>");
        svg
    }
}

/// A chart series: name, colour, and its value on a day.
type Series = (&'static str, &'static str, fn(&DayTotals) -> u64);

/// The smallest of 1, 2, 5 × 10ⁿ at or above `n`, so the axis reads well.
fn nice_ceiling(n: u64) -> u64 {
    let mut base = 1_u64;
    loop {
        for step in [1, 2, 5] {
            if base.saturating_mul(step) >= n {
                return base.saturating_mul(step);
            }
        }
        base = base.saturating_mul(10);
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use fintechapi_domain::ids::ApplicationId;
    use fintechapi_domain::usage::UsageKey;
    use time::macros::date;

    fn row(day: Date, endpoint: &str, class: u8, calls: u64, throttled: u64, ms: u64) -> UsageRow {
        let mut latency = LatencyHistogram::default();
        for _ in 0..calls {
            latency.record(ms * 1000);
        }
        UsageRow {
            key: UsageKey {
                application_id: ApplicationId::random(),
                day,
                api: MeteredApi::Oauth,
                endpoint: endpoint.into(),
                status_class: class,
            },
            counts: UsageCounts {
                calls,
                throttled,
                latency,
            },
        }
    }

    #[test]
    fn report_splits_days_classes_and_endpoints() {
        let (from, to) = period(date!(2026 - 11 - 25), 7);
        assert_eq!(from, date!(2026 - 11 - 19));
        let rows = vec![
            row(date!(2026 - 11 - 24), "POST /oauth2/token", 2, 8, 0, 4),
            row(date!(2026 - 11 - 24), "POST /oauth2/token", 4, 5, 3, 1),
            row(date!(2026 - 11 - 25), "POST /oauth2/introspect", 2, 2, 0, 2),
            row(date!(2026 - 10 - 1), "POST /oauth2/token", 2, 99, 0, 1),
        ];
        let report = UsageReport::build(from, to, &rows);
        assert_eq!(report.days.len(), 7);
        let nov24 = &report.days[5];
        assert_eq!(
            (nov24.success, nov24.client_error, nov24.throttled),
            (8, 2, 3)
        );
        assert_eq!(report.total_calls, 15);
        assert_eq!(report.total_throttled, 3);
        let token = report
            .endpoints
            .iter()
            .find(|e| e.endpoint == "POST /oauth2/token")
            .unwrap();
        assert_eq!((token.calls, token.success, token.throttled), (112, 107, 3));
        let svg = report.svg();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("2026-11-24: 8 2xx"));
        assert!(svg.contains("2026-11-24: 3 throttled"));
        let csv = UsageReport::csv(&rows);
        assert!(
            csv.contains("2026-11-24,oauth,POST /oauth2/token,4xx,5,3,1.1,1.1\n"),
            "{csv}"
        );
    }

    #[test]
    fn axis_steps_are_round() {
        assert_eq!(nice_ceiling(1), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(11), 20);
        assert_eq!(nice_ceiling(501), 1000);
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }
}
