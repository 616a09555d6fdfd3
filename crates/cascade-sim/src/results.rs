//! One way to read results: a store's points, their axis values and labels, the axes' titles
//! and units, and the manifest, loaded once ([`Store::results`]) and read by every consumer:
//! `cascade export`, the report and its charts, and the Python package.
//!
//! The labelling rule lives here and nowhere else: an axis value shows as the sweep file's
//! `labels` entry where it gives one; a table or array value of an axis without `labels` by its
//! `kind` (or "option N", [`crate::sweep::auto_labels`]), never as inline TOML; a value of the
//! `scenario` axis by its file's stem (`gen1`, not `../scenarios/gen1.toml`); anything else as
//! itself. [`ResultSet::shown`] holds the labelled values (a labelled axis turns into text, an
//! unlabelled numeric axis stays numeric), [`display`] the final text.
//!
//! A set read from a running or interrupted sweep ([`Store::allow_partial`]) holds the points
//! whose runs file is complete so far, aggregated as the sweep would aggregate them (paired
//! statistics only where the baseline point is complete, q-values over the points present),
//! and says so ([`ResultSet::partial_note`]). It reads only whole files: the writer renames
//! every file into place, so no lock is needed.

use crate::metrics::MetricRow;
use crate::store::{Manifest, PointsFile, RunsFile, Store, StoreError};
use crate::sweep::{self, Param, SCENARIO_AXIS};

/// An axis of a result set: its key and its display title and unit (the sweep file's
/// `title` and `unit`, [`crate::sweep::axis_display`]).
#[derive(Debug, Clone, PartialEq)]
pub struct AxisInfo {
    pub key: String,
    pub title: String,
    pub unit: String,
    /// Whether its values show by labels (the sweep file's `labels`, automatic labels of
    /// tables, or the scenario axis's file stems) rather than as themselves.
    pub labelled: bool,
}

/// A store's results as every consumer reads them.
#[derive(Debug, Clone)]
pub struct ResultSet {
    pub manifest: Manifest,
    /// Whether points are missing: read with `--partial` from a store that is not complete.
    pub partial: bool,
    pub axes: Vec<AxisInfo>,
    /// The points present (all of them unless [`ResultSet::partial`]), with their stored
    /// parameters, aggregates and baselines.
    pub points: PointsFile,
    /// Per entry of `points.points`, each axis value as shown: its label where the axis has
    /// labels, else the stored value.
    pub shown: Vec<Vec<Param>>,
}

/// How a (labelled) value of axis `key` is written in tables, legends and files: a scenario
/// file by its stem, anything else as itself.
pub fn display(key: &str, v: &Param) -> Param {
    match v {
        Param::Text(t) if key == SCENARIO_AXIS => Param::Text(scenario_name(t)),
        other => other.clone(),
    }
}

/// A scenario file's name without directories and the `.toml` extension.
pub fn scenario_name(file: &str) -> String {
    let stem = std::path::Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.to_string());
    if stem.is_empty() {
        file.to_string()
    } else {
        stem
    }
}

/// Per axis of the sweep file (in order), the label of each value (`(value text, label)`)
/// when the axis has labels, given or automatic.
fn axis_label_maps(m: &Manifest) -> Vec<Option<Vec<(String, String)>>> {
    let specs = m
        .sweep
        .get("axis")
        .and_then(|a| a.as_array())
        .cloned()
        .unwrap_or_default();
    specs
        .iter()
        .map(|a| {
            let vals = a.get("values").and_then(|v| v.as_array())?;
            let labels: Vec<String> = match a.get("labels").and_then(|v| v.as_array()) {
                Some(l) => l
                    .iter()
                    .map(|x| x.as_str().unwrap_or_default().to_string())
                    .collect(),
                None if vals.iter().any(|v| v.is_object() || v.is_array()) => {
                    sweep::auto_labels(vals)
                }
                None => return None,
            };
            Some(
                vals.iter()
                    .zip(labels)
                    .filter_map(|(v, l)| {
                        let tv: toml::Value = serde_json::from_value(v.clone()).ok()?;
                        Some((Param::from_toml(&tv).label(), l))
                    })
                    .collect(),
            )
        })
        .collect()
}

impl ResultSet {
    /// Load the results of `store`: its points file when complete; with
    /// [`Store::allow_partial`] on an incomplete store, the points complete so far.
    pub fn load(store: &Store) -> Result<ResultSet, StoreError> {
        let m = &store.manifest;
        let (points, partial) = if m.status == "complete" || !store.partial_allowed() {
            (store.read_complete_points()?, false)
        } else {
            (partial_points(store)?, true)
        };
        let maps = axis_label_maps(m);
        let axes: Vec<AxisInfo> = m
            .axes
            .iter()
            .enumerate()
            .map(|(i, key)| {
                let (title, unit) = sweep::axis_display(&m.sweep, key);
                AxisInfo {
                    key: key.clone(),
                    title,
                    unit,
                    labelled: key == SCENARIO_AXIS || maps.get(i).is_some_and(Option::is_some),
                }
            })
            .collect();
        let shown = points
            .points
            .iter()
            .map(|p| {
                p.params
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        maps.get(i)
                            .and_then(Option::as_ref)
                            .and_then(|map| map.iter().find(|(k, _)| *k == v.label()))
                            .map(|(_, l)| Param::Text(l.clone()))
                            .unwrap_or_else(|| v.clone())
                    })
                    .collect()
            })
            .collect();
        Ok(ResultSet {
            manifest: m.clone(),
            partial,
            axes,
            points,
            shown,
        })
    }

    /// The points file with each axis value as shown (labels in place of labelled values).
    pub fn labelled_points(&self) -> PointsFile {
        let mut pf = self.points.clone();
        for (p, shown) in pf.points.iter_mut().zip(&self.shown) {
            p.params = shown.clone();
        }
        pf
    }

    /// Per entry of `points.points`, each axis value as written ([`display`] of the shown
    /// value).
    pub fn displayed(&self, i: usize) -> Vec<Param> {
        self.shown
            .get(i)
            .map(|s| {
                s.iter()
                    .zip(&self.axes)
                    .map(|(v, a)| display(&a.key, v))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The indices of the points present, in order.
    pub fn point_indices(&self) -> Vec<u64> {
        self.points.points.iter().map(|p| p.index).collect()
    }

    /// What a partial set holds, for titles, subtitles and file metadata: "partial results:
    /// 3 of 8 points complete (sweep status \"running\")"; `None` for a complete set.
    pub fn partial_note(&self) -> Option<String> {
        self.partial.then(|| {
            format!(
                "partial results: {} of {} points complete (sweep status \"{}\")",
                self.points.points.len(),
                self.manifest.points.len(),
                self.manifest.status
            )
        })
    }
}

/// A point's runs file if it holds every run (written when the point completed); `None`
/// while the point is pending or when the file holds a shard's fragment.
fn complete_runs(store: &Store, p: u64) -> Result<Option<RunsFile>, StoreError> {
    if !crate::store::runs_path(&store.dir, p).is_file() {
        return Ok(None);
    }
    let f = crate::store::read_runs(&store.dir, store.identity, p)?;
    Ok((f.first_run == 0 && f.rows.len() as u64 == store.manifest.runs).then_some(f))
}

/// The points of an incomplete store whose runs are all written, aggregated.
fn partial_points(store: &Store) -> Result<PointsFile, StoreError> {
    let m = &store.manifest;
    let mut rows: Vec<Option<Vec<MetricRow>>> = Vec::with_capacity(m.points.len());
    for p in 0..m.points.len() as u64 {
        rows.push(complete_runs(store, p)?.map(|f| f.rows.into_iter().map(MetricRow).collect()));
    }
    let points =
        crate::experiment::aggregate_points(m, &crate::store::manifest_path(&store.dir), |p| {
            Ok(rows[p as usize].clone())
        })?;
    Ok(PointsFile {
        axes: m.axes.clone(),
        metrics: m.metrics.clone(),
        baseline: m.baseline.clone(),
        points,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_files_show_their_stem() {
        assert_eq!(scenario_name("../scenarios/gen1.toml"), "gen1");
        assert_eq!(scenario_name("gen2.toml"), "gen2");
        assert_eq!(
            display(SCENARIO_AXIS, &Param::Text("a/b.toml".into())),
            Param::Text("b".into())
        );
        assert_eq!(display("x", &Param::Float(0.5)), Param::Float(0.5));
    }
}
