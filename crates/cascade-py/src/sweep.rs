//! A sweep from Python: the sweep file with fewer runs or extra overrides, into a store.
//!
//! `cascade.sweep(path, runs=N, set={...})` shrinks or adjusts a sweep without editing its
//! file. The overrides are applied to every base scenario after the file's own `set` list and
//! before the axes (as if appended to `set`), and recorded in the manifest's `sweep.set`; the
//! runs replace `runs` (in the manifest and its config hash). Every point is validated again
//! after the overrides, with the sweep file's messages.

use crate::Failure;
use cascade_sim::ConfigError;
use cascade_sim::experiment::{SweepOptions, SweepReport, lock_for_sweep, run_sweep_locked};
use cascade_sim::load::apply_overrides;
use cascade_sim::store::Invocation;
use cascade_sim::sweep::{Sweep, load_sweep, point_scenario};
use std::path::Path;

/// Load the sweep at `path`, with `runs` per point instead of the file's and `sets` added to
/// its `set` list.
pub fn load_sweep_with(
    path: &Path,
    runs: Option<u64>,
    sets: &[String],
) -> Result<Sweep, ConfigError> {
    let mut sw = load_sweep(path)?;
    if let Some(r) = runs {
        if r == 0 {
            return Err(ConfigError::one(path, "runs", "must be >= 1"));
        }
        sw.spec.runs = r;
    }
    if sets.is_empty() {
        return Ok(sw);
    }
    for b in &mut sw.scenarios {
        apply_overrides(path, &mut b.tree, sets)?;
    }
    sw.spec.set.extend(sets.iter().cloned());
    let mut issues = Vec::new();
    for (p, ps) in sw.points.iter().enumerate() {
        if let Err(e) = point_scenario(&sw.scenarios, &sw.axes, ps) {
            let at = sw
                .axes
                .iter()
                .zip(ps)
                .map(|(k, v)| format!("{k} = {}", v.label()))
                .collect::<Vec<_>>()
                .join(", ");
            for i in e.issues {
                issues.push(cascade_core::ConfigIssue {
                    key: i.key,
                    rule: format!(
                        "at point {p} ({at}) of scenario {}, with set {:?}: {}",
                        e.file.display(),
                        sets,
                        i.rule
                    ),
                });
            }
            break;
        }
    }
    if issues.is_empty() {
        Ok(sw)
    } else {
        Err(ConfigError {
            file: path.to_path_buf(),
            issues,
        })
    }
}

/// Run `sweep` into a new store at `dir` (absent or empty) on `threads` threads (0: one per
/// core), as `cascade sweep` does: sizes checked first, the store's lock held while writing.
pub fn run_into(
    sweep: &Sweep,
    dir: &Path,
    threads: usize,
    command_line: Vec<String>,
) -> Result<SweepReport, Failure> {
    cascade_sim::bounds::check_sweep(sweep, crate::threads_of(threads), &crate::unbounded())?;
    let inv = Invocation {
        command_line,
        git_commit: crate::GIT_COMMIT.to_string(),
        threads,
    };
    let lock = lock_for_sweep(dir, &inv)?;
    let report = run_sweep_locked(
        sweep,
        dir,
        &lock,
        &inv,
        SweepOptions {
            threads,
            resume: false,
            force: false,
            shard: None,
        },
        |_| {},
    )?;
    Ok(report)
}
