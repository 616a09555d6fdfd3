//! The interval line chart: a quantity against one sweep axis, one line per value of a
//! second axis, with the 95% interval as a shaded band.
//!
//! This is the chart of the seed question ("how does cascade frequency move with the
//! liquidation bonus, at each level of gas congestion?"). Grid axes with numeric values are
//! drawn to scale unless they span more than a factor of 20 (log ranges), which are drawn
//! evenly spaced and labelled with their values. Categorical axes (a scenario, a margin model,
//! any table-valued or text axis) have no order between their values, so they are drawn as
//! points with error bars, side by side per series, never joined by lines. Randomly sampled
//! sweeps show one marker per point with its interval as a whisker, since no two points share
//! the other axes' values. Each series has its own colour, marker shape and dash pattern, so
//! two series that coincide both stay visible; `--no-bands` drops the shaded intervals.

use crate::render::*;
use crate::select::{self, Axis, Quantity};
use crate::{ReportError, invalid};
use cascade_sim::store::{Manifest, PointsFile};
use cascade_sim::sweep::Sampling;
use plotters::coord::Shift;
use plotters::prelude::*;

/// One line: (x, value, lo, hi) per point, in x order.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    pub pts: Vec<(f64, f64, f64, f64)>,
}

/// A ready-to-draw line chart.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    pub title: String,
    pub subtitle: String,
    pub x_label: String,
    pub y_label: String,
    pub legend_heading: String,
    /// Evenly spaced x: the label of each position (x = 0, 1, ...).
    pub x_ticks: Option<Vec<String>>,
    pub series: Vec<Series>,
    /// A rate: the y axis starts at 0 and stops at 1 at most.
    pub rate: bool,
    /// Markers and whiskers instead of lines and bands.
    pub markers_only: bool,
    /// A categorical x axis: points with error bars, dodged side by side per series.
    pub categorical: bool,
    /// Shade the intervals of lines (false: `--no-bands`, lines and markers only).
    pub bands: bool,
    /// A y range shared with other panels (facets); None: from the data.
    pub y_range: Option<(f64, f64)>,
}

/// Whether a numeric axis is better drawn evenly spaced (it spans more than a factor of 20).
fn wide(a: &Axis) -> bool {
    let v: Vec<f64> = a.values.iter().filter_map(|p| p.as_f64()).collect();
    match select::finite_pos_range(&v) {
        Some((lo, hi)) => hi / lo > 20.0 && v.iter().all(|x| *x > 0.0),
        None => false,
    }
}

/// Build the chart of `q` against axis `x`, one line per value of `by`.
pub fn build(
    m: &Manifest,
    pf: &PointsFile,
    q: &Quantity,
    x: &str,
    by: Option<&str>,
    at: &[(String, String)],
) -> Result<LineChart, ReportError> {
    let all = select::axes(pf);
    if all.is_empty() {
        return Err(invalid(
            "the sweep has no axes: a line chart needs at least one (see `cascade export` for its single point)",
        ));
    }
    let xa = select::axis(&all, x, "--x")?;
    let ba = match by {
        Some(b) => {
            let a = select::axis(&all, b, "--by")?;
            if a.key == xa.key {
                return Err(invalid(format!(
                    "--by {b}: that is the x axis already; choose another axis: {}",
                    select::axis_list(&all)
                )));
            }
            Some(a)
        }
        None => None,
    };
    let grid = m.sampling == Sampling::Grid;
    let mut shown = vec![xa.key.as_str()];
    if let Some(b) = ba {
        shown.push(b.key.as_str());
    }
    let (fixed, note) = select::fixed_values(m, &all, &shown, at)?;
    let even = grid && (!xa.numeric || wide(xa));
    let xpos = |p: &cascade_sim::sweep::Param| -> Option<f64> {
        if even {
            xa.position(p).map(|i| i as f64)
        } else {
            p.as_f64()
        }
    };
    let groups: Vec<Option<&cascade_sim::sweep::Param>> = match (ba, grid) {
        (Some(b), true) => b.values.iter().map(Some).collect(),
        _ => vec![None],
    };
    let mut series = Vec::new();
    for g in &groups {
        let mut pts = Vec::new();
        for rec in &pf.points {
            if !select::matches(&rec.params, &fixed) {
                continue;
            }
            if let (Some(gv), Some(b)) = (g, ba)
                && !rec.params.get(b.index).is_some_and(|v| select::same(v, gv))
            {
                continue;
            }
            let (Some(xv), Some((v, lo, hi))) =
                (rec.params.get(xa.index).and_then(xpos), q.at(&rec.agg))
            else {
                continue;
            };
            pts.push((xv, v, lo, hi));
        }
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        if pts.is_empty() {
            continue;
        }
        let label = match (g, ba) {
            (Some(gv), Some(b)) => select::value_label(&b.key, gv),
            _ => q.title(),
        };
        series.push(Series { label, pts });
    }
    if series.is_empty() {
        return Err(invalid(format!(
            "no point of the sweep matches the request ({})",
            if note.is_empty() { "no values" } else { &note }
        )));
    }
    let quote = select::quote_name(m);
    let mut sub = vec![format!("{} runs per point", m.runs)];
    if !note.is_empty() {
        sub.push(note);
    }
    if !grid {
        sub.push(format!("{:?} sampling: every axis varies", m.sampling).to_lowercase());
    }
    sub.push(q.interval_note().replace(
        "band",
        if grid && xa.numeric {
            "band"
        } else {
            "error bars"
        },
    ));
    let title = match ba {
        Some(b) if grid => format!(
            "{} vs {} by {}",
            q.title(),
            select::axis_title(m, &xa.key),
            select::axis_title(m, &b.key)
        ),
        _ => format!("{} vs {}", q.title(), select::axis_title(m, &xa.key)),
    };
    Ok(LineChart {
        title,
        subtitle: sub.join(" · "),
        x_label: select::axis_label(m, &xa.key),
        y_label: q.axis_label(&quote),
        legend_heading: ba
            .map(|b| select::axis_label(m, &b.key))
            .unwrap_or_default(),
        x_ticks: even.then(|| {
            xa.values
                .iter()
                .map(|v| select::value_label(&xa.key, v))
                .collect()
        }),
        series,
        rate: q.rate.is_some(),
        markers_only: !grid,
        categorical: grid && !xa.numeric,
        bands: true,
        y_range: None,
    })
}

impl LineChart {
    /// The y range the data asks for: rates from 0 (to 1 at most), non-negative data from 0.
    pub fn data_y_range(&self) -> (f64, f64) {
        let (a, b) = finite_range(
            self.series
                .iter()
                .flat_map(|s| s.pts.iter().flat_map(|p| [p.1, p.2, p.3])),
        )
        .unwrap_or((0.0, 1.0));
        if self.rate {
            (0.0, (b * 1.12).clamp(0.05, 1.0))
        } else {
            // Non-negative data keeps a non-negative axis.
            let (lo, hi) = padded(a, b, 0.08);
            (if a >= 0.0 { lo.max(0.0) } else { lo }, hi)
        }
    }

    /// Whether series are drawn as points with error bars (no lines).
    pub fn points_only(&self) -> bool {
        self.markers_only || self.categorical
    }

    /// The horizontal offset of series `i` (categorical axes: side by side around each
    /// category, so error bars do not overlap).
    pub fn dodge(&self, i: usize) -> f64 {
        let n = self.series.len();
        if !self.categorical || n < 2 {
            return 0.0;
        }
        let step = (0.6 / n as f64).min(0.15);
        (i as f64 - (n - 1) as f64 / 2.0) * step
    }

    fn legend(&self) -> Vec<LegendEntry> {
        self.series
            .iter()
            .enumerate()
            .map(|(i, s)| LegendEntry {
                label: s.label.clone(),
                color: color(i),
                swatch: Swatch::Series {
                    marker: marker(i),
                    dash: dash(i),
                    line: !self.points_only(),
                    band: self.bands && !self.points_only(),
                },
            })
            .collect()
    }
}

/// The pixel width a legend of these labels needs.
pub fn legend_width(heading: &str, labels: impl Iterator<Item = usize>) -> u32 {
    let chars = labels
        .max()
        .unwrap_or(0)
        .max(heading.chars().count().saturating_sub(3));
    (chars as u32 * 9 + 60).clamp(150, 420)
}

impl Figure for LineChart {
    fn size(&self) -> (u32, u32) {
        (1100, 680)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ReportError> {
        let body = titled(root, &self.title, &self.subtitle)?;
        let show_legend = self.series.len() > 1 || !self.legend_heading.is_empty();
        let (w, _) = body.dim_in_pixel();
        let lw = if show_legend {
            legend_width(
                &self.legend_heading,
                self.series.iter().map(|s| s.label.chars().count()),
            )
        } else {
            0
        };
        let (plot, legend) = body.split_horizontally(w - lw);
        let (xlo, xhi) = match &self.x_ticks {
            Some(t) => (-0.35, t.len().saturating_sub(1) as f64 + 0.35),
            None => {
                let (a, b) =
                    finite_range(self.series.iter().flat_map(|s| s.pts.iter().map(|p| p.0)))
                        .unwrap_or((0.0, 1.0));
                padded(a, b, 0.05)
            }
        };
        let (ylo, yhi) = self.y_range.unwrap_or_else(|| self.data_y_range());
        let mut chart = ChartBuilder::on(&plot)
            .margin(16)
            .x_label_area_size(56)
            .y_label_area_size(86)
            .build_cartesian_2d(xlo..xhi, ylo..yhi)
            .dr()?;
        let ticks = self.x_ticks.clone();
        let xfmt = move |v: &f64| match &ticks {
            Some(t) => {
                let i = v.round();
                if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < t.len() {
                    t[i as usize].clone()
                } else {
                    String::new()
                }
            }
            None => fmt_num(*v),
        };
        let n_xlabels = self.x_ticks.as_ref().map_or(8, |t| t.len() + 1);
        chart
            .configure_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .x_labels(n_xlabels)
            .y_labels(8)
            .x_label_formatter(&xfmt)
            .y_label_formatter(&|v| fmt_tick(*v, ylo, yhi))
            .axis_desc_style(text(LABEL_PX))
            .label_style(text(TICK_PX))
            .light_line_style(TRANSPARENT)
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()
            .dr()?;
        for (i, s) in self.series.iter().enumerate() {
            let c = color(i);
            let off = self.dodge(i);
            let pts: Vec<(f64, f64)> = s.pts.iter().map(|p| (p.0 + off, p.1)).collect();
            if self.points_only() || s.pts.len() == 1 {
                let cap = if self.categorical { 0.03 } else { 0.0 };
                for &(x, _, lo, hi) in &s.pts {
                    let x = x + off;
                    if !(lo.is_finite() && hi.is_finite()) {
                        continue;
                    }
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            vec![(x, lo), (x, hi)],
                            c.stroke_width(2),
                        )))
                        .dr()?;
                    if cap > 0.0 {
                        for y in [lo, hi] {
                            chart
                                .draw_series(std::iter::once(PathElement::new(
                                    vec![(x - cap, y), (x + cap, y)],
                                    c.stroke_width(2),
                                )))
                                .dr()?;
                        }
                    }
                }
            } else {
                if self.bands {
                    let mut poly: Vec<(f64, f64)> = s.pts.iter().map(|p| (p.0, p.2)).collect();
                    poly.extend(s.pts.iter().rev().map(|p| (p.0, p.3)));
                    chart
                        .draw_series(std::iter::once(Polygon::new(poly, c.mix(0.14).filled())))
                        .dr()?;
                }
                draw_line(&mut chart, &pts, c, 3, dash(i))?;
            }
            // Earlier series draw larger markers, so one that coincides with a later one still
            // shows its rim.
            draw_markers(&mut chart, &pts, marker(i), c, (8 - i as i32).max(4))?;
        }
        if show_legend {
            draw_legend(
                &legend.margin(30, 0, 0, 0),
                &self.legend_heading,
                &self.legend(),
            )?;
        }
        Ok(())
    }
}
