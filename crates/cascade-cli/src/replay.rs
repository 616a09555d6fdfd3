//! `cascade replay`: one stored run re-run, checked bit for bit against its stored row, with
//! its event trace and per-block path written atomically.

use crate::{Failure, open_store, open_store_for};
use anyhow::Context;
use cascade_sim::fsutil::AtomicFile;
use cascade_sim::metrics::METRICS;
use cascade_sim::trace;
use std::path::{Path, PathBuf};

pub(crate) fn cmd_replay(
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
    if let Some(msg) = cascade_sim::replay::row_mismatch(point, run, &row, &stored) {
        return Err(Failure::Other(anyhow::anyhow!(msg)));
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
