//! The `cascade` command line.
//!
//! A thin layer over cascade-sim: it parses arguments, turns configuration problems into
//! messages that name the file, the key and the rule (exit code 2, nothing written), and writes
//! outputs atomically.

mod budget;
mod cluster;
mod run;

use anyhow::Context;
use cascade_sim::fsutil::AtomicFile;
use cascade_sim::load::{ConfigError, load_scenario};
use cascade_sim::metrics::METRICS;
use cascade_sim::trace;
use clap::{Parser, Subcommand};
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
        /// Memory the command may use (bytes, or with K, M, G, T); default: the available
        /// memory (MemAvailable). A configuration whose estimate exceeds it is refused (exit 2).
        #[arg(long, value_name = "BYTES")]
        max_memory: Option<String>,
    },
    /// Run a parameter sweep (many seeded runs per point, in parallel) into a result store.
    Sweep {
        /// The sweep file (TOML): base scenario, runs, seed and [[axis]] tables.
        sweep: PathBuf,
        /// The result directory (default: results/<sweep name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Finish an interrupted sweep in the same directory, keeping its finished points.
        #[arg(long)]
        resume: bool,
        /// Replace existing results in the directory.
        #[arg(long, conflicts_with = "resume")]
        force: bool,
        /// Worker threads (default: SLURM_CPUS_PER_TASK under Slurm, else one per core).
        /// Results do not depend on it.
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// Compute only shard I of N (0-based) of the sweep's (point, run) pairs into a shard
        /// store (join them with `cascade merge`). Under a Slurm job array the default is
        /// SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT.
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
        /// The shard count when the index comes from the environment: JOB_COMPLETION_INDEX
        /// (Kubernetes Indexed Jobs) or SLURM_ARRAY_TASK_ID.
        #[arg(long, value_name = "N")]
        shard_count: Option<u64>,
        /// Memory the command may use (bytes, or with K, M, G, T); default: the available
        /// memory (MemAvailable). A configuration whose estimate exceeds it is refused (exit 2).
        #[arg(long, value_name = "BYTES")]
        max_memory: Option<String>,
    },
    /// Join the shard stores of a sweep (`cascade sweep --shard I/N`) into one result store.
    Merge {
        /// Every shard store of the sweep, in any order.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// The merged result directory.
        #[arg(long)]
        out: PathBuf,
        /// Replace existing results in the output directory (only the data a merge writes:
        /// charts, the report, exports and files of your own stay).
        #[arg(long)]
        force: bool,
        /// Then write the charts and report.html of the merged store, as `cascade report`.
        #[arg(long)]
        report: bool,
    },
    /// Print an sbatch script that runs a sweep as a Slurm job array plus a dependent merge job.
    Slurm {
        /// The sweep file.
        sweep: PathBuf,
        /// Array tasks (shards).
        #[arg(long)]
        tasks: u64,
        /// Slurm partition.
        #[arg(long)]
        partition: Option<String>,
        /// Time limit per task (Slurm syntax, e.g. 02:00:00).
        #[arg(long)]
        time: Option<String>,
        /// CPUs per task (each task runs that many worker threads).
        #[arg(long, default_value_t = 1)]
        cpus_per_task: u64,
        /// The merged result directory (default: results/<sweep name>); shards go to
        /// <out>.shards/.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Slurm account to charge (both jobs).
        #[arg(long)]
        account: Option<String>,
        /// Slurm quality of service (both jobs).
        #[arg(long)]
        qos: Option<String>,
        /// Memory per task (Slurm syntax, e.g. 4G; both jobs).
        #[arg(long)]
        mem: Option<String>,
        /// A shell line to run before cascade in every job, e.g. `module load gcc`
        /// (repeatable; in order).
        #[arg(long = "setup", value_name = "LINE")]
        setup: Vec<String>,
    },
    /// Re-run one stored run, check it reproduces its stored row, and write its event trace.
    Replay {
        /// A result directory written by `cascade sweep`.
        results: PathBuf,
        /// The point index.
        #[arg(long)]
        point: u64,
        /// The run index within the point.
        #[arg(long)]
        run: u64,
        /// The event trace CSV (default: <results>/replays/p<P>-r<R>-events.csv; the per-block
        /// path goes beside it as ...-path.csv).
        #[arg(long)]
        trace_out: Option<PathBuf>,
        /// Memory the command may use (bytes, or with K, M, G, T); default: the available
        /// memory (MemAvailable). A configuration whose estimate exceeds it is refused (exit 2).
        #[arg(long, value_name = "BYTES")]
        max_memory: Option<String>,
    },
    /// Export a result store as tables (runs and points) for pandas, R or a spreadsheet.
    Export {
        /// A result directory written by `cascade sweep`.
        results: PathBuf,
        /// csv or json.
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// Output directory (default: <results>/export).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Draw a chart of a result store (PNG and SVG, into <results>/charts/ by default).
    Plot {
        /// A result directory written by `cascade sweep`.
        results: PathBuf,
        /// line: a metric against --x, one line per value of --by, 95% band; heatmap: a metric
        /// over --x and --by; ccdf: per-run loss tails at --points; path: one run (--point,
        /// --run) replayed; generations: the `scenario` axis side by side on the same shocks.
        #[arg(long, value_enum, default_value = "line")]
        kind: PlotKindArg,
        /// The x axis (a sweep key; default: the first axis).
        #[arg(long)]
        x: Option<String>,
        /// The metric (default: has_cascade, charted as cascade frequency; boolean metrics
        /// are charted as rates).
        #[arg(long)]
        y: Option<String>,
        /// One line (line) or one row (heatmap) per value of this axis (default: the first
        /// other axis; `none` for a single line).
        #[arg(long)]
        by: Option<String>,
        /// Hold an axis the chart does not show at a value (repeatable; default: its first).
        #[arg(long = "at", value_name = "KEY=VALUE")]
        at: Vec<String>,
        /// Points for --kind ccdf, comma-separated (default: up to six spread over the sweep).
        #[arg(long, value_delimiter = ',')]
        points: Vec<u64>,
        /// The point for --kind path.
        #[arg(long)]
        point: Option<u64>,
        /// The run for --kind path (and the path shown by --kind generations).
        #[arg(long)]
        run: Option<u64>,
        /// Output: a file stem (both formats), or a path ending in .png or .svg (that format
        /// only). Default: <results>/charts/<kind>_<metric>_<axes>.{png,svg}.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write <results>/report.html: the manifest, the axes, every default chart and the
    /// aggregate table on one self-contained page (charts also go to <results>/charts/).
    Report {
        /// A result directory written by `cascade sweep`.
        results: PathBuf,
    },
    /// Check a scenario or sweep file (every point of a sweep) and report every problem,
    /// without running anything.
    Validate {
        /// The scenario or sweep file (TOML).
        config: PathBuf,
        /// Overrides to check as well (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Worker threads the estimate assumes (default: one per core).
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// Memory the command may use (bytes, or with K, M, G, T); default: the available
        /// memory (MemAvailable). A configuration whose estimate exceeds it is refused (exit 2).
        #[arg(long, value_name = "BYTES")]
        max_memory: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum PlotKindArg {
    Line,
    Heatmap,
    Ccdf,
    Path,
    Generations,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum ExportFormat {
    Csv,
    Json,
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
            max_memory,
        } => budget::budget(max_memory.as_deref())
            .map_err(Failure::Usage)
            .and_then(|b| {
                run::cmd_run(&scenario, runs, seed, &sets, out, trace, force, threads, &b)
            }),
        Command::Sweep {
            sweep,
            out,
            resume,
            force,
            threads,
            shard,
            shard_count,
            max_memory,
        } => budget::budget(max_memory.as_deref())
            .map_err(Failure::Usage)
            .and_then(|b| {
                cluster::resolve_shard(shard.as_deref(), shard_count, |k| std::env::var(k).ok())
                    .and_then(|sh| cmd_sweep(&sweep, out, resume, force, threads, sh, &b))
            }),
        Command::Merge {
            shards,
            out,
            force,
            report,
        } => cluster::cmd_merge(&shards, &out, force, report),
        Command::Slurm {
            sweep,
            tasks,
            partition,
            time,
            cpus_per_task,
            out,
            account,
            qos,
            mem,
            setup,
        } => cluster::cmd_slurm(&cluster::SlurmArgs {
            sweep: &sweep,
            tasks,
            partition: partition.as_deref(),
            time: time.as_deref(),
            cpus_per_task,
            out: out.as_deref(),
            account: account.as_deref(),
            qos: qos.as_deref(),
            mem: mem.as_deref(),
            setup: &setup,
        }),
        Command::Replay {
            results,
            point,
            run,
            trace_out,
            max_memory,
        } => budget::budget(max_memory.as_deref())
            .map_err(Failure::Usage)
            .and_then(|b| cmd_replay(&results, point, run, trace_out, &b)),
        Command::Export {
            results,
            format,
            out,
        } => cmd_export(&results, format, out),
        Command::Plot {
            results,
            kind,
            x,
            y,
            by,
            at,
            points,
            point,
            run,
            out,
        } => cmd_plot(
            &results,
            kind,
            PlotArgs {
                x,
                y,
                by,
                at,
                points,
                point,
                run,
            },
            out,
        ),
        Command::Report { results } => cmd_report(&results),
        Command::Validate {
            config,
            sets,
            threads,
            max_memory,
        } => budget::budget(max_memory.as_deref())
            .map_err(Failure::Usage)
            .and_then(|b| cmd_validate(&config, &sets, threads, &b)),
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

fn cmd_validate(
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

/// The command line as typed, for the manifest.
fn invocation(threads: usize) -> cascade_sim::store::Invocation {
    cascade_sim::store::Invocation {
        command_line: std::env::args().collect(),
        git_commit: env!("CASCADE_GIT_COMMIT").to_string(),
        threads: if threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            threads
        },
    }
}

/// Progress on stderr: a bar with ETA on a terminal, plain lines (every 10% or 30 s) otherwise.
struct ProgressOut {
    bar: Option<indicatif::ProgressBar>,
    started: std::time::Instant,
    last_line: Option<std::time::Instant>,
    last_tenth: u64,
}

impl ProgressOut {
    fn new(total: u64) -> ProgressOut {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new(total);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:40}] {pos}/{len} runs, {msg} (ETA {eta})",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            b
        });
        ProgressOut {
            bar,
            started: std::time::Instant::now(),
            last_line: None,
            last_tenth: 0,
        }
    }

    fn update(&mut self, p: cascade_sim::experiment::Progress) {
        if let Some(b) = &self.bar {
            b.set_position(p.runs_done);
            b.set_message(format!("{}/{} points", p.points_done, p.points_total));
            return;
        }
        let tenth = (p.runs_done * 10).checked_div(p.runs_total).unwrap_or(10);
        let now = std::time::Instant::now();
        let due = self
            .last_line
            .is_none_or(|t| now.duration_since(t).as_secs() >= 30);
        if tenth > self.last_tenth || due || p.runs_done == p.runs_total {
            let el = self.started.elapsed().as_secs_f64();
            let eta = if p.runs_done > 0 && p.runs_done < p.runs_total {
                format!(
                    ", ETA {:.0} s",
                    el / p.runs_done as f64 * (p.runs_total - p.runs_done) as f64
                )
            } else {
                String::new()
            };
            eprintln!(
                "progress: {}/{} runs, {}/{} points, {:.1} s{}",
                p.runs_done, p.runs_total, p.points_done, p.points_total, el, eta
            );
            self.last_tenth = tenth;
            self.last_line = Some(now);
        }
    }

    fn finish(self) {
        if let Some(b) = self.bar {
            b.finish_and_clear();
        }
    }
}

fn cmd_sweep(
    path: &Path,
    out: Option<PathBuf>,
    resume: bool,
    force: bool,
    threads: usize,
    shard: Option<(u64, u64)>,
    budget: &cascade_sim::bounds::Budget,
) -> Result<(), Failure> {
    use cascade_sim::experiment::{SweepError, SweepOptions, lock_for_sweep, run_sweep_locked};
    let sweep = cascade_sim::sweep::load_sweep(path).map_err(Failure::Config)?;
    let dir = out.unwrap_or_else(|| match shard {
        Some((i, n)) => cluster::shard_dir(&sweep.name, i, n),
        None => PathBuf::from("results").join(&sweep.name),
    });
    // Under Slurm, use the CPUs the task was given rather than every core of the node.
    let threads = match (threads, std::env::var("SLURM_CPUS_PER_TASK").ok()) {
        (0, Some(c)) => c.trim().parse().unwrap_or(0),
        (t, _) => t,
    };
    // Sizes are checked before the store is created or locked: a refused sweep leaves nothing.
    cascade_sim::bounds::check_sweep(&sweep, budget::threads_of(threads), budget)
        .map_err(Failure::Config)?;
    let runs_total = match shard {
        Some((i, n)) => {
            let pairs = sweep.points.len() as u64 * sweep.spec.runs;
            let s = cascade_sim::store::ShardInfo::new(i, n, pairs);
            s.end_pair - s.first_pair
        }
        None => sweep.points.len() as u64 * sweep.spec.runs,
    };
    if let Some((i, n)) = shard {
        eprintln!("shard {i}/{n}: {runs_total} of the sweep's (point, run) pairs");
    }
    eprintln!(
        "sweep \"{}\": {} point(s) x {} run(s) over {} -> {}",
        sweep.name,
        sweep.points.len(),
        sweep.spec.runs,
        sweep.axes.join(", "),
        dir.display()
    );
    let usage = |e: SweepError| match e {
        SweepError::Usage(m) => Failure::Usage(m),
        other => Failure::Other(anyhow::anyhow!(other)),
    };
    // The store's lock, held through the report: one writer at a time.
    let lock = lock_for_sweep(&dir, &invocation(threads)).map_err(usage)?;
    let started = std::time::Instant::now();
    let mut progress = ProgressOut::new(runs_total);
    let r = run_sweep_locked(
        &sweep,
        &dir,
        &lock,
        &invocation(threads),
        SweepOptions {
            threads,
            resume,
            force,
            shard,
        },
        |p| progress.update(p),
    );
    progress.finish();
    let report = r.map_err(usage)?;
    for d in &report.discarded {
        eprintln!("note: {d}; recomputed");
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "sweep \"{}\": {} point(s) x {} run(s) in {:.1} s ({} run(s) computed{}, {:.1} runs/s)",
        sweep.name,
        report.points,
        sweep.spec.runs,
        secs,
        report.runs_computed,
        if report.points_kept > 0 {
            format!(", {} point(s) kept from before", report.points_kept)
        } else {
            String::new()
        },
        report.runs_computed as f64 / secs.max(1e-9)
    );
    if let Some((i, n)) = shard {
        println!(
            "wrote shard {i}/{n} to {}; when every shard is done: cascade merge <the {n} shard dirs> --out <dir>",
            dir.display()
        );
        return Ok(());
    }
    // A short table of the headline figures per point.
    let store = cascade_sim::store::Store::open(&dir)
        .map_err(|e| Failure::Other(e.into()))?
        .with_lock(std::sync::Arc::new(lock));
    let pf = store
        .labelled_points_file()
        .map_err(|e| Failure::Other(e.into()))?;
    print!(
        "{}",
        cascade_sim::summary::render_points(&pf, &["has_cascade", "bad_debt", "liquidations"])
    );
    for w in cascade_sim::summary::dead_market_point_warnings(&pf) {
        eprintln!("warning: {w}");
    }
    println!("wrote {}", dir.display());
    // The default charts and report.html.
    let out = cascade_report::write_report(&store).map_err(|e| {
        let msg = format!(
            "the sweep is complete in {}, but its charts failed: {e}; retry with `cascade report {}`",
            dir.display(),
            dir.display()
        );
        match e {
            // A file in the way that the store did not write: the user's to move (exit 2).
            cascade_report::ReportError::Store(_) => Failure::Usage(msg),
            _ => Failure::Other(anyhow::anyhow!(msg)),
        }
    })?;
    println!(
        "wrote {} and {} chart file(s) in {}",
        out.html.display(),
        out.charts.len(),
        dir.join("charts").display()
    );
    Ok(())
}

fn open_store(dir: &Path) -> Result<cascade_sim::store::Store, Failure> {
    cascade_sim::store::Store::open(dir).map_err(|e| Failure::Usage(e.to_string()))
}

/// A store for a command that writes `outputs`: holding its lock when one lies inside it.
fn open_store_for(dir: &Path, outputs: &[PathBuf]) -> Result<cascade_sim::store::Store, Failure> {
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    cascade_sim::store::Store::open_for(dir, outputs, &command)
        .map_err(|e| Failure::Usage(e.to_string()))
}

fn cmd_replay(
    dir: &Path,
    point: u64,
    run: u64,
    trace_out: Option<PathBuf>,
    budget: &cascade_sim::bounds::Budget,
) -> Result<(), Failure> {
    let store = open_store(dir)?;
    let m = &store.manifest;
    if point >= store.points() {
        return Err(Failure::Usage(format!(
            "--point {point}: {} has points 0 to {}",
            dir.display(),
            store.points().saturating_sub(1)
        )));
    }
    if run >= m.runs {
        return Err(Failure::Usage(format!(
            "--run {run}: {} has runs 0 to {} per point",
            dir.display(),
            m.runs.saturating_sub(1)
        )));
    }
    let stored = store
        .row(point, run)
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let scenario = store.point_scenario(point).map_err(Failure::Config)?;
    let est = cascade_sim::bounds::estimate(&scenario.config, &cascade_sim::bounds::Job::Replay);
    cascade_sim::bounds::check(&scenario.source, &est, budget).map_err(Failure::Config)?;
    let events_path = trace_out.unwrap_or_else(|| {
        dir.join("replays")
            .join(format!("p{point}-r{run}-events.csv"))
    });
    let path_path = {
        let stem = events_path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stem = stem.strip_suffix("-events").unwrap_or(&stem).to_string();
        events_path.with_file_name(format!("{stem}-path.csv"))
    };
    // Into the store (the default replays/), both are listed in its manifest, under its lock.
    let outputs = [events_path.clone(), path_path.clone()];
    let writer = open_store_for(dir, &outputs)?;
    writer
        .claim(&outputs)
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let mut w = cascade_sim::World::new(&scenario, m.seed, run)
        .map_err(|e| Failure::Other(anyhow::anyhow!(e)))?;
    w.enable_trace();
    w.enable_events();
    let mut ev = AtomicFile::create(&events_path)
        .with_context(|| format!("cannot create {}", events_path.display()))?;
    cascade_sim::events::write_header(&mut ev).context("writing the event trace")?;
    let mut n_events = 0usize;
    while w.running() {
        w.step().map_err(|e| Failure::Other(anyhow::anyhow!(e)))?;
        let events = w.drain_events();
        n_events += events.len();
        cascade_sim::events::write_events(&mut ev, &w.event_labels(), &events)
            .context("writing the event trace")?;
    }
    let mut row = w.metrics();
    // With metrics.counterfactual = "twin", the stored row holds the twin comparisons too.
    cascade_sim::runner::add_twin(&scenario, m.seed, run, &mut row)
        .map_err(|e| Failure::Other(anyhow::anyhow!(e)))?;
    let mut pf = AtomicFile::create(&path_path)
        .with_context(|| format!("cannot create {}", path_path.display()))?;
    trace::write_header(&mut pf, &scenario.config).context("writing the path")?;
    trace::write_run(&mut pf, run, &w.take_trace()).context("writing the path")?;
    let same = row.0.len() == stored.0.len()
        && row
            .0
            .iter()
            .zip(&stored.0)
            .all(|(a, b)| a.to_bits() == b.to_bits());
    if !same {
        let diffs: Vec<String> = METRICS
            .iter()
            .zip(row.0.iter().zip(&stored.0))
            .filter(|(_, (a, b))| a.to_bits() != b.to_bits())
            .map(|(d, (a, b))| format!("{}: replayed {a}, stored {b}", d.name))
            .collect();
        return Err(Failure::Other(anyhow::anyhow!(
            "replay of point {point}, run {run} does not reproduce the stored row (was the store written by another cascade version?):\n  {}",
            diffs.join("\n  ")
        )));
    }
    ev.commit().context("writing the event trace")?;
    pf.commit().context("writing the path")?;
    let params = m
        .axes
        .iter()
        .zip(m.point_params(point).unwrap_or_default())
        .map(|(k, v)| format!("{k} = {}", v.label()))
        .collect::<Vec<_>>()
        .join(", ");
    println!(
        "replayed point {point} ({params}), run {run}, seed {}: the {} metrics equal the stored row bit for bit",
        m.seed,
        METRICS.len()
    );
    for key in [
        "liquidations",
        "bad_debt",
        "has_cascade",
        "cascade_amplification",
        "max_drawdown",
    ] {
        if let Some(v) = row.get(key) {
            println!("  {key} = {v}");
        }
    }
    println!(
        "wrote {} ({n_events} events) and {}",
        events_path.display(),
        path_path.display()
    );
    Ok(())
}

fn cmd_export(dir: &Path, format: ExportFormat, out: Option<PathBuf>) -> Result<(), Failure> {
    use cascade_sim::export::{Format, export};
    let out = out.unwrap_or_else(|| dir.join("export"));
    let format = match format {
        ExportFormat::Csv => Format::Csv,
        ExportFormat::Json => Format::Json,
    };
    let store = open_store_for(
        dir,
        &[
            out.join(format!("runs.{}", format.ext())),
            out.join(format!("points.{}", format.ext())),
        ],
    )?;
    let files = export(&store, &out, format).map_err(|e| Failure::Usage(e.to_string()))?;
    print_wrote(&files);
    Ok(())
}

/// A chart or report failure with its exit code: requests the results cannot answer and
/// damaged stores are usage errors (2).
fn report_failure(e: cascade_report::ReportError) -> Failure {
    use cascade_report::ReportError as E;
    match e {
        E::Invalid(m) => Failure::Usage(m),
        E::Store(e) => Failure::Usage(e.to_string()),
        E::Config(e) => Failure::Config(e),
        other => Failure::Other(anyhow::anyhow!(other)),
    }
}

/// `cascade plot` options beside the kind and the output.
struct PlotArgs {
    x: Option<String>,
    y: Option<String>,
    by: Option<String>,
    at: Vec<String>,
    points: Vec<u64>,
    point: Option<u64>,
    run: Option<u64>,
}

fn cmd_plot(
    dir: &Path,
    kind: PlotKindArg,
    a: PlotArgs,
    out: Option<PathBuf>,
) -> Result<(), Failure> {
    use cascade_report::{Formats, PlotKind, PlotRequest};
    let store = open_store_for(
        dir,
        &[out
            .clone()
            .unwrap_or_else(|| dir.join("charts").join("chart"))],
    )?;
    let mut req = PlotRequest::new(match kind {
        PlotKindArg::Line => PlotKind::Line,
        PlotKindArg::Heatmap => PlotKind::Heatmap,
        PlotKindArg::Ccdf => PlotKind::Ccdf,
        PlotKindArg::Path => PlotKind::Path,
        PlotKindArg::Generations => PlotKind::Generations,
    });
    req.x = a.x;
    req.y = a.y;
    req.by = a.by;
    req.points = a.points;
    req.point = a.point;
    req.run = a.run;
    for kv in &a.at {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| Failure::Usage(format!("--at {kv}: expected KEY=VALUE")))?;
        req.at.push((k.trim().to_string(), v.trim().to_string()));
    }
    let (fig, stem) = cascade_report::build_figure(&store, &req).map_err(report_failure)?;
    let (stem, formats) = match out {
        Some(p) => match p.extension().and_then(|e| e.to_str()) {
            Some("png") => (
                p.with_extension(""),
                Formats {
                    png: true,
                    svg: false,
                },
            ),
            Some("svg") => (
                p.with_extension(""),
                Formats {
                    png: false,
                    svg: true,
                },
            ),
            _ => (p, Formats::BOTH),
        },
        None => (dir.join("charts").join(stem), Formats::BOTH),
    };
    store
        .claim(&cascade_report::render::figure_paths(&stem, formats))
        .map_err(|e| Failure::Usage(e.to_string()))?;
    let files = cascade_report::write_figure(&fig, &stem, formats).map_err(report_failure)?;
    print_wrote(&files);
    Ok(())
}

fn cmd_report(dir: &Path) -> Result<(), Failure> {
    let store = open_store_for(dir, &[dir.join("report.html")])?;
    let out = cascade_report::write_report(&store).map_err(report_failure)?;
    for s in &out.skipped {
        eprintln!("note: not drawn: {s}");
    }
    println!(
        "wrote {} and {} chart file(s) in {}",
        out.html.display(),
        out.charts.len(),
        dir.join("charts").display()
    );
    Ok(())
}

/// Print the files a command wrote, on one line.
pub(crate) fn print_wrote(files: &[PathBuf]) {
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    println!("wrote {}", names.join(", "));
}
