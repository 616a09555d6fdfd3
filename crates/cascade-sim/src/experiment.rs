//! Running a sweep into a result store: parallel Monte Carlo over (point, run) pairs.
//!
//! The pairs still to do are cut into batches; each batch is computed on a rayon pool and
//! collected in (point, run) order, and a point's rows are written to `runs/<p>.bin` as soon as
//! its last run is in. So the files are byte-identical for any thread count, memory holds one
//! batch and at most a point's rows however many runs a sweep has, and a killed sweep loses at
//! most the points it had not finished: `--resume` checks that the configuration is the same
//! (config hash), keeps every whole runs file and computes the rest.

use crate::aggregate::aggregate;
use crate::metrics::MetricRow;
use crate::runner::run_one;
use crate::store::{
    self, Invocation, Manifest, PointRecord, PointsFile, RunsFile, StoreError, manifest_path,
    points_path, read_manifest, read_runs, write_manifest, write_points, write_runs,
};
use crate::sweep::{Sweep, point_scenario};
use std::fmt;
use std::path::Path;

/// How to run a sweep.
#[derive(Debug, Clone, Copy, Default)]
pub struct SweepOptions {
    /// Worker threads (0: one per core). Results do not depend on it.
    pub threads: usize,
    /// Finish an interrupted sweep in the same directory.
    pub resume: bool,
    /// Replace existing results in the directory.
    pub force: bool,
}

/// Where a sweep stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub runs_done: u64,
    pub runs_total: u64,
    pub points_done: u64,
    pub points_total: u64,
}

/// What a sweep did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    pub points: u64,
    /// Points found whole in the directory (resume) and not recomputed.
    pub points_kept: u64,
    /// Runs computed by this invocation.
    pub runs_computed: u64,
}

/// Why a sweep could not run.
#[derive(Debug, Clone, PartialEq)]
pub enum SweepError {
    /// The user asked for something that cannot be done (exit code 2).
    Usage(String),
    /// A file of the store could not be written or read.
    Store(StoreError),
    /// A run failed (a bug: reported with its point and run).
    Run(String),
}

impl fmt::Display for SweepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SweepError::Usage(m) | SweepError::Run(m) => write!(f, "{m}"),
            SweepError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SweepError {}

impl From<StoreError> for SweepError {
    fn from(e: StoreError) -> Self {
        SweepError::Store(e)
    }
}

/// Names a store may hold (what `--force` removes; nothing else is touched).
const STORE_FILES: &[&str] = &["manifest.json", "points.bin", "report.html"];
const STORE_DIRS: &[&str] = &["runs", "charts", "export", "replays"];

fn io_err(path: &Path, e: std::io::Error) -> SweepError {
    SweepError::Store(StoreError::new(path, e.to_string()))
}

/// Remove a previous store's files (only the names a store writes).
fn clear_store(dir: &Path) -> Result<(), SweepError> {
    for f in STORE_FILES {
        let p = dir.join(f);
        if p.is_file() {
            std::fs::remove_file(&p).map_err(|e| io_err(&p, e))?;
        }
    }
    for d in STORE_DIRS {
        let p = dir.join(d);
        if p.is_dir() {
            std::fs::remove_dir_all(&p).map_err(|e| io_err(&p, e))?;
        }
    }
    Ok(())
}

/// Remove temporary files a killed writer left behind.
fn clear_temporaries(dir: &Path) -> Result<(), SweepError> {
    for d in [dir.to_path_buf(), dir.join("runs")] {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_file() && p.extension().is_some_and(|x| x == "tmp") {
                std::fs::remove_file(&p).map_err(|e| io_err(&p, e))?;
            }
        }
    }
    Ok(())
}

/// Prepare `dir` for `sweep`: a fresh store, or the manifest of the one being resumed.
fn prepare(
    sweep: &Sweep,
    dir: &Path,
    inv: &Invocation,
    opts: SweepOptions,
) -> Result<Manifest, SweepError> {
    let fresh = Manifest::new(sweep, inv);
    let has_manifest = manifest_path(dir).exists();
    let has_data = points_path(dir).exists() || dir.join("runs").exists();
    if opts.resume {
        if !has_manifest {
            return Err(SweepError::Usage(format!(
                "{}: there is no sweep to resume here (no manifest.json); run without --resume",
                dir.display()
            )));
        }
        let mut old = read_manifest(dir)?;
        if old.config_hash != fresh.config_hash || old.compute_config_hash() != old.config_hash {
            return Err(SweepError::Usage(format!(
                "{}: the results here come from another configuration (config hash {}, this sweep {}); resume with the same sweep file and cascade version, or pass --force to start over",
                dir.display(),
                old.config_hash,
                fresh.config_hash
            )));
        }
        old.resumed += 1;
        old.command_line = inv.command_line.clone();
        old.threads = inv.threads;
        old.git_commit = inv.git_commit.clone();
        old.status = "running".into();
        old.finished = None;
        return Ok(old);
    }
    if has_manifest || has_data {
        if !opts.force {
            return Err(SweepError::Usage(format!(
                "{} already holds results; pass --resume to finish an interrupted sweep, --force to overwrite, or choose another --out",
                dir.display()
            )));
        }
        clear_store(dir)?;
    }
    Ok(fresh)
}

/// Run `sweep` into the store at `dir`, calling `progress` as runs complete.
pub fn run_sweep(
    sweep: &Sweep,
    dir: &Path,
    inv: &Invocation,
    opts: SweepOptions,
    mut progress: impl FnMut(Progress),
) -> Result<SweepReport, SweepError> {
    use rayon::prelude::*;
    let mut manifest = prepare(sweep, dir, inv, opts)?;
    std::fs::create_dir_all(dir.join("runs")).map_err(|e| io_err(dir, e))?;
    clear_temporaries(dir)?;
    write_manifest(dir, &manifest)?;

    let n_points = sweep.points.len() as u64;
    let runs = sweep.spec.runs;
    let seed = sweep.spec.seed;
    // Points already whole on disk (resume) are kept.
    let mut pending: Vec<u64> = Vec::new();
    for p in 0..n_points {
        match read_runs(dir, p) {
            Ok(f) if f.first_run == 0 && f.rows.len() as u64 == runs => {}
            _ => pending.push(p),
        }
    }
    let kept = n_points - pending.len() as u64;
    let total = n_points * runs;
    let mut done = kept * runs;
    let mut points_done = kept;
    progress(Progress {
        runs_done: done,
        runs_total: total,
        points_done,
        points_total: n_points,
    });

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()
        .map_err(|e| SweepError::Run(format!("cannot start worker threads: {e}")))?;
    let batch = (pool.current_num_threads() as u64 * 8).max(1);
    let pairs_total = pending.len() as u64 * runs;
    // The point being filled and its rows so far.
    let mut filling: Option<(u64, Vec<Vec<f64>>)> = None;
    let mut cursor = 0u64;
    while cursor < pairs_total {
        let end = (cursor + batch).min(pairs_total);
        let pairs: Vec<(u64, u64)> = (cursor..end)
            .map(|k| (pending[(k / runs) as usize], k % runs))
            .collect();
        // The scenarios of the points in this batch, built serially.
        let mut scenarios = Vec::new();
        for &(p, _) in &pairs {
            if scenarios.last().is_none_or(|(q, _)| *q != p) {
                let s = point_scenario(&sweep.scenarios, &sweep.axes, &sweep.points[p as usize])
                    .map_err(|e| SweepError::Usage(e.to_string()))?;
                scenarios.push((p, s));
            }
        }
        let rows: Vec<Result<MetricRow, String>> = pool.install(|| {
            pairs
                .par_iter()
                .map(|&(p, r)| {
                    let s = &scenarios
                        .iter()
                        .find(|(q, _)| *q == p)
                        .expect("built above")
                        .1;
                    run_one(s, seed, r, false)
                        .map(|o| o.row)
                        .map_err(|e| format!("point {p}, run {r}: {e}"))
                })
                .collect()
        });
        for (&(p, r), row) in pairs.iter().zip(rows) {
            let row = row.map_err(SweepError::Run)?;
            let (fp, fill) = filling.get_or_insert_with(|| (p, Vec::with_capacity(runs as usize)));
            debug_assert_eq!((*fp, fill.len() as u64), (p, r));
            fill.push(row.0);
            if fill.len() as u64 == runs {
                let (fp, rows) = filling.take().expect("filling");
                write_runs(
                    dir,
                    &RunsFile {
                        point: fp,
                        first_run: 0,
                        rows,
                    },
                )?;
                points_done += 1;
            }
        }
        done += end - cursor;
        cursor = end;
        progress(Progress {
            runs_done: done,
            runs_total: total,
            points_done,
            points_total: n_points,
        });
    }

    finish(dir, sweep, &mut manifest)?;
    Ok(SweepReport {
        points: n_points,
        points_kept: kept,
        runs_computed: pairs_total,
    })
}

/// Aggregate every point from its runs file, write `points.bin` and mark the store complete.
fn finish(dir: &Path, sweep: &Sweep, manifest: &mut Manifest) -> Result<(), SweepError> {
    let mut points = Vec::with_capacity(sweep.points.len());
    for (p, params) in sweep.points.iter().enumerate() {
        let f = read_runs(dir, p as u64)?;
        let rows: Vec<MetricRow> = f.rows.into_iter().map(MetricRow).collect();
        points.push(PointRecord {
            index: p as u64,
            params: params.clone(),
            agg: aggregate(&rows),
        });
    }
    write_points(
        dir,
        &PointsFile {
            axes: sweep.axes.clone(),
            metrics: manifest.metrics.clone(),
            points,
        },
    )?;
    manifest.status = "complete".into();
    manifest.finished = Some(store::now_rfc3339());
    write_manifest(dir, manifest)?;
    Ok(())
}
