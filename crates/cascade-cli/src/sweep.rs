//! `cascade sweep`: a sweep file (with `--runs` and `--set` from the command line) into a
//! result store, with progress, the headline table, the default charts and the Parquet and
//! CSV/JSON tables beside it.
//!
//! The store's lock is held from before the first run through the report, so one writer at a
//! time; sizes are checked before the store is created, so a refused sweep leaves nothing.

use crate::{Failure, budget, cluster};
use std::path::{Path, PathBuf};

/// The command line as typed, for the manifest.
pub(crate) fn invocation(threads: usize) -> cascade_sim::store::Invocation {
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

#[allow(clippy::too_many_arguments)]
pub(crate) fn cmd_sweep(
    path: &Path,
    out: Option<PathBuf>,
    runs: Option<u64>,
    sets: &[String],
    resume: bool,
    force: bool,
    threads: usize,
    shard: Option<(u64, u64)>,
    budget: &cascade_sim::bounds::Budget,
) -> Result<(), Failure> {
    use cascade_sim::experiment::{SweepError, SweepOptions, lock_for_sweep, run_sweep_locked};
    let sweep = cascade_sim::sweep::load_sweep_with(path, runs, sets).map_err(Failure::Config)?;
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
    // The Parquet tables beside the store, for pandas, polars and DuckDB.
    let files = cascade_sim::export::export(
        &store,
        &dir.join("export"),
        cascade_sim::export::Format::Parquet,
    )
    .map_err(|e| {
        Failure::Usage(format!(
            "the sweep is complete in {}, but its Parquet export failed: {e}; retry with `cascade export {} --format parquet`",
            dir.display(),
            dir.display()
        ))
    })?;
    crate::print_wrote(&files);
    Ok(())
}
