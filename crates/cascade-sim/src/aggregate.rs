//! What a sweep point's runs add up to: per-metric statistics and, for boolean metrics, rates
//! with Wilson score intervals.
//!
//! Researchers chart means with standard errors and tails (p95, p99) of loss metrics, and the
//! frequency of events such as a cascade or any bad debt. Rates of rare events near 0 or 1 need
//! an interval that stays inside [0, 1] and does not collapse to zero width when no run shows
//! the event: the Wilson score interval does both. Everything is summed serially in run order,
//! so an aggregate is bit-identical however its runs were computed.

use crate::metrics::{METRICS, MetricKind, MetricRow};
use crate::summary::quantile_sorted;
use serde::{Deserialize, Serialize};

/// The two-sided 95% normal quantile.
pub const Z95: f64 = 1.959_963_984_540_054;

/// Statistics of one metric over a point's runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricAgg {
    pub mean: f64,
    /// Standard error of the mean (sample standard deviation / sqrt(n)).
    pub se: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub min: f64,
    pub max: f64,
}

/// The rate of a boolean metric over a point's runs, with its 95% Wilson interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateAgg {
    /// Runs where the metric is true.
    pub hits: u64,
    /// Runs.
    pub n: u64,
    pub rate: f64,
    pub lo: f64,
    pub hi: f64,
}

/// A point's aggregate: one [`MetricAgg`] per metric (schema order) and one [`RateAgg`] per
/// boolean metric (schema order among the booleans).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointAgg {
    pub runs: u64,
    pub metrics: Vec<MetricAgg>,
    pub rates: Vec<RateAgg>,
}

/// The boolean metrics, in schema order: the ones that get a rate.
pub fn rate_metrics() -> Vec<&'static str> {
    METRICS
        .iter()
        .filter(|d| d.kind == MetricKind::Bool)
        .map(|d| d.name)
        .collect()
}

/// The Wilson score interval for `hits` successes in `n` trials at normal quantile `z`.
/// With `n = 0` it is the whole of [0, 1].
pub fn wilson(hits: u64, n: u64, z: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n_f = n as f64;
    let p = hits as f64 / n_f;
    let z2 = z * z;
    let denom = 1.0 + z2 / n_f;
    let centre = (p + z2 / (2.0 * n_f)) / denom;
    let half = z * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Statistics of `values` (in run order).
pub fn metric_agg(values: &[f64]) -> MetricAgg {
    let n = values.len();
    if n == 0 {
        return MetricAgg {
            mean: f64::NAN,
            se: f64::NAN,
            p50: f64::NAN,
            p95: f64::NAN,
            p99: f64::NAN,
            min: f64::NAN,
            max: f64::NAN,
        };
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let var = if n > 1 {
        values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64
    } else {
        0.0
    };
    let mut s = values.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    MetricAgg {
        mean,
        se: (var / n as f64).sqrt(),
        p50: quantile_sorted(&s, 0.5),
        p95: quantile_sorted(&s, 0.95),
        p99: quantile_sorted(&s, 0.99),
        min: s[0],
        max: s[n - 1],
    }
}

/// Aggregate a point's rows (in run order).
pub fn aggregate(rows: &[MetricRow]) -> PointAgg {
    let mut metrics = Vec::with_capacity(METRICS.len());
    let mut rates = Vec::new();
    let mut col = Vec::with_capacity(rows.len());
    for (i, d) in METRICS.iter().enumerate() {
        col.clear();
        col.extend(rows.iter().map(|r| r.0[i]));
        metrics.push(metric_agg(&col));
        if d.kind == MetricKind::Bool {
            let hits = col.iter().filter(|v| **v != 0.0).count() as u64;
            let n = col.len() as u64;
            let (lo, hi) = wilson(hits, n, Z95);
            rates.push(RateAgg {
                hits,
                n,
                rate: if n > 0 {
                    hits as f64 / n as f64
                } else {
                    f64::NAN
                },
                lo,
                hi,
            });
        }
    }
    PointAgg {
        runs: rows.len() as u64,
        metrics,
        rates,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 5e-5
    }

    #[test]
    fn wilson_matches_published_values() {
        // Newcombe (1998), Statistics in Medicine 17:857-872, table I, method 3 (Wilson score
        // without continuity correction): 81/263 -> 0.2553-0.3662; 15/148 -> 0.0624-0.1605;
        // 0/20 -> 0-0.1611; 1/29 -> 0.0061-0.1718.
        let cases = [
            (81, 263, 0.2553, 0.3662),
            (15, 148, 0.0624, 0.1605),
            (0, 20, 0.0, 0.1611),
            (1, 29, 0.0061, 0.1718),
        ];
        for (k, n, lo, hi) in cases {
            let (l, h) = wilson(k, n, Z95);
            assert!(close(l, lo) && close(h, hi), "{k}/{n}: ({l}, {h})");
        }
        // Symmetry: k of n and n-k of n mirror each other.
        let (l, h) = wilson(3, 10, Z95);
        let (l2, h2) = wilson(7, 10, Z95);
        assert!((l - (1.0 - h2)).abs() < 1e-12 && (h - (1.0 - l2)).abs() < 1e-12);
        assert_eq!(wilson(0, 0, Z95), (0.0, 1.0));
        assert!((wilson(10, 10, Z95).1 - 1.0).abs() < 1e-12);
    }

    #[test]
    fn metric_agg_by_hand() {
        let a = metric_agg(&[4.0, 1.0, 3.0, 2.0]);
        assert_eq!(a.mean, 2.5);
        assert!((a.se - (5.0f64 / 12.0).sqrt()).abs() < 1e-15);
        assert_eq!((a.p50, a.min, a.max), (2.5, 1.0, 4.0));
        assert!((a.p95 - 3.85).abs() < 1e-12);
        assert!((a.p99 - 3.97).abs() < 1e-12);
    }

    #[test]
    fn rates_follow_the_boolean_metrics() {
        let names = rate_metrics();
        assert!(names.contains(&"has_cascade"));
        let idx = crate::metrics::metric_index("has_cascade").unwrap();
        let rows: Vec<MetricRow> = (0..10)
            .map(|r| {
                let mut v = vec![0.0; METRICS.len()];
                v[idx] = if r < 3 { 1.0 } else { 0.0 };
                MetricRow(v)
            })
            .collect();
        let agg = aggregate(&rows);
        let k = names.iter().position(|n| *n == "has_cascade").unwrap();
        assert_eq!((agg.rates[k].hits, agg.rates[k].n), (3, 10));
        assert_eq!(agg.rates[k].rate, 0.3);
        assert_eq!((agg.rates[k].lo, agg.rates[k].hi), wilson(3, 10, Z95));
    }
}
