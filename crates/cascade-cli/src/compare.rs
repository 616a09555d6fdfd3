//! `cascade compare A B`: two result stores, point by point and metric by metric.
//!
//! For each point of A, the point of B with the same axis values; for each metric, the
//! difference of the means `B - A` with a 95% percentile bootstrap interval. When both stores
//! have the same master seed, run `r` of both used the same run seed (common random numbers),
//! so the runs are paired: the interval resamples run indices of the differences `b_r - a_r`
//! (the first `min(n_A, n_B)` runs) and the sign-flip p-value tests them
//! ([`cascade_sim::stats::paired`]). Otherwise the runs are independent: each side is
//! resampled on its own. Which of the two was done is printed with the table. Every draw comes
//! from the `compare` statistics stream of A's seed (index = A's point), so the output is the
//! same bytes on every machine.

use crate::Failure;
use cascade_sim::fsutil::AtomicFile;
use cascade_sim::metrics::{METRICS, metric_index};
use cascade_sim::stats::{self, LEVEL, RESAMPLES, bootstrap, paired};
use cascade_sim::store::Store;
use cascade_sim::summary::quantile_sorted;
use std::io::Write;
use std::path::Path;

/// The statistics stream of the comparison's resamples.
pub(crate) const STREAM_COMPARE: &str = "compare";

/// One metric at one point.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Diff {
    pub mean_a: f64,
    pub mean_b: f64,
    /// `mean_b - mean_a` (paired: the mean of the run-by-run differences).
    pub diff: f64,
    pub lo: f64,
    pub hi: f64,
    /// The paired sign-flip p-value (NaN when unpaired).
    pub p: f64,
}

fn mean(x: &[f64]) -> f64 {
    if x.is_empty() {
        f64::NAN
    } else {
        x.iter().sum::<f64>() / x.len() as f64
    }
}

/// The comparison of the runs `a` and `b` of one metric (paired: run `r` of both share a seed,
/// and the first `min` runs of each are used).
pub(crate) fn compare_runs(a: &[f64], b: &[f64], paired_runs: bool, seed: u64, index: u32) -> Diff {
    let mut rng = stats::rng(seed, STREAM_COMPARE, index);
    if paired_runs {
        let n = a.len().min(b.len());
        let (a, b) = (&a[..n], &b[..n]);
        let d = paired::differences(b, a);
        let (lo, hi) =
            bootstrap::mean_intervals(std::slice::from_ref(&d), RESAMPLES, LEVEL, &mut rng)[0];
        let p = paired::sign_flip_p(&d, RESAMPLES, &mut rng);
        return Diff {
            mean_a: mean(a),
            mean_b: mean(b),
            diff: mean(&d),
            lo,
            hi,
            p,
        };
    }
    let (ma, mb) = (mean(a), mean(b));
    let (mut lo, mut hi) = (f64::NAN, f64::NAN);
    if !a.is_empty() && !b.is_empty() && ma.is_finite() && mb.is_finite() {
        let (mut ia, mut ib) = (Vec::new(), Vec::new());
        let mut diffs = Vec::with_capacity(RESAMPLES);
        for _ in 0..RESAMPLES {
            bootstrap::resample(a.len(), &mut rng, &mut ia);
            bootstrap::resample(b.len(), &mut rng, &mut ib);
            let sa: f64 = ia.iter().map(|&i| a[i]).sum::<f64>() / a.len() as f64;
            let sb: f64 = ib.iter().map(|&i| b[i]).sum::<f64>() / b.len() as f64;
            diffs.push(sb - sa);
        }
        diffs.sort_by(|x, y| x.total_cmp(y));
        let q = (1.0 - LEVEL) / 2.0;
        lo = quantile_sorted(&diffs, q);
        hi = quantile_sorted(&diffs, 1.0 - q);
    }
    Diff {
        mean_a: ma,
        mean_b: mb,
        diff: mb - ma,
        lo,
        hi,
        p: f64::NAN,
    }
}

fn open(dir: &Path) -> Result<Store, Failure> {
    let s = crate::open_store(dir)?;
    if s.manifest.status != "complete" {
        return Err(Failure::Usage(format!(
            "{}: the sweep is not complete (status \"{}\"); compare needs every run of every point: finish it with `cascade sweep {} --resume --out {}`",
            dir.display(),
            crate::run_manifest::status(dir, &s.manifest.status),
            s.manifest.sweep_file,
            dir.display()
        )));
    }
    if s.manifest.shard.is_some() {
        return Err(Failure::Usage(format!(
            "{}: is a shard store; merge the shards first (`cascade merge`)",
            dir.display()
        )));
    }
    Ok(s)
}

/// Axis values of point `p`, as labels.
fn labels(s: &Store, p: u64) -> Vec<String> {
    s.manifest
        .point_params(p)
        .unwrap_or_default()
        .iter()
        .map(|v| v.label())
        .collect()
}

/// Axis values of point `p` as the export and the report show them (the sweep file's
/// `labels`, a table by its `kind`, a scenario by its file's stem); `None` if not stored.
fn shown(rs: &cascade_sim::results::ResultSet, p: u64) -> Option<Vec<String>> {
    let i = rs.points.points.iter().position(|r| r.index == p)?;
    Some(rs.displayed(i).iter().map(|v| v.label()).collect())
}

fn fmt(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else {
        format!("{x:.4}")
    }
}

pub(crate) fn cmd_compare(
    a: &Path,
    b: &Path,
    metrics: &[String],
    out: Option<&Path>,
) -> Result<(), Failure> {
    let names: Vec<&str> = if metrics.is_empty() {
        vec!["has_cascade", "bad_debt", "liquidations"]
    } else if metrics.iter().any(|m| m == "all") {
        METRICS.iter().map(|d| d.name).collect()
    } else {
        metrics.iter().map(String::as_str).collect()
    };
    let mut cols = Vec::new();
    for n in &names {
        cols.push(metric_index(n).ok_or_else(|| {
            Failure::Usage(format!(
                "--metric {n}: not a metric (metrics: {})",
                METRICS
                    .iter()
                    .map(|d| d.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?);
    }
    let (sa, sb) = (open(a)?, open(b)?);
    let (ma, mb) = (&sa.manifest, &sb.manifest);
    if ma.axes != mb.axes {
        return Err(Failure::Usage(format!(
            "{} and {}: compare needs stores over the same axes; A has [{}], B has [{}]",
            a.display(),
            b.display(),
            ma.axes.join(", "),
            mb.axes.join(", ")
        )));
    }
    if ma.metrics != mb.metrics {
        return Err(Failure::Usage(format!(
            "{} and {}: the stores hold different metric lists (written by different cascade versions); re-run one of them",
            a.display(),
            b.display()
        )));
    }
    let paired_runs = ma.seed == mb.seed;
    let n_pair = ma.runs.min(mb.runs);
    if paired_runs {
        println!(
            "paired: both stores use master seed {}, so run r of each saw the same shocks; differences B - A run by run over runs 0..{n_pair}, 95% percentile bootstrap intervals, sign-flip p-values",
            ma.seed
        );
    } else {
        println!(
            "unpaired: the seeds differ (A: {}, B: {}), so the runs are independent; B - A of the means, 95% bootstrap intervals resampling each store on its own ({} and {} runs)",
            ma.seed, mb.seed, ma.runs, mb.runs
        );
    }
    println!("A = {}, B = {}", a.display(), b.display());
    let mut csv_rows: Vec<Vec<String>> = Vec::new();
    let mut header: Vec<String> = vec!["point".into()];
    header.extend(ma.axes.iter().cloned());
    header.extend(
        [
            "metric", "unit", "mean_a", "mean_b", "diff", "diff_lo", "diff_hi", "p", "runs_a",
            "runs_b", "mode",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    let mut unmatched = Vec::new();
    let mut table = Vec::new();
    let rs_a = sa.results().map_err(|e| Failure::Usage(e.to_string()))?;
    for p in 0..sa.points() {
        let la = labels(&sa, p);
        let show = shown(&rs_a, p).unwrap_or_else(|| la.clone());
        let Some(q) = (0..sb.points()).find(|&q| labels(&sb, q) == la) else {
            unmatched.push(la.join(", "));
            continue;
        };
        let ra = sa.runs(p).map_err(|e| Failure::Usage(e.to_string()))?;
        let rb = sb.runs(q).map_err(|e| Failure::Usage(e.to_string()))?;
        for (n, &c) in names.iter().zip(&cols) {
            let xa: Vec<f64> = ra.rows.iter().map(|r| r[c]).collect();
            let xb: Vec<f64> = rb.rows.iter().map(|r| r[c]).collect();
            let d = compare_runs(&xa, &xb, paired_runs, ma.seed, p as u32);
            let at = ma
                .axes
                .iter()
                .zip(&show)
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ");
            table.push([
                p.to_string(),
                at,
                n.to_string(),
                fmt(d.mean_a),
                fmt(d.mean_b),
                fmt(d.diff),
                format!("[{}, {}]", fmt(d.lo), fmt(d.hi)),
                fmt(d.p),
            ]);
            let mut row = vec![p.to_string()];
            row.extend(show.iter().cloned());
            let num = |x: f64| {
                if x.is_finite() {
                    format!("{x}")
                } else {
                    String::new()
                }
            };
            row.extend([
                n.to_string(),
                METRICS[c].kind.unit().to_string(),
                num(d.mean_a),
                num(d.mean_b),
                num(d.diff),
                num(d.lo),
                num(d.hi),
                num(d.p),
                ma.runs.to_string(),
                mb.runs.to_string(),
                if paired_runs { "paired" } else { "unpaired" }.to_string(),
            ]);
            csv_rows.push(row);
        }
    }
    let head = [
        "point",
        "at",
        "metric",
        "mean A",
        "mean B",
        "B - A",
        "95% interval",
        "p",
    ]
    .map(String::from);
    let all: Vec<&[String; 8]> = std::iter::once(&head).chain(&table).collect();
    let widths: Vec<usize> = (0..8)
        .map(|i| all.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for r in all {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i >= 3 {
                    format!("{c:>w$}")
                } else {
                    format!("{c:w$}")
                }
            })
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
    if !unmatched.is_empty() {
        eprintln!(
            "note: {} point(s) of A have no point with the same axis values in B: {}",
            unmatched.len(),
            unmatched.join("; ")
        );
    }
    if table.is_empty() {
        return Err(Failure::Usage(format!(
            "{} and {}: no point of A has the same axis values as a point of B",
            a.display(),
            b.display()
        )));
    }
    if let Some(path) = out {
        for s in [&sa, &sb] {
            if cascade_sim::fsutil::is_within(path, &s.dir).unwrap_or(false) {
                return Err(Failure::Usage(format!(
                    "--out {}: lies inside the store {}; write the comparison outside both stores",
                    path.display(),
                    s.dir.display()
                )));
            }
        }
        let mut f = AtomicFile::create(path).map_err(|e| {
            Failure::Usage(format!("--out {}: cannot be created: {e}", path.display()))
        })?;
        let cell = |s: &str| {
            if s.contains([',', '"', '\n']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        let mut text = String::new();
        for r in std::iter::once(&header).chain(&csv_rows) {
            text.push_str(&r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(","));
            text.push('\n');
        }
        f.write_all(text.as_bytes())
            .and_then(|()| f.commit())
            .map_err(|e| Failure::Other(anyhow::anyhow!("{}: {e}", path.display())))?;
        crate::print_wrote(&[path.to_path_buf()]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paired_runs_with_a_constant_shift_have_a_point_interval() {
        let a: Vec<f64> = (0..50).map(|i| (i * 7 % 13) as f64).collect();
        let b: Vec<f64> = a.iter().map(|x| x + 2.5).collect();
        let d = compare_runs(&a, &b, true, 7, 0);
        assert_eq!(d.diff, 2.5);
        assert_eq!((d.lo, d.hi), (2.5, 2.5));
        assert!(d.p < 1e-3, "p = {}", d.p);
    }

    #[test]
    fn unpaired_interval_covers_the_shift_and_is_wider_than_paired() {
        let a: Vec<f64> = (0..200).map(|i| (i * 37 % 101) as f64).collect();
        let b: Vec<f64> = a.iter().map(|x| x + 1.0).collect();
        let u = compare_runs(&a, &b, false, 7, 0);
        assert!((u.diff - 1.0).abs() < 1e-12);
        assert!(u.lo < 1.0 && 1.0 < u.hi, "[{}, {}]", u.lo, u.hi);
        assert!(
            u.hi - u.lo > 1.0,
            "independent resamples carry the spread of the runs"
        );
        assert!(u.p.is_nan());
        // Same draws on every call.
        let again = compare_runs(&a, &b, false, 7, 0);
        assert_eq!(
            (u.lo.to_bits(), u.hi.to_bits()),
            (again.lo.to_bits(), again.hi.to_bits())
        );
    }
}
