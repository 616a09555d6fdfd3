//! `cascade.validate`: a scenario or sweep file, or a scenario as TOML text, checked as
//! `cascade validate` checks it; the answer is the CLI's `ok` line, a problem its message.

use crate::Failure;
use cascade_sim::ConfigError;
use cascade_sim::bounds::{Job, check, check_sweep, estimate};
use cascade_sim::load::{apply_overrides, scenario_from_tree};
use std::path::Path;
use toml::Table;

/// Whether a tree is a sweep file's (it has axes, or names a base scenario), as the CLI tells.
fn is_sweep(tree: &Table) -> bool {
    tree.contains_key("axis") || tree.get("scenario").is_some_and(|v| v.is_str())
}

fn check_tree(
    path: &Path,
    mut tree: Table,
    sets: &[String],
    threads: usize,
) -> Result<String, Failure> {
    apply_overrides(path, &mut tree, sets)?;
    let s = scenario_from_tree(path, tree)?;
    let c = &s.config;
    let job = Job::Run {
        runs: c.run.runs,
        runs_key: "run.runs".into(),
        threads: crate::threads_of(threads),
        trace: false,
    };
    check(path, &estimate(c, &job), &crate::unbounded())?;
    Ok(format!(
        "{}: ok: scenario \"{}\", {} asset(s), {} venue(s), {} oracle(s), {} agent population(s), {} blocks of {} s per run, {} run(s) from seed {}",
        path.display(),
        c.name,
        c.assets.len(),
        c.venues.len(),
        c.oracles.len(),
        c.agents.len(),
        c.chain.blocks(),
        c.chain.block_time_s,
        c.run.runs,
        c.run.seed
    ))
}

/// Check the scenario or sweep file at `path` (with `sets` for a scenario).
pub fn validate_file(path: &Path, sets: &[String], threads: usize) -> Result<String, Failure> {
    let tree = cascade_sim::load::read_tree(path)?;
    if !is_sweep(&tree) {
        return check_tree(path, tree, sets, threads);
    }
    if !sets.is_empty() {
        return Err(Failure::Usage(
            "set applies to scenario files; a sweep file takes overrides in its `set` list (or cascade.sweep(..., set=...))".into(),
        ));
    }
    let sw = cascade_sim::sweep::load_sweep(path)?;
    check_sweep(&sw, crate::threads_of(threads), &crate::unbounded())?;
    Ok(format!(
        "{}: ok: sweep \"{}\", {} point(s) x {} run(s) over {}, seed {}, every point's scenario valid",
        path.display(),
        sw.name,
        sw.points.len(),
        sw.spec.runs,
        sw.axes.join(", "),
        sw.spec.seed
    ))
}

/// The name TOML text goes by in messages.
pub const TEXT_SOURCE: &str = "<string>";

/// Check a scenario given as TOML text (relative replay files resolve from the working
/// directory). A sweep must be a file: its scenario paths are relative to it.
pub fn validate_text(text: &str, sets: &[String], threads: usize) -> Result<String, Failure> {
    let path = Path::new(TEXT_SOURCE);
    let tree = text.parse::<Table>().map_err(|e| {
        let at = e
            .span()
            .map(|s| {
                let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                format!(" (line {line})")
            })
            .unwrap_or_default();
        ConfigError::one(
            path,
            "(syntax)",
            format!("is not valid TOML{at}: {}", e.message()),
        )
    })?;
    if is_sweep(&tree) {
        return Err(Failure::Usage(
            "a sweep is checked from its file (its scenario paths are relative to it): pass the path".into(),
        ));
    }
    check_tree(path, tree, sets, threads)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_errors_name_key_and_rule() {
        let e = validate_text("name = \"x\"\n[chain]\nblock_time_s = -1\n", &[], 1).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("<string>: "), "{msg}");
        assert!(matches!(e, Failure::Config(_)), "{msg}");
        let e = validate_text("name = = 1", &[], 1).unwrap_err().to_string();
        assert!(e.contains("(syntax)") && e.contains("line 1"), "{e}");
    }
}
