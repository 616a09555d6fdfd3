//! The sweep's `baseline`: which point the others are compared with, run by run.
//!
//! A one-axis sweep names it by a value of the axis (`baseline = 0.0`), by the value's label,
//! or, on the scenario axis, by a scenario file's stem (`baseline = "gen1"` for
//! `"../scenarios/gen1.toml"`). A sweep with more axes names values of some or all axes in a
//! table: every point is compared with the point that has the named values on the named axes
//! and its own values on the others (`baseline = { scenario = "gen1" }` compares gen2 and gen3
//! with gen1 at each volatility; naming every axis gives one baseline point for all).
//! Invariant: every point gets exactly one baseline point (or is one); a baseline that matches
//! no point, or leaves a point with none or several, is a configuration error naming the key
//! `baseline` and listing the names it could have used.

use super::{AxisSpec, Param, SCENARIO_AXIS, Sampling, SweepFile, issue};
use cascade_core::ConfigIssue;
use std::path::Path;
use toml::Value;

/// Whether `want` names the value `v` of axis `a`.
fn names(want: &Value, a: &AxisSpec, v: &Value) -> bool {
    match (want, v) {
        (Value::String(w), _) => {
            let label = a.labels.as_ref().and_then(|l| {
                a.values
                    .as_ref()
                    .and_then(|vs| vs.iter().position(|x| x == v))
                    .map(|k| l[k].as_str())
            });
            let text = Param::from_toml(v).label();
            let stem = (a.key == SCENARIO_AXIS)
                .then(|| {
                    Path::new(&text)
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                })
                .flatten();
            label == Some(w.as_str()) || text == *w || stem.as_deref() == Some(w.as_str())
        }
        _ => match (
            Param::from_toml(want).as_f64(),
            Param::from_toml(v).as_f64(),
        ) {
            (Some(x), Some(y)) if !matches!(want, Value::Boolean(_)) => x == y,
            _ => want == v,
        },
    }
}

/// How a point is shown in error messages.
fn show(spec: &SweepFile, p: &[Value]) -> String {
    spec.axes
        .iter()
        .zip(p)
        .map(|(a, v)| format!("{} = {}", a.key, Param::from_toml(v).label()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Each point's baseline point (`None` for a baseline point itself); empty when the sweep
/// names no baseline.
pub(super) fn resolve(
    spec: &SweepFile,
    points: &[Vec<Value>],
) -> Result<Vec<Option<usize>>, ConfigIssue> {
    let Some(want) = &spec.baseline else {
        return Ok(Vec::new());
    };
    if spec.sampling != Sampling::Grid {
        return Err(issue(
            "baseline",
            "applies to grid sampling only (random and latin_hypercube points have no names to compare with)",
        ));
    }
    // Per axis, what the baseline asks for (`None`: the point's own value).
    let per_axis: Vec<Option<&Value>> = match want {
        Value::Table(t) => {
            if let Some(k) = t.keys().find(|k| !spec.axes.iter().any(|a| &a.key == *k)) {
                return Err(issue(
                    format!("baseline.{k}"),
                    format!(
                        "is not an axis of the sweep (axes: {})",
                        spec.axes
                            .iter()
                            .map(|a| a.key.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            if t.is_empty() {
                return Err(issue(
                    "baseline",
                    "must name the value of at least one axis",
                ));
            }
            spec.axes.iter().map(|a| t.get(&a.key)).collect()
        }
        Value::Array(_) => {
            return Err(issue(
                "baseline",
                "must be a value of the axis (one axis) or a table { axis key = value, ... }, not an array",
            ));
        }
        single => {
            if spec.axes.len() != 1 {
                return Err(issue(
                    "baseline",
                    format!(
                        "a single value names a point of a one-axis sweep; this sweep has {} axes: give a table {{ {} }}",
                        spec.axes.len(),
                        spec.axes
                            .iter()
                            .map(|a| format!("\"{}\" = ...", a.key))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            vec![Some(single)]
        }
    };
    let is_base = |p: &[Value]| {
        spec.axes
            .iter()
            .zip(p)
            .zip(&per_axis)
            .all(|((a, v), w)| w.is_none_or(|w| names(w, a, v)))
    };
    let hits: Vec<usize> = (0..points.len()).filter(|&i| is_base(&points[i])).collect();
    if hits.is_empty() {
        let mut list: Vec<String> = points.iter().take(12).map(|p| show(spec, p)).collect();
        if points.len() > 12 {
            list.push(format!("... ({} points)", points.len()));
        }
        return Err(issue(
            "baseline",
            format!(
                "{} names no point of the sweep; the points are: {}",
                want,
                list.join("; ")
            ),
        ));
    }
    // Each point's baseline: a baseline point with its own values on the axes not named.
    let mut out = Vec::with_capacity(points.len());
    for p in points {
        if is_base(p) {
            out.push(None);
            continue;
        }
        let same: Vec<usize> = hits
            .iter()
            .copied()
            .filter(|&b| {
                per_axis
                    .iter()
                    .zip(p.iter().zip(&points[b]))
                    .all(|(w, (x, y))| w.is_some() || x == y)
            })
            .collect();
        match same.as_slice() {
            [one] => out.push(Some(*one)),
            [] => {
                return Err(issue(
                    "baseline",
                    format!(
                        "{} leaves the point ({}) without a baseline point",
                        want,
                        show(spec, p)
                    ),
                ));
            }
            many => {
                return Err(issue(
                    "baseline",
                    format!(
                        "{} gives the point ({}) {} baseline points ({}); name one",
                        want,
                        show(spec, p),
                        many.len(),
                        many.iter()
                            .map(|i| show(spec, &points[*i]))
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(axes: Vec<AxisSpec>, baseline: Option<Value>) -> SweepFile {
        SweepFile {
            name: None,
            description: String::new(),
            scenario: None,
            runs: 1,
            seed: 1,
            set: vec![],
            sampling: Sampling::Grid,
            points: None,
            axes,
            baseline,
            charts: vec![],
        }
    }

    fn axis(key: &str, values: Vec<Value>, labels: Option<Vec<&str>>) -> AxisSpec {
        AxisSpec {
            key: key.into(),
            values: Some(values),
            range: None,
            log_range: None,
            steps: None,
            integer: false,
            labels: labels.map(|l| l.into_iter().map(String::from).collect()),
            title: None,
            unit: None,
        }
    }

    #[test]
    fn baselines_by_value_label_stem_and_table() {
        let gens: Vec<Value> = ["../scenarios/gen1.toml", "../scenarios/gen2.toml"]
            .iter()
            .map(|s| Value::String(s.to_string()))
            .collect();
        let pts: Vec<Vec<Value>> = gens.iter().map(|g| vec![g.clone()]).collect();
        let s = spec(
            vec![axis("scenario", gens.clone(), None)],
            Some("gen2".into()),
        );
        assert_eq!(resolve(&s, &pts), Ok(vec![Some(1), None]));
        let s = spec(
            vec![axis("scenario", gens.clone(), None)],
            Some("../scenarios/gen1.toml".into()),
        );
        assert_eq!(resolve(&s, &pts), Ok(vec![None, Some(0)]));
        let lat = vec![Value::Float(0.0), Value::Float(12.0)];
        let pts: Vec<Vec<Value>> = lat.iter().map(|v| vec![v.clone()]).collect();
        let x = axis("x", lat, Some(vec!["none", "one"]));
        let s = spec(vec![x.clone()], Some(Value::Integer(0)));
        assert_eq!(resolve(&s, &pts), Ok(vec![None, Some(0)]));
        let s = spec(vec![x], Some("one".into()));
        assert_eq!(resolve(&s, &pts), Ok(vec![Some(1), None]));
        // Two axes: a full table names one point; a partial one a baseline per slice.
        let a = axis("a", vec![Value::Integer(1), Value::Integer(2)], None);
        let b = axis("b", vec![Value::Float(0.5), Value::Float(1.5)], None);
        let pts = super::super::grid(&[a.values.clone().unwrap(), b.values.clone().unwrap()]);
        let t: Value = toml::from_str::<toml::Table>("a = 2\nb = 0.5")
            .unwrap()
            .into();
        let s = spec(vec![a.clone(), b.clone()], Some(t));
        assert_eq!(resolve(&s, &pts), Ok(vec![Some(2), Some(2), None, Some(2)]));
        let t: Value = toml::from_str::<toml::Table>("a = 1").unwrap().into();
        let s = spec(vec![a.clone(), b.clone()], Some(t));
        assert_eq!(resolve(&s, &pts), Ok(vec![None, None, Some(0), Some(1)]));
        assert_eq!(resolve(&spec(vec![a], None), &pts), Ok(vec![]));
    }

    #[test]
    fn a_bad_baseline_is_a_clear_error() {
        let a = axis("a", vec![Value::Integer(1), Value::Integer(2)], None);
        let b = axis("b", vec![Value::Float(0.5), Value::Float(1.5)], None);
        let pts = super::super::grid(&[a.values.clone().unwrap(), b.values.clone().unwrap()]);
        let e = resolve(
            &spec(vec![a.clone(), b.clone()], Some(Value::Integer(1))),
            &pts,
        )
        .unwrap_err();
        assert_eq!(e.key, "baseline");
        assert!(
            e.rule.contains("one-axis") && e.rule.contains("\"a\" = ..."),
            "{}",
            e.rule
        );
        let t: Value = toml::from_str::<toml::Table>("a = 3\nb = 0.5")
            .unwrap()
            .into();
        let e = resolve(&spec(vec![a.clone(), b.clone()], Some(t)), &pts).unwrap_err();
        assert!(
            e.rule.contains("names no point") && e.rule.contains("a = 1, b = 0.5"),
            "{}",
            e.rule
        );
        let t: Value = toml::from_str::<toml::Table>("a = 1\nc = 0.5")
            .unwrap()
            .into();
        let e = resolve(&spec(vec![a.clone(), b], Some(t)), &pts).unwrap_err();
        assert_eq!(e.key, "baseline.c");
        let mut s = spec(vec![a], Some(Value::Integer(1)));
        s.sampling = Sampling::Random;
        assert!(
            resolve(&s, &pts)
                .unwrap_err()
                .rule
                .contains("grid sampling only")
        );
    }
}
