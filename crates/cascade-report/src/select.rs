//! What a chart request names, checked against what a store holds.
//!
//! Researchers name metrics and axes as they appear in the sweep file and the metric list; a
//! typo must get an answer that lists the alternatives, not an empty chart. A boolean metric
//! (`has_cascade`, `has_bad_debt`) is charted as a rate (share of runs) with its 95% Wilson
//! interval; any other metric as its mean with its 95% percentile bootstrap interval over the
//! runs (never below zero for a non-negative metric, unlike mean ± 1.96 standard errors, and
//! following the skew of losses that are zero in most runs).

use crate::{ReportError, invalid};
use cascade_sim::aggregate::{PointAgg, rate_metrics};
use cascade_sim::metrics::{METRICS, MetricKind, metric_index, with_unit};
use cascade_sim::store::{Manifest, PointsFile};
use cascade_sim::sweep::{Param, Sampling};

/// A charted quantity: a rate of a boolean metric or the mean of another.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity {
    pub metric: &'static str,
    pub kind: MetricKind,
    /// Index in the metric row.
    pub index: usize,
    /// Index among the rates, for boolean metrics.
    pub rate: Option<usize>,
}

/// Every metric name, comma-separated (for error messages).
pub fn metric_list() -> String {
    METRICS
        .iter()
        .map(|d| d.name)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Quantity {
    /// The quantity named `name` (a metric of [`METRICS`]).
    pub fn parse(name: &str) -> Result<Quantity, ReportError> {
        let index = metric_index(name).ok_or_else(|| {
            invalid(format!(
                "unknown metric `{name}`; the metrics are: {}",
                metric_list()
            ))
        })?;
        let d = &METRICS[index];
        let rate = rate_metrics().iter().position(|n| *n == d.name);
        Ok(Quantity {
            metric: d.name,
            kind: d.kind,
            index,
            rate,
        })
    }

    /// The value at a point and its 95% interval.
    pub fn at(&self, agg: &PointAgg) -> Option<(f64, f64, f64)> {
        if let Some(r) = self.rate {
            let r = agg.rates.get(r)?;
            return Some((r.rate, r.lo, r.hi));
        }
        let m = agg.metrics.get(self.index)?;
        // Counts, durations and gas prices are never negative: neither is their interval.
        let floor = matches!(
            self.kind,
            MetricKind::Count | MetricKind::Blocks | MetricKind::Seconds | MetricKind::Gwei
        ) && !self.metric.ends_with("_vs_twin");
        let lo = if floor { m.ci_lo.max(0.0) } else { m.ci_lo };
        Some((m.mean, lo, m.ci_hi))
    }

    /// The quantity's display name (the metrics table's `title`: "Cascade frequency", "Bad
    /// debt").
    pub fn title(&self) -> String {
        METRICS[self.index].display_name()
    }

    /// The axis title with its unit: "Cascade frequency (share of runs)", "Bad debt, mean
    /// (USDC)".
    pub fn axis_label(&self, quote: &str) -> String {
        let d = &METRICS[self.index];
        match self.rate {
            Some(_) => with_unit(&d.display_name(), "share of runs"),
            None => with_unit(
                &format!("{}, mean", d.display_name()),
                &d.display_unit(quote),
            ),
        }
    }

    /// What the interval is.
    pub fn interval_note(&self) -> &'static str {
        if self.rate.is_some() {
            "band: 95% Wilson interval"
        } else {
            "band: 95% bootstrap percentile interval of the mean"
        }
    }
}

/// A metric's unit for labels: quote amounts in the scenario's quote asset.
pub fn unit(kind: MetricKind, quote: &str) -> String {
    match kind {
        MetricKind::Quote => quote.to_string(),
        MetricKind::Bool => "share of runs".into(),
        other => other.unit().to_string(),
    }
}

/// The name of the quote asset in a manifest's (first) base configuration ("quote" if
/// absent).
pub fn quote_name(m: &Manifest) -> String {
    // Through the configuration type, so an omitted `quote` gets its default.
    m.scenarios
        .first()
        .and_then(|s| serde_json::from_value::<cascade_sim::ScenarioConfig>(s.config.clone()).ok())
        .map(|c| c.quote)
        .unwrap_or_else(|| "quote".to_string())
}

/// How a (labelled) parameter value is written on charts and in the report's tables: the
/// rule of [`cascade_sim::results::display`] (scenario files by their stem, everything else as
/// in tables), which the export and the Python package also follow.
pub fn value_label(key: &str, v: &Param) -> String {
    cascade_sim::results::display(key, v).label()
}

/// A sweep axis with its distinct values (numeric ones in increasing order, others in order
/// of first appearance).
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub index: usize,
    pub key: String,
    pub values: Vec<Param>,
    pub numeric: bool,
}

impl Axis {
    /// The position of `v` among the values.
    pub fn position(&self, v: &Param) -> Option<usize> {
        self.values.iter().position(|u| same(u, v))
    }
}

/// Parameter equality that treats 0.1 and 0.1 read back from JSON alike.
pub fn same(a: &Param, b: &Param) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a.label() == b.label(),
    }
}

/// Every axis of a points file.
pub fn axes(pf: &PointsFile) -> Vec<Axis> {
    pf.axes
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let mut values: Vec<Param> = Vec::new();
            for p in &pf.points {
                if let Some(v) = p.params.get(i)
                    && !values.iter().any(|u| same(u, v))
                {
                    values.push(v.clone());
                }
            }
            let numeric = values
                .iter()
                .all(|v| v.as_f64().is_some_and(f64::is_finite));
            if numeric {
                values.sort_by(|a, b| {
                    a.as_f64()
                        .unwrap_or(0.0)
                        .total_cmp(&b.as_f64().unwrap_or(0.0))
                });
            }
            Axis {
                index: i,
                key: k.clone(),
                values,
                numeric,
            }
        })
        .collect()
}

/// The axis named `key`, or an error listing the axes.
pub fn axis<'a>(all: &'a [Axis], key: &str, flag: &str) -> Result<&'a Axis, ReportError> {
    all.iter().find(|a| a.key == key).ok_or_else(|| {
        invalid(format!(
            "{flag} {key}: the sweep has no such axis; its axes are: {}",
            axis_list(all)
        ))
    })
}

/// The axes with their value counts, for messages.
pub fn axis_list(all: &[Axis]) -> String {
    if all.is_empty() {
        return "(none: the sweep has a single point)".into();
    }
    all.iter()
        .map(|a| format!("{} ({} values)", a.key, a.values.len()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A short label for an axis key: its last two path segments (`liquidation.bonus`), or three
/// when the first of them is a list index (`venues.0.depth_scale`, not `0.depth_scale`).
pub fn short_key(key: &str) -> String {
    let parts: Vec<&str> = key.split('.').collect();
    let mut keep = 2;
    if parts.len() > keep && parts[parts.len() - keep].parse::<usize>().is_ok() {
        keep += 1;
    }
    if parts.len() <= keep {
        key.to_string()
    } else {
        parts[parts.len() - keep..].join(".")
    }
}

/// An axis's display title: the sweep file's `title`, else the key in words.
pub fn axis_title(m: &Manifest, key: &str) -> String {
    cascade_sim::sweep::axis_display(&m.sweep, key).0
}

/// An axis's title with its unit, for axis descriptions ("Liquidation bonus (share)").
pub fn axis_label(m: &Manifest, key: &str) -> String {
    let (t, u) = cascade_sim::sweep::axis_display(&m.sweep, key);
    with_unit(&t, &u)
}

/// "Title = value, Title = value" for a point's (labelled) parameters.
pub fn point_label(m: &Manifest, axes: &[String], params: &[Param]) -> String {
    axes.iter()
        .zip(params)
        .map(|(k, v)| format!("{} = {}", axis_title(m, k), value_label(k, v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every point's [`point_label`], from the store's results (values by their labels), indexed
/// by point (empty for a point a partial set lacks).
pub fn point_labels(store: &cascade_sim::store::Store) -> Result<Vec<String>, ReportError> {
    let rs = store.results()?;
    let mut out = vec![String::new(); store.points() as usize];
    for (p, shown) in rs.points.points.iter().zip(&rs.shown) {
        if let Some(slot) = out.get_mut(p.index as usize) {
            *slot = point_label(&rs.manifest, &rs.manifest.axes, shown);
        }
    }
    Ok(out)
}

/// Fixed values for axes a chart does not show: `--at key=value` pairs resolved against the
/// axes; axes neither shown nor fixed take their first value. Returns per axis the fixed
/// value (None for the shown ones) and a note for the subtitle.
pub fn fixed_values(
    m: &Manifest,
    all: &[Axis],
    shown: &[&str],
    at: &[(String, String)],
) -> Result<(Vec<Option<Param>>, String), ReportError> {
    for (k, _) in at {
        axis(all, k, "--at")?;
        if shown.contains(&k.as_str()) {
            return Err(invalid(format!(
                "--at {k}=...: {k} is already shown on the chart"
            )));
        }
    }
    let mut fixed = vec![None; all.len()];
    let mut notes = Vec::new();
    if m.sampling != Sampling::Grid {
        // Sampled points vary every axis at once: nothing to hold fixed.
        return Ok((fixed, String::new()));
    }
    for a in all {
        if shown.contains(&a.key.as_str()) || a.values.len() < 2 {
            continue;
        }
        let v = match at.iter().find(|(k, _)| *k == a.key) {
            Some((_, text)) => {
                let want = cascade_sim::store::param_from_json(
                    &serde_json::from_str(text)
                        .unwrap_or_else(|_| serde_json::Value::String(text.clone())),
                );
                let pos = a.position(&want).ok_or_else(|| {
                    invalid(format!(
                        "--at {}={text}: not a value of that axis; its values are: {}",
                        a.key,
                        a.values
                            .iter()
                            .map(|v| v.label())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?;
                a.values[pos].clone()
            }
            None => a.values[0].clone(),
        };
        notes.push(format!(
            "{} = {}",
            axis_title(m, &a.key),
            value_label(&a.key, &v)
        ));
        fixed[a.index] = Some(v);
    }
    let note = if notes.is_empty() {
        String::new()
    } else {
        format!("at {}", notes.join(", "))
    };
    Ok((fixed, note))
}

/// Whether a point's parameters match the fixed values.
pub fn matches(params: &[Param], fixed: &[Option<Param>]) -> bool {
    fixed
        .iter()
        .zip(params)
        .all(|(f, p)| f.as_ref().is_none_or(|f| same(f, p)))
}

/// The min and max of the positive finite values.
pub fn finite_pos_range(v: &[f64]) -> Option<(f64, f64)> {
    crate::render::finite_range(v.iter().copied().filter(|x| *x > 0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_metric_lists_the_metrics() {
        let e = Quantity::parse("cascade_freq").unwrap_err().to_string();
        assert!(e.contains("unknown metric `cascade_freq`"), "{e}");
        assert!(e.contains("has_cascade") && e.contains("bad_debt"), "{e}");
        let q = Quantity::parse("has_cascade").unwrap();
        assert!(q.rate.is_some());
        assert!(Quantity::parse("bad_debt").unwrap().rate.is_none());
    }

    #[test]
    fn short_keys_keep_the_last_two_segments() {
        assert_eq!(short_key("engine.liquidation.bonus"), "liquidation.bonus");
        assert_eq!(short_key("gas.congestion_beta"), "gas.congestion_beta");
        assert_eq!(short_key("venues.0.depth_scale"), "venues.0.depth_scale");
        assert_eq!(
            short_key("x.agents.1.leverage_min"),
            "agents.1.leverage_min"
        );
    }
}
