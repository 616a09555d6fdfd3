//! Running a sweep into a result store: parallel Monte Carlo over (point, run) pairs.
//!
//! The pairs still to do are cut into batches; each batch is computed on a rayon pool and
//! collected in (point, run) order, and a point's rows are written to `runs/<p>.bin` as soon as
//! its last run is in. So the files are byte-identical for any thread count, memory holds one
//! batch and at most a point's rows however many runs a sweep has, and a killed sweep loses at
//! most the points it had not finished: `--resume` checks that the configuration is the same
//! (config hash), keeps every whole runs file of this store and computes the rest (a damaged
//! file, or one copied from another store, is recomputed).
//!
//! A sweep holds the store's lock ([`crate::lock`]) from before it looks at the directory until
//! it returns: a second writer is refused with the holder's name. It writes only into an absent
//! or empty directory or a store, lists every file in the manifest before writing it, and
//! `--force` removes exactly the files the old manifest lists.
//!
//! A sweep too big for one machine is split into shards (`--shard I/N`): shard `I` computes a
//! contiguous block of the (point, run) pairs in (point, run) order and writes a shard store
//! whose runs files may hold part of a point. [`merge_shards`] checks that the shards belong
//! together, reads every shard file before it touches the output (which may be none of its
//! inputs), and reassembles them into a store byte-identical to the unsharded sweep's.

use crate::aggregate::{aggregate, assign_qvalues, paired_to_baseline};
use crate::fsutil::{parse_temp_name, resolve};
use crate::lock::{LockError, StoreLock};
use crate::metrics::MetricRow;
use crate::runner::run_one;
use crate::store::{
    self, Invocation, Manifest, PointRecord, PointsFile, RunsFile, ShardInfo, Store, StoreError,
    claim_files, listed_path, manifest_path, read_manifest, read_runs, write_manifest,
    write_points, write_runs,
};
use crate::sweep::{Sweep, point_scenario};
use std::fmt;
use std::path::{Path, PathBuf};

mod merge;

pub use merge::{MergeReport, merge_shards};

/// How to run a sweep.
#[derive(Debug, Clone, Copy, Default)]
pub struct SweepOptions {
    /// Worker threads (0: one per core). Results do not depend on it.
    pub threads: usize,
    /// Finish an interrupted sweep in the same directory.
    pub resume: bool,
    /// Replace existing results in the directory.
    pub force: bool,
    /// Compute only shard `index` of `count` (a shard store).
    pub shard: Option<(u64, u64)>,
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepReport {
    pub points: u64,
    /// Points found whole in the directory (resume) and not recomputed.
    pub points_kept: u64,
    /// Runs computed by this invocation.
    pub runs_computed: u64,
    /// Runs files found in the directory but not usable (damaged, or another store's), each
    /// with the reason; their points were recomputed.
    pub discarded: Vec<String>,
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

fn io_err(path: &Path, e: std::io::Error) -> SweepError {
    SweepError::Store(StoreError::new(path, e.to_string()))
}

fn lock_err(e: LockError) -> SweepError {
    match e {
        LockError::Io(e) => SweepError::Store(e),
        other => SweepError::Usage(other.to_string()),
    }
}

/// The directories of a store that may hold its files: the store itself and the parents of
/// every listed file, deepest first.
fn store_dirs(dir: &Path, files: &[String]) -> Vec<PathBuf> {
    let mut rels: Vec<String> = Vec::new();
    for f in files {
        let mut parts: Vec<&str> = f.split('/').collect();
        parts.pop();
        while !parts.is_empty() {
            rels.push(parts.join("/"));
            parts.pop();
        }
    }
    rels.sort_by(|a, b| {
        b.matches('/')
            .count()
            .cmp(&a.matches('/').count())
            .then(a.cmp(b))
    });
    rels.dedup();
    let mut out: Vec<PathBuf> = rels.iter().filter_map(|r| listed_path(dir, r)).collect();
    out.push(dir.to_path_buf());
    out
}

/// Remove the temporary files that killed writers of this store left behind: only cascade's
/// (`<name>.cascade-<pid>.tmp`) of a file the store lists (or of its manifest), and only
/// under the store's lock, which every writer holds while it writes: whoever made them is
/// gone. Anything else, a user's `*.tmp` included, is left alone.
fn clear_temporaries(dir: &Path, files: &[String]) -> Result<(), SweepError> {
    let root = resolve(dir).map_err(|e| io_err(dir, e))?;
    for d in store_dirs(dir, files) {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        let prefix = resolve(&d).ok().and_then(|r| {
            r.strip_prefix(&root).ok().map(|rel| {
                rel.components()
                    .map(|c| format!("{}/", c.as_os_str().to_string_lossy()))
                    .collect::<String>()
            })
        });
        let Some(prefix) = prefix else { continue };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some((base, pid)) = parse_temp_name(&name) else {
                continue;
            };
            let rel = format!("{prefix}{base}");
            let ours = rel == "manifest.json" || files.binary_search(&rel).is_ok();
            if ours && pid != std::process::id() && e.file_type().is_ok_and(|t| t.is_file()) {
                let p = e.path();
                std::fs::remove_file(&p).map_err(|e| io_err(&p, e))?;
            }
        }
    }
    Ok(())
}

/// Remove a previous store's files: exactly those its manifest lists (and the manifest), then
/// the directories that leaves empty. A user's file is never touched.
fn clear_store(dir: &Path, old: &Manifest) -> Result<(), SweepError> {
    clear_temporaries(dir, &old.files)?;
    let root = resolve(dir).map_err(|e| io_err(dir, e))?;
    for rel in &old.files {
        let Some(p) = listed_path(dir, rel) else {
            continue;
        };
        match std::fs::symlink_metadata(&p) {
            Ok(md) if !md.is_dir() => {
                // A listed path reached through a link out of the store is not the store's.
                if !resolve(p.parent().unwrap_or(dir)).is_ok_and(|r| r.starts_with(&root)) {
                    continue;
                }
                std::fs::remove_file(&p).map_err(|e| io_err(&p, e))?;
            }
            _ => {}
        }
    }
    let m = manifest_path(dir);
    if m.exists() {
        std::fs::remove_file(&m).map_err(|e| io_err(&m, e))?;
    }
    for d in store_dirs(dir, &old.files) {
        if d != dir {
            // Only an empty directory goes: a user's file in charts/ keeps its directory.
            let _ = std::fs::remove_dir(&d);
        }
    }
    Ok(())
}

/// The data files a store holding the pairs `first..end` writes: its runs files and, for a
/// whole sweep, points.bin.
fn data_files(first: u64, end: u64, runs: u64, whole: bool) -> Vec<String> {
    let mut out: Vec<String> = fragments(first, end, runs)
        .iter()
        .map(|f| format!("runs/{}.bin", f.point))
        .collect();
    if whole {
        out.push("points.bin".into());
    }
    out
}

/// The command line, for lock files.
fn command_of(inv: &Invocation) -> String {
    inv.command_line.join(" ")
}

/// Prepare `dir` for `sweep`: a fresh store, or the manifest of the one being resumed.
fn prepare(
    sweep: &Sweep,
    dir: &Path,
    inv: &Invocation,
    opts: SweepOptions,
) -> Result<Manifest, SweepError> {
    let mut fresh = Manifest::new(sweep, inv);
    if let Some((index, count)) = opts.shard {
        let pairs = sweep.points.len() as u64 * sweep.spec.runs;
        if count == 0 || index >= count {
            return Err(SweepError::Usage(format!(
                "--shard {index}/{count}: the shard index must be below the count (0-based: 0/{count} .. {}/{count})",
                count.saturating_sub(1)
            )));
        }
        if count > pairs {
            return Err(SweepError::Usage(format!(
                "--shard {index}/{count}: more shards than the sweep's {pairs} (point, run) pairs"
            )));
        }
        fresh.set_shard(Some(ShardInfo::new(index, count, pairs)));
    }
    let has_manifest = manifest_path(dir).exists();
    if opts.resume {
        if !has_manifest {
            return Err(SweepError::Usage(format!(
                "{}: there is no sweep to resume here (no manifest.json); run without --resume",
                dir.display()
            )));
        }
        let mut old = read_manifest(dir).map_err(|e| SweepError::Usage(e.to_string()))?;
        if old.shard != fresh.shard {
            let show = |s: Option<ShardInfo>| {
                s.map(|s| format!("shard {}/{}", s.index, s.count))
                    .unwrap_or_else(|| "the whole sweep".into())
            };
            return Err(SweepError::Usage(format!(
                "{}: holds {}, not {}; resume with the same --shard",
                dir.display(),
                show(old.shard),
                show(fresh.shard)
            )));
        }
        if old.config_hash != fresh.config_hash || old.compute_config_hash() != old.config_hash {
            return Err(SweepError::Usage(format!(
                "{}: the results here come from another configuration (config hash {}, this sweep {}); resume with the same sweep file and cascade version, or pass --force to start over",
                dir.display(),
                old.config_hash,
                fresh.config_hash
            )));
        }
        old.identity(dir)
            .map_err(|e| SweepError::Usage(e.to_string()))?;
        old.resumed += 1;
        old.command_line = inv.command_line.clone();
        old.threads = inv.threads;
        old.git_commit = inv.git_commit.clone();
        old.status = "running".into();
        old.finished = None;
        return Ok(old);
    }
    if has_manifest {
        if !opts.force {
            return Err(SweepError::Usage(format!(
                "{} already holds results; pass --resume to finish an interrupted sweep, --force to overwrite, or choose another --out",
                dir.display()
            )));
        }
        let old = read_manifest(dir).map_err(|e| {
            SweepError::Usage(format!(
                "{e}; without a readable manifest cascade cannot tell the store's files from others, so --force leaves this directory alone: remove it yourself or choose another --out"
            ))
        })?;
        clear_store(dir, &old)?;
    }
    Ok(fresh)
}

/// Lock the directory a sweep will write (created when absent): refused when another process
/// holds it, or when it holds files but no store.
pub fn lock_for_sweep(dir: &Path, inv: &Invocation) -> Result<StoreLock, SweepError> {
    StoreLock::acquire(dir, &command_of(inv), true).map_err(lock_err)
}

/// Run `sweep` into the store at `dir`, calling `progress` as runs complete. The store's lock
/// is held until it returns.
pub fn run_sweep(
    sweep: &Sweep,
    dir: &Path,
    inv: &Invocation,
    opts: SweepOptions,
    progress: impl FnMut(Progress),
) -> Result<SweepReport, SweepError> {
    let lock = lock_for_sweep(dir, inv)?;
    run_sweep_locked(sweep, dir, &lock, inv, opts, progress)
}

/// [`run_sweep`] under a lock the caller took with [`lock_for_sweep`] (and keeps, to write
/// the report after it).
pub fn run_sweep_locked(
    sweep: &Sweep,
    dir: &Path,
    _lock: &StoreLock,
    inv: &Invocation,
    opts: SweepOptions,
    mut progress: impl FnMut(Progress),
) -> Result<SweepReport, SweepError> {
    use rayon::prelude::*;
    let mut manifest = prepare(sweep, dir, inv, opts)?;
    let n_points = sweep.points.len() as u64;
    let runs = sweep.spec.runs;
    let seed = sweep.spec.seed;
    let (first, end) = manifest
        .shard
        .map_or((0, n_points * runs), |s| (s.first_pair, s.end_pair));
    // Every data file is listed before any is written; a file already there that the store
    // did not write is refused, never overwritten.
    let planned = data_files(first, end, runs, manifest.shard.is_none());
    claim_files(dir, &mut manifest, planned).map_err(|e| SweepError::Usage(e.to_string()))?;
    let id = manifest.identity(dir)?;
    std::fs::create_dir_all(dir.join("runs")).map_err(|e| io_err(dir, e))?;
    clear_temporaries(dir, &manifest.files)?;
    write_manifest(dir, &manifest)?;

    // The part of each point this store holds, and which of those parts are already whole on
    // disk (resume).
    let mut pending: Vec<Fragment> = Vec::new();
    let mut kept = 0u64;
    let mut kept_runs = 0u64;
    let mut discarded = Vec::new();
    for f in fragments(first, end, runs) {
        let path = store::runs_path(dir, f.point);
        if !path.exists() {
            pending.push(f);
            continue;
        }
        match read_runs(dir, id, f.point) {
            Ok(r) if r.first_run == f.first_run && r.rows.len() as u64 == f.len => {
                kept += 1;
                kept_runs += f.len;
            }
            Ok(r) => {
                discarded.push(format!(
                    "{}: holds runs {}..{}, this store {}..{}",
                    path.display(),
                    r.first_run,
                    r.first_run + r.rows.len() as u64,
                    f.first_run,
                    f.first_run + f.len
                ));
                pending.push(f);
            }
            Err(e) => {
                discarded.push(e.to_string());
                pending.push(f);
            }
        }
    }
    let points_total = kept + pending.len() as u64;
    let total = end - first;
    let mut done = kept_runs;
    let mut points_done = kept;
    progress(Progress {
        runs_done: done,
        runs_total: total,
        points_done,
        points_total,
    });

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()
        .map_err(|e| SweepError::Run(format!("cannot start worker threads: {e}")))?;
    let batch = (pool.current_num_threads() as u64 * 8).max(1);
    // Every pending (point, run) pair, in order, streamed a batch at a time: a large `runs`
    // costs time, not memory.
    let mut pairs_all = pending
        .iter()
        .flat_map(|f| (f.first_run..f.first_run + f.len).map(move |r| (f.point, r)));
    let mut runs_computed = 0u64;
    let mut buf: Vec<(u64, u64)> = Vec::with_capacity(batch as usize);
    let mut frag = pending.iter();
    // The fragment being filled and its rows so far.
    let mut filling: Option<(Fragment, Vec<Vec<f64>>)> = None;
    loop {
        buf.clear();
        buf.extend(pairs_all.by_ref().take(batch as usize));
        if buf.is_empty() {
            break;
        }
        runs_computed += buf.len() as u64;
        let pairs: &[(u64, u64)] = &buf;
        // The scenarios of the points in this batch, built serially.
        let mut scenarios = Vec::new();
        for &(p, _) in pairs {
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
            if filling.is_none() {
                let f = *frag.next().expect("a fragment per pending pair");
                filling = Some((f, Vec::with_capacity(f.len as usize)));
            }
            let (f, fill) = filling.as_mut().expect("filling");
            debug_assert_eq!((f.point, f.first_run + fill.len() as u64), (p, r));
            fill.push(row.0);
            if fill.len() as u64 == f.len {
                let (f, rows) = filling.take().expect("filling");
                write_runs(
                    dir,
                    id,
                    &RunsFile {
                        point: f.point,
                        first_run: f.first_run,
                        rows,
                    },
                )?;
                points_done += 1;
            }
        }
        done += pairs.len() as u64;
        progress(Progress {
            runs_done: done,
            runs_total: total,
            points_done,
            points_total,
        });
    }

    if manifest.shard.is_some() {
        manifest.status = "complete".into();
        manifest.finished = Some(store::now_rfc3339());
        write_manifest(dir, &manifest)?;
    } else {
        finish_store(dir, &mut manifest)?;
    }
    Ok(SweepReport {
        points: points_total,
        points_kept: kept,
        runs_computed,
        discarded,
    })
}

/// The part of a point that a store holds: runs `first_run..first_run + len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment {
    pub point: u64,
    pub first_run: u64,
    pub len: u64,
}

/// The fragments of the pairs `first..end` (flat indices `point * runs + run`), in order.
pub fn fragments(first: u64, end: u64, runs: u64) -> Vec<Fragment> {
    let mut out = Vec::new();
    if runs == 0 {
        return out;
    }
    let mut k = first;
    while k < end {
        let point = k / runs;
        let stop = ((point + 1) * runs).min(end);
        out.push(Fragment {
            point,
            first_run: k - point * runs,
            len: stop - k,
        });
        k = stop;
    }
    out
}

/// Aggregate every point from its runs file, write `points.bin` and mark the store complete.
/// The points' parameters come from the manifest, so a merged store gets the same bytes. With
/// a baseline, every other point also gets its paired comparison with it (the baseline's rows
/// are read first) and the q-values over those comparisons.
pub fn finish_store(dir: &Path, manifest: &mut Manifest) -> Result<(), SweepError> {
    let id = manifest.identity(dir)?;
    let read_rows = |p: u64| -> Result<Option<Vec<MetricRow>>, StoreError> {
        let f = read_runs(dir, id, p)?;
        if f.first_run != 0 || f.rows.len() as u64 != manifest.runs {
            return Err(StoreError::new(
                &store::runs_path(dir, p),
                format!(
                    "holds runs {}..{}, expected 0..{}",
                    f.first_run,
                    f.first_run + f.rows.len() as u64,
                    manifest.runs
                ),
            ));
        }
        Ok(Some(f.rows.into_iter().map(MetricRow).collect()))
    };
    let points = aggregate_points(manifest, &manifest_path(dir), read_rows)?;
    write_points(
        dir,
        id,
        &PointsFile {
            axes: manifest.axes.clone(),
            metrics: manifest.metrics.clone(),
            baseline: manifest.baseline.clone(),
            points,
        },
    )?;
    manifest.status = "complete".into();
    manifest.finished = Some(store::now_rfc3339());
    write_manifest(dir, manifest)?;
    Ok(())
}

/// Aggregate every point whose rows `rows` gives (`None`: the point is not complete, and is
/// left out): its statistics, with a baseline its paired comparison with it (when the
/// baseline's rows are there; read once each) and the q-values over those comparisons. The
/// points' parameters come from the manifest (`manifest_file` names it in errors).
pub fn aggregate_points(
    manifest: &Manifest,
    manifest_file: &Path,
    mut rows: impl FnMut(u64) -> Result<Option<Vec<MetricRow>>, StoreError>,
) -> Result<Vec<PointRecord>, StoreError> {
    let mut base_rows: Vec<(u64, Option<Vec<MetricRow>>)> = Vec::new();
    for b in manifest.baseline.iter().flatten() {
        if !base_rows.iter().any(|(q, _)| q == b) {
            base_rows.push((*b, rows(*b)?));
        }
    }
    let mut points = Vec::with_capacity(manifest.points.len());
    for p in 0..manifest.points.len() as u64 {
        let Some(rows) = rows(p)? else {
            continue;
        };
        let params = manifest.point_params(p).ok_or_else(|| {
            StoreError::new(
                manifest_file,
                format!("point {p} lacks a value for some axis"),
            )
        })?;
        let mut agg = aggregate(&rows, manifest.seed, p as u32);
        if let Some(Some(b)) = manifest.baseline.get(p as usize)
            && let Some((_, Some(base))) = base_rows.iter().find(|(q, _)| q == b)
        {
            agg.paired = paired_to_baseline(&rows, base, manifest.seed, p as u32);
        }
        points.push(PointRecord {
            index: p,
            params,
            agg,
        });
    }
    assign_qvalues(&mut points.iter_mut().map(|r| &mut r.agg).collect::<Vec<_>>());
    Ok(points)
}
