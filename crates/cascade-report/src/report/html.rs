//! The text of `report.html`: one file that opens in any browser without a network.
//!
//! The page is plain HTML first: every section, table and the static PNG of every chart are
//! written here, so it reads with scripts off. Then the vendored chart library (uPlot, see
//! `assets/uplot/`), the page's own script and the data of every chart (JSON, from
//! [`super::data`]) are inlined; the script draws each chart in the page (hover values, zoom,
//! series toggles), makes the tables sortable and the aggregate table filterable and
//! downloadable as CSV, and keeps the PNG as a fallback for any chart it cannot draw. Nothing
//! in the page refers to another file or to the network, apart from links to the chart files
//! written beside it.

use super::Rendered;
use super::data::{aggregate_rows, metric_title, script_json};
use crate::render::base64;
use crate::select;
use cascade_sim::aggregate::rate_metrics;
use cascade_sim::metrics::{METRICS, metric_index};
use cascade_sim::stats::{P95_MIN_RUNS, P99_MIN_RUNS, tail_reliable};
use cascade_sim::store::{PointsFile, Store};
use serde_json::json;
use std::fmt::Write as _;
use std::path::Path;

/// The vendored chart library (uPlot 1.6.32, MIT; see assets/uplot/LICENSE).
const UPLOT_JS: &str = include_str!("../../assets/uplot/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../../assets/uplot/uPlot.min.css");
const UPLOT_LICENSE: &str = include_str!("../../assets/uplot/LICENSE");
/// The page's own script and style.
const PAGE_JS: &str = include_str!("../../assets/report/report.js");
const PAGE_CSS: &str = include_str!("../../assets/report/report.css");
/// Collects script errors from the first moment, so the browser test (and a reader, at the
/// foot of the page) learn of any; set before any other script runs.
const ERROR_HOOK: &str = "window.__reportErrors=[];(function(){var r=function(m){window.__reportErrors.push(String(m));};window.addEventListener('error',function(e){r(e.message||e);});window.addEventListener('unhandledrejection',function(e){r(e.reason);});var ce=console.error;console.error=function(){r(Array.prototype.join.call(arguments,' '));return ce.apply(console,arguments);};})();";

/// The sections of the page, in order: id and table-of-contents title. Every `<h2>` of the
/// page is one of these (the paired table only for sweeps with a baseline).
pub const SECTIONS: [(&str, &str); 7] = [
    ("manifest", "Manifest"),
    ("axes", "Sweep axes"),
    ("charts", "Charts"),
    ("aggregates", "Aggregates per point"),
    ("paired", "Paired differences to the baseline"),
    ("every-metric", "Every metric"),
    ("metrics", "Metrics"),
];

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

/// A sort key attribute for a table cell (empty for non-finite values, which sort last).
fn sv(v: f64) -> String {
    if v.is_finite() {
        format!(" data-v=\"{v}\"")
    } else {
        String::new()
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

fn title_of(id: &str) -> &'static str {
    SECTIONS
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, t)| *t)
        .unwrap_or("")
}

fn h2(h: &mut String, id: &str) {
    let _ = writeln!(h, "<h2 id=\"{id}\">{}</h2>", esc(title_of(id)));
}

/// The headline metrics of the aggregate and paired tables.
pub fn headline(store: &Store) -> Vec<String> {
    let mut v: Vec<String> = [
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
    for m in super::extra_metrics(store) {
        if !v.contains(&m) {
            v.push(m);
        }
    }
    v
}

/// Build the page.
pub fn render_html(
    store: &Store,
    pf: &PointsFile,
    charts: &[Rendered],
    skipped: &[String],
) -> String {
    render_html_in(store, pf, charts, skipped, &store.dir)
}

/// [`render_html`] for a page written into `base` (chart links relative to it).
pub fn render_html_in(
    store: &Store,
    pf: &PointsFile,
    charts: &[Rendered],
    skipped: &[String],
    base: &Path,
) -> String {
    let m = &store.manifest;
    let quote = select::quote_name(m);
    let axes = select::axes(pf);
    let headline = headline(store);
    let rates = rate_metrics();
    let mut h = String::new();
    // A partial set (`--partial`) says so in the page title and a banner under the heading.
    let partial = if store.partial_allowed() {
        store.results().ok().and_then(|r| r.partial_note())
    } else {
        None
    };
    let tag = if partial.is_some() { " (partial)" } else { "" };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>cascade{tag}: {}</title>\n<script>{ERROR_HOOK}</script>\n<style>{UPLOT_CSS}</style>\n<style>{PAGE_CSS}</style></head><body>\n<div class=\"layout\">\n",
        esc(&m.name)
    );
    toc(&mut h, pf, charts);
    h.push_str("<main>\n");
    let _ = writeln!(h, "<h1>cascade results{tag}: {}</h1>", esc(&m.name));
    if let Some(note) = &partial {
        let _ = writeln!(
            h,
            "<p class=\"partial\" style=\"border:2px solid #d55e00;padding:0.5em\"><strong>Partial results:</strong> {}; every table and chart below shows only these points; finish the sweep with <code>--resume</code> for the full results.</p>",
            esc(note.strip_prefix("partial results: ").unwrap_or(note))
        );
    }
    if !m.description.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", esc(&m.description));
    }
    // Manifest.
    h2(&mut h, "manifest");
    h.push_str("<table class=\"kv\">\n");
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
    h2(&mut h, "axes");
    if axes.is_empty() {
        h.push_str("<p>No axes: a single point.</p>\n");
    } else {
        h.push_str(
            "<div class=\"scroll\"><table class=\"wrap\"><tr><th class=\"l\">axis</th><th>values</th><th class=\"l\">values</th></tr>\n",
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
        h.push_str("</table></div>\n");
    }
    // Charts.
    h2(&mut h, "charts");
    h.push_str("<p class=\"muted\">Drawn in the page from the data embedded in it: hover for values, drag across a chart to zoom (double-click to zoom out), click a legend entry to hide or show its series. <b>Static image</b> shows the PNG written beside the report.</p>\n");
    for (i, c) in charts.iter().enumerate() {
        let links = c
            .files
            .iter()
            .map(|f| {
                let r = rel(base, f);
                format!("<a href=\"{}\">{}</a>", esc(&r), esc(&r))
            })
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            h,
            "<figure class=\"fig\" id=\"chart-{i}\" data-fig=\"{i}\"><div class=\"figbar\"><span class=\"figtitle\">{}</span><button type=\"button\" class=\"toggle\" hidden>Static image</button></div><div class=\"interactive\"></div><div class=\"static\"><img alt=\"{}\" src=\"data:image/png;base64,{}\"></div><figcaption>{} <span class=\"muted\">Files: {}</span></figcaption></figure>",
            esc(&c.title),
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
    h2(&mut h, "aggregates");
    h.push_str("<p class=\"muted\">Rates with 95% Wilson intervals; means with 95% percentile bootstrap intervals over the runs (2000 resamples, stream <code>bootstrap</code> of the master seed), then the share of runs above zero and the mean given above zero. Quote amounts in ");
    h.push_str(&esc(&quote));
    h.push_str(".</p>\n<div class=\"tools\" data-for=\"agg-table\"><input type=\"search\" class=\"filter\" placeholder=\"Filter rows: words that must all appear, e.g. 0.05\" aria-label=\"Filter the aggregate table\"><button type=\"button\" class=\"csv\">Download CSV</button><span class=\"count muted\"></span></div>\n<div class=\"scroll\"><table class=\"data\" id=\"agg-table\"><thead><tr><th>point</th>");
    for a in &axes {
        let _ = write!(
            h,
            "<th title=\"{}\">{}</th>",
            esc(&a.key),
            esc(&select::axis_label(&store.manifest, &a.key))
        );
    }
    for r in &rates {
        let _ = write!(
            h,
            "<th title=\"{}\">{} [95% CI]</th>",
            esc(r),
            esc(&metric_title(r))
        );
    }
    for k in &headline {
        let _ = write!(h, "<th>{}</th>", esc(&metric_title(k)));
    }
    h.push_str("</tr></thead><tbody>\n");
    for p in &pf.points {
        let _ = write!(h, "<tr><td data-v=\"{}\">{}</td>", p.index, p.index);
        for (k, v) in pf.axes.iter().zip(&p.params) {
            let key = v.as_f64().map(sv).unwrap_or_default();
            let _ = write!(h, "<td{key}>{}</td>", esc(&select::value_label(k, v)));
        }
        for ra in &p.agg.rates {
            let _ = write!(
                h,
                "<td{}>{:.3} [{:.3}, {:.3}]</td>",
                sv(ra.rate),
                ra.rate,
                ra.lo,
                ra.hi
            );
        }
        for k in &headline {
            if let Some(a) = metric_index(k).and_then(|i| p.agg.metrics.get(i)) {
                let _ = write!(
                    h,
                    "<td{}>{} [{}, {}]<br><span class=\"muted\">&gt;0: {:.0}%, mean {}</span></td>",
                    sv(a.mean),
                    num(a.mean),
                    num(a.ci_lo),
                    num(a.ci_hi),
                    100.0 * a.pos_share,
                    num(a.pos_mean)
                );
            } else {
                h.push_str("<td></td>");
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table></div>\n");
    paired_table(&mut h, pf, &headline);
    // Every metric.
    h2(&mut h, "every-metric");
    let _ = write!(
        h,
        "<details><summary>Every metric (mean, p95, p99 per point)</summary><p class=\"muted\">† a tail quantile from too few runs: a p95 needs {P95_MIN_RUNS} runs and a p99 {P99_MIN_RUNS} (20 runs expected beyond it); below that it is close to the largest values seen.</p><div class=\"scroll\"><table class=\"data\"><thead><tr><th>point</th>"
    );
    for d in METRICS {
        let _ = write!(
            h,
            "<th>{}<br>mean / p95 / p99</th>",
            esc(&metric_title(d.name))
        );
    }
    h.push_str("</tr></thead><tbody>\n");
    for p in &pf.points {
        let _ = write!(h, "<tr><td data-v=\"{}\">{}</td>", p.index, p.index);
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
                "<td{}>{} / {}{} / {}{}</td>",
                sv(a.mean),
                num(a.mean),
                num(a.p95),
                dag(0.95),
                num(a.p99),
                dag(0.99)
            );
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table></div></details>\n");
    // Glossary.
    h2(&mut h, "metrics");
    h.push_str("<div class=\"scroll\"><table class=\"wrap\"><tr><th class=\"l\">metric</th><th class=\"l\">unit</th><th class=\"l\">meaning</th></tr>\n");
    for d in METRICS {
        let _ = writeln!(
            h,
            "<tr><td class=\"l\"><code>{}</code></td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
            esc(d.name),
            esc(&select::unit(d.kind, &quote)),
            esc(d.doc)
        );
    }
    h.push_str("</table></div>\n");
    let _ = writeln!(
        h,
        "<p class=\"muted\">Written by cascade {} · every run reproducible with <code>cascade replay {} --point P --run R</code>. Charts drawn with uPlot 1.6.32 (MIT licence, in the page's source).</p>\n<pre id=\"report-errors\" hidden></pre>\n</main></div>",
        esc(&m.cascade_version),
        esc(&store.dir.display().to_string())
    );
    // Data, library, script.
    let figures: Vec<serde_json::Value> = charts.iter().map(|c| c.spec.clone()).collect();
    let data = json!({
        "name": m.name,
        "figures": figures,
        "aggregates": aggregate_rows(pf, &rates, &headline),
    });
    let _ = write!(
        h,
        "<script type=\"application/json\" id=\"report-data\">{}</script>\n<script>\n/* uPlot 1.6.32 (github.com/leeoniya/uPlot, commit e995b061e9fc5476a6d862cd2fb2ebc7452ca012)\n{}*/\n{}\n</script>\n<script>\n{}\n</script>\n</body></html>\n",
        script_json(&data),
        UPLOT_LICENSE.replace("*/", "* /"),
        UPLOT_JS.trim_start_matches("/*! https://github.com/leeoniya/uPlot (v1.6.32) */"),
        PAGE_JS
    );
    h
}

/// The table of contents: every section, and every chart under Charts.
fn toc(h: &mut String, pf: &PointsFile, charts: &[Rendered]) {
    h.push_str("<nav id=\"toc\" aria-label=\"Contents\"><b>Contents</b><ol>\n");
    for (id, title) in SECTIONS {
        if id == "paired" && pf.baseline.is_empty() {
            continue;
        }
        let _ = write!(h, "<li><a href=\"#{id}\">{}</a>", esc(title));
        if id == "charts" && !charts.is_empty() {
            h.push_str("<ol>");
            for (i, c) in charts.iter().enumerate() {
                let _ = write!(h, "<li><a href=\"#chart-{i}\">{}</a></li>", esc(&c.title));
            }
            h.push_str("</ol>");
        }
        h.push_str("</li>\n");
    }
    h.push_str("</ol></nav>\n");
}

/// The paired comparisons with the sweep's baseline: per point that has a baseline, per
/// boolean and headline metric, the mean run-by-run difference with its 95% paired bootstrap
/// interval, the Benjamini-Hochberg q-value (bold at or below 0.05) and the runs above and
/// below the baseline's. Nothing in a sweep without a baseline.
fn paired_table(h: &mut String, pf: &PointsFile, headline: &[String]) {
    if pf.baseline.is_empty() {
        return;
    }
    h2(h, "paired");
    h.push_str("<p class=\"muted\">Each point minus its baseline point, run by run on the same seeds: the mean difference, its 95% paired percentile bootstrap interval (2000 resamples of the run indices, stream <code>paired_bootstrap</code>), the Benjamini-Hochberg q-value of the paired sign-flip test over the sweep's comparisons (bold: q &le; 0.05), and the runs above (&uarr;) and below (&darr;) the baseline's. Rates are compared as 0/1 per run.</p>\n<div class=\"scroll\"><table class=\"data\"><thead><tr><th>point</th><th>baseline</th>");
    let mut names: Vec<String> = rate_metrics().iter().map(|s| s.to_string()).collect();
    names.extend(headline.iter().cloned());
    for k in &names {
        let _ = write!(h, "<th>{}</th>", esc(&metric_title(k)));
    }
    h.push_str("</tr></thead><tbody>\n");
    for p in &pf.points {
        let Some(Some(b)) = pf.baseline.get(p.index as usize) else {
            continue;
        };
        let label = |q: &cascade_sim::store::PointRecord| {
            pf.axes
                .iter()
                .zip(&q.params)
                .map(|(k, v)| select::value_label(k, v))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let base = pf.points.iter().find(|q| q.index == *b);
        let _ = write!(
            h,
            "<tr><td data-v=\"{}\">{} ({})</td><td>{}</td>",
            p.index,
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
                "<td{}>{} [{}, {}]<br><span class=\"muted\">{} &uarr;{} &darr;{}</span></td>",
                sv(x.diff),
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
    h.push_str("</tbody></table></div>\n");
}
