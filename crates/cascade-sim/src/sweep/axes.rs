//! How a sweep's axes become points: grid values of `values`, `range` and `log_range` axes,
//! and the draws of random and Latin-hypercube sampling.
//!
//! Split from the sweep file's reading so each part stays small; the invariant here is that
//! points depend only on the sweep file (grid ends are exact, draws come from the `sweep`
//! stream of the master seed), never on the machine.

use super::{AxisSpec, Sampling, SweepFile, issue};
use cascade_core::ConfigIssue;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use toml::Value;

/// Whether the axis has exactly one of `values`, `range`, `log_range`, and no value TOML cannot
/// store in a result (non-finite floats); reports what is wrong.
fn one_kind_of_values(i: usize, a: &AxisSpec, issues: &mut Vec<ConfigIssue>) -> bool {
    let given = [a.values.is_some(), a.range.is_some(), a.log_range.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if given != 1 {
        issues.push(issue(
            format!("axis[{i}]"),
            format!(
                "needs exactly one of `values`, `range`, `log_range` (found {given}) for key `{}`",
                a.key
            ),
        ));
        return false;
    }
    if let Some(l) = &a.labels {
        match &a.values {
            None => {
                issues.push(issue(
                    format!("axis[{i}].labels"),
                    "names `values`; it needs a `values` list",
                ));
                return false;
            }
            Some(v) if v.len() != l.len() => {
                issues.push(issue(
                    format!("axis[{i}].labels"),
                    format!(
                        "needs one label per value ({} values, {} labels)",
                        v.len(),
                        l.len()
                    ),
                ));
                return false;
            }
            Some(_) => {
                if let Some((k, dup)) = l
                    .iter()
                    .enumerate()
                    .find(|(k, x)| x.trim().is_empty() || l[..*k].contains(x))
                {
                    issues.push(issue(
                        format!("axis[{i}].labels[{k}]"),
                        format!("must be non-empty and distinct (got \"{dup}\")"),
                    ));
                    return false;
                }
            }
        }
    }
    for (field, text) in [("title", &a.title), ("unit", &a.unit)] {
        if let Some(t) = text
            && (t.trim().is_empty() || t.contains('\n') || t.chars().count() > 60)
        {
            issues.push(issue(
                format!("axis[{i}].{field}"),
                format!("must be one non-empty line of at most 60 characters (got \"{t}\")"),
            ));
            return false;
        }
    }
    if let Some(bad) = a
        .values
        .iter()
        .flatten()
        .find(|v| v.as_float().is_some_and(|f| !f.is_finite()))
    {
        issues.push(issue(
            format!("axis[{i}].values"),
            format!("must be finite numbers (got {bad})"),
        ));
        return false;
    }
    true
}

/// The values an axis takes on a grid.
pub(super) fn grid_values(i: usize, a: &AxisSpec, issues: &mut Vec<ConfigIssue>) -> Vec<Value> {
    let key = format!("axis[{i}]");
    if !one_kind_of_values(i, a, issues) {
        return Vec::new();
    }
    if let Some(v) = &a.values {
        if v.is_empty() {
            issues.push(issue(format!("{key}.values"), "must not be empty"));
        }
        if a.steps.is_some() {
            issues.push(issue(
                format!("{key}.steps"),
                "applies to `range` and `log_range` only",
            ));
        }
        return v.clone();
    }
    let (lo, hi, log) = match (a.range, a.log_range) {
        (Some([lo, hi]), _) => (lo, hi, false),
        (_, Some([lo, hi])) => (lo, hi, true),
        _ => unreachable!("one of them is given"),
    };
    let which = if log { "log_range" } else { "range" };
    if !(lo.is_finite() && hi.is_finite()) || lo > hi {
        issues.push(issue(
            format!("{key}.{which}"),
            format!("must be [lo, hi] with finite lo <= hi (got [{lo}, {hi}])"),
        ));
        return Vec::new();
    }
    if log && lo <= 0.0 {
        issues.push(issue(
            format!("{key}.log_range"),
            format!("must be > 0 at both ends (got [{lo}, {hi}])"),
        ));
        return Vec::new();
    }
    let steps = match a.steps {
        Some(s) if s >= 2 => s as usize,
        Some(s) => {
            issues.push(issue(
                format!("{key}.steps"),
                format!("must be >= 2 (got {s})"),
            ));
            return Vec::new();
        }
        None => {
            issues.push(issue(
                format!("{key}.steps"),
                format!("is required with `{which}` on a grid"),
            ));
            return Vec::new();
        }
    };
    let mut out: Vec<Value> = (0..steps)
        .map(|k| {
            let t = k as f64 / (steps - 1) as f64;
            let x = if log {
                (lo.ln() + t * (hi.ln() - lo.ln())).exp()
            } else {
                lo + t * (hi - lo)
            };
            // The ends are exact.
            let x = if k == 0 {
                lo
            } else if k + 1 == steps {
                hi
            } else {
                x
            };
            number(x, a.integer)
        })
        .collect();
    if a.integer {
        out.dedup();
    }
    out
}

fn number(x: f64, integer: bool) -> Value {
    if integer {
        Value::Integer(x.round() as i64)
    } else {
        Value::Float(x)
    }
}

/// A sampled value of an axis from `u` in [0, 1).
fn sample_value(a: &AxisSpec, u: f64) -> Value {
    if let Some(v) = &a.values {
        let k = ((u * v.len() as f64) as usize).min(v.len() - 1);
        return v[k].clone();
    }
    if let Some([lo, hi]) = a.log_range {
        return number((lo.ln() + u * (hi.ln() - lo.ln())).exp(), a.integer);
    }
    let [lo, hi] = a.range.expect("checked");
    number(lo + u * (hi - lo), a.integer)
}

pub(super) fn check_sampled_axis(i: usize, a: &AxisSpec, issues: &mut Vec<ConfigIssue>) {
    let key = format!("axis[{i}]");
    if !one_kind_of_values(i, a, issues) {
        return;
    }
    if a.values.as_ref().is_some_and(|v| v.is_empty()) {
        issues.push(issue(format!("{key}.values"), "must not be empty"));
    }
    for (which, r) in [("range", a.range), ("log_range", a.log_range)] {
        if let Some([lo, hi]) = r {
            if !(lo.is_finite() && hi.is_finite()) || lo > hi {
                issues.push(issue(
                    format!("{key}.{which}"),
                    format!("must be [lo, hi] with finite lo <= hi (got [{lo}, {hi}])"),
                ));
            } else if which == "log_range" && lo <= 0.0 {
                issues.push(issue(
                    format!("{key}.log_range"),
                    format!("must be > 0 at both ends (got [{lo}, {hi}])"),
                ));
            }
        }
    }
    if a.steps.is_some() {
        issues.push(issue(
            format!("{key}.steps"),
            "applies to grid sampling only (random and latin_hypercube use `points`)",
        ));
    }
}

/// Draw the points of a random or Latin-hypercube sweep.
pub(super) fn sample_points(spec: &SweepFile, n: u64) -> Vec<Vec<Value>> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    rng.set_stream(cascade_core::rng::stream_id("sweep", 0));
    let d = spec.axes.len();
    let n = n as usize;
    match spec.sampling {
        Sampling::Random => (0..n)
            .map(|_| {
                spec.axes
                    .iter()
                    .map(|a| sample_value(a, rng.random::<f64>()))
                    .collect()
            })
            .collect(),
        Sampling::LatinHypercube => {
            // One permutation of the strata per axis (Fisher-Yates), a uniform draw inside each.
            let mut cols: Vec<Vec<f64>> = Vec::with_capacity(d);
            for _ in 0..d {
                let mut perm: Vec<usize> = (0..n).collect();
                for i in (1..n).rev() {
                    let j = rng.random_range(0..=i);
                    perm.swap(i, j);
                }
                cols.push(
                    perm.iter()
                        .map(|&s| (s as f64 + rng.random::<f64>()) / n as f64)
                        .collect(),
                );
            }
            (0..n)
                .map(|p| {
                    spec.axes
                        .iter()
                        .enumerate()
                        .map(|(k, a)| sample_value(a, cols[k][p]))
                        .collect()
                })
                .collect()
        }
        Sampling::Grid => unreachable!("grid points are not sampled"),
    }
}

/// The cartesian product, first axis slowest.
pub(super) fn grid(vals: &[Vec<Value>]) -> Vec<Vec<Value>> {
    let mut out: Vec<Vec<Value>> = vec![Vec::new()];
    for v in vals {
        let mut next = Vec::with_capacity(out.len() * v.len());
        for prefix in &out {
            for x in v {
                let mut p = prefix.clone();
                p.push(x.clone());
                next.push(p);
            }
        }
        out = next;
    }
    out
}

/// An axis's display title and unit, from the sweep file as a manifest stores it (JSON): its
/// `title` (else the key in words, [`crate::metrics::key_words`]) and `unit` (else empty).
pub fn axis_display(sweep: &serde_json::Value, key: &str) -> (String, String) {
    let spec = sweep.get("axis").and_then(|a| a.as_array()).and_then(|a| {
        a.iter()
            .find(|x| x.get("key").and_then(|k| k.as_str()) == Some(key))
    });
    let field = |f: &str| {
        spec.and_then(|s| s.get(f))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    (
        field("title").unwrap_or_else(|| crate::metrics::key_words(key)),
        field("unit").unwrap_or_default(),
    )
}

/// Labels for an axis of tables or arrays that has no `labels`: each table's `kind` when the
/// kinds are distinct, else "option 1", "option 2", ... (scalar values keep their own text).
pub fn auto_labels(values: &[serde_json::Value]) -> Vec<String> {
    let kinds: Vec<Option<&str>> = values
        .iter()
        .map(|v| v.get("kind").and_then(|k| k.as_str()))
        .collect();
    let distinct = kinds.iter().all(Option::is_some)
        && kinds
            .iter()
            .enumerate()
            .all(|(i, k)| !kinds[..i].contains(k));
    values
        .iter()
        .enumerate()
        .map(|(i, v)| match v {
            serde_json::Value::Object(_) | serde_json::Value::Array(_) if distinct => {
                kinds[i].unwrap_or_default().to_string()
            }
            serde_json::Value::Object(_) | serde_json::Value::Array(_) => {
                format!("option {}", i + 1)
            }
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(key: &str) -> AxisSpec {
        AxisSpec {
            key: key.into(),
            values: None,
            range: None,
            log_range: None,
            steps: None,
            integer: false,
            labels: None,
            title: None,
            unit: None,
        }
    }

    #[test]
    fn titles_and_units_are_one_short_line() {
        let mut a = axis("engine.liquidation.bonus");
        a.values = Some(vec![Value::Float(0.05)]);
        a.title = Some("Liquidation bonus".into());
        a.unit = Some("share of collateral".into());
        let mut issues = Vec::new();
        assert_eq!(grid_values(0, &a, &mut issues).len(), 1);
        assert!(issues.is_empty(), "{issues:?}");
        a.title = Some(" ".into());
        grid_values(0, &a, &mut issues);
        assert_eq!(issues.len(), 1);
        assert!(
            issues[0].to_string().contains("axis[0].title"),
            "{issues:?}"
        );
        a.title = None;
        a.unit = Some("x".repeat(61));
        let mut issues = Vec::new();
        grid_values(0, &a, &mut issues);
        assert!(issues[0].to_string().contains("axis[0].unit"), "{issues:?}");
        let sweep = serde_json::json!({"axis": [
            {"key": "engine.liquidation.bonus", "title": "Bonus", "unit": "share"},
            {"key": "gas.congestion_beta"}]});
        assert_eq!(
            axis_display(&sweep, "engine.liquidation.bonus"),
            ("Bonus".to_string(), "share".to_string())
        );
        assert_eq!(
            axis_display(&sweep, "gas.congestion_beta"),
            ("Gas congestion beta".to_string(), String::new())
        );
        assert_eq!(axis_display(&sweep, "scenario").0, "Scenario");
    }

    #[test]
    fn tables_without_labels_get_short_ones() {
        let kinds = serde_json::json!([{"kind": "standard"}, {"kind": "portfolio", "x": 1}]);
        assert_eq!(
            auto_labels(kinds.as_array().unwrap()),
            ["standard", "portfolio"]
        );
        let same = serde_json::json!([{"kind": "trader", "count": 1}, {"kind": "trader"}]);
        assert_eq!(
            auto_labels(same.as_array().unwrap()),
            ["option 1", "option 2"]
        );
    }

    #[test]
    fn grid_ranges_are_exact_at_the_ends() {
        let mut issues = Vec::new();
        let mut a = axis("x");
        a.range = Some([0.0, 1.0]);
        a.steps = Some(5);
        let v = grid_values(0, &a, &mut issues);
        assert_eq!(
            v,
            [0.0, 0.25, 0.5, 0.75, 1.0].map(Value::Float).to_vec(),
            "{issues:?}"
        );
        let mut a = axis("y");
        a.log_range = Some([1.0, 64.0]);
        a.steps = Some(7);
        a.integer = true;
        let v = grid_values(0, &a, &mut issues);
        assert_eq!(v, [1, 2, 4, 8, 16, 32, 64].map(Value::Integer).to_vec());
        assert!(issues.is_empty());
    }

    #[test]
    fn grid_is_first_axis_slowest() {
        let g = grid(&[
            vec![Value::Integer(1), Value::Integer(2)],
            vec![Value::Integer(10), Value::Integer(20), Value::Integer(30)],
        ]);
        assert_eq!(g.len(), 6);
        assert_eq!(g[1], vec![Value::Integer(1), Value::Integer(20)]);
        assert_eq!(g[3], vec![Value::Integer(2), Value::Integer(10)]);
    }

    #[test]
    fn latin_hypercube_uses_every_stratum_once() {
        let mut a = axis("a");
        a.range = Some([0.0, 1.0]);
        let mut b = axis("b");
        b.log_range = Some([1.0, 100.0]);
        let spec = SweepFile {
            name: None,
            description: String::new(),
            scenario: Some("x.toml".into()),
            runs: 1,
            seed: 9,
            set: vec![],
            sampling: Sampling::LatinHypercube,
            points: Some(10),
            axes: vec![a, b],
            charts: vec![],
            baseline: None,
        };
        let pts = sample_points(&spec, 10);
        assert_eq!(pts, sample_points(&spec, 10), "deterministic");
        let mut strata_a: Vec<usize> = pts
            .iter()
            .map(|p| (p[0].as_float().unwrap() * 10.0) as usize)
            .collect();
        let mut strata_b: Vec<usize> = pts
            .iter()
            .map(|p| (p[1].as_float().unwrap().log10() / 2.0 * 10.0) as usize)
            .collect();
        strata_a.sort();
        strata_b.sort();
        assert_eq!(strata_a, (0..10).collect::<Vec<_>>());
        assert_eq!(strata_b, (0..10).collect::<Vec<_>>());
    }
}
