//! Chart options and chart quality (issue 22, item 2): categorical axes as points with error
//! bars, `--no-bands`, `--facet`, fixed and degenerate colour scales, series that coincide,
//! intervals never below zero, the font SVGs name and embed, the canvas size and the PNG's
//! resolution, and the interactive report's description of the same figures.

use cascade_report::charts::heatmap::{Cell, Heatmap};
use cascade_report::charts::line::{LineChart, Series};
use cascade_report::render::{Resized, png_bytes, svg_string, with_dpi};
use cascade_report::{AnyFigure, Figure, PlotKind, PlotRequest, ReportError, build_figure};
use cascade_sim::store::Store;
use cascade_sim::sweep::load_sweep;
use std::path::Path;
use std::sync::OnceLock;

mod common;
use common::{gen_file, repo, store};

/// 3 x 2 grid with a titled axis.
fn grid() -> &'static Store {
    static S: OnceLock<Store> = OnceLock::new();
    S.get_or_init(|| {
        store(
            "chartopt",
            "grid",
            &format!(
                "scenario = \"{}\"\n[[axis]]\nkey = \"engine.liquidation.bonus\"\ntitle = \"Liquidation bonus\"\nunit = \"share\"\nvalues = [0.03, 0.06, 0.09]\n[[axis]]\nkey = \"oracles.0.feed.latency_s\"\ntitle = \"Oracle latency\"\nunit = \"s\"\nvalues = [12, 60]\n",
                gen_file(1)
            ),
        )
    })
}

/// A scenario axis (categorical) x a numeric one.
fn scenarios() -> &'static Store {
    static S: OnceLock<Store> = OnceLock::new();
    S.get_or_init(|| {
        store(
            "chartopt",
            "scen",
            &format!(
                "[[axis]]\nkey = \"scenario\"\ntitle = \"Engine generation\"\nvalues = [\"{}\", \"{}\"]\n[[axis]]\nkey = \"engine.liquidation.bonus\"\nvalues = [0.03, 0.09]\n",
                gen_file(1),
                gen_file(2)
            ),
        )
    })
}

fn invalid(s: &Store, r: &PlotRequest) -> String {
    match build_figure(s, r) {
        Err(ReportError::Invalid(m)) => m,
        Err(e) => panic!("not an invalid-request error: {e}"),
        Ok(_) => panic!("accepted"),
    }
}

fn rgb(png: &[u8]) -> image::RgbImage {
    image::load_from_memory(png).unwrap().to_rgb8()
}

#[test]
fn categorical_axes_are_points_with_error_bars_side_by_side() {
    let mut r = PlotRequest::new(PlotKind::Line);
    r.x = Some("scenario".into());
    r.y = Some("liquidations".into());
    let (fig, _) = build_figure(scenarios(), &r).unwrap();
    let AnyFigure::Line(l) = &fig else { panic!() };
    assert!(
        l.categorical && l.points_only(),
        "a scenario axis is categorical"
    );
    assert_eq!(l.series.len(), 2);
    assert!(l.dodge(0) < 0.0 && l.dodge(1) > 0.0, "series side by side");
    assert!(l.subtitle.contains("error bars"), "{}", l.subtitle);
    assert!(l.title.contains("Engine generation"), "{}", l.title);
    let svg = svg_string(&fig).unwrap();
    // Points with error bars: no polyline through the categories, no band polygon.
    assert!(!svg.contains("<polygon") || !svg.contains("fill-opacity=\"0.14\""));
    png_bytes(&fig).unwrap();
    // A numeric axis keeps its lines.
    let mut r = PlotRequest::new(PlotKind::Line);
    r.x = Some("engine.liquidation.bonus".into());
    let (fig, _) = build_figure(scenarios(), &r).unwrap();
    let AnyFigure::Line(l) = &fig else { panic!() };
    assert!(!l.categorical && !l.points_only());
    assert_eq!(l.legend_heading, "Engine generation");
}

#[test]
fn no_bands_drops_the_shaded_intervals() {
    let mut r = PlotRequest::new(PlotKind::Line);
    r.y = Some("bad_debt".into());
    let (with, _) = build_figure(grid(), &r).unwrap();
    r.bands = false;
    let (without, _) = build_figure(grid(), &r).unwrap();
    let AnyFigure::Line(l) = &without else {
        panic!()
    };
    assert!(!l.bands);
    let (a, b) = (svg_string(&with).unwrap(), svg_string(&without).unwrap());
    let polys = |s: &str| s.matches("<polygon").count();
    assert!(
        polys(&a) > polys(&b),
        "bands are polygons: {} vs {}",
        polys(&a),
        polys(&b)
    );
}

#[test]
fn facets_draw_one_panel_per_value_on_a_shared_scale() {
    let mut r = PlotRequest::new(PlotKind::Line);
    r.y = Some("bad_debt".into());
    r.by = Some("none".into());
    r.facet = Some("oracles.0.feed.latency_s".into());
    let (fig, stem) = build_figure(grid(), &r).unwrap();
    assert!(stem.ends_with("_facet_oracles.0.feed.latency_s"), "{stem}");
    let AnyFigure::Facets(f) = &fig else { panic!() };
    assert_eq!(f.panels.len(), 2);
    let ranges: Vec<_> = f
        .panels
        .iter()
        .map(|p| match p {
            AnyFigure::Line(l) => {
                assert!(l.title.starts_with("Oracle latency = "), "{}", l.title);
                l.y_range
            }
            _ => panic!("a line panel"),
        })
        .collect();
    assert!(ranges[0].is_some() && ranges[0] == ranges[1], "{ranges:?}");
    assert!(f.title.ends_with("by Oracle latency"), "{}", f.title);
    assert!(
        f.subtitle.contains("Oracle latency: one panel each"),
        "{}",
        f.subtitle
    );
    let img = rgb(&png_bytes(&fig).unwrap());
    assert_eq!(img.dimensions(), fig.size());
    // Heatmap facets share one colour scale; the facet may not be a shown axis.
    let mut r = PlotRequest::new(PlotKind::Line);
    r.facet = Some("engine.liquidation.bonus".into());
    let m = invalid(grid(), &r);
    assert!(m.contains("already on the chart"), "{m}");
    let mut r = PlotRequest::new(PlotKind::Ccdf);
    r.facet = Some("engine.liquidation.bonus".into());
    assert!(invalid(grid(), &r).contains("--facet applies to"));
    let mut r = PlotRequest::new(PlotKind::Line);
    r.facet = Some("gas.nope".into());
    assert!(invalid(grid(), &r).contains("no such axis"));
}

#[test]
fn heatmap_colour_scales_fixed_rates_and_data() {
    let mut r = PlotRequest::new(PlotKind::Heatmap);
    r.y = Some("has_cascade".into());
    let (fig, _) = build_figure(grid(), &r).unwrap();
    let AnyFigure::Heatmap(h) = &fig else {
        panic!()
    };
    assert_eq!(h.range(), (0.0, 1.0), "rates always on [0, 1]");
    r.y = Some("liquidations".into());
    r.vmin = Some(0.0);
    r.vmax = Some(500.0);
    let (fig, _) = build_figure(grid(), &r).unwrap();
    let AnyFigure::Heatmap(h) = &fig else {
        panic!()
    };
    assert_eq!(h.range(), (0.0, 500.0));
    png_bytes(&fig).unwrap();
    // Without them, the data's own range (not anchored at 0).
    r.vmin = None;
    r.vmax = None;
    let (fig, _) = build_figure(grid(), &r).unwrap();
    let AnyFigure::Heatmap(h) = &fig else {
        panic!()
    };
    let lo = h
        .cells
        .iter()
        .map(|c| c.value)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(h.range().0, lo);
    // Bad requests.
    r.vmin = Some(5.0);
    r.vmax = Some(5.0);
    assert!(invalid(grid(), &r).contains("vmin < vmax"));
    let mut r = PlotRequest::new(PlotKind::Line);
    r.vmax = Some(1.0);
    assert!(invalid(grid(), &r).contains("--vmin/--vmax"));
}

fn heatmap(values: &[f64], rate: bool) -> Heatmap {
    Heatmap {
        title: "All equal".into(),
        subtitle: String::new(),
        x_label: "x".into(),
        y_label: "y".into(),
        x_ticks: vec!["a".into(), "b".into()],
        y_ticks: vec!["c".into()],
        cells: values
            .iter()
            .enumerate()
            .map(|(i, &v)| Cell {
                col: i,
                row: 0,
                value: v,
                lo: v,
                hi: v,
            })
            .collect(),
        scale_label: "Liquidations, mean (count)".into(),
        rate,
        vrange: (None, None),
    }
}

#[test]
fn an_all_equal_heatmap_is_one_colour_with_its_value() {
    for v in [0.0, 37.0, -2.5] {
        let h = heatmap(&[v, v], false);
        assert_eq!(h.uniform(), Some(v));
        let (lo, hi) = h.range();
        assert!(lo.is_finite() && hi.is_finite() && hi > lo, "{lo} {hi}");
        let svg = svg_string(&h).unwrap();
        assert!(svg.contains("Every cell:"), "the value is stated");
        assert!(!svg.contains("NaN"));
        png_bytes(&h).unwrap();
    }
    // NaN cells: no NaN scale either.
    let h = heatmap(&[f64::NAN, f64::NAN], false);
    assert_eq!(h.range(), (0.0, 1.0));
    png_bytes(&h).unwrap();
    // Rates keep their [0, 1] scale even when equal.
    let h = heatmap(&[0.0, 0.0], true);
    assert_eq!((h.uniform(), h.range()), (None, (0.0, 1.0)));
}

#[test]
fn identical_series_stay_visible() {
    let pts = vec![
        (0.0, 1.0, 0.5, 1.5),
        (1.0, 2.0, 1.5, 2.5),
        (2.0, 3.0, 2.5, 3.5),
    ];
    let l = LineChart {
        title: "Two identical series".into(),
        subtitle: String::new(),
        x_label: "x".into(),
        y_label: "y".into(),
        legend_heading: "series".into(),
        x_ticks: None,
        series: vec![
            Series {
                label: "a".into(),
                pts: pts.clone(),
            },
            Series {
                label: "b".into(),
                pts,
            },
        ],
        rate: false,
        markers_only: false,
        categorical: false,
        bands: true,
        y_range: None,
    };
    use cascade_report::render::{color, dash, marker};
    assert_ne!(marker(0), marker(1));
    assert_ne!(dash(0), dash(1));
    // The first series' colour still shows under the second (dashes leave gaps, markers differ).
    let png = png_bytes(&l).unwrap();
    if let Ok(d) = std::env::var("CHART_OUT") {
        std::fs::write(Path::new(&d).join("identical.png"), &png).unwrap();
    }
    let img = rgb(&png);
    let count =
        |c: plotters::style::RGBColor| img.pixels().filter(|p| p.0 == [c.0, c.1, c.2]).count();
    assert!(
        count(color(0)) > 100,
        "series 0: {} pixels",
        count(color(0))
    );
    assert!(
        count(color(1)) > 100,
        "series 1: {} pixels",
        count(color(1))
    );
}

#[test]
fn intervals_of_non_negative_metrics_stay_at_or_above_zero() {
    for y in ["bad_debt", "liquidations", "liquidated_notional"] {
        let mut r = PlotRequest::new(PlotKind::Line);
        r.y = Some(y.into());
        let (fig, _) = build_figure(grid(), &r).unwrap();
        let AnyFigure::Line(l) = &fig else { panic!() };
        for s in &l.series {
            for p in &s.pts {
                assert!(p.2 >= 0.0 && p.2 <= p.1 && p.1 <= p.3, "{y}: {p:?}");
            }
        }
        assert!(l.data_y_range().0 >= 0.0);
    }
}

#[test]
fn svgs_name_the_bundled_font() {
    let (fig, _) = build_figure(grid(), &PlotRequest::new(PlotKind::Line)).unwrap();
    let svg = svg_string(&fig).unwrap();
    assert!(svg.contains("font-family=\"DejaVu Sans, sans-serif\""));
    assert!(!svg.contains("font-family=\"sans-serif\""));
    // The SVG carries the font its text names, as an @font-face with a data URL.
    assert!(
        svg.contains("@font-face{font-family:\"DejaVu Sans\";"),
        "embedded font"
    );
    assert!(svg.contains("src:url(data:font/ttf;base64,"));
}

#[test]
fn the_interactive_report_draws_what_the_png_draws() {
    use cascade_report::report::data::figure_spec;
    // Categorical axis: points with error bars, series dodged side by side, no bands.
    let mut r = PlotRequest::new(PlotKind::Line);
    r.x = Some("scenario".into());
    r.y = Some("liquidations".into());
    let (fig, _) = build_figure(scenarios(), &r).unwrap();
    let AnyFigure::Line(l) = &fig else { panic!() };
    let spec = figure_spec(&fig);
    let p = &spec["panels"][0];
    assert_eq!(p["whiskers"], true, "error bars, not bands");
    let xs: Vec<f64> = p["x"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(xs.len(), 4, "2 categories x 2 dodged series: {xs:?}");
    for (i, s) in p["series"].as_array().unwrap().iter().enumerate() {
        assert_eq!(s["style"], "points");
        // Series i has values exactly at category + dodge(i).
        for (j, y) in s["y"].as_array().unwrap().iter().enumerate() {
            if !y.is_null() {
                let cat = xs[j] - l.dodge(i);
                assert!((cat - cat.round()).abs() < 1e-9, "{xs:?}");
            }
        }
    }
    // Facets: one panel per value, titled with it, on the static figure's shared y range.
    let mut r = PlotRequest::new(PlotKind::Line);
    r.y = Some("bad_debt".into());
    r.by = Some("none".into());
    r.facet = Some("oracles.0.feed.latency_s".into());
    let (fig, _) = build_figure(grid(), &r).unwrap();
    let AnyFigure::Facets(f) = &fig else { panic!() };
    let spec = figure_spec(&fig);
    assert_eq!(spec["layout"], "grid");
    let panels = spec["panels"].as_array().unwrap();
    assert_eq!(panels.len(), f.panels.len());
    let AnyFigure::Line(l0) = &f.panels[0] else {
        panic!()
    };
    let (a, b) = l0.y_range.unwrap();
    for p in panels {
        assert!(
            p["title"]
                .as_str()
                .unwrap()
                .starts_with("Oracle latency = "),
            "{p}"
        );
        assert_eq!(p["yRange"][0].as_f64(), Some(a));
        assert_eq!(p["yRange"][1].as_f64(), Some(b));
    }
    // --no-bands reaches the page.
    let mut r = PlotRequest::new(PlotKind::Line);
    r.bands = false;
    let (fig, _) = build_figure(grid(), &r).unwrap();
    assert_eq!(figure_spec(&fig)["panels"][0]["bands"], false);
}

#[test]
fn size_and_resolution_options() {
    let (fig, _) = build_figure(grid(), &PlotRequest::new(PlotKind::Line)).unwrap();
    let r = Resized {
        fig: &fig,
        size: (1600, 900),
    };
    let png = png_bytes(&r).unwrap();
    assert_eq!(rgb(&png).dimensions(), (1600, 900));
    let hi = with_dpi(&png, 300);
    // pHYs right after IHDR: 11811 pixels per metre (300 dpi), unit metre; still decodes.
    assert_eq!(&hi[37..41], b"pHYs");
    assert_eq!(u32::from_be_bytes(hi[41..45].try_into().unwrap()), 11811);
    assert_eq!(hi[49], 1);
    assert_eq!(rgb(&hi).dimensions(), (1600, 900));
    // Drawn at 192 dpi: twice the pixels each way.
    let big = cascade_report::render::png_bytes_at(&r, 192).unwrap();
    assert_eq!(rgb(&big).dimensions(), (3200, 1800));
}

#[test]
fn report_tables_use_display_names() {
    use cascade_report::report::data::metric_title;
    assert_eq!(metric_title("has_cascade"), "Cascade frequency");
    assert_eq!(metric_title("bad_debt"), "Bad debt");
    assert_eq!(metric_title("not_a_metric"), "not_a_metric");
}

#[test]
fn shipped_sweeps_name_their_axes() {
    let dir = repo().join("configs/sweeps");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let sw = load_sweep(&p).unwrap_or_else(|e| panic!("{e}"));
        for a in &sw.spec.axes {
            assert!(
                a.title.as_deref().is_some_and(|t| !t.trim().is_empty()),
                "{}: axis {} has no title",
                p.display(),
                a.key
            );
            // Tables and arrays are always shown by labels.
            let tables = a
                .values
                .as_ref()
                .is_some_and(|v| v.iter().any(|x| x.is_table() || x.is_array()));
            assert!(
                !tables || a.labels.is_some(),
                "{}: axis {} of tables has no labels",
                p.display(),
                a.key
            );
        }
        n += 1;
    }
    assert!(n >= 14, "{n} sweeps");
}
