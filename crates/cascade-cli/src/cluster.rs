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

pub fn cmd_merge(shards: &[PathBuf], out: &Path, force: bool, report: bool) -> Result<(), Failure> {
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
    if report {
        // The same code as `cascade report`.
        crate::cmd_report(out, None, false)?;
    }
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
    pub account: Option<&'a str>,
    pub qos: Option<&'a str>,
    pub mem: Option<&'a str>,
    /// Shell lines run before cascade in both jobs (`module load ...`).
    pub setup: &'a [String],
}

/// The sbatch options both jobs share (partition, time, account, qos, memory), as
/// `--name=value` words.
fn common_opts(a: &SlurmArgs) -> Vec<String> {
    [
        ("partition", a.partition),
        ("time", a.time),
        ("account", a.account),
        ("qos", a.qos),
        ("mem", a.mem),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| format!("--{k}={}", sh(v))))
    .collect()
}

/// The setup lines, for the top of a job script (before `set -u`, which some `module`
/// implementations do not survive).
fn setup_block(a: &SlurmArgs) -> String {
    if a.setup.is_empty() {
        return String::new();
    }
    let mut s = String::from("# Setup (--setup), before cascade runs:\n");
    for l in a.setup {
        s.push_str(l);
        s.push('\n');
    }
    s
}

/// The sbatch script: the array job runs one shard per task; its first task submits the merge
/// job with `--dependency=afterok` on the whole array. The merge job merges the shards and
/// writes the charts and report.html (`cascade merge --report`). Exactly one merge job per
/// array, even when task 0 is requeued: task 0 claims the marker `<shards>/merge-job-<array
/// id>` by an atomic create (bash `noclobber`) before it submits, and writes the job's id
/// into it; a later run of task 0 that finds the marker submits nothing (if the marker is
/// still empty, the first run died between claim and record: the queue, where the job's name
/// carries the array id, tells whether it was submitted).
pub fn slurm_script(a: &SlurmArgs, name: &str, workdir: &Path, bin: &Path) -> String {
    let out = a
        .out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("results").join(name));
    let shards = PathBuf::from(format!("{}.shards", out.display()));
    let n = a.tasks;
    let wd = sh(&workdir.display().to_string());
    let opts = common_opts(a);
    let mut s = String::new();
    s.push_str("#!/bin/bash\n");
    s.push_str(&format!(
        "#SBATCH --job-name={}\n",
        sh(&format!("cascade-{name}"))
    ));
    s.push_str(&format!("#SBATCH --array=0-{}\n", n - 1));
    s.push_str("#SBATCH --ntasks=1\n");
    s.push_str(&format!("#SBATCH --cpus-per-task={}\n", a.cpus_per_task));
    for o in &opts {
        s.push_str(&format!("#SBATCH {o}\n"));
    }
    s.push_str(&format!("#SBATCH --chdir={wd}\n"));
    s.push_str("#SBATCH --output=%x_%A_%a.out\n");
    s.push_str(&format!(
        "#\n# Generated by `cascade slurm {} --tasks {n}`. Submit it as is: sbatch <this file>\n# (logs: cascade-{name}_<job>_<task>.out in the working directory).\n",
        a.sweep.display(),
    ));
    s.push_str(&format!(
        "# Task I computes shard I/{n} of the sweep's (point, run) pairs into {}/I-of-{n};\n# task 0 also submits the merge job, which waits for the whole array (afterok),\n# writes the merged store to {} (byte-identical to a one-machine sweep)\n# and its charts and report.html.\n",
        shards.display(),
        out.display()
    ));
    s.push_str(&setup_block(a));
    s.push_str("set -euo pipefail\n");
    s.push_str(&format!("cd {wd}\n"));
    s.push_str(&format!("BIN={}\n", sh(&bin.display().to_string())));
    s.push_str(&format!("SWEEP={}\n", sh(&a.sweep.display().to_string())));
    s.push_str(&format!("SHARDS={}\n", sh(&shards.display().to_string())));
    s.push_str(&format!("OUT={}\n", sh(&out.display().to_string())));
    s.push_str(&format!("N={n}\n"));
    s.push_str("I=$(( SLURM_ARRAY_TASK_ID - ${SLURM_ARRAY_TASK_MIN:-0} ))\n");
    s.push_str("if [ \"$I\" -eq 0 ]; then\n");
    s.push_str(
        "  # One merge job per array, however often task 0 runs (a requeued task runs again):\n  # the marker is claimed by an atomic create before the submission, then holds its id.\n",
    );
    s.push_str("  mkdir -p \"$SHARDS\"\n");
    s.push_str("  MARK=\"$SHARDS/merge-job-$SLURM_ARRAY_JOB_ID\"\n");
    s.push_str(&format!(
        "  MNAME={}-\"$SLURM_ARRAY_JOB_ID\"\n",
        sh(&format!("cascade-{name}-merge"))
    ));
    s.push_str("  if ( set -o noclobber; : > \"$MARK\" ) 2>/dev/null; then\n");
    s.push_str("    SUBMIT=1\n");
    s.push_str("  elif [ -s \"$MARK\" ]; then\n");
    s.push_str(
        "    SUBMIT=0; echo \"merge job $(cat \"$MARK\") already submitted for array $SLURM_ARRAY_JOB_ID\"\n",
    );
    s.push_str(
        "  elif q=$(squeue -h --name=\"$MNAME\" -o %i 2>/dev/null) && [ -n \"$q\" ]; then\n",
    );
    s.push_str("    SUBMIT=0; echo \"$q\" > \"$MARK\"\n");
    s.push_str("    echo \"merge job $q already queued for array $SLURM_ARRAY_JOB_ID\"\n");
    s.push_str("  else\n");
    s.push_str("    SUBMIT=1 # claimed by a run that died before it submitted\n");
    s.push_str("  fi\n");
    s.push_str("  if [ \"$SUBMIT\" -eq 1 ]; then\n");
    s.push_str(&format!(
        "    MJOB=$(sbatch --parsable --job-name=\"$MNAME\" --dependency=afterok:\"$SLURM_ARRAY_JOB_ID\" \\\n      --ntasks=1 --cpus-per-task=1{} --chdir={wd} --output=%x_%j.out <<'MERGE'\n",
        opts.iter().map(|o| format!(" {o}")).collect::<String>()
    ));
    // The merge job's own script: literal (quoted here-document), so nothing in it expands
    // at submission.
    s.push_str("#!/bin/bash\n");
    s.push_str(&setup_block(a));
    s.push_str("set -euo pipefail\n");
    s.push_str(&format!("cd {wd}\n"));
    s.push_str(&format!(
        "exec {} merge {}/*-of-{n} --out {} --force --report\n",
        sh(&bin.display().to_string()),
        sh(&shards.display().to_string()),
        sh(&out.display().to_string())
    ));
    s.push_str("MERGE\n    )\n");
    s.push_str("    echo \"$MJOB\" > \"$MARK\"\n");
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
            account: Some("proj1"),
            qos: Some("normal"),
            mem: Some("4G"),
            setup: &[
                "module load gcc/13".to_string(),
                "source $HOME/env.sh".to_string(),
            ],
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
            "#SBATCH --account=proj1\n",
            "#SBATCH --qos=normal\n",
            "#SBATCH --mem=4G\n",
            " --account=proj1 --qos=normal --mem=4G --chdir='/work dir'",
            "merge results/quickstart.shards/*-of-4 --out results/quickstart --force --report\n",
            "MARK=\"$SHARDS/merge-job-$SLURM_ARRAY_JOB_ID\"\n",
            "if ( set -o noclobber; : > \"$MARK\" ) 2>/dev/null; then\n",
            "elif [ -s \"$MARK\" ]; then\n",
            "--name=\"$MNAME\"",
            "--shard \"$I/$N\"",
            "SHARDS=results/quickstart.shards\n",
        ] {
            assert!(s.contains(want), "missing {want:?} in\n{s}");
        }
        assert!(s.starts_with("#!/bin/bash\n#SBATCH"));
        // Setup lines run before cascade in both jobs, before `set -u`.
        assert_eq!(
            s.matches("module load gcc/13\nsource $HOME/env.sh\n")
                .count(),
            2
        );
        let first_setup = s.find("module load").unwrap();
        assert!(first_setup < s.find("set -euo pipefail").unwrap());
        assert!(first_setup > s.rfind("#SBATCH").unwrap());
        // The merge job's script is a quoted here-document: nothing expands at submission.
        assert!(s.contains("<<'MERGE'\n#!/bin/bash\n") && s.contains("\nMERGE\n"));
        // Exactly one submission in the script.
        assert_eq!(s.matches("sbatch --parsable").count(), 1);
    }

    /// The script's shell syntax is valid (bash -n), when bash is there.
    #[test]
    fn the_script_parses() {
        let a = SlurmArgs {
            sweep: Path::new("s.toml"),
            tasks: 2,
            partition: None,
            time: None,
            cpus_per_task: 1,
            out: Some(Path::new("out dir")),
            account: None,
            qos: None,
            mem: None,
            setup: &["module load x".to_string()],
        };
        let s = slurm_script(&a, "s", Path::new("/w"), Path::new("/bin/cascade"));
        let dir = std::env::temp_dir().join(format!("cascade-slurm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("s.sbatch");
        std::fs::write(&f, &s).unwrap();
        if let Ok(o) = std::process::Command::new("bash")
            .arg("-n")
            .arg(&f)
            .output()
        {
            assert!(
                o.status.success(),
                "{}\n{s}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(sh("a/b-c.toml"), "a/b-c.toml");
        assert_eq!(sh("a b"), "'a b'");
        assert_eq!(sh("it's"), "'it'\\''s'");
    }
}
