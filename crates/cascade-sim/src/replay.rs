//! One stored run replayed in memory: its event trace and per-block path as CSV bytes, and
//! whether it reproduces the stored row.
//!
//! Library callers (the Python package) need a replay without files in the store; the CSV
//! bytes are exactly what `cascade replay` writes (the same writers, [`crate::events`] and
//! [`crate::trace`]), so a table read from them equals the CLI's files.

use crate::metrics::{METRICS, MetricRow};
use crate::store::Store;
use crate::{events, runner, trace};

/// A replayed run.
#[derive(Debug, Clone)]
pub struct Replay {
    /// The event trace (the CSV `cascade replay` writes as `p<P>-r<R>-events.csv`).
    pub events_csv: Vec<u8>,
    /// The per-block path (the CSV written as `p<P>-r<R>-path.csv`).
    pub path_csv: Vec<u8>,
    /// Number of event rows.
    pub n_events: usize,
    /// The replayed metrics row (bit-identical to the stored one).
    pub row: MetricRow,
}

/// Replay run `run` of point `point` of `store`. An index out of range, a scenario that no
/// longer builds, or a row that differs from the stored one (by its bits) is an `Err` in words.
pub fn replay_run(store: &Store, point: u64, run: u64) -> Result<Replay, String> {
    let m = &store.manifest;
    if point >= store.points() {
        return Err(format!(
            "point {point}: {} has points 0 to {}",
            store.dir.display(),
            store.points().saturating_sub(1)
        ));
    }
    if run >= m.runs {
        return Err(format!(
            "run {run}: {} has runs 0 to {} per point",
            store.dir.display(),
            m.runs.saturating_sub(1)
        ));
    }
    let stored = store.row(point, run).map_err(|e| e.to_string())?;
    let scenario = store.point_scenario(point).map_err(|e| e.to_string())?;
    let mut w = crate::World::new(&scenario, m.seed, run).map_err(|e| e.to_string())?;
    w.enable_trace();
    w.enable_events();
    let mut events_csv = Vec::new();
    let io = |e: std::io::Error| e.to_string();
    events::write_header(&mut events_csv).map_err(io)?;
    let mut n_events = 0usize;
    while w.running() {
        w.step()?;
        let ev = w.drain_events();
        n_events += ev.len();
        events::write_events(&mut events_csv, &w.event_labels(), &ev).map_err(io)?;
    }
    let mut row = w.metrics();
    runner::add_twin(&scenario, m.seed, run, &mut row)?;
    let mut path_csv = Vec::new();
    trace::write_header(&mut path_csv, &scenario.config).map_err(io)?;
    trace::write_run(&mut path_csv, run, &w.take_trace()).map_err(io)?;
    if let Some(msg) = row_mismatch(point, run, &row, &stored) {
        return Err(msg);
    }
    Ok(Replay {
        events_csv,
        path_csv,
        n_events,
        row,
    })
}

/// Why a replayed row differs from the stored one (each differing metric, bit for bit), or
/// `None` when they are identical. Shared by `cascade replay` and the Python `replay`.
pub fn row_mismatch(point: u64, run: u64, row: &MetricRow, stored: &MetricRow) -> Option<String> {
    let same = row.0.len() == stored.0.len()
        && row
            .0
            .iter()
            .zip(&stored.0)
            .all(|(a, b)| a.to_bits() == b.to_bits());
    if same {
        return None;
    }
    let diffs: Vec<String> = METRICS
        .iter()
        .zip(row.0.iter().zip(&stored.0))
        .filter(|(_, (a, b))| a.to_bits() != b.to_bits())
        .map(|(d, (a, b))| format!("{}: replayed {a}, stored {b}", d.name))
        .collect();
    Some(format!(
        "replay of point {point}, run {run} does not reproduce the stored row (was the store written by another cascade version?):\n  {}",
        diffs.join("\n  ")
    ))
}
