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
//! - `units`: one row per column of `runs` and `points` (`table`, `column`, `unit`, `title`): the
//!   metric's unit for its values and location statistics, `share` for shares and rates,
//!   `runs` for counts of runs, `probability` for p- and q-values; axis columns their
//!   axis's `unit`. `title` is the display name: an axis's `title`, a metric's display name
//!   (with the statistic for a statistic column).
//!
//! Axis columns show the values as [`crate::results`] labels them (the sweep file's `labels`
//! where it gives them, a table's `kind`, a scenario axis by its file's stem); the runs table has the master `seed` and each run's `run_seed`
//! (hex of the 32-byte seed every stream of the run derives from).
//!
//! Parquet ([`Format::Parquet`]) writes the wide `runs.parquet` and `points.parquet` and the
//! tidy `runs_long.parquet` (one row per run and metric: `metric`, `unit`, `value`) and
//! `points_long.parquet` (one row per point, metric and statistic: `metric`, `statistic`,
//! `unit`, `value`), with units in the schema and the manifest as file metadata
//! ([`columnar`]).
//!
//! With `--partial` ([`Store::allow_partial`]) an incomplete store exports the points complete
//! so far; the Parquet files carry a `cascade.partial` note in their metadata and every format
//! gets [`PARTIAL_FILE`] beside its tables (removed again by a later full export).
//!
//! Floats are written in their shortest round-trip form, so a metric read back from the CSV is
//! bit-identical to the stored one. The CSV and JSON runs tables are streamed point by point;
//! Parquet tables are held in memory as typed columns until written.

mod columnar;

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
    Parquet,
}

impl Format {
    pub fn ext(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Parquet => "parquet",
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

/// The statistics columns of the points table (after `point`, the axes, `runs`,
/// `p95_reliable`, `p99_reliable` and, `baseline` set, `baseline`): per column the metric's
/// index in [`METRICS`] and the statistic.
fn stat_columns(baseline: bool) -> Vec<(usize, &'static str)> {
    let mut c: Vec<(usize, &'static str)> = Vec::new();
    for k in 0..METRICS.len() {
        c.extend(METRIC_STATS.iter().map(|s| (k, *s)));
    }
    for n in rate_metrics() {
        if let Some(k) = crate::metrics::metric_index(n) {
            c.extend(["rate", "rate_lo", "rate_hi", "hits"].map(|s| (k, s)));
        }
    }
    if baseline {
        for k in 0..METRICS.len() {
            c.extend(PAIRED_STATS.iter().map(|s| (k, *s)));
        }
    }
    c
}

/// The column names of the points table after `point`, the axes, `runs`, `p95_reliable`,
/// `p99_reliable` and (`baseline` set) `baseline`.
pub fn point_columns(baseline: bool) -> Vec<String> {
    point_columns_with_units(baseline)
        .into_iter()
        .map(|(n, _)| n)
        .collect()
}

/// [`point_columns`] with each column's unit ([`stat_unit`]): the one list the export's
/// units table, its Parquet schema and the Python package's points table read.
pub fn point_columns_with_units(baseline: bool) -> Vec<(String, &'static str)> {
    stat_columns(baseline)
        .into_iter()
        .map(|(k, s)| {
            let d = &METRICS[k];
            (format!("{}_{s}", d.name), stat_unit(d.kind.unit(), s))
        })
        .collect()
}

/// A value of a statistics column of the points table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StatValue {
    Num(f64),
    /// A count of runs (`hits`, `higher`, `lower`).
    Count(u64),
    /// No value: the paired statistics of a baseline point.
    Missing,
}

/// A point's values of the statistics columns ([`point_columns`]), in their order.
pub fn point_stat_values(agg: &crate::aggregate::PointAgg, baseline: bool) -> Vec<StatValue> {
    let mut out = Vec::new();
    for a in &agg.metrics {
        out.extend(
            [
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
            ]
            .map(StatValue::Num),
        );
    }
    for r in &agg.rates {
        out.extend([r.rate, r.lo, r.hi].map(StatValue::Num));
        out.push(StatValue::Count(r.hits));
    }
    if baseline {
        for k in 0..METRICS.len() {
            match agg.paired.get(k) {
                Some(x) => {
                    out.extend([x.diff, x.lo, x.hi, x.p, x.q].map(StatValue::Num));
                    out.extend([x.higher, x.lower].map(StatValue::Count));
                }
                None => out.extend([StatValue::Missing; 7]),
            }
        }
    }
    out
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
            Format::Json | Format::Parquet => write!(out, "["),
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
            Format::Json | Format::Parquet => {
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
        if self.format != Format::Csv {
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

/// The unit of statistic `stat` of a metric whose unit is `unit`.
pub fn stat_unit(unit: &'static str, stat: &str) -> &'static str {
    match stat {
        "pos_share" | "rate" | "rate_lo" | "rate_hi" => "share",
        "hits" | "higher" | "lower" => "runs",
        "p" | "q" => "probability",
        _ => unit,
    }
}

/// A table of either kind: text (CSV, JSON) streamed, or Parquet columns.
enum Sink {
    Text(Table),
    Parquet(columnar::ParquetTable),
}

impl Sink {
    fn create(
        path: PathBuf,
        format: Format,
        header: Vec<String>,
        units: Vec<String>,
    ) -> Result<Sink, StoreError> {
        Ok(match format {
            Format::Parquet => Sink::Parquet(columnar::ParquetTable::new(path, header, units)),
            f => Sink::Text(Table::create(path, f, header)?),
        })
    }

    fn row(&mut self, cells: &[(String, serde_json::Value)]) -> Result<(), StoreError> {
        match self {
            Sink::Text(t) => t.row(cells),
            Sink::Parquet(t) => {
                let v: Vec<serde_json::Value> = cells.iter().map(|(_, v)| v.clone()).collect();
                t.push_row(&v);
                Ok(())
            }
        }
    }

    fn commit(self, meta: &[(&str, String)]) -> Result<PathBuf, StoreError> {
        match self {
            Sink::Text(t) => t.commit(),
            Sink::Parquet(t) => t.commit(meta),
        }
    }
}

/// The files [`export`] writes into `out_dir` for `format`.
pub fn export_paths(out_dir: &Path, format: Format) -> Vec<PathBuf> {
    let names: &[&str] = match format {
        Format::Parquet => &["runs", "points", "runs_long", "points_long"],
        _ => &["runs", "points", "metrics", "units"],
    };
    names
        .iter()
        .map(|n| out_dir.join(format!("{n}.{}", format.ext())))
        .collect()
}

fn hex32(b: &[u8; 32]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Run `run`'s own seed under master `seed`, as the runs table's `run_seed` column writes it
/// (64 hex digits): the seed that `cascade replay` and the Python package's tables show.
pub fn run_seed_hex(seed: u64, run: u64) -> String {
    hex32(&cascade_core::rng::run_seed(seed, run).0)
}

/// Export `store` into `out_dir` (the files of [`export_paths`]); returns the paths. An
/// `out_dir` inside the store needs the store open for writing ([`Store::open_for`]).
pub fn export(store: &Store, out_dir: &Path, format: Format) -> Result<Vec<PathBuf>, StoreError> {
    let rs = store.results()?;
    let m = &rs.manifest;
    let paths = export_paths(out_dir, format);
    let marker = out_dir.join(PARTIAL_FILE);
    // Into the store (the default `<results>/export/`), all are listed in its manifest first.
    let mut claimed = paths.clone();
    if rs.partial {
        claimed.push(marker.clone());
    }
    store.claim(&claimed)?;
    let parquet = format == Format::Parquet;
    let mut meta = vec![(
        "cascade.manifest",
        serde_json::to_string(m).expect("plain data"),
    )];
    if let Some(note) = rs.partial_note() {
        meta.push(("cascade.partial", note));
    }
    let mut files = write_tables(&rs, store, &paths, format, parquet, &meta)?;
    // A partial export says so beside its tables; a later full export removes that note.
    if let Some(note) = rs.partial_note() {
        let body = serde_json::json!({
            "partial": true,
            "note": note,
            "status": m.status,
            "points_total": m.points.len(),
            "points_complete": rs.point_indices(),
            "runs_per_point": m.runs,
        });
        crate::fsutil::write_atomic(
            &marker,
            format!(
                "{}\n",
                serde_json::to_string_pretty(&body).expect("plain data")
            )
            .as_bytes(),
        )
        .map_err(|e| StoreError::new(&marker, e.to_string()))?;
        files.push(marker);
    } else if is_partial_marker(&marker) {
        std::fs::remove_file(&marker).map_err(|e| StoreError::new(&marker, e.to_string()))?;
    }
    Ok(files)
}

/// The file a partial export writes beside its tables (what the tables hold: the points
/// complete so far, the sweep's status); the Parquet files also carry the note as
/// `cascade.partial` metadata.
pub const PARTIAL_FILE: &str = "partial.json";

/// Whether `path` is a partial export's note (and not someone else's file).
fn is_partial_marker(path: &Path) -> bool {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|v| v.get("partial") == Some(&serde_json::Value::Bool(true)))
}

/// The display title of an exported column that is an axis (its `title`, else words of its
/// key) or a metric (its display name); empty for the bookkeeping columns. Statistic columns
/// get theirs from [`stat_columns`] where the points table is built.
fn column_title(rs: &crate::results::ResultSet, column: &str) -> String {
    if let Some(a) = rs.axes.iter().find(|a| a.key == column) {
        return a.title.clone();
    }
    METRICS
        .iter()
        .find(|d| d.name == column)
        .map(|d| d.display_name())
        .unwrap_or_default()
}

/// The tables of [`export`].
fn write_tables(
    rs: &crate::results::ResultSet,
    store: &Store,
    paths: &[PathBuf],
    format: Format,
    parquet: bool,
    meta: &[(&str, String)],
) -> Result<Vec<PathBuf>, StoreError> {
    let m = &rs.manifest;
    let points = &rs.points;
    let labels: Vec<Vec<crate::sweep::Param>> =
        (0..points.points.len()).map(|i| rs.displayed(i)).collect();
    let axis_cells = |i: usize| -> Vec<(String, serde_json::Value)> {
        labels[i].iter().map(|p| (p.label(), p.to_json())).collect()
    };
    let none = |n: usize| vec![String::new(); n];
    let mut units_rows: Vec<[String; 4]> = Vec::new();
    // Runs (wide, and with Parquet long).
    let mut header = vec![
        "point".to_string(),
        "run".into(),
        "seed".into(),
        "run_seed".into(),
    ];
    header.extend(m.axes.iter().cloned());
    let mut units = none(header.len());
    // Axis columns carry their axis's unit (the sweep file's `unit`).
    for (k, a) in rs.axes.iter().enumerate() {
        units[4 + k] = a.unit.clone();
    }
    let mut long_header = header.clone();
    let mut long_units = units.clone();
    header.extend(METRICS.iter().map(|d| d.name.to_string()));
    units.extend(METRICS.iter().map(|d| d.kind.unit().to_string()));
    long_header.extend(["metric", "unit", "value"].map(String::from));
    long_units.extend(none(3));
    for (c, u) in header.iter().zip(&units) {
        units_rows.push(["runs".into(), c.clone(), u.clone(), column_title(rs, c)]);
    }
    let mut runs = Sink::create(paths[0].clone(), format, header, units)?;
    let mut runs_long = parquet
        .then(|| Sink::create(paths[2].clone(), format, long_header, long_units))
        .transpose()?;
    for (i, rec) in points.points.iter().enumerate() {
        let f = store.runs(rec.index)?;
        for (r, row) in f.rows.iter().enumerate() {
            let run = f.first_run + r as u64;
            let mut cells = vec![
                (rec.index.to_string(), serde_json::json!(rec.index)),
                (run.to_string(), serde_json::json!(run)),
                (m.seed.to_string(), serde_json::json!(m.seed)),
            ];
            let rs = run_seed_hex(m.seed, run);
            cells.push((rs.clone(), serde_json::json!(rs)));
            cells.extend(axis_cells(i));
            if let Some(l) = runs_long.as_mut() {
                for (d, &v) in METRICS.iter().zip(row) {
                    let mut c = cells.clone();
                    c.push((d.name.to_string(), serde_json::json!(d.name)));
                    c.push((d.kind.unit().to_string(), serde_json::json!(d.kind.unit())));
                    c.push((num(v), json_num(v)));
                    l.row(&c)?;
                }
            }
            cells.extend(row.iter().map(|&v| (num(v), json_num(v))));
            runs.row(&cells)?;
        }
    }
    // Points (wide, and with Parquet long).
    let mut header = vec!["point".to_string()];
    header.extend(m.axes.iter().cloned());
    header.extend(["runs", "p95_reliable", "p99_reliable"].map(String::from));
    let has_base = !points.baseline.is_empty();
    if has_base {
        header.push("baseline".into());
    }
    let mut units = none(header.len());
    for (k, a) in rs.axes.iter().enumerate() {
        units[1 + k] = a.unit.clone();
    }
    units[m.axes.len() + 1] = "runs".into();
    let mut long_header: Vec<String> = ["point"].map(String::from).to_vec();
    long_header.extend(m.axes.iter().cloned());
    long_header.extend(["runs", "metric", "statistic", "unit", "value"].map(String::from));
    let mut long_units = none(long_header.len());
    long_units[m.axes.len() + 1] = "runs".into();
    // Each statistic column: (metric index, statistic), with its name and unit.
    let stat_cols = stat_columns(has_base);
    for (name, unit) in point_columns_with_units(has_base) {
        header.push(name);
        units.push(unit.to_string());
    }
    // A statistic column's title: its metric's display name with the statistic.
    let mut titles: Vec<String> = header[..header.len() - stat_cols.len()]
        .iter()
        .map(|c| column_title(rs, c))
        .collect();
    titles.extend(
        stat_cols
            .iter()
            .map(|&(k, st)| format!("{} ({st})", METRICS[k].display_name())),
    );
    for ((c, u), t) in header.iter().zip(&units).zip(titles) {
        units_rows.push(["points".into(), c.clone(), u.clone(), t]);
    }
    let mut pts = Sink::create(paths[1].clone(), format, header, units)?;
    let mut pts_long = parquet
        .then(|| Sink::create(paths[3].clone(), format, long_header, long_units))
        .transpose()?;
    let flag = |b: bool| (b.to_string(), serde_json::json!(b));
    for (i, rec) in points.points.iter().enumerate() {
        let mut cells = vec![(rec.index.to_string(), serde_json::json!(rec.index))];
        cells.extend(axis_cells(i));
        let runs_cell = (rec.agg.runs.to_string(), serde_json::json!(rec.agg.runs));
        let key = {
            let mut k = cells.clone();
            k.push(runs_cell.clone());
            k
        };
        cells.push(runs_cell);
        cells.push(flag(tail_reliable(rec.agg.runs, 0.95)));
        cells.push(flag(tail_reliable(rec.agg.runs, 0.99)));
        if has_base {
            cells.push(flag(points.baseline.get(rec.index as usize) == Some(&None)));
        }
        let stats: Vec<(String, serde_json::Value)> = point_stat_values(&rec.agg, has_base)
            .into_iter()
            .map(|v| match v {
                StatValue::Num(x) => (num(x), json_num(x)),
                StatValue::Count(n) => (n.to_string(), serde_json::json!(n)),
                StatValue::Missing => (String::new(), serde_json::Value::Null),
            })
            .collect();
        debug_assert_eq!(stats.len(), stat_cols.len());
        if let Some(l) = pts_long.as_mut() {
            for (&(k, s), v) in stat_cols.iter().zip(&stats) {
                if v.1.is_null() {
                    continue;
                }
                let d = &METRICS[k];
                let unit = stat_unit(d.kind.unit(), s);
                let mut c = key.clone();
                c.push((d.name.to_string(), serde_json::json!(d.name)));
                c.push((s.to_string(), serde_json::json!(s)));
                c.push((unit.to_string(), serde_json::json!(unit)));
                c.push((v.0.clone(), serde_json::json!(v.1.as_f64())));
                l.row(&c)?;
            }
        }
        cells.extend(stats);
        pts.row(&cells)?;
    }
    if let (Some(rl), Some(pl)) = (runs_long, pts_long) {
        return Ok(vec![
            runs.commit(meta)?,
            pts.commit(meta)?,
            rl.commit(meta)?,
            pl.commit(meta)?,
        ]);
    }
    // The metrics: name, unit, definition.
    let mut defs = Table::create(
        paths[2].clone(),
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
    // The unit of every column of the two tables.
    let mut ut = Table::create(
        paths[3].clone(),
        format,
        vec![
            "table".into(),
            "column".into(),
            "unit".into(),
            "title".into(),
        ],
    )?;
    for r in &units_rows {
        let cells: Vec<(String, serde_json::Value)> = r
            .iter()
            .map(|s| (s.clone(), serde_json::json!(s)))
            .collect();
        ut.row(&cells)?;
    }
    Ok(vec![
        runs.commit(meta)?,
        pts.commit(meta)?,
        defs.commit()?,
        ut.commit()?,
    ])
}
