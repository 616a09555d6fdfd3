//! `cascade merge`: shard stores reassembled into the store of the whole sweep.
//!
//! Invariant: the merge checks that the shards belong together (one configuration, seed,
//! version and split; none missing or given twice), reads and checks every fragment before it
//! touches the output, and writes a store byte-identical to the unsharded sweep's (its
//! aggregates come from [`super::finish_store`], the one place they are computed).

use super::*;

/// What a merge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergeReport {
    pub shards: u64,
    pub points: u64,
    pub runs: u64,
}

/// Whether a store file is one a merge writes (and so replaces with `--force`): the data files.
fn is_merge_output(rel: &str) -> bool {
    rel == "points.bin" || rel.starts_with("runs/")
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
    let mut kept: Vec<String> = Vec::new();
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
        // Only the data the merge writes goes: charts, the report, exports and replays were
        // written by other commands and stay, still the store's (listed in the new manifest).
        let (data, others): (Vec<String>, Vec<String>) =
            old.files.iter().cloned().partition(|f| is_merge_output(f));
        let mut data_only = old.clone();
        data_only.files = data;
        clear_store(out, &data_only)?;
        kept = others
            .into_iter()
            .filter(|f| listed_path(out, f).is_some_and(|p| p.exists()))
            .collect();
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
    manifest.files = kept;
    manifest.files.sort();
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
