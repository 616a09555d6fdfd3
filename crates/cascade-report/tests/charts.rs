//! Every chart kind renders from small fixture stores (made with cascade-sim's sweep runner),
//! invalid requests are clear errors, report.html is self-contained, and the build links no
//! system font library.

use cascade_report::charts::path;
use cascade_report::render::{Formats, png_bytes, svg_string, write_figure};
use cascade_report::{AnyFigure, Figure, PlotKind, PlotRequest, ReportError, build_figure};
use cascade_sim::store::Store;
use std::sync::OnceLock;

mod common;
use common::{gen_file, repo, store, tmp};

/// Two axes, 3 x 2 points.
fn grid() -> &'static Store {
    static S: OnceLock<Store> = OnceLock::new();
    S.get_or_init(|| {
        store(
            "report",
            "grid",
            &format!(
                "scenario = \"{}\"\n[[axis]]\nkey = \"engine.liquidation.bonus\"\ntitle = \"Liquidation bonus\"\nunit = \"share\"\nvalues = [0.03, 0.06, 0.09]\n[[axis]]\nkey = \"oracles.0.feed.latency_s\"\nvalues = [12, 60]\n",
                gen_file(1)
            ),
        )
    })
}

/// One axis.
fn one_axis() -> &'static Store {
    static S: OnceLock<Store> = OnceLock::new();
    S.get_or_init(|| {
        store(
            "report",
            "one",
            &format!(
                "scenario = \"{}\"\n[[axis]]\nkey = \"engine.liquidation.bonus\"\nvalues = [0.03, 0.09]\n",
                gen_file(1)
            ),
        )
    })
}

/// A scenario axis (gen1, gen2, gen3).
fn generations() -> &'static Store {
    static S: OnceLock<Store> = OnceLock::new();
    S.get_or_init(|| {
        store(
            "report",
            "gens",
            &format!(
                "[[axis]]\nkey = \"scenario\"\nvalues = [\"{}\", \"{}\", \"{}\"]\n",
                gen_file(1),
                gen_file(2),
                gen_file(3)
            ),
        )
    })
}

/// The figure renders to a PNG of its size with real content, and to an SVG with its title.
fn check_renders(fig: &AnyFigure, title: &str) {
    let png = png_bytes(fig).unwrap();
    let img = image::load_from_memory(&png).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), fig.size());
    let inked = img.pixels().filter(|p| p.0 != [255, 255, 255]).count();
    let total = (img.width() * img.height()) as usize;
    assert!(
        inked > total / 50,
        "{title}: only {inked} of {total} pixels drawn"
    );
    let svg = svg_string(fig).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..40.min(svg.len())]);
    assert!(svg.contains(title), "{title} not in the SVG");
}

fn req(kind: PlotKind) -> PlotRequest {
    PlotRequest::new(kind)
}

#[test]
fn line_chart_renders_and_writes_both_formats_atomically() {
    let s = grid();
    let (fig, stem) = build_figure(s, &req(PlotKind::Line)).unwrap();
    assert_eq!(
        stem,
        "line_has_cascade_engine.liquidation.bonus_by_oracles.0.feed.latency_s"
    );
    let AnyFigure::Line(l) = &fig else {
        panic!("not a line chart")
    };
    assert_eq!(l.series.len(), 2, "one line per latency value");
    assert!(l.series.iter().all(|s| s.pts.len() == 3));
    assert!(l.y_label.contains("share of runs"));
    // Titles and units from the sweep file, the key in words where it gives none.
    assert_eq!(l.x_label, "Liquidation bonus (share)");
    assert_eq!(l.legend_heading, "Feed latency s");
    assert!(!l.title.contains("engine.") && !l.subtitle.contains("engine."));
    check_renders(
        &fig,
        "Cascade frequency vs Liquidation bonus by Feed latency s",
    );
    // A metric with a unit, against the other axis, one line.
    let mut r = req(PlotKind::Line);
    r.y = Some("bad_debt".into());
    r.x = Some("oracles.0.feed.latency_s".into());
    r.by = Some("none".into());
    r.at = vec![("engine.liquidation.bonus".into(), "0.06".into())];
    let (fig, _) = build_figure(s, &r).unwrap();
    let AnyFigure::Line(l) = &fig else { panic!() };
    assert_eq!(l.series.len(), 1);
    assert!(l.y_label.contains("(USD)"), "{}", l.y_label);
    assert!(
        l.subtitle.contains("Liquidation bonus = 0.06"),
        "{}",
        l.subtitle
    );
    let dir = tmp("report", "line-out");
    let files = write_figure(&fig, &dir.join("chart"), Formats::BOTH).unwrap();
    assert_eq!(files, vec![dir.join("chart.png"), dir.join("chart.svg")]);
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "no temporary files left: {names:?}");
}

#[test]
fn heatmap_renders_with_every_cell() {
    let mut r = req(PlotKind::Heatmap);
    r.y = Some("bad_debt".into());
    let (fig, _) = build_figure(grid(), &r).unwrap();
    let AnyFigure::Heatmap(h) = &fig else {
        panic!()
    };
    assert_eq!(h.cells.len(), 6);
    assert_eq!((h.x_ticks.len(), h.y_ticks.len()), (3, 2));
    assert_eq!(h.scale_label, "Bad debt, mean (USD)");
    check_renders(&fig, "Bad debt over Liquidation bonus and Feed latency s");
}

#[test]
fn ccdf_renders_three_panels() {
    let mut r = req(PlotKind::Ccdf);
    r.points = vec![0, 5];
    let (fig, _) = build_figure(grid(), &r).unwrap();
    let AnyFigure::Ccdf(c) = &fig else { panic!() };
    assert_eq!(c.panels.len(), 3);
    assert_eq!(c.labels.len(), 2);
    // Every curve is a CCDF: non-increasing, within (0, 1].
    for p in &c.panels {
        for curve in &p.curves {
            assert!(
                curve
                    .windows(2)
                    .all(|w| w[0].0 < w[1].0 && w[0].1 >= w[1].1)
            );
            assert!(curve.iter().all(|q| q.1 > 0.0 && q.1 <= 1.0));
        }
    }
    check_renders(&fig, "Tails of per-run losses");
}

#[test]
fn path_renders_and_splits_liquidations_like_the_metrics() {
    let s = grid();
    let mut r = req(PlotKind::Path);
    r.point = Some(5);
    r.run = Some(1);
    let (fig, stem) = build_figure(s, &r).unwrap();
    assert_eq!(stem, "path_p5_r1");
    let AnyFigure::Path(p) = &fig else { panic!() };
    let row = s.row(5, 1).unwrap();
    let induced = p.liqs.iter().filter(|l| l.induced).count() as f64;
    assert_eq!(p.liqs.len() as f64, row.get("liquidations").unwrap());
    assert_eq!(induced, row.get("induced_liquidations").unwrap());
    assert!(!p.liqs.is_empty(), "the fixture run liquidates");
    assert!(p.insurance.is_some() && p.open_interest.is_some());
    assert!(p.prices.iter().any(|l| l.0.starts_with("venue")));
    check_renders(&fig, "Point 5, run 1");
    // The classification also agrees on a run with induced liquidations, when there is one.
    let scenario = s.point_scenario(5).unwrap();
    for run in 0..4 {
        let rp = path::replay(&scenario, s.manifest.seed, run).unwrap();
        let liqs = path::liquidations(&rp.records, &rp.events, 0);
        assert_eq!(
            liqs.iter().filter(|l| l.induced).count() as f64,
            rp.row.get("induced_liquidations").unwrap(),
            "run {run}"
        );
    }
}

#[test]
fn generations_render_side_by_side() {
    let (fig, _) = build_figure(generations(), &req(PlotKind::Generations)).unwrap();
    let AnyFigure::Generations(g) = &fig else {
        panic!()
    };
    let names: Vec<&str> = g.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["gen1", "gen2", "gen3"]);
    // The same shocks: the exogenous path is the same under every generation.
    assert_eq!(g.columns[0].p_exo, g.columns[1].p_exo);
    assert_eq!(g.columns[0].p_exo, g.columns[2].p_exo);
    check_renders(&fig, "Engine generations on the same shocks");
    // Line charts label scenario values by their stem.
    let (fig, _) = build_figure(generations(), &req(PlotKind::Line)).unwrap();
    let AnyFigure::Line(l) = &fig else { panic!() };
    assert_eq!(
        l.x_ticks.as_deref(),
        Some(&["gen1".to_string(), "gen2".into(), "gen3".into()][..])
    );
}

fn invalid(s: &Store, r: &PlotRequest) -> String {
    match build_figure(s, r) {
        Err(ReportError::Invalid(m)) => m,
        Err(e) => panic!("not an invalid-request error: {e}"),
        Ok(_) => panic!("accepted"),
    }
}

#[test]
fn invalid_requests_list_what_exists() {
    let mut r = req(PlotKind::Line);
    r.y = Some("cascade_rate".into());
    let m = invalid(grid(), &r);
    assert!(
        m.contains("unknown metric `cascade_rate`") && m.contains("has_cascade"),
        "{m}"
    );
    let mut r = req(PlotKind::Line);
    r.x = Some("engine.bonus".into());
    let m = invalid(grid(), &r);
    assert!(
        m.contains("engine.bonus") && m.contains("engine.liquidation.bonus (3 values)"),
        "{m}"
    );
    let m = invalid(one_axis(), &req(PlotKind::Heatmap));
    assert!(
        m.contains("two axes") && m.contains("engine.liquidation.bonus"),
        "{m}"
    );
    let mut r = req(PlotKind::Ccdf);
    r.points = vec![9];
    assert!(invalid(grid(), &r).contains("points 0..6"));
    let mut r = req(PlotKind::Path);
    r.point = Some(0);
    r.run = Some(4);
    assert!(invalid(grid(), &r).contains("runs 0..4"));
    let m = invalid(grid(), &req(PlotKind::Generations));
    assert!(m.contains("`scenario` axis"), "{m}");
    let mut r = req(PlotKind::Line);
    r.at = vec![("engine.liquidation.bonus".into(), "0.07".into())];
    r.x = Some("oracles.0.feed.latency_s".into());
    r.by = Some("none".into());
    let m = invalid(grid(), &r);
    assert!(m.contains("0.03, 0.06, 0.09"), "{m}");
}

#[test]
fn report_is_one_self_contained_page() {
    // The report writes into the store: it needs the store's lock (a read-only store is
    // refused before anything is written).
    let e = cascade_report::write_report(one_axis()).unwrap_err();
    assert!(e.to_string().contains("read-only"), "{e}");
    let s = &Store::open_locked(&one_axis().dir, "test").unwrap();
    let out = cascade_report::write_report(s).unwrap();
    let listed = &Store::open(&s.dir).unwrap().manifest.files;
    for f in out.charts.iter().chain([&out.html]) {
        let rel = f
            .strip_prefix(&s.dir)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(listed.contains(&rel), "{rel} not in the manifest's files");
    }
    let html = std::fs::read_to_string(&out.html).unwrap();
    // Lines (3), CCDF, path; no heatmap over one axis, and the page says so.
    let imgs = html.matches("<img ").count();
    assert_eq!(imgs, 5, "{:?}", out.skipped);
    assert_eq!(html.matches("src=\"data:image/png;base64,").count(), imgs);
    assert!(out.skipped.iter().any(|m| m.contains("heatmap")));
    assert!(html.contains("Not drawn: heatmaps"));
    for needle in [
        "cascade results: one",
        "engine.liquidation.bonus",
        "Cascade frequency [95% CI]",
        "master seed",
    ] {
        assert!(html.contains(needle), "{needle} missing");
    }
    let lower = html.to_lowercase();
    for bad in [
        "http:",
        "https:",
        "src=\"//",
        "href=\"//",
        "url(",
        "@import",
    ] {
        assert!(!lower.contains(bad), "report.html references {bad}");
    }
    // Every chart written beside it, in both formats.
    assert_eq!(out.charts.len(), 10);
    assert!(out.charts.iter().all(|p| p.exists()));
    // Interactive: the data of every chart, the library, the contents.
    report_embeds_its_charts_data_and_library(&html);
}

/// The JSON embedded in a report page (`<script type="application/json" id="report-data">`).
fn embedded_data(html: &str) -> serde_json::Value {
    let open = "<script type=\"application/json\" id=\"report-data\">";
    let start = html.find(open).expect("no embedded data") + open.len();
    let len = html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..start + len]).unwrap()
}

/// The interactive page: every chart's data embedded, the vendored library and the page's
/// script inline, nothing fetched from elsewhere, a table of contents naming every section.
fn check_interactive(html: &str, charts: usize) -> serde_json::Value {
    let data = embedded_data(html);
    let figs = data["figures"].as_array().unwrap();
    assert_eq!(figs.len(), charts, "one data entry per chart");
    for (i, f) in figs.iter().enumerate() {
        assert!(
            !f["panels"].as_array().unwrap().is_empty(),
            "figure {i} has no panels"
        );
        assert!(html.contains(&format!("id=\"chart-{i}\" data-fig=\"{i}\"")));
    }
    // The library (uPlot's IIFE), its licence, and the page's script, inline.
    assert!(html.contains("var uPlot=function()"), "uPlot not inlined");
    assert!(
        html.contains("Copyright (c) 2022 Leon Sorokin"),
        "uPlot licence missing"
    );
    assert!(html.contains("data-charts-rendered") || html.contains("chartsRendered"));
    // Every script element is closed once: the data cannot end its element early.
    assert_eq!(
        html.matches("<script").count(),
        html.matches("</script>").count()
    );
    // Nothing loaded from elsewhere: every src is a data: URL, no <link>, no script src.
    assert!(!html.contains("<link"), "a <link> element");
    for (i, _) in html.match_indices(" src=\"") {
        let rest = &html[i + 6..];
        assert!(
            rest.starts_with("data:"),
            "src to {}",
            &rest[..rest.len().min(40)]
        );
    }
    // The table of contents links every section heading and every chart.
    let nav_end = html.find("</nav>").expect("no table of contents");
    let nav = &html[html.find("<nav id=\"toc\"").unwrap()..nav_end];
    let mut sections = 0;
    for (i, _) in html.match_indices("<h2 id=\"") {
        let id = &html[i + 8..i + 8 + html[i + 8..].find('"').unwrap()];
        assert!(
            nav.contains(&format!("href=\"#{id}\"")),
            "section {id} not in the contents"
        );
        sections += 1;
    }
    assert!(sections >= 6, "{sections} sections");
    for i in 0..charts {
        assert!(
            nav.contains(&format!("href=\"#chart-{i}\"")),
            "chart {i} not in the contents"
        );
    }
    // The aggregate table: sortable, filterable, with its CSV data.
    assert!(html.contains("id=\"agg-table\"") && html.contains("class=\"csv\""));
    data
}

/// The one-axis report's data (checked from `report_is_one_self_contained_page`, which holds
/// the store's lock).
fn report_embeds_its_charts_data_and_library(html: &str) {
    let data = check_interactive(html, html.matches("<img ").count());
    // The first line chart's x values are the axis values, with one value per series and x.
    let f = &data["figures"][0]["panels"][0];
    assert_eq!(f["type"], "xy");
    assert_eq!(f["x"], serde_json::json!([0.03, 0.09]));
    for ser in f["series"].as_array().unwrap() {
        for k in ["y", "lo", "hi"] {
            assert_eq!(ser[k].as_array().unwrap().len(), 2, "{k}");
        }
        let (y, lo, hi) = (&ser["y"][0], &ser["lo"][0], &ser["hi"][0]);
        assert!(lo.as_f64().unwrap() <= y.as_f64().unwrap());
        assert!(y.as_f64().unwrap() <= hi.as_f64().unwrap());
    }
    // The CSV data: a row per point, the axis and every table column.
    let agg = &data["aggregates"];
    assert_eq!(agg["rows"].as_array().unwrap().len(), 2);
    let cols: Vec<&str> = agg["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(cols.contains(&"engine.liquidation.bonus"));
    assert!(cols.contains(&"has_cascade_rate_hi") && cols.contains(&"bad_debt_mean_lo"));
    assert_eq!(agg["rows"][0].as_array().unwrap().len(), cols.len());
}

#[test]
fn report_page_holds_heatmap_and_generation_data() {
    use cascade_report::report::{Rendered, data::figure_spec, render_html};
    let rendered = |s: &Store, kind: PlotKind| {
        let (fig, _) = build_figure(s, &req(kind)).unwrap();
        Rendered {
            title: format!("{kind:?}"),
            caption: String::new(),
            png: png_bytes(&fig).unwrap(),
            files: Vec::new(),
            spec: figure_spec(&fig),
        }
    };
    let s = grid();
    let pf = s.labelled_points_file().unwrap();
    let charts = vec![rendered(s, PlotKind::Heatmap), rendered(s, PlotKind::Line)];
    let html = render_html(s, &pf, &charts, &[]);
    let data = check_interactive(&html, 2);
    let heat = &data["figures"][0]["panels"][0];
    assert_eq!(heat["type"], "heat");
    assert_eq!(heat["cells"].as_array().unwrap().len(), 6, "3 x 2 cells");
    assert_eq!(heat["xTicks"].as_array().unwrap().len(), 3);
    // Two lines (one per latency), each with a value at every bonus.
    let line = &data["figures"][1]["panels"][0];
    assert_eq!(line["series"].as_array().unwrap().len(), 2);
    assert_eq!(line["x"].as_array().unwrap().len(), 3);
    // Generations: one price panel per scenario and the aggregates table.
    let g = generations();
    let pf = g.labelled_points_file().unwrap();
    let html = render_html(g, &pf, &[rendered(g, PlotKind::Generations)], &[]);
    let data = check_interactive(&html, 1);
    let panels = data["figures"][0]["panels"].as_array().unwrap();
    assert_eq!(panels.len(), 4, "three scenarios and the table");
    assert_eq!(panels[3]["type"], "table");
    assert_eq!(panels[3]["rows"].as_array().unwrap().len(), 4);
}

#[test]
fn the_build_pulls_in_no_system_font_library() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let tree = |pkg: &str| {
        std::process::Command::new(&cargo)
            .current_dir(repo())
            .args(["tree", "--workspace", "-i", pkg])
            .output()
            .unwrap()
    };
    // The query itself works: the font rasterizer we use is found.
    let ours = tree("ab_glyph");
    assert!(
        ours.status.success(),
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    for sys in [
        "yeslogic-fontconfig-sys",
        "servo-fontconfig-sys",
        "freetype-sys",
        "font-kit",
    ] {
        let o = tree(sys);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains("did not match"),
            "{sys} is in the dependency tree:\n{}",
            String::from_utf8_lossy(&o.stdout)
        );
    }
}
