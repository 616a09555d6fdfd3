//! `cascade validate`: a scenario or sweep file checked (every point of a sweep, and the sizes
//! against the memory budget) without running anything.

use crate::{Failure, budget};
use cascade_sim::load::load_scenario;
use std::path::Path;

pub(crate) fn cmd_validate(
    path: &Path,
    sets: &[String],
    threads: usize,
    budget: &cascade_sim::bounds::Budget,
) -> Result<(), Failure> {
    use cascade_sim::bounds::{Job, check, estimate};
    // A sweep file (it has axes, or names a base scenario) is checked point by point.
    let tree = cascade_sim::load::read_tree(path).map_err(Failure::Config)?;
    if tree.contains_key("axis") || tree.get("scenario").is_some_and(|v| v.is_str()) {
        if !sets.is_empty() {
            return Err(Failure::Usage(
                "--set applies to scenario files; a sweep file takes overrides in its `set` list"
                    .into(),
            ));
        }
        let sw = cascade_sim::sweep::load_sweep(path).map_err(Failure::Config)?;
        let est = cascade_sim::bounds::check_sweep(&sw, budget::threads_of(threads), budget)
            .map_err(Failure::Config)?;
        println!(
            "{}: ok: sweep \"{}\", {} point(s) x {} run(s) over {}, seed {}, every point's scenario valid",
            path.display(),
            sw.name,
            sw.points.len(),
            sw.spec.runs,
            sw.axes.join(", "),
            sw.spec.seed
        );
        println!("  {}", budget::describe(&est, budget));
        return Ok(());
    }
    let s = load_scenario(path, sets).map_err(Failure::Config)?;
    let c = &s.config;
    let job = Job::Run {
        runs: c.run.runs,
        runs_key: "run.runs".into(),
        threads: budget::threads_of(threads),
        trace: false,
    };
    let est = estimate(c, &job);
    check(path, &est, budget).map_err(Failure::Config)?;
    println!(
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
    );
    println!("  {}", budget::describe(&est, budget));
    Ok(())
}
