//! The data behind the report's interactive charts: every drawn figure turned into a plain
//! JSON description (panels of aligned series, heatmap cells, small tables) that the page's
//! script hands to the vendored chart library.
//!
//! The description is read from the same figure the PNG and SVG are drawn from, so the
//! interactive chart and its static fallback always show the same numbers. Series of one panel
//! share one ascending x array (missing values are `null`, as non-finite numbers also become),
//! which is the layout the chart library expects. Nothing here computes a statistic anew.

use crate::charts::ccdf::CcdfChart;
use crate::charts::generations::{BAR_METRICS, Generations};
use crate::charts::heatmap::Heatmap;
use crate::charts::line::LineChart;
use crate::charts::path::{Liq, PathChart};
use crate::render::color;
use crate::select::Quantity;
use crate::{AnyFigure, select};
use cascade_sim::sweep::Param;
use plotters::style::RGBColor;
use serde_json::{Value, json};

/// A colour as CSS `#rrggbb`.
fn css(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// A number, `null` when not finite.
fn n(v: f64) -> Value {
    if v.is_finite() { json!(v) } else { Value::Null }
}

/// The ascending distinct values of `xs` (finite only).
fn union_x<'a>(xs: impl Iterator<Item = &'a f64>) -> Vec<f64> {
    let mut v: Vec<f64> = xs.copied().filter(|x| x.is_finite()).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    v.dedup();
    v
}

/// [`union_x`] of computed values.
fn union_x_owned(xs: impl Iterator<Item = f64>) -> Vec<f64> {
    let v: Vec<f64> = xs.collect();
    union_x(v.iter())
}

/// `(x, y)` pairs laid on the shared `xs` (nulls elsewhere).
fn align(xs: &[f64], pts: impl Iterator<Item = (f64, f64)>) -> Vec<Value> {
    let mut out = vec![Value::Null; xs.len()];
    for (x, y) in pts {
        if let Ok(i) = xs.binary_search_by(|p| p.total_cmp(&x)) {
            out[i] = n(y);
        }
    }
    out
}

/// The figure's description for the page.
pub fn figure_spec(fig: &AnyFigure) -> Value {
    match fig {
        AnyFigure::Line(f) => line(f),
        AnyFigure::Heatmap(f) => heatmap(f),
        AnyFigure::Ccdf(f) => ccdf(f),
        AnyFigure::Path(f) => path(f),
        AnyFigure::Generations(f) => generations(f),
        AnyFigure::Facets(f) => facets(f),
    }
}

/// A figure of several panels drawn as a grid with synchronized cursors (facets, and the
/// generations chart with its table).
fn grid(title: &str, subtitle: &str, panels: Vec<Value>) -> Value {
    json!({
        "title": title,
        "subtitle": subtitle,
        "layout": "grid",
        "sync": true,
        "panels": panels,
    })
}

/// Small multiples as the PNG draws them: one panel per facet value, titled with it, in a
/// grid, each line panel on the shared y range the static figure uses (`yRange`).
fn facets(f: &crate::charts::facets::Facets) -> Value {
    let mut panels = Vec::new();
    for fig in &f.panels {
        let spec = figure_spec(fig);
        let title = spec["title"].clone();
        if let Some(ps) = spec["panels"].as_array() {
            for p in ps {
                let mut p = p.clone();
                if p.get("title").is_none_or(|t| t.is_null()) {
                    p["title"] = title.clone();
                }
                panels.push(p);
            }
        }
    }
    grid(&f.title, &f.subtitle, panels)
}

fn line(f: &LineChart) -> Value {
    // Categorical axes: each series sits at its category plus its dodge, side by side as in
    // the PNG, so error bars never overlap (the axis still labels the categories).
    let xs = union_x_owned(
        f.series
            .iter()
            .enumerate()
            .flat_map(|(i, s)| s.pts.iter().map(move |p| p.0 + f.dodge(i))),
    );
    let series: Vec<Value> = f
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let d = f.dodge(i);
            json!({
                "label": s.label,
                "color": css(color(i)),
                "style": if f.points_only() { "points" } else { "line" },
                "y": align(&xs, s.pts.iter().map(|p| (p.0 + d, p.1))),
                "lo": align(&xs, s.pts.iter().map(|p| (p.0 + d, p.2))),
                "hi": align(&xs, s.pts.iter().map(|p| (p.0 + d, p.3))),
            })
        })
        .collect();
    json!({
        "title": f.title,
        "subtitle": f.subtitle,
        "layout": "stack",
        "panels": [{
            "type": "xy",
            "xLabel": f.x_label,
            "yLabel": f.y_label,
            "legendHeading": f.legend_heading,
            "xTicks": f.x_ticks,
            "x": xs,
            "series": series,
            "rate": f.rate,
            "whiskers": f.points_only(),
            "bands": f.bands,
            "yRange": f.y_range.map(|(a, b)| json!([n(a), n(b)])),
        }],
    })
}

fn heatmap(f: &Heatmap) -> Value {
    let cells: Vec<Value> = f
        .cells
        .iter()
        .map(|c| json!([c.col, c.row, n(c.value), n(c.lo), n(c.hi)]))
        .collect();
    json!({
        "title": f.title,
        "subtitle": f.subtitle,
        "layout": "stack",
        "panels": [{
            "type": "heat",
            "xLabel": f.x_label,
            "yLabel": f.y_label,
            "xTicks": f.x_ticks,
            "yTicks": f.y_ticks,
            "cells": cells,
            "scaleLabel": f.scale_label,
            "rate": f.rate,
        }],
    })
}

fn ccdf(f: &CcdfChart) -> Value {
    let panels: Vec<Value> = f
        .panels
        .iter()
        .map(|p| {
            let xs = union_x(p.curves.iter().flat_map(|c| c.iter().map(|q| &q.0)));
            let xs: Vec<f64> = xs.into_iter().filter(|x| *x > 0.0).collect();
            let series: Vec<Value> = p
                .curves
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let (pos, runs) = p.positive.get(i).copied().unwrap_or((0, 0));
                    json!({
                        "label": format!(
                            "{} ({pos}/{runs} > 0)",
                            f.labels.get(i).cloned().unwrap_or_default()
                        ),
                        "color": css(color(i)),
                        "style": "step",
                        "y": align(&xs, c.iter().copied().filter(|q| q.0 > 0.0)),
                    })
                })
                .collect();
            json!({
                "type": "xy",
                "title": p.metric,
                "xLabel": p.x_label,
                "yLabel": "P(X ≥ x)",
                "x": xs,
                "xLog": true,
                "yLog": true,
                "series": series,
            })
        })
        .collect();
    json!({
        "title": f.title,
        "subtitle": f.subtitle,
        "layout": "grid",
        "panels": panels,
    })
}

/// Liquidation markers on a price panel: per kind (exogenous, induced) the block's price at
/// the blocks with such liquidations, and their count and notional for the hover text.
fn liq_series(t: &[f64], liqs: &[Liq]) -> Vec<Value> {
    [
        (false, "exogenous liq.", "#0072b2"),
        (true, "induced liq.", "#d55e00"),
    ]
    .iter()
    .map(|&(induced, label, col)| {
        let mut y = vec![Value::Null; t.len()];
        let mut count = vec![0u64; t.len()];
        let mut notional = vec![0.0f64; t.len()];
        let mut total = 0u64;
        for l in liqs.iter().filter(|l| l.induced == induced) {
            let i = t
                .partition_point(|x| *x < l.t_min)
                .min(t.len().saturating_sub(1));
            if t.is_empty() {
                break;
            }
            y[i] = n(l.price);
            count[i] += 1;
            notional[i] += l.notional;
            total += 1;
        }
        let count: Vec<Value> = count.iter().map(|c| json!(c)).collect();
        let notional: Vec<Value> = notional.iter().map(|v| n(*v)).collect();
        json!({
            "label": format!("{label} ({total})"),
            "color": col,
            "style": "points",
            "marker": if induced { "triangle" } else { "dot" },
            "y": y,
            "count": count,
            "notional": notional,
        })
    })
    .collect()
}

/// Liquidated notional per block, per kind, as bars.
fn liq_bars(t: &[f64], liqs: &[Liq]) -> Vec<Value> {
    [
        (false, "exogenous", "#0072b2"),
        (true, "induced", "#d55e00"),
    ]
    .iter()
    .map(|&(induced, label, col)| {
        let mut y = vec![Value::Null; t.len()];
        let mut sum = vec![0.0f64; t.len()];
        for l in liqs.iter().filter(|l| l.induced == induced) {
            if t.is_empty() {
                break;
            }
            let i = t.partition_point(|x| *x < l.t_min).min(t.len() - 1);
            sum[i] += l.notional;
            y[i] = n(sum[i]);
        }
        json!({ "label": label, "color": col, "style": "bars", "y": y })
    })
    .collect()
}

fn ts(label: &str, v: &[f64], col: &str, dashed: bool) -> Value {
    let y: Vec<Value> = v.iter().map(|x| n(*x)).collect();
    json!({ "label": label, "color": col, "style": "line", "dashed": dashed, "y": y })
}

fn path(f: &PathChart) -> Value {
    let t = &f.t_min;
    let mut prices: Vec<Value> = f
        .prices
        .iter()
        .enumerate()
        .map(|(i, (label, v, dashed))| ts(label, v, &css(color(i + 2)), *dashed))
        .collect();
    prices.extend(liq_series(t, &f.liqs));
    let mut panels = vec![
        json!({
            "type": "xy", "xLabel": "minutes", "x": t,
            "yLabel": format!("{} price ({})", f.asset, f.quote), "series": prices,
        }),
        json!({
            "type": "xy", "xLabel": "minutes", "x": t, "height": 200,
            "yLabel": format!("liquidated ({}/block)", f.quote), "series": liq_bars(t, &f.liqs),
        }),
        json!({
            "type": "xy", "xLabel": "minutes", "x": t, "height": 200,
            "yLabel": "base fee (gwei)", "series": [ts("base fee", &f.base_fee, "#555555", false)],
        }),
    ];
    if let Some(v) = &f.insurance {
        panels.push(json!({
            "type": "xy", "xLabel": "minutes", "x": t, "height": 200,
            "yLabel": format!("insurance fund ({})", f.quote),
            "series": [ts("insurance fund", v, "#009e73", false)],
        }));
    }
    if let Some(v) = &f.open_interest {
        panels.push(json!({
            "type": "xy", "xLabel": "minutes", "x": t, "height": 200,
            "yLabel": format!("open interest ({})", f.quote),
            "series": [ts("open interest", v, "#cc79a7", false)],
        }));
    }
    json!({
        "title": f.title,
        "subtitle": f.subtitle,
        "layout": "stack",
        "sync": true,
        "panels": panels,
    })
}

fn generations(f: &Generations) -> Value {
    let mut panels: Vec<Value> = f
        .columns
        .iter()
        .map(|c| {
            let mut s = vec![
                ts("p_exo", &c.p_exo, "#777777", true),
                ts("p_ref", &c.p_ref, "#000000", false),
                ts("oracle", &c.oracle, "#009e73", false),
            ];
            s.extend(liq_series(&c.t_min, &c.liqs));
            json!({
                "type": "xy", "title": format!("{} (point {})", c.name, c.point),
                "xLabel": "minutes", "x": c.t_min,
                "yLabel": format!("{} price ({})", f.asset, f.quote), "series": s,
            })
        })
        .collect();
    let mut columns = vec!["metric".to_string()];
    columns.extend(f.columns.iter().map(|c| c.name.clone()));
    let rows: Vec<Value> = BAR_METRICS
        .iter()
        .filter_map(|m| Quantity::parse(m).ok())
        .map(|q| {
            let mut row = vec![json!(metric_title(q.metric))];
            for c in &f.columns {
                row.push(match q.at(&c.agg) {
                    Some((v, lo, hi)) => json!([n(v), n(lo), n(hi)]),
                    None => Value::Null,
                });
            }
            json!(row)
        })
        .collect();
    panels.push(json!({
        "type": "table",
        "title": "Aggregates of all runs per scenario (value [95% interval])",
        "columns": columns,
        "rows": rows,
        "full": true,
    }));
    grid(&f.title, &f.subtitle, panels)
}

/// The name a metric is shown by in the report's own tables and data: its display name from
/// the metrics table ([`cascade_sim::metrics::metric_display`], the one table of names and
/// units every chart uses too); a name that is not a metric stays as it is.
pub fn metric_title(name: &str) -> String {
    cascade_sim::metrics::metric_display(name, "")
        .map(|(title, _)| title)
        .unwrap_or_else(|| name.to_string())
}

/// The aggregate table as data, for its CSV download: one column per value (axis values,
/// rates with their interval bounds, means with theirs, share above zero and mean above
/// zero), full precision, one row per point.
pub fn aggregate_rows(
    pf: &cascade_sim::store::PointsFile,
    rates: &[&str],
    headline: &[String],
) -> Value {
    let mut columns: Vec<String> = vec!["point".into()];
    columns.extend(pf.axes.iter().cloned());
    for r in rates {
        for s in ["rate", "rate_lo", "rate_hi"] {
            columns.push(format!("{r}_{s}"));
        }
    }
    for k in headline {
        for s in [
            "mean",
            "mean_lo",
            "mean_hi",
            "share_above_zero",
            "mean_above_zero",
        ] {
            columns.push(format!("{k}_{s}"));
        }
    }
    let rows: Vec<Value> = pf
        .points
        .iter()
        .map(|p| {
            let mut row = vec![json!(p.index)];
            for (k, v) in pf.axes.iter().zip(&p.params) {
                row.push(match v {
                    Param::Float(x) => n(*x),
                    Param::Int(i) => json!(i),
                    _ => json!(select::value_label(k, v)),
                });
            }
            for ra in p.agg.rates.iter().take(rates.len()) {
                row.extend([n(ra.rate), n(ra.lo), n(ra.hi)]);
            }
            for k in headline {
                match cascade_sim::metrics::metric_index(k).and_then(|i| p.agg.metrics.get(i)) {
                    Some(a) => row.extend([
                        n(a.mean),
                        n(a.ci_lo),
                        n(a.ci_hi),
                        n(a.pos_share),
                        n(a.pos_mean),
                    ]),
                    None => row.extend(std::iter::repeat_n(Value::Null, 5)),
                }
            }
            json!(row)
        })
        .collect();
    json!({ "columns": columns, "rows": rows })
}

/// JSON text that is safe inside an HTML `<script>` element: every `<` is written as its
/// JSON escape, so no `</script>` or `<!--` can end or change the element.
pub fn script_json(v: &Value) -> String {
    serde_json::to_string(v)
        .unwrap_or_else(|_| "null".into())
        .replace('<', "\\u003c")
}
