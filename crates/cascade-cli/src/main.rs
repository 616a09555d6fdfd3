//! The `cascade` command line.
//!
//! A thin layer over cascade-sim: it parses arguments, turns configuration problems into
//! messages that name the file, the key and the rule (exit code 2, nothing written), and writes
//! outputs atomically.

use anyhow::Context;
use cascade_sim::fsutil::AtomicFile;
use cascade_sim::load::{ConfigError, load_scenario};
use cascade_sim::metrics::METRICS;
use cascade_sim::runner::run_many;
use cascade_sim::summary::{render_table, summarize};
use cascade_sim::trace;
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "cascade",
    version,
    about = "Agent-based Monte Carlo simulation of margin-engine failures",
    long_about = "cascade simulates margin engines, venues, oracles, a gas market and profit-seeking agents block by block, over many seeded runs, to measure liquidation cascades and bad debt."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario's seeded runs and print a summary of their metrics.
    Run {
        /// The scenario file (TOML).
        scenario: PathBuf,
        /// Number of runs (default: the scenario's run.runs).
        #[arg(long)]
        runs: Option<u64>,
        /// Master seed (default: the scenario's run.seed).
        #[arg(long)]
        seed: Option<u64>,
        /// Override a configuration key, e.g. --set gas.congestion_beta=0.3 (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Directory for the outputs (runs.csv, summary.csv, trace.csv); default with --trace:
        /// results/<scenario name>.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write the per-block path of every run to <out>/trace.csv.
        #[arg(long)]
        trace: bool,
        /// Overwrite existing output files.
        #[arg(long)]
        force: bool,
        /// Worker threads (default: one per core). Results do not depend on it.
        #[arg(long, default_value_t = 0)]
        threads: usize,
    },
    /// Check a scenario file and report every problem, without running anything.
    Validate {
        /// The configuration file (TOML).
        config: PathBuf,
        /// Overrides to check as well (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
    },
}

/// A failure with its exit code.
enum Failure {
    Config(ConfigError),
    Usage(String),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Other(e)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.command {
        Command::Run {
            scenario,
            runs,
            seed,
            sets,
            out,
            trace,
            force,
            threads,
        } => cmd_run(&scenario, runs, seed, &sets, out, trace, force, threads),
        Command::Validate { config, sets } => cmd_validate(&config, &sets),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Config(e)) => {
            eprint!("error: {e}");
            ExitCode::from(2)
        }
        Err(Failure::Usage(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(2)
        }
        Err(Failure::Other(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn cmd_validate(path: &Path, sets: &[String]) -> Result<(), Failure> {
    let s = load_scenario(path, sets).map_err(Failure::Config)?;
    let c = &s.config;
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
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn cmd_run(
    path: &Path,
    runs: Option<u64>,
    seed: Option<u64>,
    sets: &[String],
    out: Option<PathBuf>,
    want_trace: bool,
    force: bool,
    threads: usize,
) -> Result<(), Failure> {
    let scenario = load_scenario(path, sets).map_err(Failure::Config)?;
    let cfg = &scenario.config;
    let runs = runs.unwrap_or(cfg.run.runs);
    if runs == 0 {
        return Err(Failure::Usage("--runs must be at least 1".into()));
    }
    let seed = seed.unwrap_or(cfg.run.seed);
    let out_dir = match (&out, want_trace) {
        (Some(d), _) => Some(d.clone()),
        (None, true) => Some(PathBuf::from("results").join(&cfg.name)),
        (None, false) => None,
    };
    let mut files = Vec::new();
    if let Some(d) = &out_dir {
        files.push(d.join("runs.csv"));
        files.push(d.join("summary.csv"));
        if want_trace {
            files.push(d.join("trace.csv"));
        }
        if !force && let Some(f) = files.iter().find(|f| f.exists()) {
            return Err(Failure::Usage(format!(
                "{} already exists; pass --force to overwrite, or choose another --out",
                f.display()
            )));
        }
    }
    eprintln!(
        "running \"{}\": {} run(s) of {} blocks, seed {}",
        cfg.name,
        runs,
        cfg.chain.blocks(),
        seed
    );
    let mut trace_file = match (&out_dir, want_trace) {
        (Some(d), true) => {
            let mut f = AtomicFile::create(&d.join("trace.csv"))
                .with_context(|| format!("cannot create {}", d.display()))?;
            trace::write_header(&mut f, cfg).context("writing trace.csv")?;
            Some(f)
        }
        _ => None,
    };
    let started = std::time::Instant::now();
    let mut io_err = None;
    let outputs = run_many(&scenario, seed, runs, want_trace, threads, |o| {
        if let (Some(f), Some(tr)) = (trace_file.as_mut(), o.trace.as_ref())
            && let Err(e) = trace::write_run(f, o.run, tr)
        {
            io_err.get_or_insert(e);
        }
        if runs >= 10 && (o.run + 1) % (runs / 10).max(1) == 0 {
            eprintln!("  {}/{} runs", o.run + 1, runs);
        }
    })
    .map_err(|e| Failure::Other(anyhow::anyhow!(e)))?;
    if let Some(e) = io_err {
        return Err(Failure::Other(
            anyhow::Error::new(e).context("writing trace.csv"),
        ));
    }
    let rows: Vec<_> = outputs.iter().map(|o| o.row.clone()).collect();
    println!(
        "scenario \"{}\": {} run(s), seed {}, {:.1} s",
        cfg.name,
        runs,
        seed,
        started.elapsed().as_secs_f64()
    );
    print!("{}", render_table(&rows));
    if let Some(d) = &out_dir {
        let mut w = AtomicFile::create(&d.join("runs.csv")).context("creating runs.csv")?;
        {
            let mut c = csv::Writer::from_writer(&mut w);
            let mut h = vec!["run".to_string()];
            h.extend(METRICS.iter().map(|m| m.name.to_string()));
            c.write_record(&h).context("writing runs.csv")?;
            for o in &outputs {
                let mut r = vec![o.run.to_string()];
                r.extend(o.row.0.iter().map(|v| v.to_string()));
                c.write_record(&r).context("writing runs.csv")?;
            }
            c.flush().context("writing runs.csv")?;
        }
        w.commit().context("writing runs.csv")?;
        let mut w = AtomicFile::create(&d.join("summary.csv")).context("creating summary.csv")?;
        writeln!(w, "metric,unit,mean,std_err,p50,p95,min,max").context("writing summary.csv")?;
        for (name, kind, s) in summarize(&rows) {
            writeln!(
                w,
                "{name},{},{},{},{},{},{},{}",
                kind.unit(),
                s.mean,
                s.se,
                s.p50,
                s.p95,
                s.min,
                s.max
            )
            .context("writing summary.csv")?;
        }
        w.commit().context("writing summary.csv")?;
        if let Some(f) = trace_file.take() {
            f.commit().context("writing trace.csv")?;
        }
        println!(
            "wrote {}",
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}
