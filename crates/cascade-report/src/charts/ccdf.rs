//! Tails of per-run losses: the complementary CDF P(X ≥ x) of liquidated notional, cascade
//! amplification and bad debt, on log–log axes, one line per chosen sweep point.
//!
//! Means hide what risk managers care about, the size of the bad runs. Plotted from every
//! run's stored row (`runs/<p>.bin`), a CCDF shows the whole tail; straight stretches on
//! log–log axes are power-law-like tails. Runs with a zero value cannot sit on a log axis:
//! they still count in the denominator, so a curve starts at the share of runs above zero.

use crate::render::*;
use crate::select;
use crate::{ReportError, invalid};
use cascade_sim::metrics::metric_index;
use cascade_sim::store::Store;
use plotters::coord::Shift;
use plotters::prelude::*;

/// The metrics a CCDF chart shows.
pub const CCDF_METRICS: [&str; 3] = ["liquidated_notional", "cascade_amplification", "bad_debt"];

/// One panel: a metric and one step curve per point.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    pub metric: String,
    /// The metric's display name (panel caption).
    pub title: String,
    pub x_label: String,
    /// Per series: (x, P(X ≥ x)) at each distinct positive value, ascending.
    pub curves: Vec<Vec<(f64, f64)>>,
    /// Per series: runs with a value above zero, and runs.
    pub positive: Vec<(usize, usize)>,
}

/// A ready-to-draw CCDF figure.
#[derive(Debug, Clone, PartialEq)]
pub struct CcdfChart {
    pub title: String,
    pub subtitle: String,
    pub panels: Vec<Panel>,
    pub labels: Vec<String>,
}

/// Points to show by default: all of them up to 6, else 6 spread evenly (first and last
/// included).
pub fn default_points(n: u64) -> Vec<u64> {
    if n <= 6 {
        (0..n).collect()
    } else {
        let mut v: Vec<u64> = (0..6).map(|i| (i * (n - 1) + 2) / 5).collect();
        v.dedup();
        v
    }
}

/// P(X ≥ x) at each distinct positive value of `vals` (over all runs).
pub fn ccdf(vals: &[f64]) -> Vec<(f64, f64)> {
    let n = vals.len();
    let mut s: Vec<f64> = vals
        .iter()
        .copied()
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    s.sort_by(|a, b| a.total_cmp(b));
    let zeros = n - s.len();
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (i, v) in s.iter().enumerate() {
        if out.last().is_some_and(|l| l.0 == *v) {
            continue;
        }
        out.push((*v, (n - zeros - i) as f64 / n as f64));
    }
    out
}

/// Build the CCDF chart of `points` (default: [`default_points`]).
pub fn build(store: &Store, points: Option<&[u64]>) -> Result<CcdfChart, ReportError> {
    let m = &store.manifest;
    let n = store.points();
    let pts: Vec<u64> = match points {
        Some(p) if !p.is_empty() => p.to_vec(),
        // A partial set: spread over the points complete so far.
        _ if store.partial_allowed() => {
            let present = store.results()?.point_indices();
            default_points(present.len() as u64)
                .into_iter()
                .map(|i| present[i as usize])
                .collect()
        }
        _ => default_points(n),
    };
    if let Some(bad) = pts.iter().find(|p| **p >= n) {
        return Err(invalid(format!(
            "--points: point {bad} does not exist; the sweep has points 0..{n} (0 to {})",
            n.saturating_sub(1)
        )));
    }
    let quote = select::quote_name(m);
    let mut cols: Vec<Vec<Vec<f64>>> = vec![Vec::new(); CCDF_METRICS.len()];
    let mut labels = Vec::new();
    let point_labels = select::point_labels(store)?;
    for &p in &pts {
        let rf = store.runs(p)?;
        for (k, name) in CCDF_METRICS.iter().enumerate() {
            let i = metric_index(name).ok_or_else(|| invalid(format!("no metric {name}")))?;
            cols[k].push(rf.rows.iter().map(|r| r[i]).collect());
        }
        let label = point_labels.get(p as usize).cloned().unwrap_or_default();
        labels.push(if label.is_empty() {
            format!("point {p}")
        } else {
            format!("point {p}: {label}")
        });
    }
    let panels = CCDF_METRICS
        .iter()
        .zip(cols)
        .map(|(name, series)| {
            let (title, unit) = cascade_sim::metrics::metric_display(name, &quote)
                .unwrap_or_else(|| (name.to_string(), String::new()));
            Panel {
                metric: name.to_string(),
                x_label: cascade_sim::metrics::with_unit(&title, &unit),
                title,
                curves: series.iter().map(|v| ccdf(v)).collect(),
                positive: series
                    .iter()
                    .map(|v| (v.iter().filter(|x| **x > 0.0).count(), v.len()))
                    .collect(),
            }
        })
        .collect();
    Ok(CcdfChart {
        title: "Tails of per-run losses (CCDF)".into(),
        subtitle: format!(
            "P(X ≥ x) over the {} runs of each point, log–log · runs at 0 count in the denominator",
            m.runs
        ),
        panels,
        labels,
    })
}

impl Figure for CcdfChart {
    fn size(&self) -> (u32, u32) {
        (1500, 640)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ReportError> {
        let body = titled(root, &self.title, &self.subtitle)?;
        let (_, h) = body.dim_in_pixel();
        let legend_h = (self.labels.len().div_ceil(2) as u32) * 24 + 16;
        let (plots, legend) = body.split_vertically(h - legend_h);
        let areas = plots.split_evenly((1, self.panels.len().max(1)));
        for (panel, area) in self.panels.iter().zip(&areas) {
            let Some((xmin, xmax)) =
                finite_range(panel.curves.iter().flat_map(|c| c.iter().map(|p| p.0)))
            else {
                let (w, hh) = area.dim_in_pixel();
                area.draw(&Text::new(
                    format!("no run with {} > 0", panel.title.to_lowercase()),
                    (w as i32 / 2, hh as i32 / 2),
                    text(LABEL_PX).pos(Pos::new(HPos::Center, VPos::Center)),
                ))
                .dr()?;
                area.draw(&Text::new(
                    panel.title.clone(),
                    (w as i32 / 2, 20),
                    bold(LABEL_PX).pos(Pos::new(HPos::Center, VPos::Top)),
                ))
                .dr()?;
                continue;
            };
            // Log axes drawn as linear axes of log10 values, so narrow ranges (cascade
            // amplification near 1) still get ticks; labels show the values themselves.
            let (lx0, lx1) = (xmin.log10(), xmax.log10());
            let (lx0, lx1) = if lx1 > lx0 {
                let pad = (lx1 - lx0) * 0.04;
                (lx0 - pad, lx1 + pad)
            } else {
                (lx0 - 0.05, lx1 + 0.05)
            };
            let ymin = panel
                .curves
                .iter()
                .flat_map(|c| c.iter().map(|p| p.1))
                .fold(1.0f64, f64::min);
            let ly0 = (ymin * 0.7).min(0.5).log10();
            let mut chart = ChartBuilder::on(area)
                .margin(14)
                .caption(panel.title.as_str(), bold(LABEL_PX))
                .x_label_area_size(56)
                .y_label_area_size(70)
                .build_cartesian_2d(lx0..lx1, ly0..0.03)
                .dr()?;
            chart
                .configure_mesh()
                .x_desc(format!("{} · log scale", panel.x_label))
                .y_desc("P(X ≥ x) · log scale")
                .x_labels(0)
                .y_labels(0)
                .axis_desc_style(text(LABEL_PX - 1.0))
                .label_style(text(TICK_PX - 1.0))
                .light_line_style(TRANSPARENT)
                .bold_line_style(RGBColor(225, 225, 225))
                .draw()
                .dr()?;
            // Round 1-2-5 ticks on both log axes (plotters' own would fall on 10^0.2).
            let xt = log_ticks(10f64.powf(lx0), 10f64.powf(lx1));
            let yt = log_ticks(10f64.powf(ly0), 1.0);
            let grid = RGBColor(225, 225, 225);
            let base = area.get_base_pixel();
            for t in &xt {
                let v = t.log10();
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(v, ly0), (v, 0.03)],
                        grid.stroke_width(1),
                    )))
                    .dr()?;
                let (px, py) = chart.backend_coord(&(v, ly0));
                area.draw(&Text::new(
                    fmt_num(*t),
                    (px - base.0, py - base.1 + 6),
                    text(TICK_PX - 1.0).pos(Pos::new(HPos::Center, VPos::Top)),
                ))
                .dr()?;
            }
            for t in &yt {
                let v = t.log10();
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(lx0, v), (lx1, v)],
                        grid.stroke_width(1),
                    )))
                    .dr()?;
                let (px, py) = chart.backend_coord(&(lx0, v));
                area.draw(&Text::new(
                    fmt_num(*t),
                    (px - base.0 - 6, py - base.1),
                    text(TICK_PX - 1.0).pos(Pos::new(HPos::Right, VPos::Center)),
                ))
                .dr()?;
            }
            for (i, c) in panel.curves.iter().enumerate() {
                if c.is_empty() {
                    continue;
                }
                // A right-continuous step: P(X ≥ x) holds from each value to the next.
                let mut path = Vec::with_capacity(c.len() * 2);
                for (k, &(x, p)) in c.iter().enumerate() {
                    path.push((x.log10(), p.log10()));
                    let next = c.get(k + 1).map_or(x, |n| n.0);
                    path.push((next.log10(), p.log10()));
                }
                // Dash pattern and marker per point as well as colour: curves that coincide
                // stay visible.
                draw_line(&mut chart, &path, color(i), 2, dash(i))?;
                let marks: Vec<(f64, f64)> =
                    c.iter().map(|&(x, p)| (x.log10(), p.log10())).collect();
                draw_markers(&mut chart, &marks, marker(i), color(i), 4)?;
            }
        }
        // The legend under the panels, two columns.
        let (w, _) = legend.dim_in_pixel();
        let col_w = w as i32 / 2;
        for (i, l) in self.labels.iter().enumerate() {
            let x = 60 + (i % 2) as i32 * col_w;
            let y = 6 + (i / 2) as i32 * 24;
            draw_swatch(
                &legend,
                Swatch::Series {
                    marker: marker(i),
                    dash: dash(i),
                    line: true,
                    band: false,
                },
                color(i),
                (x, y + 8),
            )?;
            legend
                .draw(&Text::new(
                    l.clone(),
                    (x + 34, y),
                    text(LEGEND_PX).pos(Pos::new(HPos::Left, VPos::Top)),
                ))
                .dr()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ccdf_counts_zeros_in_the_denominator() {
        let c = ccdf(&[0.0, 3.0, 1.0, 3.0, 0.0]);
        assert_eq!(c, vec![(1.0, 0.6), (3.0, 0.4)]);
        assert!(ccdf(&[0.0, 0.0]).is_empty());
    }

    #[test]
    fn default_points_spread_and_include_ends() {
        assert_eq!(default_points(4), vec![0, 1, 2, 3]);
        let p = default_points(12);
        assert_eq!(p.len(), 6);
        assert_eq!((p[0], p[5]), (0, 11));
    }
}
