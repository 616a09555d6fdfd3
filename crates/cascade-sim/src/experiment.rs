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

use crate::aggregate::aggregate;
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
/// The points' parameters come from the manifest, so a merged store gets the same bytes.
pub fn finish_store(dir: &Path, manifest: &mut Manifest) -> Result<(), SweepError> {
    let id = manifest.identity(dir)?;
    let mut points = Vec::with_capacity(manifest.points.len());
    for p in 0..manifest.points.len() as u64 {
        let f = read_runs(dir, id, p)?;
        if f.first_run != 0 || f.rows.len() as u64 != manifest.runs {
            return Err(SweepError::Store(StoreError::new(
                &store::runs_path(dir, p),
                format!(
                    "holds runs {}..{}, expected 0..{}",
                    f.first_run,
                    f.first_run + f.rows.len() as u64,
                    manifest.runs
                ),
            )));
        }
        let rows: Vec<MetricRow> = f.rows.into_iter().map(MetricRow).collect();
        let params = manifest.point_params(p).ok_or_else(|| {
            SweepError::Store(StoreError::new(
                &manifest_path(dir),
                format!("point {p} lacks a value for some axis"),
            ))
        })?;
        points.push(PointRecord {
            index: p,
            params,
            agg: aggregate(&rows),
        });
    }
    write_points(
        dir,
        id,
        &PointsFile {
            axes: manifest.axes.clone(),
            metrics: manifest.metrics.clone(),
            points,
        },
    )?;
    manifest.status = "complete".into();
    manifest.finished = Some(store::now_rfc3339());
    write_manifest(dir, manifest)?;
    Ok(())
}

/// What a merge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergeReport {
    pub shards: u64,
    pub points: u64,
    pub runs: u64,
}

/// Merge the shard stores `shards` (in any order) into a whole store at `out`.
pub fn merge_shards(
    shards: &[PathBuf],
    out: &Path,
    inv: &Invocation,
    force: bool,
) -> Result<MergeReport, SweepError> {
    if shards.is_empty() {
        return Err(SweepError::Usage(
            "merge needs at least one shard store".into(),
        ));
    }
    // The output may be none of the inputs, contain none, and lie inside none: merging writes
    // (and with --force clears) it, and an input must stay whole until the merge is done.
    let out_r = resolve(out).map_err(|e| io_err(out, e))?;
    for d in shards {
        let d_r = resolve(d).map_err(|e| io_err(d, e))?;
        let why = if d_r == out_r {
            Some("is the shard store")
        } else if d_r.starts_with(&out_r) {
            Some("contains the shard store")
        } else if out_r.starts_with(&d_r) {
            Some("lies inside the shard store")
        } else {
            None
        };
        if let Some(why) = why {
            return Err(SweepError::Usage(format!(
                "--out {} {why} {}, one of the merge's inputs; the merged store must go to a directory apart from every shard: choose another --out",
                out.display(),
                d.display()
            )));
        }
    }
    let mut stores = Vec::with_capacity(shards.len());
    let mut problems = Vec::new();
    for d in shards {
        match Store::open(d) {
            Ok(s) => match s.manifest.shard {
                Some(_) => stores.push(s),
                None => problems.push(format!(
                    "{}: is not a shard store (its manifest has no `shard`; it was not written with --shard)",
                    d.display()
                )),
            },
            Err(e) => problems.push(e.to_string()),
        }
    }
    if !problems.is_empty() {
        return Err(SweepError::Usage(problems.join("\n")));
    }
    let reference = &stores[0].manifest;
    let count = reference.shard.expect("checked").count;
    // Foreign shards: another configuration, version or split.
    for s in &stores[1..] {
        let m = &s.manifest;
        let sh = m.shard.expect("checked");
        if m.config_hash != reference.config_hash {
            problems.push(format!(
                "{}: comes from another sweep configuration (config hash {}, {} has {})",
                s.dir.display(),
                m.config_hash,
                stores[0].dir.display(),
                reference.config_hash
            ));
        } else if m.cascade_version != reference.cascade_version
            || m.seed != reference.seed
            || m.schema_hash != reference.schema_hash
        {
            problems.push(format!(
                "{}: was written by cascade {} (seed {}, schema {}), {} by cascade {} (seed {}, schema {})",
                s.dir.display(),
                m.cascade_version,
                m.seed,
                m.schema_hash,
                stores[0].dir.display(),
                reference.cascade_version,
                reference.seed,
                reference.schema_hash
            ));
        } else if sh.count != count {
            problems.push(format!(
                "{}: is shard {}/{}, but {} is one of {count} shards",
                s.dir.display(),
                sh.index,
                sh.count,
                stores[0].dir.display()
            ));
        }
    }
    if !problems.is_empty() {
        return Err(SweepError::Usage(problems.join("\n")));
    }
    // Missing and duplicated shards.
    let mut by_index: Vec<Vec<&Store>> = vec![Vec::new(); count as usize];
    for s in &stores {
        by_index[s.manifest.shard.expect("checked").index as usize].push(s);
    }
    let missing: Vec<String> = (0..count)
        .filter(|i| by_index[*i as usize].is_empty())
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        problems.push(format!("missing shard(s): {}", missing.join(", ")));
    }
    for (i, v) in by_index.iter().enumerate() {
        if v.len() > 1 {
            problems.push(format!(
                "shard {i}/{count} given {} times: {}",
                v.len(),
                v.iter()
                    .map(|s| s.dir.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    let pairs = reference.points.len() as u64 * reference.runs;
    for s in &stores {
        let sh = s.manifest.shard.expect("checked");
        if s.manifest.status != "complete" {
            problems.push(format!(
                "{}: shard {}/{count} is not complete (status \"{}\"); finish it with `cascade sweep {} --shard {}/{count} --resume --out {}`",
                s.dir.display(),
                sh.index,
                s.manifest.status,
                s.manifest.sweep_file,
                sh.index,
                s.dir.display()
            ));
        }
        if sh != ShardInfo::new(sh.index, count, pairs) {
            problems.push(format!(
                "{}: holds pairs {}..{}, which is not shard {}/{count} of {pairs} pairs",
                s.dir.display(),
                sh.first_pair,
                sh.end_pair,
                sh.index
            ));
        }
    }
    if !problems.is_empty() {
        return Err(SweepError::Usage(problems.join("\n")));
    }
    // Every shard is locked (no writer may change it while it is read), and every fragment
    // is read and checked before the output is touched: a merge that fails here leaves the
    // output as it was.
    let cmd = command_of(inv);
    let mut locks = Vec::with_capacity(stores.len() + 1);
    for s in &stores {
        match StoreLock::acquire(&s.dir, &cmd, false) {
            Ok(l) => locks.push(l),
            // A shard being written (a task that runs again) is refused.
            Err(e @ LockError::Busy(_)) => return Err(lock_err(e)),
            // A shard that cannot take a lock file (a read-only copy) is read unguarded.
            Err(_) => {}
        }
    }
    let ordered: Vec<&Store> = by_index.iter().map(|v| v[0]).collect();
    let runs = reference.runs;
    let n_points = reference.points.len() as u64;
    let point_rows = |p: u64| -> Result<Vec<Vec<f64>>, SweepError> {
        let mut rows: Vec<Vec<f64>> = Vec::with_capacity(runs as usize);
        for s in &ordered {
            let sh = s.manifest.shard.expect("checked");
            for f in fragments(sh.first_pair, sh.end_pair, runs)
                .into_iter()
                .filter(|f| f.point == p)
            {
                let part = read_runs(&s.dir, s.identity, p)
                    .map_err(|e| SweepError::Usage(e.to_string()))?;
                if part.first_run != f.first_run || part.rows.len() as u64 != f.len {
                    return Err(SweepError::Usage(format!(
                        "{}: holds runs {}..{} of point {p}; shard {}/{count} must hold {}..{}",
                        store::runs_path(&s.dir, p).display(),
                        part.first_run,
                        part.first_run + part.rows.len() as u64,
                        sh.index,
                        f.first_run,
                        f.first_run + f.len
                    )));
                }
                if part.first_run != rows.len() as u64 {
                    return Err(SweepError::Usage(format!(
                        "{}: runs of point {p} are not contiguous across shards",
                        store::runs_path(&s.dir, p).display()
                    )));
                }
                rows.extend(part.rows);
            }
        }
        if rows.len() as u64 != runs {
            return Err(SweepError::Usage(format!(
                "the shards hold {} of point {p}'s {runs} runs",
                rows.len()
            )));
        }
        Ok(rows)
    };
    for p in 0..n_points {
        point_rows(p)?;
    }
    // The output directory: absent, empty, or a store (replaced only with --force).
    let out_lock = StoreLock::acquire(out, &cmd, true).map_err(lock_err)?;
    if manifest_path(out).exists() {
        if !force {
            return Err(SweepError::Usage(format!(
                "{} already holds results; pass --force to overwrite, or choose another --out",
                out.display()
            )));
        }
        let old = read_manifest(out).map_err(|e| {
            SweepError::Usage(format!(
                "{e}; without a readable manifest cascade cannot tell the store's files from others, so --force leaves this directory alone: remove it yourself or choose another --out"
            ))
        })?;
        clear_store(out, &old)?;
    }
    let mut manifest = reference.clone();
    manifest.set_shard(None);
    manifest.status = "running".into();
    manifest.command_line = inv.command_line.clone();
    manifest.threads = inv.threads;
    manifest.git_commit = inv.git_commit.clone();
    manifest.resumed = 0;
    manifest.started = stores
        .iter()
        .map(|s| s.manifest.started.clone())
        .min()
        .unwrap_or_default();
    manifest.finished = None;
    manifest.files = Vec::new();
    claim_files(out, &mut manifest, data_files(0, pairs, runs, true))
        .map_err(|e| SweepError::Usage(e.to_string()))?;
    let id = manifest.identity(out)?;
    std::fs::create_dir_all(out.join("runs")).map_err(|e| io_err(out, e))?;
    clear_temporaries(out, &manifest.files)?;
    write_manifest(out, &manifest)?;
    // Reassemble each point from the shards' fragments, in shard order.
    for p in 0..n_points {
        let rows = point_rows(p)?;
        write_runs(
            out,
            id,
            &RunsFile {
                point: p,
                first_run: 0,
                rows,
            },
        )?;
    }
    finish_store(out, &mut manifest)?;
    drop(out_lock);
    drop(locks);
    Ok(MergeReport {
        shards: count,
        points: manifest.points.len() as u64,
        runs: pairs,
    })
}
