//! The interval line chart: a quantity against one sweep axis, one line per value of a
//! second axis, with the 95% interval as a shaded band.
//!
//! This is the chart of the seed question ("how does cascade frequency move with the
//! liquidation bonus, at each level of gas congestion?"). Grid axes with numeric values are
//! drawn to scale unless they span more than a factor of 20 (log ranges), which are drawn
//! evenly spaced and labelled with their values, as are text axes. Randomly sampled sweeps
//! show one marker per point with its interval as a whisker, since no two points share the
//! other axes' values.

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
    sub.push(
        q.interval_note()
            .replace("band", if grid { "band" } else { "whiskers" }),
    );
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
    })
}

impl LineChart {
    fn legend(&self) -> Vec<LegendEntry> {
        self.series
            .iter()
            .enumerate()
            .map(|(i, s)| LegendEntry {
                label: s.label.clone(),
                color: color(i),
                swatch: if self.markers_only {
                    Swatch::Dot
                } else {
                    Swatch::LineBand
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
        let (ylo, yhi) = {
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
        };
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
            if self.markers_only || s.pts.len() == 1 {
                for &(x, _, lo, hi) in &s.pts {
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            vec![(x, lo), (x, hi)],
                            c.stroke_width(2),
                        )))
                        .dr()?;
                }
            } else {
                let mut poly: Vec<(f64, f64)> = s.pts.iter().map(|p| (p.0, p.2)).collect();
                poly.extend(s.pts.iter().rev().map(|p| (p.0, p.3)));
                chart
                    .draw_series(std::iter::once(Polygon::new(poly, c.mix(0.14).filled())))
                    .dr()?;
                chart
                    .draw_series(LineSeries::new(
                        s.pts.iter().map(|p| (p.0, p.1)),
                        c.stroke_width(3),
                    ))
                    .dr()?;
            }
            chart
                .draw_series(s.pts.iter().map(|p| Circle::new((p.0, p.1), 5, c.filled())))
                .dr()?;
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
