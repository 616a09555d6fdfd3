//! Running a scenario's seeded runs, in parallel.
//!
//! Run `r` uses seed `derive(master_seed, r)`; its metrics depend on nothing else, so the rows
//! are the same whichever order or thread computes them. Runs are computed on a rayon pool in
//! batches of a few per thread; each batch is collected in run order and handed to the caller
//! in that order, so outputs are byte-identical for any thread count and memory stays bounded
//! by the batch (traces included). A scenario with `metrics.counterfactual = "twin"` runs each
//! run's twin right after it, on the same thread ([`add_twin`]).

use crate::config::Counterfactual;
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
    let mut row = w.run()?;
    add_twin(scenario, master_seed, run, &mut row)?;
    Ok(RunOutput {
        run,
        row,
        trace: trace.then(|| w.take_trace()),
    })
}

/// With `metrics.counterfactual = "twin"`, run `run`'s twin (same scenario and seeds, the
/// liquidations' market flow switched off) and fill `row`'s `*_vs_twin` metrics; otherwise
/// leave them NaN. The twin runs on the caller's thread right after its run, so rows stay a
/// function of (scenario, seed, run) whatever the thread count.
pub fn add_twin(
    scenario: &Scenario,
    master_seed: u64,
    run: u64,
    row: &mut MetricRow,
) -> Result<(), String> {
    if scenario.config.metrics.counterfactual != Counterfactual::Twin {
        return Ok(());
    }
    let mut twin = World::new(scenario, master_seed, run).map_err(|e| e.to_string())?;
    twin.switch_off_forced_flow();
    let t = twin
        .run()
        .map_err(|e| format!("the twin of run {run}: {e}"))?;
    row.set_twin(&t);
    Ok(())
}

/// Simulate runs `0..runs` on `threads` threads (0: one per core), calling `each` for every
/// run in run order. Returns the outputs in run order, traces dropped after `each` has seen
/// them. The first failing run (in run order) stops the whole and is returned.
pub fn run_many(
    scenario: &Scenario,
    master_seed: u64,
    runs: u64,
    trace: bool,
    threads: usize,
    mut each: impl FnMut(&RunOutput),
) -> Result<Vec<RunOutput>, String> {
    use rayon::prelude::*;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| format!("cannot start {threads} worker threads: {e}"))?;
    let batch = (pool.current_num_threads() as u64 * 4).max(1);
    let mut out = Vec::with_capacity(runs as usize);
    let mut start = 0;
    while start < runs {
        let end = (start + batch).min(runs);
        let done: Vec<Result<RunOutput, String>> = pool.install(|| {
            (start..end)
                .into_par_iter()
                .map(|r| run_one(scenario, master_seed, r, trace))
                .collect()
        });
        for o in done {
            let mut o = o?;
            each(&o);
            o.trace = None;
            out.push(o);
        }
        start = end;
    }
    Ok(out)
}
