//! The heatmap: a quantity over two sweep axes, one cell per grid point, with a labelled
//! colour scale (viridis: ordered, readable in greyscale and with colour-vision deficiencies).
//!
//! Each cell prints its value, and on small grids its 95% interval, so the figure reads as a
//! table too. Axes beyond the two shown are held at one value (`--at key=value`, default: the
//! first), named in the subtitle. Only grid sweeps have cells; sampled sweeps are refused.
//!
//! The colour scale: rates always on [0, 1] (so heatmaps of rates compare across sweeps),
//! other quantities from their smallest to their largest cell (anchoring them at 0 would paint
//! 950 to 1,000 liquidations in one colour), or fixed by `--vmin/--vmax` to compare figures. A
//! grid whose cells are all equal has no scale to show: one colour, and the value stated.

use crate::render::*;
use crate::select::{self, Quantity};
use crate::{ReportError, invalid};
use cascade_sim::store::{Manifest, PointsFile};
use cascade_sim::sweep::Sampling;
use plotters::coord::Shift;
use plotters::prelude::*;

/// One cell: column, row, value, interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    pub col: usize,
    pub row: usize,
    pub value: f64,
    pub lo: f64,
    pub hi: f64,
}

/// A ready-to-draw heatmap.
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    pub title: String,
    pub subtitle: String,
    pub x_label: String,
    pub y_label: String,
    pub x_ticks: Vec<String>,
    pub y_ticks: Vec<String>,
    pub cells: Vec<Cell>,
    pub scale_label: String,
    pub rate: bool,
    /// A fixed colour scale (`--vmin`, `--vmax`); values outside it take the end colours.
    pub vrange: (Option<f64>, Option<f64>),
}

/// Build the heatmap of `q` over axes `x` (columns) and `y` (rows).
pub fn build(
    m: &Manifest,
    pf: &PointsFile,
    q: &Quantity,
    x: &str,
    y: &str,
    at: &[(String, String)],
) -> Result<Heatmap, ReportError> {
    let all = select::axes(pf);
    if all.len() < 2 {
        return Err(invalid(format!(
            "a heatmap needs a sweep over two axes; this sweep has {}: {}",
            all.len(),
            select::axis_list(&all)
        )));
    }
    if m.sampling != Sampling::Grid {
        return Err(invalid(format!(
            "a heatmap needs a grid sweep; this sweep was sampled ({:?}), so its points do not form cells: use --kind line",
            m.sampling
        )));
    }
    let xa = select::axis(&all, x, "--x")?;
    let ya = select::axis(&all, y, "--by")?;
    if xa.key == ya.key {
        return Err(invalid(format!(
            "a heatmap needs two different axes (--x and --by); the axes are: {}",
            select::axis_list(&all)
        )));
    }
    let (fixed, note) = select::fixed_values(m, &all, &[&xa.key, &ya.key], at)?;
    let mut cells = Vec::new();
    for rec in &pf.points {
        if !select::matches(&rec.params, &fixed) {
            continue;
        }
        let (Some(c), Some(r), Some((v, lo, hi))) = (
            rec.params.get(xa.index).and_then(|p| xa.position(p)),
            rec.params.get(ya.index).and_then(|p| ya.position(p)),
            q.at(&rec.agg),
        ) else {
            continue;
        };
        if !cells.iter().any(|e: &Cell| e.col == c && e.row == r) {
            cells.push(Cell {
                col: c,
                row: r,
                value: v,
                lo,
                hi,
            });
        }
    }
    let quote = select::quote_name(m);
    let mut sub = vec![format!("{} runs per point", m.runs)];
    if !note.is_empty() {
        sub.push(note);
    }
    sub.push(
        if q.rate.is_some() {
            "in brackets: 95% Wilson interval"
        } else {
            "in brackets: 95% bootstrap percentile interval of the mean"
        }
        .into(),
    );
    Ok(Heatmap {
        title: format!(
            "{} over {} and {}",
            q.title(),
            select::axis_title(m, &xa.key),
            select::axis_title(m, &ya.key)
        ),
        subtitle: sub.join(" · "),
        x_label: select::axis_label(m, &xa.key),
        y_label: select::axis_label(m, &ya.key),
        x_ticks: xa
            .values
            .iter()
            .map(|v| select::value_label(&xa.key, v))
            .collect(),
        y_ticks: ya
            .values
            .iter()
            .map(|v| select::value_label(&ya.key, v))
            .collect(),
        cells,
        scale_label: q.axis_label(&quote),
        rate: q.rate.is_some(),
        vrange: (None, None),
    })
}

impl Heatmap {
    /// The colour scale's range.
    pub fn range(&self) -> (f64, f64) {
        let (a, b) = if self.rate {
            (0.0, 1.0)
        } else {
            finite_range(self.cells.iter().map(|c| c.value)).unwrap_or((0.0, 1.0))
        };
        let lo = self.vrange.0.unwrap_or(a);
        let hi = self.vrange.1.unwrap_or(b);
        if hi > lo {
            (lo, hi)
        } else {
            // All equal (or a one-sided bound past the data): a unit-wide scale around it.
            let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
            (lo.min(hi) - d / 2.0, lo.max(hi) + d / 2.0)
        }
    }

    /// The value every cell shares, when the scale has nothing to show (not a rate, no fixed
    /// scale, every cell equal); None otherwise.
    pub fn uniform(&self) -> Option<f64> {
        if self.rate || self.vrange != (None, None) {
            return None;
        }
        let (a, b) = finite_range(self.cells.iter().map(|c| c.value))?;
        (a == b).then_some(a)
    }

    fn fmt(&self, v: f64) -> String {
        if !v.is_finite() {
            "n/a".into()
        } else if self.rate {
            format!("{v:.2}")
        } else {
            fmt_num(v)
        }
    }
}

fn index_labels(t: &[String]) -> impl Fn(&f64) -> String + '_ {
    move |v: &f64| {
        let i = v.round();
        if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < t.len() {
            t[i as usize].clone()
        } else {
            String::new()
        }
    }
}

impl Figure for Heatmap {
    fn size(&self) -> (u32, u32) {
        (1100, 720)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ReportError> {
        let body = titled(root, &self.title, &self.subtitle)?;
        let (w, _) = body.dim_in_pixel();
        let (plot, bar) = body.split_horizontally(w - 200);
        let (nx, ny) = (self.x_ticks.len().max(1), self.y_ticks.len().max(1));
        let mut chart = ChartBuilder::on(&plot)
            .margin(16)
            .x_label_area_size(56)
            .y_label_area_size(90)
            .build_cartesian_2d(-0.5..nx as f64 - 0.5, -0.5..ny as f64 - 0.5)
            .dr()?;
        let xf = index_labels(&self.x_ticks);
        let yf = index_labels(&self.y_ticks);
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .x_labels(nx * 2 + 1)
            .y_labels(ny * 2 + 1)
            .x_label_formatter(&xf)
            .y_label_formatter(&yf)
            .axis_desc_style(text(LABEL_PX))
            .label_style(text(TICK_PX))
            .draw()
            .dr()?;
        let (lo, hi) = self.range();
        let uniform = self.uniform();
        let norm = |v: f64| {
            if uniform.is_some() {
                0.5
            } else {
                (v - lo) / (hi - lo)
            }
        };
        let detail = nx <= 8 && ny <= 8;
        // Cells with no point (a fixed value leaves none) are hatched grey.
        for c in 0..nx {
            for r in 0..ny {
                if !self.cells.iter().any(|e| e.col == c && e.row == r) {
                    let (x, y) = (c as f64, r as f64);
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                            RGBColor(220, 220, 220).filled(),
                        )))
                        .dr()?;
                    chart
                        .draw_series(std::iter::once(Text::new(
                            "no point".to_string(),
                            (x, y),
                            text(TICK_PX).pos(Pos::new(HPos::Center, VPos::Center)),
                        )))
                        .dr()?;
                }
            }
        }
        for cell in &self.cells {
            let (x, y) = (cell.col as f64, cell.row as f64);
            let fill = viridis(norm(cell.value));
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                    fill.filled(),
                )))
                .dr()?;
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                    WHITE.stroke_width(2),
                )))
                .dr()?;
            let ink = if dark(fill) { WHITE } else { BLACK };
            let main = bold(17.0)
                .color(&ink)
                .pos(Pos::new(HPos::Center, VPos::Center));
            let small = text(13.0)
                .color(&ink)
                .pos(Pos::new(HPos::Center, VPos::Center));
            let label = self.fmt(cell.value);
            if detail {
                let iv = format!("[{}, {}]", self.fmt(cell.lo), self.fmt(cell.hi));
                chart
                    .draw_series(std::iter::once(
                        EmptyElement::at((x, y))
                            + Text::new(label, (0, -10), main)
                            + Text::new(iv, (0, 12), small),
                    ))
                    .dr()?;
            } else {
                chart
                    .draw_series(std::iter::once(Text::new(label, (x, y), main)))
                    .dr()?;
            }
        }
        if let Some(v) = uniform {
            // No scale to draw: one swatch and the value.
            let area = bar.margin(40, 20, 4, 26);
            area.draw(&Rectangle::new([(0, 0), (40, 40)], viridis(0.5).filled()))
                .dr()?;
            let lines = [
                "Every cell:".to_string(),
                format!(
                    "{} = {}",
                    wrap(&self.scale_label, 150, TICK_PX).join(" "),
                    self.fmt(v)
                ),
            ];
            let mut y = 52;
            for l in lines {
                for part in wrap(&l, 150, TICK_PX) {
                    area.draw(&Text::new(
                        part,
                        (0, y),
                        text(TICK_PX).pos(Pos::new(HPos::Left, VPos::Top)),
                    ))
                    .dr()?;
                    y += TICK_PX as i32 + 5;
                }
            }
            return Ok(());
        }
        // The colour scale.
        let mut cb = ChartBuilder::on(&bar.margin(16, 72, 4, 26))
            .margin_top(0)
            .x_label_area_size(56)
            .right_y_label_area_size(100)
            .build_cartesian_2d(0.0..1.0, lo..hi)
            .dr()?;
        cb.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_labels(7)
            .y_desc(self.scale_label.as_str())
            .y_label_formatter(&|v| self.fmt(*v))
            .axis_desc_style(text(LABEL_PX - 2.0))
            .label_style(text(TICK_PX))
            .draw()
            .dr()?;
        let steps = 120;
        cb.draw_series((0..steps).map(|i| {
            let a = lo + (hi - lo) * i as f64 / steps as f64;
            let b = lo + (hi - lo) * (i + 1) as f64 / steps as f64;
            Rectangle::new(
                [(0.0, a), (1.0, b)],
                viridis((i as f64 + 0.5) / steps as f64).filled(),
            )
        }))
        .dr()?;
        cb.draw_series(std::iter::once(Rectangle::new(
            [(0.0, lo), (1.0, hi)],
            BLACK.stroke_width(1),
        )))
        .dr()?;
        Ok(())
    }
}
