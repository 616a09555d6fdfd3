//! Running a scenario's seeded runs.
//!
//! Run `r` uses seed `derive(master_seed, r)`; its metrics depend on nothing else, so the rows
//! are the same whichever order or thread computes them.

use crate::load::Scenario;
use crate::metrics::MetricRow;
use crate::world::{BlockRecord, World};

/// One finished run.
#[derive(Debug, Clone)]
pub struct RunOutput {
    pub run: u64,
    pub row: MetricRow,
    pub trace: Option<Vec<BlockRecord>>,
}

/// Simulate run `run` of `scenario` under `master_seed`.
pub fn run_one(
    scenario: &Scenario,
    master_seed: u64,
    run: u64,
    trace: bool,
) -> Result<RunOutput, String> {
    let mut w = World::new(scenario, master_seed, run).map_err(|e| e.to_string())?;
    if trace {
        w.enable_trace();
    }
    let row = w.run()?;
    Ok(RunOutput {
        run,
        row,
        trace: trace.then(|| w.take_trace()),
    })
}

/// Simulate runs `0..runs` in order, calling `each` after every run.
pub fn run_many(
    scenario: &Scenario,
    master_seed: u64,
    runs: u64,
    trace: bool,
    mut each: impl FnMut(&RunOutput),
) -> Result<Vec<RunOutput>, String> {
    let mut out = Vec::with_capacity(runs as usize);
    for r in 0..runs {
        let o = run_one(scenario, master_seed, r, trace)?;
        each(&o);
        out.push(o);
    }
    Ok(out)
}
