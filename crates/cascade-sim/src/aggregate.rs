//! What a sweep point's runs add up to: per-metric statistics and, for boolean metrics, rates
//! with Wilson score intervals; with a baseline point, paired differences to it.
//!
//! Researchers chart means and tails (p95, p99) of loss metrics, and the frequency of events
//! such as a cascade or any bad debt. Loss metrics are zero in most runs and large in a few, so
//! every metric also gets the share of runs above zero, the mean given above zero and a
//! percentile bootstrap interval of its mean ([`crate::stats`]), which never leaves the range of
//! the data. Rates of rare events near 0 or 1 need an interval that stays inside [0, 1] and does
//! not collapse to zero width when no run shows the event: the Wilson score interval does both.
//! Points are compared with the sweep's baseline run by run (same run index, same seeds).
//! Everything is summed serially in run order from named ChaCha8 streams of the master seed, so
//! an aggregate is bit-identical however its runs were computed.

use crate::metrics::{METRICS, MetricKind, MetricRow};
use crate::stats::{self, bh, bootstrap, paired};
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
    /// Share of runs with a value above zero.
    pub pos_share: f64,
    /// Mean over the runs above zero (NaN when none is).
    pub pos_mean: f64,
    /// 95% percentile bootstrap interval of the mean ([`stats::RESAMPLES`] resamples of the
    /// runs); NaN until [`aggregate`] fills it.
    pub ci_lo: f64,
    pub ci_hi: f64,
}

/// One metric of a point against the baseline point, run by run (`point - baseline`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PairedAgg {
    /// Mean of the run-by-run differences (= difference of the means).
    pub diff: f64,
    /// 95% paired percentile bootstrap interval of `diff`.
    pub lo: f64,
    pub hi: f64,
    /// Two-sided paired sign-flip permutation p-value.
    pub p: f64,
    /// Benjamini-Hochberg q-value over the sweep's points compared with the baseline (one
    /// family per metric).
    pub q: f64,
    /// Runs where the point is above the baseline.
    pub higher: u64,
    /// Runs where it is below.
    pub lower: u64,
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
    /// Per metric, the paired comparison with the sweep's baseline point; empty for the
    /// baseline itself and in a sweep without one.
    pub paired: Vec<PairedAgg>,
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
            pos_share: f64::NAN,
            pos_mean: f64::NAN,
            ci_lo: f64::NAN,
            ci_hi: f64::NAN,
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
    let (pos_n, pos_sum) = values
        .iter()
        .filter(|v| **v > 0.0)
        .fold((0usize, 0.0f64), |(k, t), v| (k + 1, t + v));
    let nan_in = values.iter().any(|v| v.is_nan());
    MetricAgg {
        mean,
        se: (var / n as f64).sqrt(),
        p50: quantile_sorted(&s, 0.5),
        p95: quantile_sorted(&s, 0.95),
        p99: quantile_sorted(&s, 0.99),
        min: s[0],
        max: s[n - 1],
        pos_share: if nan_in {
            f64::NAN
        } else {
            pos_n as f64 / n as f64
        },
        pos_mean: if pos_n > 0 && !nan_in {
            pos_sum / pos_n as f64
        } else {
            f64::NAN
        },
        ci_lo: f64::NAN,
        ci_hi: f64::NAN,
    }
}

/// The columns of `rows`, one per metric.
fn columns(rows: &[MetricRow]) -> Vec<Vec<f64>> {
    (0..METRICS.len())
        .map(|i| rows.iter().map(|r| r.0[i]).collect())
        .collect()
}

/// Aggregate point `point`'s rows (in run order) of a sweep with master seed `seed`: the
/// bootstrap intervals draw from the stream [`stats::STREAM_BOOTSTRAP`], index `point`.
pub fn aggregate(rows: &[MetricRow], seed: u64, point: u32) -> PointAgg {
    let mut metrics = Vec::with_capacity(METRICS.len());
    let mut rates = Vec::new();
    let cols = columns(rows);
    let mut rng = stats::rng(seed, stats::STREAM_BOOTSTRAP, point);
    let ci = bootstrap::mean_intervals(&cols, stats::RESAMPLES, stats::LEVEL, &mut rng);
    for (i, d) in METRICS.iter().enumerate() {
        let col = &cols[i];
        let mut a = metric_agg(col);
        (a.ci_lo, a.ci_hi) = ci[i];
        metrics.push(a);
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
        paired: Vec::new(),
    }
}

/// Point `point`'s rows against the baseline's (both in run order, the same runs), per
/// metric: the mean difference, its paired bootstrap interval (stream
/// [`stats::STREAM_PAIRED`]) and sign-flip p-value (stream [`stats::STREAM_SIGN_FLIP`]), both of
/// index `point`. The q-values are set by [`assign_qvalues`] once every point has its p-value.
pub fn paired_to_baseline(
    rows: &[MetricRow],
    base: &[MetricRow],
    seed: u64,
    point: u32,
) -> Vec<PairedAgg> {
    let (x, b) = (columns(rows), columns(base));
    let d: Vec<Vec<f64>> = x
        .iter()
        .zip(&b)
        .map(|(x, b)| paired::differences(x, b))
        .collect();
    let mut rng = stats::rng(seed, stats::STREAM_PAIRED, point);
    let ci = bootstrap::mean_intervals(&d, stats::RESAMPLES, stats::LEVEL, &mut rng);
    d.iter()
        .zip(ci)
        .map(|(d, (lo, hi))| {
            // The same sign flips for every metric: the stream starts afresh.
            let mut flips = stats::rng(seed, stats::STREAM_SIGN_FLIP, point);
            PairedAgg {
                diff: if d.is_empty() {
                    f64::NAN
                } else {
                    d.iter().sum::<f64>() / d.len() as f64
                },
                lo,
                hi,
                p: paired::sign_flip_p(d, stats::RESAMPLES, &mut flips),
                q: f64::NAN,
                higher: d.iter().filter(|v| **v > 0.0).count() as u64,
                lower: d.iter().filter(|v| **v < 0.0).count() as u64,
            }
        })
        .collect()
}

/// Benjamini-Hochberg q-values of the paired comparisons: per metric, over every point that
/// has one (the family of the sweep's comparisons with its baseline).
pub fn assign_qvalues(points: &mut [&mut PointAgg]) {
    for m in 0..METRICS.len() {
        let p: Vec<f64> = points
            .iter()
            .filter_map(|a| a.paired.get(m).map(|x| x.p))
            .collect();
        let q = bh::qvalues(&p);
        let mut k = 0;
        for a in points.iter_mut() {
            if let Some(x) = a.paired.get_mut(m) {
                x.q = q[k];
                k += 1;
            }
        }
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
        let agg = aggregate(&rows, 1, 0);
        let k = names.iter().position(|n| *n == "has_cascade").unwrap();
        assert_eq!((agg.rates[k].hits, agg.rates[k].n), (3, 10));
        assert_eq!(agg.rates[k].rate, 0.3);
        assert_eq!((agg.rates[k].lo, agg.rates[k].hi), wilson(3, 10, Z95));
    }

    #[test]
    fn shares_above_zero_and_paired_comparisons() {
        let a = metric_agg(&[0.0, 0.0, 3.0, 0.0, 5.0]);
        assert_eq!((a.pos_share, a.pos_mean), (0.4, 4.0));
        assert!(metric_agg(&[0.0, -1.0]).pos_mean.is_nan());
        let i = crate::metrics::metric_index("bad_debt").unwrap();
        let rows: Vec<MetricRow> = (0..12)
            .map(|r| {
                let mut v = vec![0.0; METRICS.len()];
                v[i] = if r % 4 == 0 { 10.0 * r as f64 } else { 0.0 };
                MetricRow(v)
            })
            .collect();
        let agg = aggregate(&rows, 7, 3);
        let m = &agg.metrics[i];
        assert!(m.ci_lo >= 0.0 && m.ci_lo <= m.mean && m.mean <= m.ci_hi);
        // NaN (no run above zero) is not equal to itself: compare the printed values.
        assert_eq!(
            format!("{:?}", aggregate(&rows, 7, 3)),
            format!("{agg:?}"),
            "reproducible"
        );
        // Against itself: no difference, p = 1.
        let same = paired_to_baseline(&rows, &rows, 7, 3);
        assert_eq!(
            (same[i].diff, same[i].lo, same[i].hi, same[i].p),
            (0.0, 0.0, 0.0, 1.0)
        );
        // Every run 1 higher: the difference is exactly 1, all 12 runs higher.
        let up: Vec<MetricRow> = rows
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.0[i] += 1.0;
                r
            })
            .collect();
        let mut pa = PointAgg {
            paired: paired_to_baseline(&up, &rows, 7, 1),
            ..agg.clone()
        };
        let mut pb = PointAgg {
            paired: same,
            ..agg
        };
        assert_eq!(
            (pa.paired[i].diff, pa.paired[i].higher, pa.paired[i].lower),
            (1.0, 12, 0)
        );
        assert_eq!(pa.paired[i].p, 2.0 / 4096.0);
        assign_qvalues(&mut [&mut pa, &mut pb]);
        // BH over two p-values: 2 x p / 1 for the smaller, the larger stays 1.
        assert_eq!(pa.paired[i].q, 2.0 * 2.0 / 4096.0);
        assert_eq!(pb.paired[i].q, 1.0);
    }
}
