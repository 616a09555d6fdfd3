//! The `cascade` command line.
//!
//! A thin layer over cascade-sim: it parses arguments, turns configuration problems into
//! messages that name the file, the key and the rule (exit code 2, nothing written), and writes
//! outputs atomically.

mod budget;
mod cluster;
mod compare;
mod completions;
mod export;
mod info;
mod list;
mod replay;
mod run;
mod run_manifest;
mod sweep;
mod validate;

use cascade_sim::load::ConfigError;
use clap::{Parser, Subcommand};
// cluster.rs (the merge) records its invocation as a sweep does.
use std::path::{Path, PathBuf};
use std::process::ExitCode;
pub(crate) use sweep::invocation;

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
        /// Runs per point, replacing the sweep file's `runs` (recorded in the manifest).
        #[arg(long)]
        runs: Option<u64>,
        /// Override a key of every base scenario, after the sweep file's own `set` list, e.g.
        /// --set gas.congestion_beta=0.3 (repeatable; recorded in the manifest's `sweep.set`).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
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
        /// csv, json (wide tables, a metrics and a units sidecar) or parquet (wide and long
        /// tables; units and the manifest in the file metadata).
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// Output directory (default: <results>/export).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Read a running or interrupted sweep: the points complete so far, marked as partial
        /// in every output. While a sweep runs it holds the store's lock: write outside the
        /// store (--out).
        #[arg(long)]
        partial: bool,
    },
    /// Draw a chart of a result store (PNG and SVG, into <results>/plots/ by default; never
    /// into <results>/charts/, which holds the report's own figures).
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
        /// No shaded interval bands on line charts (lines and markers only).
        #[arg(long)]
        no_bands: bool,
        /// Small multiples: one panel per value of this axis (line, heatmap), on shared scales.
        #[arg(long, value_name = "KEY")]
        facet: Option<String>,
        /// The heatmap colour scale's low end (default: the smallest cell; rates: 0).
        #[arg(long, allow_hyphen_values = true)]
        vmin: Option<f64>,
        /// The heatmap colour scale's high end (default: the largest cell; rates: 1).
        #[arg(long, allow_hyphen_values = true)]
        vmax: Option<f64>,
        /// Figure width in layout pixels, 1/96 inch each (default: the chart's own, 1100 for
        /// most); the PNG has width x dpi/96 pixels.
        #[arg(long, value_parser = clap::value_parser!(u32).range(300..=8000))]
        width: Option<u32>,
        /// Figure height in layout pixels, 1/96 inch each (default: the chart's own).
        #[arg(long, value_parser = clap::value_parser!(u32).range(200..=8000))]
        height: Option<u32>,
        /// The PNG's resolution (default 96): the same figure with dpi/96 times the pixels
        /// each way, text, lines, markers and margins included, and the resolution stated in
        /// its pHYs chunk; `--width 672 --dpi 300` is 2100 pixels, 7 inches wide. The SVG is
        /// vector, at the layout size.
        #[arg(long, value_parser = clap::value_parser!(u32).range(36..=2400))]
        dpi: Option<u32>,
        /// Output: a file stem (both formats), or a path ending in .png or .svg (that format
        /// only); .pdf is refused (convert the SVG). Default:
        /// <results>/plots/<kind>_<metric>_<axes>.{png,svg}.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Read a running or interrupted sweep: the points complete so far, marked as partial
        /// in every output. While a sweep runs it holds the store's lock: write outside the
        /// store (--out).
        #[arg(long)]
        partial: bool,
    },
    /// Write <results>/report.html: the manifest, the axes, every default chart and the
    /// aggregate table on one self-contained page (charts also go to <results>/charts/).
    Report {
        /// A result directory written by `cascade sweep`.
        results: PathBuf,
        /// Write report.html and charts/ into this directory instead (default: <results>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Read a running or interrupted sweep: the points complete so far, marked as partial
        /// in every output. While a sweep runs it holds the store's lock: write outside the
        /// store (--out).
        #[arg(long)]
        partial: bool,
    },
    /// List the result directories under DIR (default: results): name, kind, status
    /// (complete, running, interrupted), points x runs, seed, start date and size.
    List {
        /// The directory to look in (its store, or the stores up to two levels below it).
        dir: Option<PathBuf>,
    },
    /// Describe one result directory: what was run (sweep, scenarios, axes, overrides, seed,
    /// version), how far it got and what it holds.
    Info {
        /// A result directory written by `cascade sweep` or `cascade run --out`.
        store: PathBuf,
    },
    /// Compare two result stores point by point: the difference B - A of each metric's mean
    /// with a 95% bootstrap interval, paired run by run when the stores share their seed
    /// (common random numbers), else unpaired (said in the output).
    Compare {
        /// The first store (A).
        a: PathBuf,
        /// The second store (B).
        b: PathBuf,
        /// Metrics to compare (repeatable; default: has_cascade, bad_debt, liquidations;
        /// `all` for every metric).
        #[arg(long = "metric", value_name = "NAME")]
        metrics: Vec<String>,
        /// Also write the table as CSV to this file (outside both stores).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print a shell completion script: `cascade completions bash > ~/.local/share/bash-completion/completions/cascade`,
    /// `cascade completions zsh > ~/.zfunc/_cascade`, `cascade completions fish > ~/.config/fish/completions/cascade.fish`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: completions::Shell,
    },
    /// Print the JSON Schema (draft 2020-12) of scenario or sweep files, for TOML editors
    /// (Taplo, Even Better TOML): `cascade schema scenario > cascade-scenario.schema.json`.
    Schema {
        /// Which file: scenario (default) or sweep.
        #[arg(value_enum, default_value = "scenario")]
        kind: SchemaArg,
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
enum SchemaArg {
    Scenario,
    Sweep,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum ExportFormat {
    Csv,
    Json,
    Parquet,
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
            runs,
            sets,
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
                    .and_then(|sh| {
                        sweep::cmd_sweep(&sweep, out, runs, &sets, resume, force, threads, sh, &b)
                    })
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
            .and_then(|b| replay::cmd_replay(&results, point, run, trace_out, &b)),
        Command::Export {
            results,
            format,
            out,
            partial,
        } => export::cmd_export(&results, format, out, partial),
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
            no_bands,
            facet,
            vmin,
            vmax,
            width,
            height,
            dpi,
            out,
            partial,
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
                no_bands,
                facet,
                vmin,
                vmax,
                width,
                height,
                dpi,
            },
            out,
            partial,
        ),
        Command::Report {
            results,
            out,
            partial,
        } => cmd_report(&results, out, partial),
        Command::Schema { kind } => {
            let k = match kind {
                SchemaArg::Scenario => cascade_sim::schema::SchemaKind::Scenario,
                SchemaArg::Sweep => cascade_sim::schema::SchemaKind::Sweep,
            };
            serde_json::to_string_pretty(&cascade_sim::schema::schema(k))
                .map(|text| println!("{text}"))
                .map_err(|e| Failure::Other(anyhow::anyhow!(e)))
        }
        Command::Completions { shell } => {
            completions::print(shell);
            Ok(())
        }
        Command::List { dir } => list::cmd_list(dir.as_deref()),
        Command::Info { store } => info::cmd_info(&store),
        Command::Compare { a, b, metrics, out } => {
            compare::cmd_compare(&a, &b, &metrics, out.as_deref())
        }
        Command::Validate {
            config,
            sets,
            threads,
            max_memory,
        } => budget::budget(max_memory.as_deref())
            .map_err(Failure::Usage)
            .and_then(|b| validate::cmd_validate(&config, &sets, threads, &b)),
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

pub(crate) fn open_store(dir: &Path) -> Result<cascade_sim::store::Store, Failure> {
    cascade_sim::store::Store::open(dir).map_err(|e| Failure::Usage(e.to_string()))
}

/// A store for a command that writes `outputs`: holding its lock when one lies inside it.
pub(crate) fn open_store_for(
    dir: &Path,
    outputs: &[PathBuf],
) -> Result<cascade_sim::store::Store, Failure> {
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    cascade_sim::store::Store::open_for(dir, outputs, &command)
        .map_err(|e| Failure::Usage(e.to_string()))
}

/// [`open_store_for`] for a reader of results: with `partial`, an incomplete store reads as
/// the points complete so far ([`cascade_sim::store::Store::allow_partial`]).
pub(crate) fn open_results_for(
    dir: &Path,
    outputs: &[PathBuf],
    partial: bool,
) -> Result<cascade_sim::store::Store, Failure> {
    let store = open_store_for(dir, outputs)?;
    Ok(if partial {
        store.allow_partial()
    } else {
        store
    })
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
    no_bands: bool,
    facet: Option<String>,
    vmin: Option<f64>,
    vmax: Option<f64>,
    width: Option<u32>,
    height: Option<u32>,
    dpi: Option<u32>,
}

/// Where `cascade plot` writes: the stem and formats for `--out` (default: <results>/plots/
/// and the chart's stem). A PDF, or any other image format, is refused (plotters draws PNG
/// and SVG only; the SVG converts to PDF losslessly with rsvg-convert or Inkscape); so is a
/// path in <results>/charts/, whose files `cascade report` writes and would overwrite (or a
/// plot would overwrite them).
fn plot_target(
    dir: &Path,
    out: Option<PathBuf>,
    stem: &str,
) -> Result<(PathBuf, cascade_report::Formats), Failure> {
    use cascade_report::Formats;
    let Some(p) = out else {
        return Ok((dir.join("plots").join(stem), Formats::BOTH));
    };
    let asked = p.clone();
    let ext = p
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let (stem, formats) = match ext.as_deref() {
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
        Some("pdf") => {
            return Err(Failure::Usage(format!(
                "--out {}: cascade plot writes PNG and SVG only, not PDF; write the SVG (--out {}) and convert it, e.g. `rsvg-convert -f pdf -o {} {}` (text and lines stay vector)",
                p.display(),
                p.with_extension("svg").display(),
                p.display(),
                p.with_extension("svg").display()
            )));
        }
        Some(e @ ("eps" | "ps" | "jpg" | "jpeg" | "tif" | "tiff" | "gif" | "webp" | "bmp")) => {
            return Err(Failure::Usage(format!(
                "--out {}: cascade plot writes .png and .svg only, not .{e}; give a path ending in .png or .svg, or a stem for both",
                p.display()
            )));
        }
        _ => (p, Formats::BOTH),
    };
    if in_charts_dir(dir, &stem) {
        return Err(Failure::Usage(format!(
            "--out {}: {} holds the figures `cascade report` writes (it would overwrite this plot, or this plot its figures); write elsewhere, e.g. the default {}",
            asked.display(),
            dir.join("charts").display(),
            dir.join("plots").display()
        )));
    }
    Ok((stem, formats))
}

/// Whether `stem` lies in the store's charts/ directory (compared after resolving links and
/// `..` where the directories exist).
fn in_charts_dir(dir: &Path, stem: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let charts = canon(&dir.join("charts"));
    let parent = match stem.parent() {
        Some(p) if !p.as_os_str().is_empty() => canon(p),
        _ => canon(Path::new(".")),
    };
    parent.starts_with(&charts)
}

/// The largest PNG side `cascade plot` draws (`--dpi` multiplies the layout size).
const MAX_PNG_PX: u32 = 20_000;

fn cmd_plot(
    dir: &Path,
    kind: PlotKindArg,
    a: PlotArgs,
    out: Option<PathBuf>,
    partial: bool,
) -> Result<(), Failure> {
    use cascade_report::{PlotKind, PlotRequest};
    // Refuse a bad --out before opening (and locking) the store.
    plot_target(dir, out.clone(), "chart")?;
    let store = open_results_for(
        dir,
        &[out
            .clone()
            .unwrap_or_else(|| dir.join("plots").join("chart"))],
        partial,
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
    req.bands = !a.no_bands;
    req.facet = a.facet;
    req.vmin = a.vmin;
    req.vmax = a.vmax;
    for kv in &a.at {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| Failure::Usage(format!("--at {kv}: expected KEY=VALUE")))?;
        req.at.push((k.trim().to_string(), v.trim().to_string()));
    }
    let (fig, stem) = cascade_report::build_figure(&store, &req).map_err(report_failure)?;
    let (stem, formats) = plot_target(dir, out, &stem)?;
    store
        .claim(&cascade_report::render::figure_paths(&stem, formats))
        .map_err(|e| Failure::Usage(e.to_string()))?;
    use cascade_report::Figure;
    let (w0, h0) = fig.size();
    let sized = cascade_report::render::Resized {
        fig: &fig,
        size: (a.width.unwrap_or(w0), a.height.unwrap_or(h0)),
    };
    if let Some(d) = a.dpi {
        let (pw, ph) = cascade_report::render::png_size(sized.size, d);
        if formats.png && pw.max(ph) > MAX_PNG_PX {
            return Err(Failure::Usage(format!(
                "--dpi {d}: a {}x{} figure would be a {pw}x{ph} pixel PNG (at most {MAX_PNG_PX} pixels a side); lower --dpi or --width/--height, or write the SVG",
                sized.size.0, sized.size.1
            )));
        }
    }
    let files = cascade_report::render::write_figure_dpi(&sized, &stem, formats, a.dpi)
        .map_err(report_failure)?;
    print_wrote(&files);
    Ok(())
}

fn cmd_report(dir: &Path, out_dir: Option<PathBuf>, partial: bool) -> Result<(), Failure> {
    let out_dir = out_dir.unwrap_or_else(|| dir.to_path_buf());
    let store = open_results_for(dir, &[out_dir.join("report.html")], partial)?;
    let out = cascade_report::write_report_in(&store, &out_dir).map_err(report_failure)?;
    for s in &out.skipped {
        eprintln!("note: not drawn: {s}");
    }
    println!(
        "wrote {} and {} chart file(s) in {}",
        out.html.display(),
        out.charts.len(),
        out_dir.join("charts").display()
    );
    Ok(())
}

/// Print the files a command wrote, on one line.
pub(crate) fn print_wrote(files: &[PathBuf]) {
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    println!("wrote {}", names.join(", "));
}
