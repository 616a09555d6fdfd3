//! The chart kinds, and the one entry point that turns a `cascade plot` request on a result
//! store into a figure.
//!
//! Defaults follow the seed question: the quantity is cascade frequency (`has_cascade`), x is
//! the sweep's first axis and lines (or heatmap rows) go by the first other axis with more
//! than one value.

pub mod ccdf;
pub mod facets;
pub mod generations;
pub mod heatmap;
pub mod line;
pub mod path;

use crate::render::Figure;
use crate::select::{self, Quantity};
use crate::{ReportError, invalid};
use cascade_sim::store::Store;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Which chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlotKind {
    Line,
    Heatmap,
    Ccdf,
    Path,
    Generations,
}

impl PlotKind {
    pub fn name(self) -> &'static str {
        match self {
            PlotKind::Line => "line",
            PlotKind::Heatmap => "heatmap",
            PlotKind::Ccdf => "ccdf",
            PlotKind::Path => "path",
            PlotKind::Generations => "generations",
        }
    }
}

/// A `cascade plot` request on a result store.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotRequest {
    pub kind: PlotKind,
    /// The x axis (line, heatmap columns); default: the first axis.
    pub x: Option<String>,
    /// The metric; default `has_cascade` (charted as cascade frequency).
    pub y: Option<String>,
    /// One line per value of this axis (line), or the heatmap's rows; default: the first
    /// other axis with more than one value; `none` for a single line.
    pub by: Option<String>,
    /// Values for axes the chart does not show (`key=value`); default: their first value.
    pub at: Vec<(String, String)>,
    /// Points for the CCDF (default: up to six spread over the sweep).
    pub points: Vec<u64>,
    /// Point and run for the path; the run for the generations chart.
    pub point: Option<u64>,
    pub run: Option<u64>,
    /// Shade intervals as bands (line charts; false: `--no-bands`).
    pub bands: bool,
    /// One panel per value of this axis (line, heatmap), sharing their scales.
    pub facet: Option<String>,
    /// A fixed colour scale for heatmaps (`--vmin`, `--vmax`).
    pub vmin: Option<f64>,
    pub vmax: Option<f64>,
}

impl PlotRequest {
    pub fn new(kind: PlotKind) -> PlotRequest {
        PlotRequest {
            kind,
            x: None,
            y: None,
            by: None,
            at: Vec::new(),
            points: Vec::new(),
            point: None,
            run: None,
            bands: true,
            facet: None,
            vmin: None,
            vmax: None,
        }
    }
}

/// Any figure (static dispatch over the kinds).
#[derive(Debug, Clone, PartialEq)]
pub enum AnyFigure {
    Line(line::LineChart),
    Heatmap(heatmap::Heatmap),
    Ccdf(ccdf::CcdfChart),
    Path(Box<path::PathChart>),
    Generations(Box<generations::Generations>),
    Facets(Box<facets::Facets>),
}

impl Figure for AnyFigure {
    fn size(&self) -> (u32, u32) {
        match self {
            AnyFigure::Line(f) => f.size(),
            AnyFigure::Heatmap(f) => f.size(),
            AnyFigure::Ccdf(f) => f.size(),
            AnyFigure::Path(f) => f.size(),
            AnyFigure::Generations(f) => f.size(),
            AnyFigure::Facets(f) => f.size(),
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ReportError> {
        match self {
            AnyFigure::Line(f) => f.draw(root),
            AnyFigure::Heatmap(f) => f.draw(root),
            AnyFigure::Ccdf(f) => f.draw(root),
            AnyFigure::Path(f) => f.draw(root),
            AnyFigure::Generations(f) => f.draw(root),
            AnyFigure::Facets(f) => f.draw(root),
        }
    }
}

impl AnyFigure {
    /// Lead the subtitle with `note` (what a partial result set holds).
    pub fn mark_partial(&mut self, note: &str) {
        let sub = match self {
            AnyFigure::Line(f) => &mut f.subtitle,
            AnyFigure::Heatmap(f) => &mut f.subtitle,
            AnyFigure::Ccdf(f) => &mut f.subtitle,
            AnyFigure::Path(f) => &mut f.subtitle,
            AnyFigure::Generations(f) => &mut f.subtitle,
            AnyFigure::Facets(f) => &mut f.subtitle,
        };
        *sub = if sub.is_empty() {
            note.to_string()
        } else {
            format!("{note}; {sub}")
        };
    }
}

/// A file-name-safe form of a key.
pub(crate) fn safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Build the figure a request asks for, and its default file stem (no extension). From a
/// partial set ([`Store::allow_partial`]) the subtitle says so first.
pub fn build_figure(store: &Store, req: &PlotRequest) -> Result<(AnyFigure, String), ReportError> {
    for (flag, v) in [("--vmin", req.vmin), ("--vmax", req.vmax)] {
        if let Some(v) = v
            && !v.is_finite()
        {
            return Err(invalid(format!(
                "{flag} {v}: a colour scale end must be a finite number"
            )));
        }
    }
    if let (Some(a), Some(b)) = (req.vmin, req.vmax)
        && a >= b
    {
        return Err(invalid(format!(
            "--vmin {a} --vmax {b}: the colour scale needs vmin < vmax"
        )));
    }
    if req.facet.is_some() && !matches!(req.kind, PlotKind::Line | PlotKind::Heatmap) {
        return Err(invalid(format!(
            "--facet applies to --kind line and --kind heatmap, not --kind {}",
            req.kind.name()
        )));
    }
    if (req.vmin.is_some() || req.vmax.is_some()) && req.kind != PlotKind::Heatmap {
        return Err(invalid(format!(
            "--vmin/--vmax fix a heatmap's colour scale; --kind {} has none",
            req.kind.name()
        )));
    }
    let (mut fig, stem) = build_any(store, req)?;
    if store.partial_allowed()
        && let Some(note) = store.results()?.partial_note()
    {
        fig.mark_partial(&note);
    }
    Ok((fig, stem))
}

fn build_any(store: &Store, req: &PlotRequest) -> Result<(AnyFigure, String), ReportError> {
    let m = &store.manifest;
    match req.kind {
        PlotKind::Line | PlotKind::Heatmap => {
            let pf = store.labelled_points_file()?;
            let all = select::axes(&pf);
            let y = req.y.clone().unwrap_or_else(|| "has_cascade".into());
            let q = Quantity::parse(&y)?;
            let x = match &req.x {
                Some(x) => x.clone(),
                None => all
                    .iter()
                    .find(|a| a.values.len() > 1)
                    .or(all.first())
                    .map(|a| a.key.clone())
                    .ok_or_else(|| {
                        invalid("the sweep has no axes: there is nothing to plot against")
                    })?,
            };
            let by = match req.by.as_deref() {
                Some("none") if req.kind == PlotKind::Line => None,
                Some(b) => Some(b.to_string()),
                None => all
                    .iter()
                    .find(|a| a.key != x && a.values.len() > 1)
                    .map(|a| a.key.clone()),
            };
            let by = match (&req.facet, by) {
                // The default --by never falls on the facet axis.
                (Some(f), Some(b)) if req.by.is_none() && *f == b => all
                    .iter()
                    .find(|a| a.key != x && a.key != *f && a.values.len() > 1)
                    .map(|a| a.key.clone()),
                (_, b) => b,
            };
            if let Some(fk) = &req.facet {
                let fig = facets::build(m, &pf, req, &q, &x, by.as_deref(), fk)?;
                let stem = format!(
                    "{}_{}_{}{}_facet_{}",
                    req.kind.name(),
                    q.metric,
                    safe(&x),
                    by.as_deref()
                        .map(|b| format!("_by_{}", safe(b)))
                        .unwrap_or_default(),
                    safe(fk)
                );
                return Ok((AnyFigure::Facets(Box::new(fig)), stem));
            }
            if req.kind == PlotKind::Line {
                let mut f = line::build(m, &pf, &q, &x, by.as_deref(), &req.at)?;
                f.bands = req.bands;
                let stem = match &by {
                    Some(b) => format!("line_{}_{}_by_{}", q.metric, safe(&x), safe(b)),
                    None => format!("line_{}_{}", q.metric, safe(&x)),
                };
                Ok((AnyFigure::Line(f), stem))
            } else {
                let Some(by) = by else {
                    return Err(invalid(format!(
                        "a heatmap needs a sweep over two axes; this sweep has {}: {}",
                        all.len(),
                        select::axis_list(&all)
                    )));
                };
                let mut f = heatmap::build(m, &pf, &q, &x, &by, &req.at)?;
                f.vrange = (req.vmin, req.vmax);
                Ok((
                    AnyFigure::Heatmap(f),
                    format!("heatmap_{}_{}_{}", q.metric, safe(&x), safe(&by)),
                ))
            }
        }
        PlotKind::Ccdf => {
            let pts = (!req.points.is_empty()).then_some(req.points.as_slice());
            let f = ccdf::build(store, pts)?;
            Ok((AnyFigure::Ccdf(f), "ccdf".into()))
        }
        PlotKind::Path => {
            let (Some(p), Some(r)) = (req.point, req.run) else {
                return Err(invalid(format!(
                    "--kind path needs --point P and --run R (points 0..{}, runs 0..{})",
                    store.points(),
                    m.runs
                )));
            };
            let f = path::build(store, p, r)?;
            Ok((AnyFigure::Path(Box::new(f)), format!("path_p{p}_r{r}")))
        }
        PlotKind::Generations => {
            let f = generations::build(store, &req.at, req.run)?;
            let stem = format!("generations_r{}", f.run);
            Ok((AnyFigure::Generations(Box::new(f)), stem))
        }
    }
}
