//! The Python package `cascade` over the Rust crates.
//!
//! Researchers who work in Python, pandas and Jupyter get the simulator without a subprocess:
//! `cascade.run`, `cascade.sweep`, `cascade.load`, `cascade.replay` and `cascade.validate`
//! (python/cascade/__init__.py) call the same cascade-sim functions as the `cascade` binary, so
//! every number is the CLI's, bit for bit. This crate's Rust part turns results into columnar
//! [`frame::Frame`]s (typed columns with clean names, units and the original keys), which the
//! bindings (`native`, feature `python`) hand to Python as little-endian buffers; the wrapper
//! builds pyarrow Tables from them and pandas DataFrames from those.
//!
//! Without the `python` feature the crate has no Python dependency at all: `cargo test
//! --workspace` and `cargo clippy --workspace` build and test the table builders only.

pub mod check;
pub mod frame;
pub mod names;
pub mod sweep;
pub mod tables;

#[cfg(feature = "python")]
mod native;

/// The git commit this library was built from, for manifests.
pub const GIT_COMMIT: &str = env!("CASCADE_GIT_COMMIT");

/// Why a call failed, by the Python exception it becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// A configuration that cannot be used (`cascade.ConfigError`): the CLI's message.
    Config(cascade_sim::ConfigError),
    /// A request that cannot be done, e.g. an output directory that holds other files
    /// (`cascade.UsageError`).
    Usage(String),
    /// A store that cannot be read or written (`cascade.StoreError`).
    Store(cascade_sim::store::StoreError),
    /// A run that failed (a bug; `RuntimeError`).
    Run(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // The CLI prints `error: ` and this text (its lines end in a newline).
            Failure::Config(e) => write!(f, "{}", e.to_string().trim_end()),
            Failure::Usage(m) | Failure::Run(m) => write!(f, "{m}"),
            Failure::Store(e) => write!(f, "{e}"),
        }
    }
}

impl From<cascade_sim::ConfigError> for Failure {
    fn from(e: cascade_sim::ConfigError) -> Self {
        Failure::Config(e)
    }
}

impl From<cascade_sim::store::StoreError> for Failure {
    fn from(e: cascade_sim::store::StoreError) -> Self {
        Failure::Store(e)
    }
}

impl From<cascade_sim::experiment::SweepError> for Failure {
    fn from(e: cascade_sim::experiment::SweepError) -> Self {
        use cascade_sim::experiment::SweepError as E;
        match e {
            E::Usage(m) => Failure::Usage(m),
            E::Store(e) => Failure::Store(e),
            E::Run(m) => Failure::Run(m),
        }
    }
}

/// No memory bound (Python callers manage their machine); the work bound still applies.
pub fn unbounded() -> cascade_sim::bounds::Budget {
    cascade_sim::bounds::Budget {
        bytes: None,
        source: "no memory bound from Python".into(),
    }
}

/// Threads for estimates: `threads`, or one per core when 0.
pub fn threads_of(threads: usize) -> u64 {
    if threads > 0 {
        threads as u64
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get() as u64)
    }
}

/// Run a scenario's runs as `cascade run` does: load with overrides, check sizes, run.
/// Returns the scenario's name, the seed used and the runs table.
pub fn run_scenario(
    path: &std::path::Path,
    runs: Option<u64>,
    seed: Option<u64>,
    sets: &[String],
    threads: usize,
) -> Result<(String, u64, frame::Frame), Failure> {
    use cascade_sim::bounds::{Job, check, estimate};
    let scenario = cascade_sim::load_scenario(path, sets)?;
    let cfg = &scenario.config;
    let runs_key = if runs.is_some() { "runs" } else { "run.runs" };
    let runs = runs.unwrap_or(cfg.run.runs);
    if runs == 0 {
        return Err(Failure::Usage("runs must be at least 1".into()));
    }
    let job = Job::Run {
        runs,
        runs_key: runs_key.into(),
        threads: threads_of(threads),
        trace: false,
    };
    check(path, &estimate(cfg, &job), &unbounded())?;
    let seed = seed.unwrap_or(cfg.run.seed);
    let outputs = cascade_sim::runner::run_many(&scenario, seed, runs, false, threads, |_| {})
        .map_err(Failure::Run)?;
    Ok((cfg.name.clone(), seed, tables::run_frame(&outputs, seed)))
}
