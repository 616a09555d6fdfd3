//! `report.html`: everything a sweep produced on one page that opens anywhere.
//!
//! The page holds a table of contents, the manifest (what was run, by which version, with
//! which seed), the sweep axes, every default chart and the aggregate tables. Charts are drawn
//! in the page from their embedded data by a vendored chart library (hover values, zoom,
//! series toggles), with the PNG embedded as base64 as the fallback; scripts, styles and data
//! are inline ([`html`], [`data`]), so the file references nothing on the network and can be
//! mailed or archived alone; the charts are also written beside it (`charts/*.png|svg`) for
//! papers.
//! The default charts are the cascade-frequency, bad-debt and amplification lines, heatmaps
//! of cascade frequency and bad debt (grid sweeps over two or more axes), the CCDF of
//! per-run losses, the path of the sweep's most amplified run and, for sweeps with a
//! `scenario` axis, the scenarios (engine generations) side by side on the same shocks.

pub mod data;
pub mod html;

pub use html::{esc, render_html};

use crate::ReportError;
use crate::charts::{PlotKind, PlotRequest, build_figure};
use crate::render::{Formats, figure_paths, png_bytes, write_figure};
use crate::select::{self, Quantity};
use cascade_sim::fsutil::write_atomic;
use cascade_sim::metrics::metric_index;
use cascade_sim::store::Store;
use std::path::{Path, PathBuf};

/// What `write_report` wrote.
#[derive(Debug, Clone)]
pub struct ReportOutput {
    pub html: PathBuf,
    pub charts: Vec<PathBuf>,
    /// Default charts that could not be drawn for this sweep, with the reason.
    pub skipped: Vec<String>,
}

/// A drawn chart.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub title: String,
    pub caption: String,
    pub png: Vec<u8>,
    pub files: Vec<PathBuf>,
    /// The figure's data for the page's interactive chart ([`data::figure_spec`]).
    pub spec: serde_json::Value,
}

/// The charts directory of a store.
pub fn charts_dir(dir: &Path) -> PathBuf {
    dir.join("charts")
}

/// The run to show as a path: the largest cascade amplification in the sweep (first on
/// ties), or, when nothing was amplified, the largest liquidated notional.
pub fn most_amplified(store: &Store) -> Result<(u64, u64, String), ReportError> {
    let amp = metric_index("cascade_amplification").unwrap_or(0);
    let liq = metric_index("liquidated_notional").unwrap_or(0);
    let mut best = (0u64, 0u64, f64::NEG_INFINITY, f64::NEG_INFINITY);
    for p in store.results()?.point_indices() {
        let rf = store.runs(p)?;
        for (r, row) in rf.rows.iter().enumerate() {
            let key = (row[amp], row[liq]);
            if key.0 > best.2 || (key.0 == best.2 && key.1 > best.3) {
                best = (p, r as u64, key.0, key.1);
            }
        }
    }
    let why = if best.2 > 1.0 {
        format!(
            "the run with the largest cascade amplification in the sweep ({:.3})",
            best.2
        )
    } else {
        "no run was amplified; the run with the largest liquidated notional".to_string()
    };
    Ok((best.0, best.1, why))
}

/// The metrics a sweep file asks to chart besides the defaults (its `charts` list), known
/// metrics only, without the defaults.
pub fn extra_metrics(store: &Store) -> Vec<String> {
    store
        .manifest
        .sweep
        .get("charts")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str())
                .filter(|m| cascade_sim::metrics::metric_index(m).is_some())
                .filter(|m| !["has_cascade", "bad_debt", "cascade_amplification"].contains(m))
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Draw the default charts into `<dir>/charts/` (PNG and SVG); the store must be open for
/// writing (see [`write_report`]).
pub fn write_default_charts(store: &Store) -> Result<(Vec<Rendered>, Vec<String>), ReportError> {
    write_default_charts_in(store, &store.dir)
}

/// [`write_default_charts`] into `<out>/charts/` (the store must be open for writing when
/// `out` lies inside it).
pub fn write_default_charts_in(
    store: &Store,
    out: &Path,
) -> Result<(Vec<Rendered>, Vec<String>), ReportError> {
    let pf = store.labelled_points_file()?;
    let dir = charts_dir(out);
    let mut specs: Vec<(PlotRequest, String)> = Vec::new();
    let axes = select::axes(&pf);
    let varied = axes.iter().filter(|a| a.values.len() > 1).count();
    for (y, what) in [
        (
            "has_cascade",
            "Share of runs with a cascade (induced liquidated notional above the threshold).",
        ),
        (
            "bad_debt",
            "Mean bad debt per run (shortfall before the waterfall).",
        ),
        (
            "cascade_amplification",
            "Mean cascade amplification: liquidated notional over exogenous liquidated notional.",
        ),
    ] {
        if !axes.is_empty() {
            let mut r = PlotRequest::new(PlotKind::Line);
            r.y = Some(y.into());
            specs.push((r, what.into()));
        }
    }
    // The sweep file's own `charts`: one line chart each (and a heatmap below).
    let extra = extra_metrics(store);
    for y in &extra {
        if !axes.is_empty() {
            let mut r = PlotRequest::new(PlotKind::Line);
            r.y = Some(y.clone());
            let doc = cascade_sim::metrics::METRICS
                .iter()
                .find(|d| d.name == y.as_str())
                .map(|d| d.doc)
                .unwrap_or("");
            specs.push((
                r,
                format!("Mean {y}: {doc} (asked for by the sweep file's `charts`)."),
            ));
        }
    }
    let mut skipped = Vec::new();
    if varied >= 2 && pf.points.len() > 1 {
        let heat: Vec<String> = ["has_cascade", "bad_debt"]
            .iter()
            .map(|s| s.to_string())
            .chain(extra.iter().cloned())
            .collect();
        for y in heat.iter().map(String::as_str) {
            let mut r = PlotRequest::new(PlotKind::Heatmap);
            r.y = Some(y.into());
            specs.push((
                r,
                format!("{} over the first two axes.", Quantity::parse(y)?.title()),
            ));
        }
    } else {
        skipped.push("heatmaps: they need a sweep over two axes".to_string());
    }
    specs.push((
        PlotRequest::new(PlotKind::Ccdf),
        "Complementary CDFs of per-run liquidated notional, cascade amplification and bad debt at up to six points spread over the sweep.".into(),
    ));
    if axes
        .iter()
        .any(|a| a.key == cascade_sim::sweep::SCENARIO_AXIS)
    {
        specs.push((
            PlotRequest::new(PlotKind::Generations),
            "The scenarios of the `scenario` axis side by side on the same shocks: one run's path under each, and the aggregates of all runs.".into(),
        ));
    }
    let (p, r, why) = most_amplified(store)?;
    let mut pr = PlotRequest::new(PlotKind::Path);
    pr.point = Some(p);
    pr.run = Some(r);
    specs.push((
        pr,
        format!(
            "Point {p}, run {r}: {why}. Replay it with `cascade replay {} --point {p} --run {r}`.",
            store.dir.display()
        ),
    ));
    let mut out = Vec::new();
    for (req, caption) in specs {
        match build_figure(store, &req) {
            Ok((fig, stem)) => {
                let png = png_bytes(&fig)?;
                let stem = dir.join(&stem);
                // Listed in the manifest before written; a user's file of that name is refused.
                store.claim(&figure_paths(&stem, Formats::BOTH))?;
                let files = write_figure(&fig, &stem, Formats::BOTH)?;
                let title = match &fig {
                    crate::AnyFigure::Line(f) => f.title.clone(),
                    crate::AnyFigure::Heatmap(f) => f.title.clone(),
                    crate::AnyFigure::Ccdf(f) => f.title.clone(),
                    crate::AnyFigure::Path(f) => f.title.clone(),
                    crate::AnyFigure::Generations(f) => f.title.clone(),
                    crate::AnyFigure::Facets(f) => f.title.clone(),
                };
                out.push(Rendered {
                    title,
                    caption,
                    png,
                    files,
                    spec: data::figure_spec(&fig),
                });
            }
            Err(ReportError::Invalid(m)) => skipped.push(format!("{}: {m}", req.kind.name())),
            Err(e) => return Err(e),
        }
    }
    Ok((out, skipped))
}

/// Draw the default charts and write `<dir>/report.html`.
///
/// The store must be open for writing ([`Store::open_locked`]): every file is listed in its
/// manifest before it is written, and a file of the same name that the store did not write is
/// an error, never overwritten.
pub fn write_report(store: &Store) -> Result<ReportOutput, ReportError> {
    write_report_in(store, &store.dir)
}

/// [`write_report`] into `out` (`<out>/report.html`, `<out>/charts/`): a directory outside
/// the store needs no lock, so a running sweep can be reported with `--partial`.
pub fn write_report_in(store: &Store, out: &Path) -> Result<ReportOutput, ReportError> {
    let pf = store.labelled_points_file()?;
    let path = out.join("report.html");
    store.claim(std::slice::from_ref(&path))?;
    if !out.is_dir() {
        std::fs::create_dir_all(out).map_err(|e| ReportError::Io(out.to_path_buf(), e))?;
    }
    let (charts, skipped) = write_default_charts_in(store, out)?;
    let html = html::render_html_in(store, &pf, &charts, &skipped, out);
    write_atomic(&path, html.as_bytes()).map_err(|e| ReportError::Io(path.clone(), e))?;
    Ok(ReportOutput {
        html: path,
        charts: charts.into_iter().flat_map(|c| c.files).collect(),
        skipped,
    })
}
