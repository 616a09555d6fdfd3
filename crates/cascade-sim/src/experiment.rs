//! Running a sweep into a result store: parallel Monte Carlo over (point, run) pairs.
//!
//! The pairs still to do are cut into batches; each batch is computed on a rayon pool and
//! collected in (point, run) order, and a point's rows are written to `runs/<p>.bin` as soon as
//! its last run is in. So the files are byte-identical for any thread count, memory holds one
//! batch and at most a point's rows however many runs a sweep has, and a killed sweep loses at
//! most the points it had not finished: `--resume` checks that the configuration is the same
//! (config hash), keeps every whole runs file and computes the rest.
//!
//! A sweep too big for one machine is split into shards (`--shard I/N`): shard `I` computes a
//! contiguous block of the (point, run) pairs in (point, run) order and writes a shard store
//! whose runs files may hold part of a point. [`merge_shards`] checks that the shards belong
//! together and reassembles them into a store byte-identical to the unsharded sweep's.

use crate::aggregate::aggregate;
use crate::metrics::MetricRow;
use crate::runner::run_one;
use crate::store::{
    self, Invocation, Manifest, PointRecord, PointsFile, RunsFile, ShardInfo, Store, StoreError,
    manifest_path, points_path, read_manifest, read_runs, write_manifest, write_points, write_runs,
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
        fresh.shard = Some(ShardInfo::new(index, count, pairs));
    }
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
    let (first, end) = manifest
        .shard
        .map_or((0, n_points * runs), |s| (s.first_pair, s.end_pair));
    // The part of each point this store holds, and which of those parts are already whole on
    // disk (resume).
    let mut pending: Vec<Fragment> = Vec::new();
    let mut kept = 0u64;
    let mut kept_runs = 0u64;
    for f in fragments(first, end, runs) {
        match read_runs(dir, f.point) {
            Ok(r) if r.first_run == f.first_run && r.rows.len() as u64 == f.len => {
                kept += 1;
                kept_runs += f.len;
            }
            _ => pending.push(f),
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
    // Every pending (point, run) pair, in order.
    let pairs_all: Vec<(u64, u64)> = pending
        .iter()
        .flat_map(|f| (f.first_run..f.first_run + f.len).map(move |r| (f.point, r)))
        .collect();
    let mut frag = pending.iter();
    // The fragment being filled and its rows so far.
    let mut filling: Option<(Fragment, Vec<Vec<f64>>)> = None;
    for pairs in pairs_all.chunks(batch as usize) {
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
        runs_computed: pairs_all.len() as u64,
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
    let mut points = Vec::with_capacity(manifest.points.len());
    for p in 0..manifest.points.len() as u64 {
        let f = read_runs(dir, p)?;
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
    shards: &[std::path::PathBuf],
    out: &Path,
    inv: &Invocation,
    force: bool,
) -> Result<MergeReport, SweepError> {
    if shards.is_empty() {
        return Err(SweepError::Usage(
            "merge needs at least one shard store".into(),
        ));
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
    // The output directory.
    if manifest_path(out).exists() || points_path(out).exists() || out.join("runs").exists() {
        if !force {
            return Err(SweepError::Usage(format!(
                "{} already holds results; pass --force to overwrite, or choose another --out",
                out.display()
            )));
        }
        clear_store(out)?;
    }
    std::fs::create_dir_all(out.join("runs")).map_err(|e| io_err(out, e))?;
    let mut manifest = reference.clone();
    manifest.shard = None;
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
    write_manifest(out, &manifest)?;
    // Reassemble each point from the shards' fragments, in shard order.
    let ordered: Vec<&Store> = by_index.iter().map(|v| v[0]).collect();
    let runs = manifest.runs;
    for p in 0..manifest.points.len() as u64 {
        let mut rows: Vec<Vec<f64>> = Vec::with_capacity(runs as usize);
        for s in &ordered {
            let sh = s.manifest.shard.expect("checked");
            for f in fragments(sh.first_pair, sh.end_pair, runs)
                .into_iter()
                .filter(|f| f.point == p)
            {
                let part = read_runs(&s.dir, p)?;
                if part.first_run != f.first_run || part.rows.len() as u64 != f.len {
                    return Err(SweepError::Store(StoreError::new(
                        &store::runs_path(&s.dir, p),
                        format!(
                            "holds runs {}..{} of point {p}; shard {}/{count} must hold {}..{}",
                            part.first_run,
                            part.first_run + part.rows.len() as u64,
                            sh.index,
                            f.first_run,
                            f.first_run + f.len
                        ),
                    )));
                }
                if part.first_run != rows.len() as u64 {
                    return Err(SweepError::Store(StoreError::new(
                        &store::runs_path(&s.dir, p),
                        format!("runs of point {p} are not contiguous across shards"),
                    )));
                }
                rows.extend(part.rows);
            }
        }
        write_runs(
            out,
            &RunsFile {
                point: p,
                first_run: 0,
                rows,
            },
        )?;
    }
    finish_store(out, &mut manifest)?;
    Ok(MergeReport {
        shards: count,
        points: manifest.points.len() as u64,
        runs: pairs,
    })
}
