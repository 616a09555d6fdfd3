//! Engine generations side by side on the same shocks.
//!
//! A sweep with a `scenario` axis (configs/sweeps/generations.toml: gen1, gen2 and gen3,
//! which share their market, agents and crash and differ in the oracle and the margin engine)
//! runs every scenario with the same master seed, so run `r` of every generation draws the
//! same exogenous price and gas shocks (common random numbers) and differences are the
//! engines' doing. The figure puts one run's path under each scenario side by side (same
//! axes: p_exo, p_ref, oracle, liquidations marked exogenous or induced), each replayed in
//! memory and checked against its stored row, and below them the headline aggregates of all
//! runs with their 95% intervals. Other axes are held at one value (`--at`, default: first).

use super::path::{self, Liq};
use crate::render::*;
use crate::select::{self, Quantity};
use crate::{ReportError, invalid};
use cascade_sim::aggregate::PointAgg;
use cascade_sim::metrics::metric_index;
use cascade_sim::store::Store;
use cascade_sim::sweep::{SCENARIO_AXIS, Sampling};
use plotters::coord::Shift;
use plotters::prelude::*;

/// The aggregates shown as bars.
pub const BAR_METRICS: [&str; 4] = [
    "has_cascade",
    "cascade_amplification",
    "bad_debt",
    "liquidated_notional",
];

/// One scenario's part of the figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub point: u64,
    pub t_min: Vec<f64>,
    pub p_exo: Vec<f64>,
    pub p_ref: Vec<f64>,
    pub oracle: Vec<f64>,
    pub liqs: Vec<Liq>,
    pub agg: PointAgg,
}

/// The comparison, ready to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct Generations {
    pub title: String,
    pub subtitle: String,
    pub asset: String,
    pub quote: String,
    pub run: u64,
    pub columns: Vec<Column>,
}

/// Build the comparison from a store with a `scenario` axis; `run` is the run whose path is
/// shown (default: the run with the largest bad debt under the first scenario, the first
/// such run on ties).
pub fn build(
    store: &Store,
    at: &[(String, String)],
    run: Option<u64>,
) -> Result<Generations, ReportError> {
    let m = &store.manifest;
    let pf = store.labelled_points_file()?;
    let all = select::axes(&pf);
    let Some(sa) = all.iter().find(|a| a.key == SCENARIO_AXIS) else {
        return Err(invalid(format!(
            "--kind generations needs a sweep with a `{SCENARIO_AXIS}` axis (e.g. configs/sweeps/generations.toml); this sweep's axes are: {}",
            select::axis_list(&all)
        )));
    };
    if m.sampling != Sampling::Grid {
        return Err(invalid(
            "--kind generations needs a grid sweep (every scenario at the same other values)",
        ));
    }
    let (fixed, note) = select::fixed_values(m, &all, &[SCENARIO_AXIS], at)?;
    let mut picked = Vec::new();
    for v in &sa.values {
        let rec = pf.points.iter().find(|r| {
            select::matches(&r.params, &fixed)
                && r.params.get(sa.index).is_some_and(|p| select::same(p, v))
        });
        if let Some(r) = rec {
            picked.push((select::value_label(SCENARIO_AXIS, v), r));
        }
    }
    if picked.len() < 2 {
        return Err(invalid(format!(
            "--kind generations needs at least two scenarios at the chosen values; found {}",
            picked.len()
        )));
    }
    let run = match run {
        Some(r) if r >= m.runs => {
            return Err(invalid(format!(
                "--run {r}: the sweep has runs 0..{} per point (0 to {})",
                m.runs,
                m.runs.saturating_sub(1)
            )));
        }
        Some(r) => r,
        None => {
            let bad = metric_index("bad_debt").unwrap_or(0);
            let rf = store.runs(picked[0].1.index)?;
            rf.rows
                .iter()
                .enumerate()
                .fold((0usize, f64::NEG_INFINITY), |best, (i, r)| {
                    if r[bad] > best.1 { (i, r[bad]) } else { best }
                })
                .0 as u64
        }
    };
    let mut columns = Vec::new();
    let mut asset = String::new();
    let mut quote = select::quote_name(m);
    for (name, rec) in &picked {
        let pc = path::build(store, rec.index, run)?;
        asset = pc.asset.clone();
        quote = pc.quote.clone();
        let find = |prefix: &str| {
            pc.prices
                .iter()
                .find(|p| p.0.starts_with(prefix))
                .map(|p| p.1.clone())
                .unwrap_or_default()
        };
        columns.push(Column {
            name: name.clone(),
            point: rec.index,
            p_exo: find("p_exo"),
            p_ref: find("p_ref"),
            oracle: find("oracle"),
            t_min: pc.t_min.clone(),
            liqs: pc.liqs.clone(),
            agg: rec.agg.clone(),
        });
    }
    let mut sub = vec![format!(
        "{} runs per scenario, master seed {}: run r sees the same exogenous shocks under every scenario",
        m.runs, m.seed
    )];
    if !note.is_empty() {
        sub.push(note);
    }
    sub.push(format!("paths: run {run} · bars: 95% intervals"));
    Ok(Generations {
        title: format!(
            "Engine generations on the same shocks: {}",
            columns
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(" vs ")
        ),
        subtitle: sub.join(" · "),
        asset,
        quote,
        run,
        columns,
    })
}

const EXO: RGBColor = RGBColor(0, 114, 178);
const INDUCED: RGBColor = RGBColor(213, 94, 0);

impl Figure for Generations {
    fn size(&self) -> (u32, u32) {
        (1600, 1080)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ReportError> {
        let body = titled(root, &self.title, &self.subtitle)?;
        let (_, h) = body.dim_in_pixel();
        let (top, rest) = body.split_vertically(h * 50 / 100);
        let (legend, bottom) = rest.split_vertically(40);
        let n = self.columns.len().max(1);
        // Shared axes for the paths.
        let (t0, t1) = finite_range(self.columns.iter().flat_map(|c| c.t_min.iter().copied()))
            .unwrap_or((0.0, 1.0));
        let (p0, p1) = finite_range(
            self.columns
                .iter()
                .flat_map(|c| c.p_exo.iter().chain(&c.p_ref).chain(&c.oracle).copied()),
        )
        .unwrap_or((0.0, 1.0));
        let (p0, p1) = padded(p0, p1, 0.05);
        let (t0, t1) = if t1 > t0 {
            (t0, t1)
        } else {
            padded(t0, t1, 0.0)
        };
        for (c, area) in self.columns.iter().zip(top.split_evenly((1, n))) {
            let n_ind = c.liqs.iter().filter(|l| l.induced).count();
            let cap = format!(
                "{}: {} liquidations, {} induced",
                c.name,
                c.liqs.len(),
                n_ind
            );
            let mut ch = ChartBuilder::on(&area)
                .margin(12)
                .caption(cap, bold(LABEL_PX))
                .x_label_area_size(48)
                .y_label_area_size(78)
                .build_cartesian_2d(t0..t1, p0..p1)
                .dr()?;
            let yd = format!("{} price ({})", self.asset, self.quote);
            ch.configure_mesh()
                .x_desc("time (minutes)")
                .y_desc(yd.as_str())
                .x_labels(6)
                .y_labels(6)
                .x_label_formatter(&|v| fmt_num(*v))
                .y_label_formatter(&|v| fmt_num(*v))
                .axis_desc_style(text(LABEL_PX - 2.0))
                .label_style(text(TICK_PX - 1.0))
                .light_line_style(TRANSPARENT)
                .bold_line_style(RGBColor(220, 220, 220))
                .draw()
                .dr()?;
            let pts = |v: &[f64]| -> Vec<(f64, f64)> {
                c.t_min
                    .iter()
                    .copied()
                    .zip(v.iter().copied())
                    .filter(|p| p.1.is_finite())
                    .collect()
            };
            ch.draw_series(DashedLineSeries::new(
                pts(&c.p_exo),
                8,
                5,
                GREY.stroke_width(2),
            ))
            .dr()?;
            ch.draw_series(LineSeries::new(pts(&c.p_ref), BLACK.stroke_width(2)))
                .dr()?;
            ch.draw_series(LineSeries::new(
                pts(&c.oracle),
                RGBColor(0, 158, 115).stroke_width(2),
            ))
            .dr()?;
            let ok = |l: &&Liq| l.t_min.is_finite() && l.price.is_finite();
            ch.draw_series(
                c.liqs
                    .iter()
                    .filter(ok)
                    .filter(|l| !l.induced)
                    .map(|l| Circle::new((l.t_min, l.price), 4, EXO.mix(0.75).filled())),
            )
            .dr()?;
            ch.draw_series(
                c.liqs.iter().filter(ok).filter(|l| l.induced).map(|l| {
                    TriangleMarker::new((l.t_min, l.price), 6, INDUCED.mix(0.85).filled())
                }),
            )
            .dr()?;
        }
        // Legend for the paths, in one row.
        let entries = [
            (
                "p_exo (exogenous)",
                GREY,
                Swatch::Line {
                    width: 3,
                    dashed: true,
                },
            ),
            (
                "p_ref (with impact)",
                BLACK,
                Swatch::Line {
                    width: 3,
                    dashed: false,
                },
            ),
            (
                "oracle",
                RGBColor(0, 158, 115),
                Swatch::Line {
                    width: 3,
                    dashed: false,
                },
            ),
            ("exogenous liquidation", EXO, Swatch::Dot),
            ("induced liquidation", INDUCED, Swatch::Triangle),
        ];
        let mut x = 90;
        for (label, c, sw) in entries {
            draw_swatch(&legend, sw, c, (x, 18))?;
            legend
                .draw(&Text::new(
                    label,
                    (x + 34, 10),
                    text(LEGEND_PX).pos(Pos::new(HPos::Left, VPos::Top)),
                ))
                .dr()?;
            x += 34 + label.chars().count() as i32 * 9 + 40;
        }
        // Bars of the headline aggregates.
        let m = BAR_METRICS.len();
        for (name, area) in BAR_METRICS.iter().zip(bottom.split_evenly((1, m))) {
            let q = Quantity::parse(name)?;
            let vals: Vec<(f64, f64, f64)> =
                self.columns.iter().filter_map(|c| q.at(&c.agg)).collect();
            let (_, hi) = finite_range(vals.iter().flat_map(|v| [v.0, v.2])).unwrap_or((0.0, 1.0));
            let top = if q.rate.is_some() {
                (hi * 1.15).clamp(0.05, 1.0)
            } else if hi > 0.0 {
                hi * 1.15
            } else {
                1.0
            };
            let mut ch = ChartBuilder::on(&area)
                .margin(12)
                .caption(q.title(), bold(LABEL_PX))
                .x_label_area_size(40)
                .y_label_area_size(78)
                .build_cartesian_2d(-0.6..n as f64 - 0.4, 0.0..top)
                .dr()?;
            let names: Vec<String> = self.columns.iter().map(|c| c.name.clone()).collect();
            let xf = move |v: &f64| {
                let i = v.round();
                if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
                    names[i as usize].clone()
                } else {
                    String::new()
                }
            };
            let yd = q.axis_label(&self.quote);
            ch.configure_mesh()
                .disable_x_mesh()
                .y_desc(yd.as_str())
                .x_labels(2 * n + 1)
                .y_labels(6)
                .x_label_formatter(&xf)
                .y_label_formatter(&|v| fmt_num(*v))
                .axis_desc_style(text(LABEL_PX - 3.0))
                .label_style(text(TICK_PX))
                .light_line_style(TRANSPARENT)
                .bold_line_style(RGBColor(220, 220, 220))
                .draw()
                .dr()?;
            for (i, (v, lo, hi)) in vals.iter().enumerate() {
                let x = i as f64;
                ch.draw_series(std::iter::once(Rectangle::new(
                    [(x - 0.32, 0.0), (x + 0.32, *v)],
                    color(i).mix(0.85).filled(),
                )))
                .dr()?;
                ch.draw_series(std::iter::once(PathElement::new(
                    vec![(x, lo.max(0.0)), (x, *hi)],
                    BLACK.stroke_width(2),
                )))
                .dr()?;
                for y in [lo.max(0.0), *hi] {
                    ch.draw_series(std::iter::once(PathElement::new(
                        vec![(x - 0.1, y), (x + 0.1, y)],
                        BLACK.stroke_width(2),
                    )))
                    .dr()?;
                }
            }
        }
        Ok(())
    }
}
