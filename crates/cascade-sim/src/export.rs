//! `cascade export`: a store as flat tables that pandas, R or a spreadsheet read as they are.
//!
//! Three tables, each as CSV or JSON (a list of records):
//! - `runs`: one row per (point, run) with the point's parameters and every metric;
//! - `points`: one row per point with its parameters and, per metric, `<m>_mean`, `<m>_se`,
//!   `<m>_p50`, `<m>_p95`, `<m>_p99`, `<m>_min`, `<m>_max`, and per boolean metric `<m>_rate`,
//!   `<m>_rate_lo`, `<m>_rate_hi` (95% Wilson interval) and `<m>_hits`;
//! - `metrics`: one row per metric, `metric`, `unit` and `definition`, from the one list in
//!   [`crate::metrics::METRICS`] (the units of the other two tables' columns).
//!
//! Floats are written in their shortest round-trip form, so a metric read back from the CSV is
//! bit-identical to the stored one. The runs table is streamed point by point.

use crate::aggregate::rate_metrics;
use crate::fsutil::AtomicFile;
use crate::metrics::METRICS;
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

/// The column names of the points table (after `point`, the axes and `runs`).
pub fn point_columns() -> Vec<String> {
    let mut c = Vec::new();
    for d in METRICS {
        for s in ["mean", "se", "p50", "p95", "p99", "min", "max"] {
            c.push(format!("{}_{s}", d.name));
        }
    }
    for m in rate_metrics() {
        for s in ["rate", "rate_lo", "rate_hi", "hits"] {
            c.push(format!("{m}_{s}"));
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
    header.push("runs".into());
    header.extend(point_columns());
    let mut pts = Table::create(points_out, format, header)?;
    for rec in &points.points {
        let mut cells = vec![(rec.index.to_string(), serde_json::json!(rec.index))];
        cells.extend(rec.params.iter().map(|p| (p.label(), p.to_json())));
        cells.push((rec.agg.runs.to_string(), serde_json::json!(rec.agg.runs)));
        for a in &rec.agg.metrics {
            for v in [a.mean, a.se, a.p50, a.p95, a.p99, a.min, a.max] {
                cells.push((num(v), json_num(v)));
            }
        }
        for r in &rec.agg.rates {
            for v in [r.rate, r.lo, r.hi] {
                cells.push((num(v), json_num(v)));
            }
            cells.push((r.hits.to_string(), serde_json::json!(r.hits)));
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
