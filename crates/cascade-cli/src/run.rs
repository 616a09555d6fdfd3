//! `cascade run`: one scenario's seeded runs, their summary and, on request, their files.
//!
//! The sizes are checked against the memory budget before any run starts (every run's row is
//! kept for the summary's quantiles), and a run whose market was dead (no transaction, no
//! oracle update) is reported as a warning after the table. With `--out`, the tables are
//! followed by a `manifest.json` (seed, overrides, scenario, version: see
//! [`crate::run_manifest`]), written last.

use crate::{Failure, budget};
use anyhow::Context;
use cascade_sim::fsutil::AtomicFile;
use cascade_sim::load::load_scenario;
use cascade_sim::metrics::METRICS;
use cascade_sim::runner::run_many;
use cascade_sim::summary::{render_table, summarize};
use cascade_sim::trace;
use std::io::Write;
use std::path::{Path, PathBuf};

#[allow(clippy::too_many_arguments)]
pub(crate) fn cmd_run(
    path: &Path,
    runs: Option<u64>,
    seed: Option<u64>,
    sets: &[String],
    out: Option<PathBuf>,
    want_trace: bool,
    force: bool,
    threads: usize,
    budget: &cascade_sim::bounds::Budget,
) -> Result<(), Failure> {
    let scenario = load_scenario(path, sets).map_err(Failure::Config)?;
    let cfg = &scenario.config;
    let runs_key = if runs.is_some() { "--runs" } else { "run.runs" };
    let runs = runs.unwrap_or(cfg.run.runs);
    if runs == 0 {
        return Err(Failure::Usage("--runs must be at least 1".into()));
    }
    let job = cascade_sim::bounds::Job::Run {
        runs,
        runs_key: runs_key.into(),
        threads: budget::threads_of(threads),
        trace: want_trace,
    };
    cascade_sim::bounds::check(path, &cascade_sim::bounds::estimate(cfg, &job), budget)
        .map_err(Failure::Config)?;
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
        files.push(d.join("manifest.json"));
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
    let started_at = cascade_sim::store::now_rfc3339();
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
    for w in cascade_sim::summary::dead_market_warnings(&rows) {
        eprintln!("warning: {w}");
    }
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
        // The resolved configuration, as the overrides left it (the same reading as above).
        let mut tree = cascade_sim::load::read_tree(path).map_err(Failure::Config)?;
        cascade_sim::load::apply_overrides(path, &mut tree, sets).map_err(Failure::Config)?;
        let inv = crate::sweep::invocation(threads);
        let m = crate::run_manifest::RunManifest {
            format: crate::run_manifest::RUN_FORMAT.into(),
            format_version: crate::run_manifest::RUN_FORMAT_VERSION,
            cascade_version: env!("CARGO_PKG_VERSION").into(),
            git_commit: inv.git_commit,
            name: cfg.name.clone(),
            scenario_file: std::fs::canonicalize(path)
                .unwrap_or_else(|_| path.to_path_buf())
                .display()
                .to_string(),
            set: sets.to_vec(),
            runs,
            seed,
            schema_hash: format!("{:016x}", cascade_sim::metrics::schema_hash()),
            config: cascade_sim::store::tree_to_json(&tree),
            status: "complete".into(),
            command_line: inv.command_line,
            threads: inv.threads,
            started: started_at,
            finished: cascade_sim::store::now_rfc3339(),
            files: files
                .iter()
                .filter_map(|f| f.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .collect(),
        };
        crate::run_manifest::write(d, &m).context("writing manifest.json")?;
        crate::print_wrote(&files);
    }
    Ok(())
}
