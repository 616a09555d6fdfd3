//! `report.html`: everything a sweep produced on one page that opens anywhere.
//!
//! The page holds the manifest (what was run, by which version, with which seed), the sweep
//! axes, every default chart and the aggregate table. Images are embedded as base64 PNG and
//! styles are inline, so the file references nothing on the network and can be mailed or
//! archived alone; the charts are also written beside it (`charts/*.png|svg`) for papers.
//! The default charts are the cascade-frequency, bad-debt and amplification lines, heatmaps
//! of cascade frequency and bad debt (grid sweeps over two or more axes), the CCDF of
//! per-run losses, the path of the sweep's most amplified run and, for sweeps with a
//! `scenario` axis, the scenarios (engine generations) side by side on the same shocks.

use crate::ReportError;
use crate::charts::{PlotKind, PlotRequest, build_figure};
use crate::render::{Formats, base64, figure_paths, png_bytes, write_figure};
use crate::select::{self, Quantity};
use cascade_sim::aggregate::rate_metrics;
use cascade_sim::fsutil::write_atomic;
use cascade_sim::metrics::{METRICS, metric_index};
use cascade_sim::stats::{P95_MIN_RUNS, P99_MIN_RUNS, tail_reliable};
use cascade_sim::store::{PointsFile, Store};
use std::fmt::Write as _;
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
    for p in 0..store.points() {
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
    let pf = store.labelled_points_file()?;
    let dir = charts_dir(&store.dir);
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
                };
                out.push(Rendered {
                    title,
                    caption,
                    png,
                    files,
                });
            }
            Err(ReportError::Invalid(m)) => skipped.push(format!("{}: {m}", req.kind.name())),
            Err(e) => return Err(e),
        }
    }
    Ok((out, skipped))
}

/// HTML-escape text.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn num(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.4}")
    }
}

/// A path relative to the store directory, for links.
fn rel(dir: &Path, p: &Path) -> String {
    p.strip_prefix(dir)
        .unwrap_or(p)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

const STYLE: &str = "body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;max-width:1560px;margin:24px auto;padding:0 24px;color:#222;line-height:1.45}
h1{font-size:28px;margin-bottom:4px}h2{font-size:21px;margin-top:36px;border-bottom:1px solid #ccc;padding-bottom:4px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right;white-space:nowrap}
th{background:#f2f2f2}td.l,th.l{text-align:left}table.kv td{text-align:left;white-space:normal}table.kv td:first-child{font-weight:bold;white-space:nowrap}
figure{margin:20px 0;padding:0}figure img{max-width:100%;height:auto;border:1px solid #e4e4e4}figcaption{font-size:14px;color:#444;margin-top:4px}
.scroll{overflow-x:auto}code{background:#f4f4f4;padding:1px 4px}.muted{color:#666;font-size:13px}";

/// Build the page.
pub fn render_html(
    store: &Store,
    pf: &PointsFile,
    charts: &[Rendered],
    skipped: &[String],
) -> String {
    let m = &store.manifest;
    let quote = select::quote_name(m);
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>cascade: {}</title><style>{STYLE}</style></head><body>\n",
        esc(&m.name)
    );
    let _ = writeln!(h, "<h1>cascade results: {}</h1>", esc(&m.name));
    if !m.description.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", esc(&m.description));
    }
    // Manifest.
    h.push_str("<h2>Manifest</h2>\n<table class=\"kv\">\n");
    let rows: Vec<(&str, String)> = vec![
        ("sweep file", m.sweep_file.clone()),
        (
            "base scenario(s)",
            m.scenarios
                .iter()
                .map(|s| s.file.clone())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (
            "points × runs",
            format!(
                "{} × {} = {} runs",
                m.points.len(),
                m.runs,
                m.points.len() as u64 * m.runs
            ),
        ),
        ("master seed", m.seed.to_string()),
        ("sampling", format!("{:?}", m.sampling).to_lowercase()),
        ("cascade version", m.cascade_version.clone()),
        ("git commit", m.git_commit.clone()),
        ("config hash", m.config_hash.clone()),
        ("metric schema hash", m.schema_hash.clone()),
        ("status", m.status.clone()),
        ("started", m.started.clone()),
        ("finished", m.finished.clone().unwrap_or_else(|| "-".into())),
        ("threads", m.threads.to_string()),
        ("resumed", m.resumed.to_string()),
        ("command line", m.command_line.join(" ")),
        ("directory", store.dir.display().to_string()),
    ];
    for (k, v) in rows {
        let _ = writeln!(h, "<tr><td>{}</td><td>{}</td></tr>", esc(k), esc(&v));
    }
    h.push_str("</table>\n<details><summary>Resolved base configuration (JSON)</summary><pre>");
    for s in &m.scenarios {
        let _ = writeln!(h, "# {}", esc(&s.file));
        h.push_str(&esc(
            &serde_json::to_string_pretty(&s.config).unwrap_or_default()
        ));
        h.push('\n');
    }
    h.push_str("</pre></details>\n");
    // Axes.
    h.push_str("<h2>Sweep axes</h2>\n");
    let axes = select::axes(pf);
    if axes.is_empty() {
        h.push_str("<p>No axes: a single point.</p>\n");
    } else {
        h.push_str(
            "<table><tr><th class=\"l\">axis</th><th>values</th><th class=\"l\">values</th></tr>\n",
        );
        for a in &axes {
            let _ = writeln!(
                h,
                "<tr><td class=\"l\"><code>{}</code></td><td>{}</td><td class=\"l\">{}</td></tr>",
                esc(&a.key),
                a.values.len(),
                esc(&a
                    .values
                    .iter()
                    .map(|v| v.label())
                    .collect::<Vec<_>>()
                    .join(", "))
            );
        }
        h.push_str("</table>\n");
    }
    // Charts.
    h.push_str("<h2>Charts</h2>\n");
    for c in charts {
        let links = c
            .files
            .iter()
            .map(|f| {
                let r = rel(&store.dir, f);
                format!("<a href=\"{}\">{}</a>", esc(&r), esc(&r))
            })
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            h,
            "<figure><img alt=\"{}\" src=\"data:image/png;base64,{}\"><figcaption>{} <span class=\"muted\">Files: {}</span></figcaption></figure>",
            esc(&c.title),
            base64(&c.png),
            esc(&c.caption),
            links
        );
    }
    for s in skipped {
        let _ = writeln!(h, "<p class=\"muted\">Not drawn: {}</p>", esc(s));
    }
    // Aggregates.
    h.push_str("<h2>Aggregates per point</h2>\n<p class=\"muted\">Rates with 95% Wilson intervals; means with 95% percentile bootstrap intervals over the runs (2000 resamples, stream <code>bootstrap</code> of the master seed), then the share of runs above zero and the mean given above zero. Quote amounts in ");
    h.push_str(&esc(&quote));
    h.push_str(".</p>\n<div class=\"scroll\"><table><tr><th>point</th>");
    for a in &axes {
        let _ = write!(h, "<th>{}</th>", esc(&select::short_key(&a.key)));
    }
    let rates = rate_metrics();
    for r in &rates {
        let _ = write!(h, "<th>{} rate [95% CI]</th>", esc(r));
    }
    let mut headline: Vec<String> = [
        "liquidations",
        "induced_liquidations",
        "liquidated_notional",
        "cascade_amplification",
        "bad_debt",
        "uncovered_bad_debt",
        "protocol_loss_at_market",
        "oracle_gap_loss",
        "liquidation_slippage",
        "liquidation_delay_blocks_mean",
        "max_drawdown",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for m in extra_metrics(store) {
        if !headline.contains(&m) {
            headline.push(m);
        }
    }
    for k in &headline {
        let _ = write!(h, "<th>{}</th>", esc(k));
    }
    h.push_str("</tr>\n");
    for p in &pf.points {
        let _ = write!(h, "<tr><td>{}</td>", p.index);
        for v in &p.params {
            let _ = write!(h, "<td>{}</td>", esc(&v.label()));
        }
        for ra in &p.agg.rates {
            let _ = write!(h, "<td>{:.3} [{:.3}, {:.3}]</td>", ra.rate, ra.lo, ra.hi);
        }
        for k in &headline {
            if let Some(a) = metric_index(k).and_then(|i| p.agg.metrics.get(i)) {
                let _ = write!(
                    h,
                    "<td>{} [{}, {}]<br><span class=\"muted\">&gt;0: {:.0}%, mean {}</span></td>",
                    num(a.mean),
                    num(a.ci_lo),
                    num(a.ci_hi),
                    100.0 * a.pos_share,
                    num(a.pos_mean)
                );
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table></div>\n");
    paired_table(&mut h, pf, &headline);
    // Every metric.
    let _ = write!(
        h,
        "<details><summary>Every metric (mean, p95, p99 per point)</summary><p class=\"muted\">† a tail quantile from too few runs: a p95 needs {P95_MIN_RUNS} runs and a p99 {P99_MIN_RUNS} (20 runs expected beyond it); below that it is close to the largest values seen.</p><div class=\"scroll\"><table><tr><th>point</th>"
    );
    for d in METRICS {
        let _ = write!(h, "<th>{}<br>mean / p95 / p99</th>", esc(d.name));
    }
    h.push_str("</tr>\n");
    for p in &pf.points {
        let _ = write!(h, "<tr><td>{}</td>", p.index);
        let dag = |q: f64| {
            if tail_reliable(p.agg.runs, q) {
                ""
            } else {
                "†"
            }
        };
        for a in &p.agg.metrics {
            let _ = write!(
                h,
                "<td>{} / {}{} / {}{}</td>",
                num(a.mean),
                num(a.p95),
                dag(0.95),
                num(a.p99),
                dag(0.99)
            );
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table></div></details>\n");
    // Glossary.
    h.push_str("<h2>Metrics</h2>\n<table><tr><th class=\"l\">metric</th><th class=\"l\">unit</th><th class=\"l\">meaning</th></tr>\n");
    for d in METRICS {
        let _ = writeln!(
            h,
            "<tr><td class=\"l\"><code>{}</code></td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
            esc(d.name),
            esc(&select::unit(d.kind, &quote)),
            esc(d.doc)
        );
    }
    h.push_str("</table>\n");
    let _ = writeln!(
        h,
        "<p class=\"muted\">Written by cascade {} · every run reproducible with <code>cascade replay {} --point P --run R</code>.</p>\n</body></html>",
        esc(&m.cascade_version),
        esc(&store.dir.display().to_string())
    );
    h
}

/// Draw the default charts and write `<dir>/report.html`.
///
/// The store must be open for writing ([`Store::open_locked`]): every file is listed in its
/// manifest before it is written, and a file of the same name that the store did not write is
/// an error, never overwritten.
pub fn write_report(store: &Store) -> Result<ReportOutput, ReportError> {
    let pf = store.labelled_points_file()?;
    let path = store.dir.join("report.html");
    store.claim(std::slice::from_ref(&path))?;
    let (charts, skipped) = write_default_charts(store)?;
    let html = render_html(store, &pf, &charts, &skipped);
    write_atomic(&path, html.as_bytes()).map_err(|e| ReportError::Io(path.clone(), e))?;
    Ok(ReportOutput {
        html: path,
        charts: charts.into_iter().flat_map(|c| c.files).collect(),
        skipped,
    })
}

/// The paired comparisons with the sweep's baseline: per point that has a baseline, per
/// boolean and headline metric, the mean run-by-run difference with its 95% paired bootstrap
/// interval, the Benjamini-Hochberg q-value (bold at or below 0.05) and the runs above and
/// below the baseline's. Nothing in a sweep without a baseline.
fn paired_table(h: &mut String, pf: &PointsFile, headline: &[String]) {
    if pf.baseline.is_empty() {
        return;
    }
    h.push_str("<h2>Paired differences to the baseline</h2>\n<p class=\"muted\">Each point minus its baseline point, run by run on the same seeds: the mean difference, its 95% paired percentile bootstrap interval (2000 resamples of the run indices, stream <code>paired_bootstrap</code>), the Benjamini-Hochberg q-value of the paired sign-flip test over the sweep's comparisons (bold: q &le; 0.05), and the runs above (&uarr;) and below (&darr;) the baseline's. Rates are compared as 0/1 per run.</p>\n<div class=\"scroll\"><table><tr><th>point</th><th>baseline</th>");
    let mut names: Vec<String> = rate_metrics().iter().map(|s| s.to_string()).collect();
    names.extend(headline.iter().cloned());
    for k in &names {
        let _ = write!(h, "<th>{}</th>", esc(k));
    }
    h.push_str("</tr>\n");
    for p in &pf.points {
        let Some(Some(b)) = pf.baseline.get(p.index as usize) else {
            continue;
        };
        let label = |q: &cascade_sim::store::PointRecord| {
            q.params
                .iter()
                .map(|v| v.label())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let base = pf.points.iter().find(|q| q.index == *b);
        let _ = write!(
            h,
            "<tr><td>{} ({})</td><td>{}</td>",
            p.index,
            esc(&label(p)),
            base.map(|q| format!("{} ({})", q.index, esc(&label(q))))
                .unwrap_or_default()
        );
        for k in &names {
            let Some(x) = metric_index(k).and_then(|i| p.agg.paired.get(i)) else {
                h.push_str("<td></td>");
                continue;
            };
            let q = if x.q <= 0.05 {
                format!("<b>q {}</b>", num(x.q))
            } else {
                format!("q {}", num(x.q))
            };
            let _ = write!(
                h,
                "<td>{} [{}, {}]<br><span class=\"muted\">{} &uarr;{} &darr;{}</span></td>",
                num(x.diff),
                num(x.lo),
                num(x.hi),
                q,
                x.higher,
                x.lower
            );
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table></div>\n");
}
