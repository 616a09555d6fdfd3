//! Small multiples: one line chart or heatmap per value of a third sweep axis
//! (`cascade plot --facet KEY`), side by side on shared scales.
//!
//! A third dimension drawn as more lines on one chart soon becomes unreadable; as panels, each
//! stays the chart researchers know, and a shared y range (lines) or colour scale (heatmaps)
//! keeps the panels comparable at a glance. Each panel is built by its own chart kind with
//! the facet axis held at one value, so nothing here selects data.

use super::{PlotKind, PlotRequest, heatmap, line};
use crate::render::*;
use crate::select::{self, Quantity};
use crate::{ReportError, invalid};
use cascade_sim::store::{Manifest, PointsFile};
use cascade_sim::sweep::Sampling;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Panels on one figure, under one title.
#[derive(Debug, Clone, PartialEq)]
pub struct Facets {
    pub title: String,
    pub subtitle: String,
    pub cols: usize,
    pub panels: Vec<super::AnyFigure>,
}

/// Panel size in pixels.
const PANEL: (u32, u32) = (860, 560);

/// Build one panel per value of axis `facet`.
pub fn build(
    m: &Manifest,
    pf: &PointsFile,
    req: &PlotRequest,
    q: &Quantity,
    x: &str,
    by: Option<&str>,
    facet: &str,
) -> Result<Facets, ReportError> {
    let all = select::axes(pf);
    let fa = select::axis(&all, facet, "--facet")?;
    if m.sampling != Sampling::Grid {
        return Err(invalid(format!(
            "--facet needs a grid sweep; this sweep was sampled ({:?}), so no two points share a value of {facet}",
            m.sampling
        )));
    }
    if fa.key == x || Some(fa.key.as_str()) == by {
        return Err(invalid(format!(
            "--facet {facet}: that axis is already on the chart (--x or --by); choose another: {}",
            select::axis_list(&all)
        )));
    }
    if req.at.iter().any(|(k, _)| *k == fa.key) {
        return Err(invalid(format!(
            "--facet {facet} and --at {facet}=...: a faceted axis takes every value, one per panel"
        )));
    }
    if fa.values.len() > 12 {
        return Err(invalid(format!(
            "--facet {facet}: {} values would make {} panels (at most 12); choose an axis with fewer values",
            fa.values.len(),
            fa.values.len()
        )));
    }
    let ftitle = select::axis_title(m, &fa.key);
    let mut panels = Vec::new();
    let mut first: Option<(String, String)> = None;
    for v in &fa.values {
        let mut at = req.at.clone();
        at.push((fa.key.clone(), v.label()));
        let vlabel = select::value_label(&fa.key, v);
        let here = format!("{ftitle} = {vlabel}");
        let panel = match req.kind {
            PlotKind::Line => {
                let mut f = line::build(m, pf, q, x, by, &at)?;
                f.bands = req.bands;
                if first.is_none() {
                    first = Some((f.title.clone(), f.subtitle.clone()));
                }
                f.title = here.clone();
                f.subtitle = String::new();
                super::AnyFigure::Line(f)
            }
            _ => {
                let Some(by) = by else {
                    return Err(invalid(format!(
                        "a heatmap needs a sweep over two axes besides --facet; the axes are: {}",
                        select::axis_list(&all)
                    )));
                };
                let mut f = heatmap::build(m, pf, q, x, by, &at)?;
                f.vrange = (req.vmin, req.vmax);
                if first.is_none() {
                    first = Some((f.title.clone(), f.subtitle.clone()));
                }
                f.title = here.clone();
                f.subtitle = String::new();
                super::AnyFigure::Heatmap(f)
            }
        };
        panels.push((here, panel));
    }
    let (title, subtitle) = first.unwrap_or_default();
    // The first panel's note names its facet value: say "each panel" instead.
    let first_here = panels.first().map(|p| p.0.clone()).unwrap_or_default();
    let subtitle = subtitle.replace(&first_here, &format!("{ftitle}: one panel each"));
    let mut panels: Vec<super::AnyFigure> = panels.into_iter().map(|p| p.1).collect();
    share_scales(&mut panels);
    let cols = match panels.len() {
        0..=3 => panels.len().max(1),
        4 => 2,
        _ => 3,
    };
    Ok(Facets {
        title: format!("{title}, by {ftitle}"),
        subtitle,
        cols,
        panels,
    })
}

/// One y range for line panels (the union of theirs) and one colour scale for heatmap panels
/// (rates stay on [0, 1]; a fixed `--vmin/--vmax` stays).
fn share_scales(panels: &mut [super::AnyFigure]) {
    use super::AnyFigure as A;
    let lines: Vec<(f64, f64)> = panels
        .iter()
        .filter_map(|p| match p {
            A::Line(l) => Some(l.data_y_range()),
            _ => None,
        })
        .collect();
    if let Some(r) = finite_range(lines.iter().flat_map(|r| [r.0, r.1])) {
        for p in panels.iter_mut() {
            if let A::Line(l) = p {
                l.y_range = Some(r);
            }
        }
    }
    let cells = finite_range(panels.iter().flat_map(|p| match p {
        A::Heatmap(h) if !h.rate => h.cells.iter().map(|c| c.value).collect::<Vec<_>>(),
        _ => Vec::new(),
    }));
    if let Some((a, b)) = cells
        && b > a
    {
        for p in panels.iter_mut() {
            if let A::Heatmap(h) = p
                && !h.rate
            {
                h.vrange = (h.vrange.0.or(Some(a)), h.vrange.1.or(Some(b)));
            }
        }
    }
}

impl Facets {
    fn rows(&self) -> usize {
        self.panels.len().div_ceil(self.cols.max(1)).max(1)
    }
}

impl Figure for Facets {
    fn size(&self) -> (u32, u32) {
        (
            PANEL.0 * self.cols.max(1) as u32,
            PANEL.1 * self.rows() as u32 + 110,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ReportError> {
        let body = titled(root, &self.title, &self.subtitle)?;
        let areas = body.split_evenly((self.rows(), self.cols.max(1)));
        for (p, a) in self.panels.iter().zip(&areas) {
            p.draw(a)?;
        }
        Ok(())
    }
}
