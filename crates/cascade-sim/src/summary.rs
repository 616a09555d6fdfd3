//! Summary statistics of a set of runs: what `cascade run` prints.

use crate::metrics::{METRICS, MetricKind, MetricRow};

/// Statistics of one metric over runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Stat {
    pub mean: f64,
    /// Standard error of the mean.
    pub se: f64,
    pub p50: f64,
    pub p95: f64,
    pub min: f64,
    pub max: f64,
}

/// The `q`-quantile (linear interpolation between order statistics) of sorted data.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let w = pos - lo as f64;
    sorted[lo] * (1.0 - w) + sorted[hi] * w
}

/// Statistics of `values` (summed serially in order, so they are reproducible).
pub fn stat(values: &[f64]) -> Stat {
    let a = crate::aggregate::metric_agg(values);
    Stat {
        mean: a.mean,
        se: a.se,
        p50: a.p50,
        p95: a.p95,
        min: a.min,
        max: a.max,
    }
}

/// Per-metric statistics of `rows`, in schema order.
pub fn summarize(rows: &[MetricRow]) -> Vec<(&'static str, MetricKind, Stat)> {
    METRICS
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let v: Vec<f64> = rows.iter().map(|r| r.0[i]).collect();
            (d.name, d.kind, stat(&v))
        })
        .collect()
}

fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let a = x.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e6).contains(&a) {
        format!("{x:.4e}")
    } else if a >= 100.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.5}")
    }
}

/// A plain-text table of the summary (metrics whose mean is NaN, i.e. not measured, left out).
pub fn render_table(rows: &[MetricRow]) -> String {
    let s = summarize(rows);
    let header = [
        "metric", "unit", "mean", "std_err", "p50", "p95", "min", "max",
    ];
    let mut lines: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    // A metric no run measured (the twin comparisons without a twin) is left out.
    for (name, kind, st) in s.into_iter().filter(|(_, _, st)| !st.mean.is_nan()) {
        lines.push(vec![
            name.to_string(),
            kind.unit().to_string(),
            fmt_num(st.mean),
            fmt_num(st.se),
            fmt_num(st.p50),
            fmt_num(st.p95),
            fmt_num(st.min),
            fmt_num(st.max),
        ]);
    }
    layout(&lines, 2)
}

/// Lay out rows of cells as an aligned plain-text table (first `left` columns left-aligned).
fn layout(lines: &[Vec<String>], left: usize) -> String {
    let cols = lines.first().map(|l| l.len()).unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| lines.iter().map(|l| l[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (k, l) in lines.iter().enumerate() {
        for (c, cell) in l.iter().enumerate() {
            if c < left {
                out.push_str(&format!("{:<w$}  ", cell, w = widths[c]));
            } else {
                out.push_str(&format!("{:>w$}  ", cell, w = widths[c]));
            }
        }
        let trimmed = out.trim_end().len();
        out.truncate(trimmed);
        out.push('\n');
        if k == 0 {
            let total: usize = widths.iter().sum::<usize>() + 2 * (widths.len().max(1) - 1);
            out.push_str(&"-".repeat(total));
            out.push('\n');
        }
    }
    out
}

/// A plain-text table of a sweep's points: the axes, then per named metric its mean with its
/// 95% bootstrap interval (a rate with its 95% Wilson interval for boolean metrics); with a
/// baseline, per named metric the paired difference to the baseline with its 95% interval and
/// its Benjamini-Hochberg q-value (`base` on the baseline's row).
pub fn render_points(points: &crate::store::PointsFile, metrics: &[&str]) -> String {
    let rates = crate::aggregate::rate_metrics();
    let mut header = vec!["point".to_string()];
    header.extend(points.axes.iter().cloned());
    for m in metrics {
        if rates.contains(m) {
            header.push(format!("{m} rate [95% CI]"));
        } else {
            header.push(format!("{m} mean [95% CI]"));
        }
    }
    if !points.baseline.is_empty() {
        for m in metrics {
            header.push(format!("{m} vs base [95% CI] q"));
        }
    }
    let mut lines = vec![header];
    for p in &points.points {
        let mut l = vec![p.index.to_string()];
        l.extend(p.params.iter().map(|v| v.label()));
        for m in metrics {
            if let Some(k) = rates.iter().position(|r| r == m) {
                let r = &p.agg.rates[k];
                l.push(format!("{:.3} [{:.3}, {:.3}]", r.rate, r.lo, r.hi));
            } else if let Some(i) = crate::metrics::metric_index(m) {
                let a = &p.agg.metrics[i];
                l.push(format!(
                    "{} [{}, {}]",
                    fmt_num(a.mean),
                    fmt_num(a.ci_lo),
                    fmt_num(a.ci_hi)
                ));
            }
        }
        if !points.baseline.is_empty() {
            for m in metrics {
                let Some(i) = crate::metrics::metric_index(m) else {
                    continue;
                };
                l.push(match p.agg.paired.get(i) {
                    Some(x) => format!(
                        "{} [{}, {}] {}",
                        fmt_num(x.diff),
                        fmt_num(x.lo),
                        fmt_num(x.hi),
                        fmt_num(x.q)
                    ),
                    None => "base".to_string(),
                });
            }
        }
        lines.push(l);
    }
    layout(&lines, 1)
}

/// The metrics whose zero means a dead market, with what the zero means.
const DEAD_MARKET: [(&str, &str, &str); 2] = [
    (
        "txs_included",
        "included no transaction",
        "no agent acted; check the scenario's prices, sizes and gas settings",
    ),
    (
        "oracle_updates",
        "had no oracle update",
        "the protocol never saw a new price; check the scenario's prices and oracle settings",
    ),
];

/// Warnings for runs in which the market was dead (no transaction included, or no oracle
/// update): such a run measures nothing, usually because of an extreme setting.
pub fn dead_market_warnings(rows: &[MetricRow]) -> Vec<String> {
    DEAD_MARKET
        .iter()
        .filter_map(|(m, what, why)| {
            let n = rows.iter().filter(|r| r.get(m) == Some(0.0)).count();
            (n > 0).then(|| format!("{n} of {} run(s) {what} (`{m}` = 0): {why}", rows.len()))
        })
        .collect()
}

/// The same warnings for a sweep's points (a point whose smallest value of the metric is 0).
pub fn dead_market_point_warnings(points: &crate::store::PointsFile) -> Vec<String> {
    DEAD_MARKET
        .iter()
        .filter_map(|(m, what, why)| {
            let i = points.metrics.iter().position(|x| x == m)?;
            let bad: Vec<String> = points
                .points
                .iter()
                .filter(|p| p.agg.metrics.get(i).is_some_and(|a| a.min == 0.0))
                .map(|p| p.index.to_string())
                .collect();
            (!bad.is_empty()).then(|| {
                format!(
                    "point(s) {} have runs that {what} (`{m}` = 0): {why}",
                    bad.join(", ")
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_by_hand() {
        let s = stat(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(s.mean, 2.5);
        // Sample variance 5/3; se = sqrt(5/3/4).
        assert!((s.se - (5.0f64 / 12.0).sqrt()).abs() < 1e-15);
        assert_eq!(s.p50, 2.5);
        assert!((s.p95 - 3.85).abs() < 1e-12);
        assert_eq!((s.min, s.max), (1.0, 4.0));
    }

    #[test]
    fn dead_markets_are_warned_about() {
        let live = MetricRow(vec![1.0; METRICS.len()]);
        let mut dead = live.clone();
        dead.0[crate::metrics::metric_index("txs_included").unwrap()] = 0.0;
        assert!(dead_market_warnings(std::slice::from_ref(&live)).is_empty());
        let w = dead_market_warnings(&[live, dead]);
        assert_eq!(w.len(), 1);
        assert!(
            w[0].starts_with("1 of 2 run(s) included no transaction"),
            "{}",
            w[0]
        );
    }
}
