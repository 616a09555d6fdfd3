//! Sweeps that outgrow one machine: shard selection (`--shard`, Slurm and Kubernetes
//! environment variables), `cascade merge`, and `cascade slurm`, which prints a ready sbatch
//! script for a job array plus its dependent merge job.
//!
//! Clusters run Slurm; a researcher should be able to send a sweep file there unchanged. The
//! array's tasks each compute a contiguous block of the sweep's (point, run) pairs into a shard
//! store; the merge job joins them into a store byte-identical to the one a single machine
//! would have written.

use crate::Failure;
use std::path::{Path, PathBuf};

/// Parse `I/N` (0-based index, count).
pub fn parse_shard(s: &str) -> Result<(u64, u64), Failure> {
    let bad = || {
        Failure::Usage(format!(
            "--shard {s}: expected I/N, a 0-based shard index and the shard count (e.g. --shard 0/4)"
        ))
    };
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let i: u64 = i.trim().parse().map_err(|_| bad())?;
    let n: u64 = n.trim().parse().map_err(|_| bad())?;
    if n == 0 || i >= n {
        return Err(Failure::Usage(format!(
            "--shard {s}: the index must be below the count (shards 0/{n} .. {}/{n})",
            n.saturating_sub(1)
        )));
    }
    Ok((i, n))
}

fn env_u64(get: &impl Fn(&str) -> Option<String>, name: &str) -> Result<Option<u64>, Failure> {
    match get(name) {
        None => Ok(None),
        Some(v) if v.trim().is_empty() => Ok(None),
        Some(v) => v.trim().parse().map(Some).map_err(|_| {
            Failure::Usage(format!(
                "environment variable {name}={v} is not a whole number"
            ))
        }),
    }
}

/// Which shard to compute, from `--shard`, `--shard-count` and the environment:
/// 1. `--shard I/N` wins;
/// 2. with `--shard-count N`, the index is `JOB_COMPLETION_INDEX` (Kubernetes Indexed Jobs), or
///    else the Slurm array index below;
/// 3. otherwise, under a Slurm job array (`SLURM_ARRAY_TASK_ID` and `SLURM_ARRAY_TASK_COUNT`
///    set), shard `SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN` (MIN defaults to 0) of
///    `SLURM_ARRAY_TASK_COUNT`: the array must be contiguous (`--array=0-7` or `1-8`, no step);
/// 4. otherwise the whole sweep.
pub fn resolve_shard(
    shard: Option<&str>,
    shard_count: Option<u64>,
    get: impl Fn(&str) -> Option<String>,
) -> Result<Option<(u64, u64)>, Failure> {
    if let Some(s) = shard {
        if shard_count.is_some() {
            return Err(Failure::Usage(
                "--shard I/N and --shard-count N exclude each other".into(),
            ));
        }
        return parse_shard(s).map(Some);
    }
    let slurm_index = || -> Result<Option<u64>, Failure> {
        let id = env_u64(&get, "SLURM_ARRAY_TASK_ID")?;
        let min = env_u64(&get, "SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        Ok(match id {
            Some(id) => Some(id.checked_sub(min).ok_or_else(|| {
                Failure::Usage(format!(
                    "SLURM_ARRAY_TASK_ID={id} is below SLURM_ARRAY_TASK_MIN={min}"
                ))
            })?),
            None => None,
        })
    };
    let check = |i: u64, n: u64, from: &str| {
        if n == 0 || i >= n {
            Err(Failure::Usage(format!(
                "shard {i} of {n} (from {from}) does not exist: the index must be below the count; a Slurm array must be contiguous (e.g. --array=0-{})",
                n.saturating_sub(1)
            )))
        } else {
            Ok(Some((i, n)))
        }
    };
    if let Some(n) = shard_count {
        if let Some(i) = env_u64(&get, "JOB_COMPLETION_INDEX")? {
            return check(i, n, "JOB_COMPLETION_INDEX");
        }
        if let Some(i) = slurm_index()? {
            return check(i, n, "SLURM_ARRAY_TASK_ID");
        }
        return Err(Failure::Usage(
            "--shard-count needs the shard index from JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or SLURM_ARRAY_TASK_ID; neither is set (use --shard I/N)"
                .into(),
        ));
    }
    match (slurm_index()?, env_u64(&get, "SLURM_ARRAY_TASK_COUNT")?) {
        (Some(i), Some(n)) => check(i, n, "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT"),
        _ => Ok(None),
    }
}

/// The default directory of shard `i` of `n` of a sweep named `name`.
pub fn shard_dir(name: &str, i: u64, n: u64) -> PathBuf {
    PathBuf::from("results")
        .join(format!("{name}.shards"))
        .join(format!("{i}-of-{n}"))
}

pub fn cmd_merge(shards: &[PathBuf], out: &Path, force: bool) -> Result<(), Failure> {
    use cascade_sim::experiment::{SweepError, merge_shards};
    let r = merge_shards(shards, out, &crate::invocation(1), force).map_err(|e| match e {
        SweepError::Usage(m) => Failure::Usage(m),
        SweepError::Store(e) => Failure::Usage(e.to_string()),
        other => Failure::Other(anyhow::anyhow!(other)),
    })?;
    println!(
        "merged {} shard(s): {} point(s), {} run(s) -> {}",
        r.shards,
        r.points,
        r.runs,
        out.display()
    );
    Ok(())
}

/// Quote a word for a POSIX shell.
fn sh(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-=:,+@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The options of `cascade slurm`.
pub struct SlurmArgs<'a> {
    pub sweep: &'a Path,
    pub tasks: u64,
    pub partition: Option<&'a str>,
    pub time: Option<&'a str>,
    pub cpus_per_task: u64,
    pub out: Option<&'a Path>,
}

/// The sbatch script: the array job runs one shard per task; its first task submits the merge
/// job with `--dependency=afterok` on the whole array, once per array even when the task is
/// requeued (a marker file `<shards>/merge-job-<array id>` holds the submitted job's id, and
/// the job's name carries the array id for a look in the queue).
pub fn slurm_script(a: &SlurmArgs, name: &str, workdir: &Path, bin: &Path) -> String {
    let out = a
        .out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("results").join(name));
    let shards = PathBuf::from(format!("{}.shards", out.display()));
    let n = a.tasks;
    let mut s = String::new();
    s.push_str("#!/bin/bash\n");
    s.push_str(&format!(
        "#SBATCH --job-name={}\n",
        sh(&format!("cascade-{name}"))
    ));
    s.push_str(&format!("#SBATCH --array=0-{}\n", n - 1));
    s.push_str("#SBATCH --ntasks=1\n");
    s.push_str(&format!("#SBATCH --cpus-per-task={}\n", a.cpus_per_task));
    if let Some(p) = a.partition {
        s.push_str(&format!("#SBATCH --partition={}\n", sh(p)));
    }
    if let Some(t) = a.time {
        s.push_str(&format!("#SBATCH --time={}\n", sh(t)));
    }
    s.push_str(&format!(
        "#SBATCH --chdir={}\n",
        sh(&workdir.display().to_string())
    ));
    s.push_str("#SBATCH --output=%x_%A_%a.out\n");
    s.push_str(&format!(
        "#\n# Generated by `cascade slurm {} --tasks {n}`. Submit it as is: sbatch <this file>\n# (logs: cascade-{name}_<job>_<task>.out in the working directory).\n",
        a.sweep.display(),
    ));
    s.push_str(&format!(
        "# Task I computes shard I/{n} of the sweep's (point, run) pairs into {}/I-of-{n};\n# task 0 also submits the merge job, which waits for the whole array (afterok) and\n# writes the merged store to {} (byte-identical to a one-machine sweep).\n",
        shards.display(),
        out.display()
    ));
    s.push_str("set -euo pipefail\n");
    s.push_str(&format!("cd {}\n", sh(&workdir.display().to_string())));
    s.push_str(&format!("BIN={}\n", sh(&bin.display().to_string())));
    s.push_str(&format!("SWEEP={}\n", sh(&a.sweep.display().to_string())));
    s.push_str(&format!("SHARDS={}\n", sh(&shards.display().to_string())));
    s.push_str(&format!("OUT={}\n", sh(&out.display().to_string())));
    s.push_str(&format!("N={n}\n"));
    s.push_str("I=$(( SLURM_ARRAY_TASK_ID - ${SLURM_ARRAY_TASK_MIN:-0} ))\n");
    s.push_str("if [ \"$I\" -eq 0 ]; then\n");
    let mut merge_opts = String::new();
    if let Some(p) = a.partition {
        merge_opts.push_str(&format!(" --partition={}", sh(p)));
    }
    if let Some(t) = a.time {
        merge_opts.push_str(&format!(" --time={}", sh(t)));
    }
    s.push_str(
        "  # One merge job per array, however often task 0 runs (a requeued task runs again): the\n  # submitted job id is recorded in a marker file, and the job's name carries the array's\n  # id so a submission whose marker was not yet written is found in the queue.\n",
    );
    s.push_str("  mkdir -p \"$SHARDS\"\n");
    s.push_str("  MARK=\"$SHARDS/merge-job-$SLURM_ARRAY_JOB_ID\"\n");
    s.push_str(&format!(
        "  MNAME={}-\"$SLURM_ARRAY_JOB_ID\"\n",
        sh(&format!("cascade-{name}-merge"))
    ));
    s.push_str("  if [ -s \"$MARK\" ]; then\n");
    s.push_str(
        "    echo \"merge job $(cat \"$MARK\") already submitted for array $SLURM_ARRAY_JOB_ID\"\n",
    );
    s.push_str(
        "  elif q=$(squeue -h --name=\"$MNAME\" -o %i 2>/dev/null) && [ -n \"$q\" ]; then\n",
    );
    s.push_str("    echo \"$q\" > \"$MARK.tmp.$$\" && mv \"$MARK.tmp.$$\" \"$MARK\"\n");
    s.push_str("    echo \"merge job $q already queued for array $SLURM_ARRAY_JOB_ID\"\n");
    s.push_str("  else\n");
    s.push_str(&format!(
        "    dirs=\"\"; for k in $(seq 0 $((N - 1))); do dirs=\"$dirs $SHARDS/$k-of-$N\"; done\n    MJOB=$(sbatch --parsable --job-name=\"$MNAME\" --dependency=afterok:\"$SLURM_ARRAY_JOB_ID\" --ntasks=1 --cpus-per-task=1{merge_opts} \\\n      --chdir=\"$PWD\" --output=%x_%j.out \\\n      --wrap=\"$BIN merge$dirs --out $OUT --force\")\n"
    ));
    s.push_str("    echo \"$MJOB\" > \"$MARK.tmp.$$\" && mv \"$MARK.tmp.$$\" \"$MARK\"\n");
    s.push_str("    echo \"submitted merge job $MJOB\"\n");
    s.push_str("  fi\n");
    s.push_str("fi\n");
    s.push_str("DIR=\"$SHARDS/$I-of-$N\"\n");
    s.push_str("RESUME=\"\"\n");
    s.push_str("# A requeued task finishes what it had started.\n");
    s.push_str("if [ -f \"$DIR/manifest.json\" ]; then RESUME=--resume; fi\n");
    s.push_str(
        "exec \"$BIN\" sweep \"$SWEEP\" --shard \"$I/$N\" --out \"$DIR\" --threads \"${SLURM_CPUS_PER_TASK:-1}\" $RESUME\n",
    );
    s
}

pub fn cmd_slurm(a: &SlurmArgs) -> Result<(), Failure> {
    let sweep = cascade_sim::sweep::load_sweep(a.sweep).map_err(Failure::Config)?;
    let pairs = sweep.points.len() as u64 * sweep.spec.runs;
    if a.tasks == 0 || a.tasks > pairs {
        return Err(Failure::Usage(format!(
            "--tasks {}: must be between 1 and the sweep's {pairs} (point, run) pairs",
            a.tasks
        )));
    }
    if a.cpus_per_task == 0 {
        return Err(Failure::Usage("--cpus-per-task must be at least 1".into()));
    }
    let workdir = std::env::current_dir()
        .map_err(|e| Failure::Other(anyhow::anyhow!("cannot read the current directory: {e}")))?;
    let bin = std::env::current_exe()
        .map_err(|e| Failure::Other(anyhow::anyhow!("cannot locate the cascade binary: {e}")))?;
    print!("{}", slurm_script(a, &sweep.name, &workdir, &bin));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let v: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| v.iter().find(|(n, _)| n == k).map(|(_, x)| x.clone())
    }

    fn ok(r: Result<Option<(u64, u64)>, Failure>) -> Option<(u64, u64)> {
        match r {
            Ok(v) => v,
            Err(_) => panic!("expected a shard"),
        }
    }

    #[test]
    fn shard_rules() {
        assert_eq!(ok(resolve_shard(Some("2/4"), None, env(&[]))), Some((2, 4)));
        assert!(resolve_shard(Some("4/4"), None, env(&[])).is_err());
        assert!(resolve_shard(Some("x"), None, env(&[])).is_err());
        assert_eq!(ok(resolve_shard(None, None, env(&[]))), None);
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
        ]);
        assert_eq!(ok(resolve_shard(None, None, &slurm)), Some((3, 4)));
        // --shard wins over the environment.
        assert_eq!(ok(resolve_shard(Some("1/2"), None, &slurm)), Some((1, 2)));
        // A 1-based array.
        let one = env(&[
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
        ]);
        assert_eq!(ok(resolve_shard(None, None, &one)), Some((3, 4)));
        // A stepped array is refused.
        let step = env(&[
            ("SLURM_ARRAY_TASK_ID", "12"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert!(resolve_shard(None, None, &step).is_err());
        // Kubernetes Indexed Jobs.
        let k8s = env(&[("JOB_COMPLETION_INDEX", "5")]);
        assert_eq!(ok(resolve_shard(None, Some(8), &k8s)), Some((5, 8)));
        assert!(resolve_shard(None, Some(8), env(&[])).is_err());
        assert!(resolve_shard(None, Some(4), &k8s).is_err());
        assert!(resolve_shard(Some("1/2"), Some(2), env(&[])).is_err());
    }

    #[test]
    fn the_script_runs_every_shard_and_merges_after_the_array() {
        let a = SlurmArgs {
            sweep: Path::new("configs/sweeps/quickstart.toml"),
            tasks: 4,
            partition: Some("debug"),
            time: Some("01:00:00"),
            cpus_per_task: 2,
            out: None,
        };
        let s = slurm_script(
            &a,
            "quickstart",
            Path::new("/work dir"),
            Path::new("/bin/cascade"),
        );
        for want in [
            "#SBATCH --array=0-3\n",
            "#SBATCH --cpus-per-task=2\n",
            "#SBATCH --partition=debug\n",
            "#SBATCH --time=01:00:00\n",
            "cd '/work dir'\n",
            "--dependency=afterok:\"$SLURM_ARRAY_JOB_ID\"",
            "merge$dirs --out $OUT --force",
            "MARK=\"$SHARDS/merge-job-$SLURM_ARRAY_JOB_ID\"\n",
            "if [ -s \"$MARK\" ]; then\n",
            "--name=\"$MNAME\"",
            "--shard \"$I/$N\"",
            "SHARDS=results/quickstart.shards\n",
        ] {
            assert!(s.contains(want), "missing {want:?} in\n{s}");
        }
        assert!(s.starts_with("#!/bin/bash\n#SBATCH"));
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(sh("a/b-c.toml"), "a/b-c.toml");
        assert_eq!(sh("a b"), "'a b'");
        assert_eq!(sh("it's"), "'it'\\''s'");
    }
}
