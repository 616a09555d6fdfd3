//! `cascade export`: a store as flat tables that pandas, R or a spreadsheet read as they are.
//!
//! Three tables, each as CSV or JSON (a list of records):
//! - `runs`: one row per (point, run) with the point's parameters and every metric;
//! - `points`: one row per point with its parameters, `runs`, `p95_reliable` and
//!   `p99_reliable` (whether the point has the runs a tail quantile needs, see
//!   [`crate::stats::tail_reliable`]) and, in a sweep with a baseline, `baseline` (whether this
//!   is a baseline point); per metric `<m>_mean`, `<m>_se`, `<m>_p50`, `<m>_p95`, `<m>_p99`,
//!   `<m>_min`, `<m>_max`, `<m>_ci_lo`, `<m>_ci_hi` (95% percentile bootstrap interval of the
//!   mean), `<m>_pos_share` (share of runs above zero), `<m>_pos_mean` (mean given above
//!   zero); per boolean metric `<m>_rate`, `<m>_rate_lo`, `<m>_rate_hi` (95% Wilson interval)
//!   and `<m>_hits`; with a baseline, per metric `<m>_diff`, `<m>_diff_lo`, `<m>_diff_hi` (mean
//!   run-by-run difference to the baseline and its 95% paired bootstrap interval), `<m>_p`
//!   (paired sign-flip p-value), `<m>_q` (Benjamini-Hochberg q-value over the points),
//!   `<m>_higher`, `<m>_lower` (runs above and below the baseline's); empty on a baseline
//!   point. A point's baseline is the one the sweep file's `baseline` gives it.
//! - `metrics`: one row per metric, `metric`, `unit` and `definition`, from the one list in
//!   [`crate::metrics::METRICS`] (the units of the other two tables' columns).
//!
//! Floats are written in their shortest round-trip form, so a metric read back from the CSV is
//! bit-identical to the stored one. The runs table is streamed point by point.

use crate::aggregate::rate_metrics;
use crate::fsutil::AtomicFile;
use crate::metrics::METRICS;
use crate::stats::tail_reliable;
use crate::store::{Store, StoreError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    pub fn ext(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

/// Per-metric statistics columns, in order.
const METRIC_STATS: [&str; 11] = [
    "mean",
    "se",
    "p50",
    "p95",
    "p99",
    "min",
    "max",
    "ci_lo",
    "ci_hi",
    "pos_share",
    "pos_mean",
];
/// Per-metric paired-comparison columns, in order (with a baseline).
const PAIRED_STATS: [&str; 7] = ["diff", "diff_lo", "diff_hi", "p", "q", "higher", "lower"];

/// The column names of the points table after `point`, the axes, `runs`, `p95_reliable`,
/// `p99_reliable` and (`baseline` set) `baseline`.
pub fn point_columns(baseline: bool) -> Vec<String> {
    let mut c = Vec::new();
    for d in METRICS {
        for s in METRIC_STATS {
            c.push(format!("{}_{s}", d.name));
        }
    }
    for m in rate_metrics() {
        for s in ["rate", "rate_lo", "rate_hi", "hits"] {
            c.push(format!("{m}_{s}"));
        }
    }
    if baseline {
        for d in METRICS {
            for s in PAIRED_STATS {
                c.push(format!("{}_{s}", d.name));
            }
        }
    }
    c
}

fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        // pandas reads an empty cell as NaN.
        String::new()
    }
}

fn json_num(x: f64) -> serde_json::Value {
    serde_json::Number::from_f64(x)
        .map(serde_json::Value::Number)
        .unwrap_or(serde_json::Value::Null)
}

/// A table writer for either format.
struct Table {
    out: AtomicFile,
    path: PathBuf,
    format: Format,
    header: Vec<String>,
    rows: u64,
}

impl Table {
    fn create(path: PathBuf, format: Format, header: Vec<String>) -> Result<Table, StoreError> {
        let mut out =
            AtomicFile::create(&path).map_err(|e| StoreError::new(&path, e.to_string()))?;
        let r = match format {
            Format::Csv => {
                let line = header
                    .iter()
                    .map(|h| csv_cell(h))
                    .collect::<Vec<_>>()
                    .join(",");
                writeln!(out, "{line}")
            }
            Format::Json => write!(out, "["),
        };
        r.map_err(|e| StoreError::new(&path, e.to_string()))?;
        Ok(Table {
            out,
            path,
            format,
            header,
            rows: 0,
        })
    }

    /// A row: each cell as (CSV text, JSON value).
    fn row(&mut self, cells: &[(String, serde_json::Value)]) -> Result<(), StoreError> {
        let r = match self.format {
            Format::Csv => {
                let line = cells
                    .iter()
                    .map(|(t, _)| csv_cell(t))
                    .collect::<Vec<_>>()
                    .join(",");
                writeln!(self.out, "{line}")
            }
            Format::Json => {
                let obj: serde_json::Map<String, serde_json::Value> = self
                    .header
                    .iter()
                    .cloned()
                    .zip(cells.iter().map(|(_, v)| v.clone()))
                    .collect();
                let sep = if self.rows == 0 { "\n" } else { ",\n" };
                write!(
                    self.out,
                    "{sep}{}",
                    serde_json::to_string(&obj).expect("plain data")
                )
            }
        };
        self.rows += 1;
        r.map_err(|e| StoreError::new(&self.path, e.to_string()))
    }

    fn commit(mut self) -> Result<PathBuf, StoreError> {
        if self.format == Format::Json {
            writeln!(self.out, "\n]").map_err(|e| StoreError::new(&self.path, e.to_string()))?;
        }
        let path = self.path.clone();
        self.out
            .commit()
            .map_err(|e| StoreError::new(&path, e.to_string()))?;
        Ok(path)
    }
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Export `store` into `out_dir` as `runs.<ext>` and `points.<ext>`; returns the paths. An
/// `out_dir` inside the store needs the store open for writing ([`Store::open_for`]).
pub fn export(store: &Store, out_dir: &Path, format: Format) -> Result<Vec<PathBuf>, StoreError> {
    let m = &store.manifest;
    let points = store.points_file()?;
    let runs_out = out_dir.join(format!("runs.{}", format.ext()));
    let points_out = out_dir.join(format!("points.{}", format.ext()));
    let metrics_out = out_dir.join(format!("metrics.{}", format.ext()));
    // Into the store (the default `<results>/export/`), all are listed in its manifest first.
    store.claim(&[runs_out.clone(), points_out.clone(), metrics_out.clone()])?;
    // Runs.
    let mut header = vec!["point".to_string(), "run".to_string()];
    header.extend(m.axes.iter().cloned());
    header.extend(METRICS.iter().map(|d| d.name.to_string()));
    let mut runs = Table::create(runs_out, format, header)?;
    for rec in &points.points {
        let f = store.runs(rec.index)?;
        for (r, row) in f.rows.iter().enumerate() {
            let mut cells = vec![
                (rec.index.to_string(), serde_json::json!(rec.index)),
                (
                    (f.first_run + r as u64).to_string(),
                    serde_json::json!(f.first_run + r as u64),
                ),
            ];
            cells.extend(rec.params.iter().map(|p| (p.label(), p.to_json())));
            cells.extend(row.iter().map(|&v| (num(v), json_num(v))));
            runs.row(&cells)?;
        }
    }
    // Points.
    let mut header = vec!["point".to_string()];
    header.extend(m.axes.iter().cloned());
    header.extend(["runs", "p95_reliable", "p99_reliable"].map(String::from));
    let has_base = !points.baseline.is_empty();
    if has_base {
        header.push("baseline".into());
    }
    header.extend(point_columns(has_base));
    let mut pts = Table::create(points_out, format, header)?;
    let flag = |b: bool| (b.to_string(), serde_json::json!(b));
    for rec in &points.points {
        let mut cells = vec![(rec.index.to_string(), serde_json::json!(rec.index))];
        cells.extend(rec.params.iter().map(|p| (p.label(), p.to_json())));
        cells.push((rec.agg.runs.to_string(), serde_json::json!(rec.agg.runs)));
        cells.push(flag(tail_reliable(rec.agg.runs, 0.95)));
        cells.push(flag(tail_reliable(rec.agg.runs, 0.99)));
        if has_base {
            cells.push(flag(points.baseline.get(rec.index as usize) == Some(&None)));
        }
        for a in &rec.agg.metrics {
            for v in [
                a.mean,
                a.se,
                a.p50,
                a.p95,
                a.p99,
                a.min,
                a.max,
                a.ci_lo,
                a.ci_hi,
                a.pos_share,
                a.pos_mean,
            ] {
                cells.push((num(v), json_num(v)));
            }
        }
        for r in &rec.agg.rates {
            for v in [r.rate, r.lo, r.hi] {
                cells.push((num(v), json_num(v)));
            }
            cells.push((r.hits.to_string(), serde_json::json!(r.hits)));
        }
        if has_base {
            for m in 0..METRICS.len() {
                match rec.agg.paired.get(m) {
                    Some(x) => {
                        for v in [x.diff, x.lo, x.hi, x.p, x.q] {
                            cells.push((num(v), json_num(v)));
                        }
                        for k in [x.higher, x.lower] {
                            cells.push((k.to_string(), serde_json::json!(k)));
                        }
                    }
                    None => cells.extend(std::iter::repeat_n(
                        (String::new(), serde_json::Value::Null),
                        7,
                    )),
                }
            }
        }
        pts.row(&cells)?;
    }
    // The metrics: name, unit, definition.
    let mut defs = Table::create(
        metrics_out,
        format,
        vec!["metric".into(), "unit".into(), "definition".into()],
    )?;
    for d in METRICS {
        let cells: Vec<(String, serde_json::Value)> = [d.name, d.kind.unit(), d.doc]
            .iter()
            .map(|s| (s.to_string(), serde_json::json!(s)))
            .collect();
        defs.row(&cells)?;
    }
    Ok(vec![runs.commit()?, pts.commit()?, defs.commit()?])
}
