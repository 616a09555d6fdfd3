//! Runs, points and metric definitions as [`Frame`]s: the tables `cascade.run`, `cascade.sweep`
//! and `cascade.load` return.
//!
//! The points table has the columns of `cascade export`'s `points` table, in its order and
//! with its values (checked against the CLI's export by the Python tests); axis columns get
//! clean names ([`crate::names`]) and, for an axis with labels (the sweep file's `labels`,
//! tables named by their `kind`, the `scenario` axis by its file's stem, as in
//! [`cascade_sim::results`]), a `<axis>_label` column beside the value. Every run row carries
//! its master `seed` and its own `run_seed` (run `r` of every point uses `derive(seed, r)`), as
//! the export's runs table does.

use crate::frame::{Column, Data, Frame};
use crate::names::{clean, unique};
use cascade_sim::export::{StatValue, point_stat_values, run_seed_hex};
use cascade_sim::metrics::METRICS;
use cascade_sim::results::ResultSet;
use cascade_sim::runner::RunOutput;
use cascade_sim::stats::tail_reliable;
use cascade_sim::store::{Store, StoreError};
use cascade_sim::sweep::Param;

/// The metrics' columns of a set of rows (`rows[i][m]`, schema order), with their units.
fn metric_columns<'a>(rows: impl Iterator<Item = &'a [f64]> + Clone) -> Vec<Column> {
    METRICS
        .iter()
        .enumerate()
        .map(|(m, d)| {
            Column::new(d.name, Data::F64(rows.clone().map(|r| r[m]).collect())).unit(d.kind.unit())
        })
        .collect()
}

/// The runs of `cascade.run`: `point` (always 0), `run`, `seed`, `run_seed` and every metric.
pub fn run_frame(outputs: &[RunOutput], seed: u64) -> Frame {
    let mut f = Frame::default();
    f.push(Column::new("point", Data::U64(vec![0; outputs.len()])));
    f.push(Column::new(
        "run",
        Data::U64(outputs.iter().map(|o| o.run).collect()),
    ));
    f.push(Column::new("seed", Data::U64(vec![seed; outputs.len()])));
    f.push(Column::new(
        "run_seed",
        Data::Text(outputs.iter().map(|o| run_seed_hex(seed, o.run)).collect()),
    ));
    for c in metric_columns(outputs.iter().map(|o| o.row.0.as_slice())) {
        f.push(c);
    }
    f
}

/// The metric definitions: `metric`, `unit`, `definition` (as `cascade export`'s `metrics`).
pub fn metrics_frame() -> Frame {
    let mut f = Frame::default();
    let col = |name: &str, g: fn(&cascade_sim::metrics::MetricDef) -> String| {
        Column::new(name, Data::Text(METRICS.iter().map(g).collect()))
    };
    f.push(col("metric", |d| d.name.to_string()));
    f.push(col("unit", |d| d.kind.unit().to_string()));
    f.push(col("definition", |d| d.doc.to_string()));
    f
}

/// One value per point of one axis, typed: all floats (or floats and integers) as f64, all
/// integers as i64, all booleans as bool, anything else as text labels.
fn param_data(vals: &[&Param]) -> Data {
    let all = |f: fn(&Param) -> bool| vals.iter().all(|p| f(p));
    if all(|p| matches!(p, Param::Int(_))) {
        Data::I64(
            vals.iter()
                .map(|p| match p {
                    Param::Int(i) => *i,
                    _ => unreachable!(),
                })
                .collect(),
        )
    } else if all(|p| matches!(p, Param::Float(_) | Param::Int(_))) {
        Data::F64(
            vals.iter()
                .map(|p| p.as_f64().unwrap_or(f64::NAN))
                .collect(),
        )
    } else if all(|p| matches!(p, Param::Bool(_))) {
        Data::Bool(
            vals.iter()
                .map(|p| matches!(p, Param::Bool(true)))
                .collect(),
        )
    } else {
        Data::Text(vals.iter().map(|p| p.label()).collect())
    }
}

/// An axis of a store: its key, column names, and per point its value and (optionally) label.
struct Axis {
    key: String,
    name: String,
    label_name: Option<String>,
    values: Vec<Param>,
    labels: Option<Vec<String>>,
}

fn store_axes(rs: &ResultSet, reserved: &[String]) -> Vec<Axis> {
    let mut taken: Vec<String> = reserved.to_vec();
    let mut out = Vec::new();
    for (i, info) in rs.axes.iter().enumerate() {
        let key = &info.key;
        let name = unique(clean(key), &taken);
        taken.push(name.clone());
        let values: Vec<Param> = rs
            .points
            .points
            .iter()
            .map(|p| p.params[i].clone())
            .collect();
        // The labels as every consumer shows them ([`cascade_sim::results`]).
        let labels = info.labelled.then(|| {
            (0..rs.points.points.len())
                .map(|p| rs.displayed(p)[i].label())
                .collect()
        });
        let label_name = labels.as_ref().map(|_| {
            let n = unique(format!("{name}_label"), &taken);
            taken.push(n.clone());
            n
        });
        out.push(Axis {
            key: key.clone(),
            name,
            label_name,
            values,
            labels,
        });
    }
    out
}

/// The axis columns for rows that belong to points `row_points` (a point index per row).
fn axis_columns(axes: &[Axis], row_points: &[usize]) -> Vec<Column> {
    let mut cols = Vec::new();
    for a in axes {
        let vals: Vec<&Param> = row_points.iter().map(|&p| &a.values[p]).collect();
        cols.push(Column::new(a.name.clone(), param_data(&vals)).source(a.key.clone()));
        if let (Some(n), Some(l)) = (&a.label_name, &a.labels) {
            cols.push(
                Column::new(
                    n.clone(),
                    Data::Text(row_points.iter().map(|&p| l[p].clone()).collect()),
                )
                .source(format!("{} (label)", a.key)),
            );
        }
    }
    cols
}

/// A store's tables.
#[derive(Debug, Clone)]
pub struct StoreFrames {
    /// One row per (point, run): `point`, `run`, `seed`, `run_seed`, the axes, every metric.
    pub runs: Frame,
    /// One row per point: the columns of `cascade export`'s points table.
    pub points: Frame,
}

/// The statistics after `point`, the axes and the flags, as `cascade export` names them,
/// with their units ([`cascade_sim::export::point_columns_with_units`]).
fn stat_units(has_base: bool) -> Vec<(String, String)> {
    cascade_sim::export::point_columns_with_units(has_base)
        .into_iter()
        .map(|(n, u)| (n, u.to_string()))
        .collect()
}

/// Read every table of a store (the points complete so far where it was opened with
/// [`Store::allow_partial`]).
pub fn load(store: &Store) -> Result<StoreFrames, StoreError> {
    let rs = store.results()?;
    let m = &rs.manifest;
    let pf = &rs.points;
    let has_base = !pf.baseline.is_empty();
    let stats = stat_units(has_base);
    let mut reserved: Vec<String> = ["point", "run", "seed", "run_seed", "runs", "p95_reliable"]
        .iter()
        .chain(&["p99_reliable", "baseline"])
        .map(|s| s.to_string())
        .collect();
    reserved.extend(METRICS.iter().map(|d| d.name.to_string()));
    reserved.extend(stats.iter().map(|(n, _)| n.clone()));
    let axes = store_axes(&rs, &reserved);

    // Runs, point by point.
    let mut row_points = Vec::new();
    let mut run_idx = Vec::new();
    let mut rows: Vec<Vec<f64>> = Vec::new();
    for (i, rec) in pf.points.iter().enumerate() {
        let f = store.runs(rec.index)?;
        for (r, row) in f.rows.into_iter().enumerate() {
            row_points.push(i);
            run_idx.push(f.first_run + r as u64);
            rows.push(row);
        }
    }
    let mut runs = Frame::default();
    runs.push(Column::new(
        "point",
        Data::U64(row_points.iter().map(|&i| pf.points[i].index).collect()),
    ));
    let run_seeds = run_idx.iter().map(|&r| run_seed_hex(m.seed, r)).collect();
    runs.push(Column::new("run", Data::U64(run_idx)));
    runs.push(Column::new("seed", Data::U64(vec![m.seed; rows.len()])));
    runs.push(Column::new("run_seed", Data::Text(run_seeds)));
    for c in axis_columns(&axes, &row_points) {
        runs.push(c);
    }
    for c in metric_columns(rows.iter().map(|r| r.as_slice())) {
        runs.push(c);
    }

    // Points, in the export's column order.
    let n = pf.points.len();
    let all: Vec<usize> = (0..n).collect();
    let mut points = Frame::default();
    points.push(Column::new(
        "point",
        Data::U64(pf.points.iter().map(|p| p.index).collect()),
    ));
    for c in axis_columns(&axes, &all) {
        points.push(c);
    }
    points.push(Column::new(
        "runs",
        Data::U64(pf.points.iter().map(|p| p.agg.runs).collect()),
    ));
    for (name, q) in [("p95_reliable", 0.95), ("p99_reliable", 0.99)] {
        points.push(Column::new(
            name,
            Data::Bool(
                pf.points
                    .iter()
                    .map(|p| tail_reliable(p.agg.runs, q))
                    .collect(),
            ),
        ));
    }
    if has_base {
        points.push(Column::new(
            "baseline",
            Data::Bool(
                pf.points
                    .iter()
                    .map(|p| pf.baseline.get(p.index as usize) == Some(&None))
                    .collect(),
            ),
        ));
    }
    // Each point's statistics in export order, then transposed into columns.
    let mut cols: Vec<Vec<f64>> = vec![Vec::with_capacity(n); stats.len()];
    for rec in &pf.points {
        let vals: Vec<f64> = point_stat_values(&rec.agg, has_base)
            .into_iter()
            .map(|v| match v {
                StatValue::Num(x) => x,
                StatValue::Count(n) => n as f64,
                StatValue::Missing => f64::NAN,
            })
            .collect();
        assert_eq!(vals.len(), stats.len(), "a value per export column");
        for (c, v) in cols.iter_mut().zip(vals) {
            c.push(v);
        }
    }
    for ((name, unit), vals) in stats.into_iter().zip(cols) {
        points.push(Column::new(name, Data::F64(vals)).unit(&unit));
    }
    Ok(StoreFrames { runs, points })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_values_are_typed() {
        let f = |v: Vec<Param>| param_data(&v.iter().collect::<Vec<_>>());
        assert_eq!(
            f(vec![Param::Float(0.5), Param::Int(1)]),
            Data::F64(vec![0.5, 1.0])
        );
        assert_eq!(f(vec![Param::Int(3), Param::Int(1)]), Data::I64(vec![3, 1]));
        assert_eq!(f(vec![Param::Bool(true)]), Data::Bool(vec![true]));
        assert_eq!(
            f(vec![Param::Text("a".into()), Param::Int(1)]),
            Data::Text(vec!["a".into(), "1".into()])
        );
    }

    #[test]
    fn every_export_column_has_a_unit() {
        for base in [false, true] {
            let s = stat_units(base);
            assert_eq!(s.len(), cascade_sim::export::point_columns(base).len());
            assert!(s.iter().all(|(n, u)| !u.is_empty() && !n.contains('.')));
        }
    }

    #[test]
    fn metric_names_need_no_cleaning() {
        for d in METRICS {
            assert_eq!(clean(d.name), d.name);
        }
        assert_eq!(metrics_frame().rows(), METRICS.len());
    }
}
