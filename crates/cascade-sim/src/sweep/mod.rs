//! Sweep files: a base scenario, runs per point, a seed and axes over any scenario key.
//!
//! A sweep is how a researcher asks "how does cascade frequency move with the liquidation bonus
//! and gas congestion?". Axes act on the scenario's TOML tree through the same override
//! mechanism as `--set`, so any key can be swept without the code knowing about it, and every
//! point's scenario is resolved and validated before a single run starts: a point that would
//! be invalid is reported with the sweep file, the axis and the scenario rule it breaks.
//!
//! One axis may be `key = "scenario"` with scenario files as values (relative to the sweep file):
//! each point then starts from its own base scenario, so generations of margin engines, or any
//! scenarios, can be compared on the same seeds (common random numbers) like any other axis.
//!
//! Points come from a full grid (first axis slowest) or, with `sampling = "random"` or
//! `"latin_hypercube"`, from `points` draws of the ChaCha8 stream `sweep` of the master seed
//! (continuous axes uniformly, `log_range` axes log-uniformly, `values` axes by index), so the
//! points are the same on every machine.

use crate::load::{ConfigError, Scenario, apply_overrides, read_tree, scenario_from_tree};
use crate::overrides;
use cascade_core::ConfigIssue;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use toml::{Table, Value};

mod axes;
mod baseline;
pub use axes::{auto_labels, axis_display};

use axes::{check_sampled_axis, grid, grid_values, sample_points};

/// How the points of a sweep are chosen.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Sampling {
    /// Every combination of the axes' values (first axis slowest).
    #[default]
    Grid,
    /// `points` independent uniform draws.
    Random,
    /// `points` draws stratified on every axis (each axis's range cut into `points` equal
    /// strata, each stratum used once, strata paired at random across axes).
    LatinHypercube,
}

/// One `[[axis]]` as written in the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AxisSpec {
    /// The scenario key, as for `--set` (`engine.liquidation.bonus`, `assets.ETH.process.sigma`).
    pub key: String,
    /// Explicit values (any TOML value).
    #[serde(default)]
    #[schemars(with = "Option<Vec<serde_json::Value>>")]
    pub values: Option<Vec<Value>>,
    /// `[lo, hi]`: `steps` evenly spaced values (grid), or the interval to sample.
    #[serde(default)]
    pub range: Option<[f64; 2]>,
    /// `[lo, hi]`, lo > 0: `steps` geometrically spaced values, or the interval to sample
    /// log-uniformly.
    #[serde(default)]
    pub log_range: Option<[f64; 2]>,
    /// Number of grid values of a `range` or `log_range` (at least 2; grid sampling only).
    #[serde(default)]
    pub steps: Option<u32>,
    /// Round generated values to integers (for integer keys such as `count`).
    #[serde(default)]
    pub integer: bool,
    /// Names for `values` in charts and tables (one per value), e.g. for tables or arrays.
    #[serde(default)]
    pub labels: Option<Vec<String>>,
    /// The axis's name in chart titles, axis titles, legends and tables ("Liquidation
    /// bonus"); default: the key in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The unit of the axis's values, shown after its title ("share of collateral", "s").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// A sweep file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SweepFile {
    /// Output directory name under the results root (default: the file name).
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: String,
    /// The base scenario, relative to the sweep file (optional when an axis has
    /// `key = "scenario"`).
    #[serde(default)]
    pub scenario: Option<PathBuf>,
    /// Runs per point.
    pub runs: u64,
    /// Master seed (run `r` of every point uses `derive(seed, r)`).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Overrides applied to the base scenario before the axes (`"key=value"`).
    #[serde(default)]
    pub set: Vec<String>,
    #[serde(default)]
    pub sampling: Sampling,
    /// Number of points for random and Latin-hypercube sampling.
    #[serde(default)]
    pub points: Option<u64>,
    #[serde(default, rename = "axis")]
    pub axes: Vec<AxisSpec>,
    /// The point the others are compared with, run by run (paired differences, intervals and
    /// q-values in the store, report and export): in a one-axis sweep a value of the axis (or
    /// its label, or a scenario file's stem), else a table naming the values of some axes
    /// (each point is compared with the point that has those values and its own on the other
    /// axes). Grid sampling only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Value>")]
    pub baseline: Option<Value>,
    /// Metrics to chart in the report besides the defaults (cascade frequency, bad debt,
    /// amplification): a line chart each, a heatmap over two axes, a column in the table.
    #[serde(default)]
    pub charts: Vec<String>,
}

fn default_seed() -> u64 {
    1
}

/// A parameter value of a point, in a form the store and the charts can use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Param {
    Float(f64),
    Int(i64),
    Bool(bool),
    Text(String),
}

impl Param {
    /// From a TOML value (tables and arrays become their TOML text).
    pub fn from_toml(v: &Value) -> Param {
        match v {
            Value::Float(f) => Param::Float(*f),
            Value::Integer(i) => Param::Int(*i),
            Value::Boolean(b) => Param::Bool(*b),
            Value::String(s) => Param::Text(s.clone()),
            other => Param::Text(other.to_string()),
        }
    }

    /// The TOML value to override the scenario with.
    pub fn to_toml(&self) -> Value {
        match self {
            Param::Float(f) => Value::Float(*f),
            Param::Int(i) => Value::Integer(*i),
            Param::Bool(b) => Value::Boolean(*b),
            Param::Text(s) => {
                // Tables and arrays were stored as their TOML text.
                let v = overrides::parse_value(s);
                match v {
                    Value::Table(_) | Value::Array(_) => v,
                    _ => Value::String(s.clone()),
                }
            }
        }
    }

    /// A number for charts (booleans as 0/1); `None` for text.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Param::Float(f) => Some(*f),
            Param::Int(i) => Some(*i as f64),
            Param::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            Param::Text(_) => None,
        }
    }

    /// As written in tables and CSV files (floats in shortest round-trip form).
    pub fn label(&self) -> String {
        match self {
            Param::Float(f) => format!("{f}"),
            Param::Int(i) => format!("{i}"),
            Param::Bool(b) => format!("{b}"),
            Param::Text(s) => s.clone(),
        }
    }

    /// As JSON.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Param::Float(f) => serde_json::json!(f),
            Param::Int(i) => serde_json::json!(i),
            Param::Bool(b) => serde_json::json!(b),
            Param::Text(s) => serde_json::json!(s),
        }
    }
}

/// The key of the axis that switches base scenarios.
pub const SCENARIO_AXIS: &str = "scenario";

/// A base scenario of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct BaseScenario {
    /// As written in the sweep file (the `scenario` key or a value of the scenario axis).
    pub name: String,
    /// The file as resolved (relative replay files are read beside it).
    pub file: PathBuf,
    /// Its tree after the sweep's `set` overrides, before the other axes.
    pub tree: Table,
}

/// A resolved sweep: everything needed to run it and to store what it is.
#[derive(Debug, Clone)]
pub struct Sweep {
    pub file: PathBuf,
    pub spec: SweepFile,
    /// Output name (validated: a plain directory name).
    pub name: String,
    /// The base scenarios: one, or one per value of the scenario axis.
    pub scenarios: Vec<BaseScenario>,
    /// Axis keys, in order.
    pub axes: Vec<String>,
    /// Each point's value per axis.
    pub points: Vec<Vec<Param>>,
    /// Each point's baseline point (`None` for a baseline point); empty without a baseline.
    pub baseline: Vec<Option<usize>>,
}

/// A sweep point's scenario: its base scenario (chosen by the scenario axis, if any) with the
/// other axes' values applied.
pub fn point_scenario(
    scenarios: &[BaseScenario],
    axes: &[String],
    params: &[Param],
) -> Result<Scenario, ConfigError> {
    let base = axes
        .iter()
        .zip(params)
        .find(|(k, _)| *k == SCENARIO_AXIS)
        .map(|(_, v)| {
            let label = v.label();
            scenarios.iter().find(|s| s.name == label).ok_or_else(|| {
                ConfigError::one(
                    Path::new(SCENARIO_AXIS),
                    SCENARIO_AXIS,
                    format!("no base scenario named \"{label}\""),
                )
            })
        })
        .unwrap_or_else(|| {
            scenarios.first().ok_or_else(|| {
                ConfigError::one(Path::new(SCENARIO_AXIS), SCENARIO_AXIS, "no base scenario")
            })
        })?;
    let mut tree = base.tree.clone();
    for (k, v) in axes.iter().zip(params) {
        if k == SCENARIO_AXIS {
            continue;
        }
        overrides::apply(&mut tree, k, v.to_toml()).map_err(|e| ConfigError {
            file: base.file.clone(),
            issues: vec![ConfigIssue {
                key: k.clone(),
                rule: e.to_string(),
            }],
        })?;
    }
    scenario_from_tree(&base.file, tree)
}

/// Read a base scenario and apply the sweep's `set` overrides; errors name the sweep file.
fn read_base(
    sweep_file: &Path,
    key: &str,
    name: &str,
    set: &[String],
) -> Result<BaseScenario, ConfigError> {
    let dir = sweep_file.parent().unwrap_or(Path::new("."));
    let file = dir.join(name);
    let mut tree = read_tree(&file).map_err(|e| {
        let rule = e
            .issues
            .iter()
            .map(|i| format!("{}: {} {}", file.display(), i.key, i.rule))
            .collect::<Vec<_>>()
            .join("; ");
        ConfigError::one(sweep_file, key, rule)
    })?;
    apply_overrides(sweep_file, &mut tree, set)?;
    Ok(BaseScenario {
        name: name.to_string(),
        file,
        tree,
    })
}

/// Whether `name` is a plain directory name that stays inside the results root.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.')
}

fn issue(key: impl Into<String>, rule: impl Into<String>) -> ConfigIssue {
    ConfigIssue {
        key: key.into(),
        rule: rule.into(),
    }
}

/// The most points a sweep may have (a guard against a typo that asks for billions).
pub const MAX_POINTS: usize = 1_000_000;

/// Read, resolve and validate a sweep file, including every point's scenario.
pub fn load_sweep(path: &Path) -> Result<Sweep, ConfigError> {
    load_sweep_with(path, None, &[])
}

/// [`load_sweep`] with the command line's `--runs` (replacing the file's `runs`) and `--set`
/// overrides (appended to the file's `set` list, so they apply to every base scenario after
/// the file's own, through the same mechanism as `cascade run --set`). Both end up in the
/// sweep's `spec`, hence in the manifest and its config hash.
pub fn load_sweep_with(
    path: &Path,
    runs: Option<u64>,
    sets: &[String],
) -> Result<Sweep, ConfigError> {
    let tree = read_tree(path)?;
    let raw = tree.clone();
    let mut spec: SweepFile =
        serde_path_to_error::deserialize(Value::Table(tree)).map_err(|e| {
            let i =
                crate::messages::serde_issue(&e.path().to_string(), &e.inner().to_string(), &raw);
            ConfigError::one(path, i.key, i.rule)
        })?;
    if let Some(r) = runs {
        if r == 0 {
            return Err(ConfigError::one(path, "--runs", "must be >= 1"));
        }
        spec.runs = r;
    }
    spec.set.extend(sets.iter().cloned());
    let mut issues = Vec::new();
    let name = match &spec.name {
        Some(n) => n.clone(),
        None => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    if !is_plain_name(&name) {
        issues.push(issue(
            "name",
            format!(
                "must be a plain directory name (letters, digits, '-', '_', '.', not starting with '.'), so results stay inside the results root (got \"{name}\")"
            ),
        ));
    }
    if spec.runs == 0 {
        issues.push(issue("runs", "must be >= 1"));
    }
    if spec.axes.is_empty() {
        issues.push(issue(
            "axis",
            "needs at least one [[axis]] (use `cascade run` for a single scenario)",
        ));
    }
    for (i, m) in spec.charts.iter().enumerate() {
        if crate::metrics::metric_index(m).is_none() {
            issues.push(issue(
                format!("charts[{i}]"),
                format!(
                    "\"{m}\" is not a metric (metrics: {})",
                    crate::metrics::METRICS
                        .iter()
                        .map(|d| d.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    for (i, a) in spec.axes.iter().enumerate() {
        if a.key.trim().is_empty() {
            issues.push(issue(format!("axis[{i}].key"), "must not be empty"));
        }
        if spec.axes[..i].iter().any(|b| b.key == a.key) {
            issues.push(issue(
                format!("axis[{i}].key"),
                format!("`{}` is already an axis", a.key),
            ));
        }
    }
    let mut points: Vec<Vec<Value>> = Vec::new();
    match spec.sampling {
        Sampling::Grid => {
            if spec.points.is_some() {
                issues.push(issue(
                    "points",
                    "applies to random and latin_hypercube sampling only (a grid has one point per combination)",
                ));
            }
            let vals: Vec<Vec<Value>> = spec
                .axes
                .iter()
                .enumerate()
                .map(|(i, a)| grid_values(i, a, &mut issues))
                .collect();
            let total = vals
                .iter()
                .try_fold(1usize, |acc, v| acc.checked_mul(v.len()));
            match total {
                Some(t) if t <= MAX_POINTS => {
                    if issues.is_empty() {
                        points = grid(&vals);
                    }
                }
                _ => issues.push(issue(
                    "axis",
                    format!("the grid has more than {MAX_POINTS} points"),
                )),
            }
        }
        Sampling::Random | Sampling::LatinHypercube => {
            for (i, a) in spec.axes.iter().enumerate() {
                check_sampled_axis(i, a, &mut issues);
            }
            match spec.points {
                None => issues.push(issue(
                    "points",
                    "is required with random and latin_hypercube sampling",
                )),
                Some(0) => issues.push(issue("points", "must be >= 1")),
                Some(n) if n as usize > MAX_POINTS => {
                    issues.push(issue("points", format!("must be <= {MAX_POINTS}")))
                }
                Some(n) => {
                    if issues.is_empty() {
                        points = sample_points(&spec, n);
                    }
                }
            }
        }
    }
    let baseline = if issues.is_empty() {
        baseline::resolve(&spec, &points).unwrap_or_else(|i| {
            issues.push(i);
            Vec::new()
        })
    } else {
        Vec::new()
    };
    if !issues.is_empty() {
        return Err(ConfigError {
            file: path.to_path_buf(),
            issues,
        });
    }
    // The base scenarios, with the sweep's `set` overrides.
    let mut scenarios = Vec::new();
    if let Some(k) = spec.axes.iter().position(|a| a.key == SCENARIO_AXIS) {
        let mut names: Vec<String> = Vec::new();
        for v in &points {
            match &v[k] {
                Value::String(s) => {
                    if !names.contains(s) {
                        names.push(s.clone());
                    }
                }
                other => {
                    return Err(ConfigError::one(
                        path,
                        format!("axis[{k}].values"),
                        format!(
                            "the scenario axis takes scenario file names (strings), got {other}"
                        ),
                    ));
                }
            }
        }
        for n in names {
            scenarios.push(read_base(
                path,
                &format!("axis[{k}].values"),
                &n,
                &spec.set,
            )?);
        }
    } else {
        match &spec.scenario {
            Some(f) => scenarios.push(read_base(
                path,
                "scenario",
                &f.to_string_lossy(),
                &spec.set,
            )?),
            None => {
                return Err(ConfigError::one(
                    path,
                    "scenario",
                    "is required (the base scenario file), unless an axis has key = \"scenario\"",
                ));
            }
        }
    }
    let axes: Vec<String> = spec.axes.iter().map(|a| a.key.clone()).collect();
    let params: Vec<Vec<Param>> = points
        .iter()
        .map(|p| p.iter().map(Param::from_toml).collect())
        .collect();
    // Every point must resolve: report each broken rule once, with the first point that breaks
    // it.
    let mut seen: Vec<String> = Vec::new();
    for (p, ps) in params.iter().enumerate() {
        if let Err(e) = point_scenario(&scenarios, &axes, ps) {
            for i in e.issues {
                let sig = format!("{}: {}", i.key, i.rule);
                if seen.contains(&sig) {
                    continue;
                }
                seen.push(sig);
                let at = axes
                    .iter()
                    .zip(ps)
                    .map(|(k, v)| format!("{k} = {}", v.label()))
                    .collect::<Vec<_>>()
                    .join(", ");
                issues.push(issue(
                    i.key,
                    format!(
                        "at point {p} ({at}) of scenario {}: {}",
                        e.file.display(),
                        i.rule
                    ),
                ));
            }
        }
        if issues.len() >= 20 {
            break;
        }
    }
    if !issues.is_empty() {
        return Err(ConfigError {
            file: path.to_path_buf(),
            issues,
        });
    }
    Ok(Sweep {
        file: path.to_path_buf(),
        spec,
        name,
        scenarios,
        axes,
        points: params,
        baseline,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_only() {
        for ok in ["quickstart", "a-b_c.1"] {
            assert!(is_plain_name(ok), "{ok}");
        }
        for bad in [
            "", ".", "..", "../x", "a/b", "/abs", ".hidden", "a b", "a\\b",
        ] {
            assert!(!is_plain_name(bad), "{bad}");
        }
    }

    #[test]
    fn params_round_trip_through_toml() {
        for v in [
            Value::Float(0.05),
            Value::Integer(3),
            Value::Boolean(true),
            Value::String("linear".into()),
        ] {
            assert_eq!(Param::from_toml(&v).to_toml(), v);
        }
        let t: Value = overrides::parse_value("{ kind = \"ewma\", half_life_s = 600.0 }");
        assert_eq!(Param::from_toml(&t).to_toml(), t);
    }
}
