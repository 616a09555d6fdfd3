//! `cascade plot`'s output rules and options through the binary (issue 22, item 2): a PDF is
//! refused with exit code 2 (never `x.pdf.png`), the report's figures in charts/ are never
//! overwritten (plots go to plots/, an --out in charts/ is refused), and --width, --height,
//! --dpi, --no-bands, --facet and --vmin/--vmax are honoured or refused with a message.

use std::path::PathBuf;
use std::sync::OnceLock;

mod common;
use common::{cascade, repo, s};

/// One test at a time writes into the shared store (its lock admits one writer).
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static M: std::sync::Mutex<()> = std::sync::Mutex::new(());
    M.lock().unwrap_or_else(|e| e.into_inner())
}

/// A finished two-point store (with its report), shared by the tests.
fn store() -> &'static PathBuf {
    static S: OnceLock<PathBuf> = OnceLock::new();
    S.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("cascade-plotopt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let scen = repo().join("configs/scenarios/gen1.toml");
        let text = format!(
            "name = \"tiny\"\nscenario = {:?}\nruns = 5\nseed = 3\nset = [\"chain.duration_s=3600.0\"]\n\n[[axis]]\nkey = \"engine.liquidation.bonus\"\ntitle = \"Liquidation bonus\"\nvalues = [0.02, 0.08]\n",
            scen.canonicalize().unwrap().display().to_string()
        );
        let f = d.join("tiny.toml");
        std::fs::write(&f, text).unwrap();
        let out = d.join("results");
        let (code, _, err) = cascade(&[
            "sweep",
            f.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--threads",
            "1",
        ]);
        assert_eq!(code, 0, "{err}");
        out
    })
}

#[test]
fn pdf_is_refused_with_exit_2_and_no_stray_files() {
    let _one = serial();
    let st = store();
    let pdf = st.join("fig.pdf");
    let (code, _, err) = cascade(&["plot", s(st), "--out", s(&pdf)]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("not PDF") && err.contains("rsvg-convert"),
        "{err}"
    );
    for f in [
        "fig.pdf",
        "fig.pdf.png",
        "fig.pdf.svg",
        "fig.png",
        "fig.svg",
    ] {
        assert!(!st.join(f).exists(), "{f} written");
    }
    let (code, _, err) = cascade(&["plot", s(st), "--out", s(&st.join("fig.jpg"))]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(".png and .svg only"), "{err}");
}

#[test]
fn plots_never_overwrite_the_reports_figures() {
    let _one = serial();
    let st = store();
    let ccdf = st.join("charts/ccdf.png");
    let before = std::fs::read(&ccdf).expect("the report drew charts/ccdf.png");
    // The default goes to plots/.
    let (code, out, err) = cascade(&["plot", s(st), "--kind", "ccdf", "--points", "1"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("plots/ccdf.png"), "{out}");
    assert!(st.join("plots/ccdf.svg").exists());
    assert_eq!(
        std::fs::read(&ccdf).unwrap(),
        before,
        "charts/ccdf.png untouched"
    );
    // An explicit --out into charts/ is refused.
    let (code, _, err) = cascade(&["plot", s(st), "--kind", "ccdf", "--out", s(&ccdf)]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cascade report") && err.contains("plots"),
        "{err}"
    );
    let (code, _, err) = cascade(&["plot", s(st), "--out", s(&st.join("plots/../charts/mine"))]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(std::fs::read(&ccdf).unwrap(), before);
}

#[test]
fn size_dpi_and_chart_options() {
    let _one = serial();
    let st = store();
    let png = st.join("plots/big.png");
    let (code, _, err) = cascade(&[
        "plot",
        s(st),
        "--y",
        "bad_debt",
        "--no-bands",
        "--width",
        "1600",
        "--height",
        "900",
        "--dpi",
        "300",
        "--out",
        s(&png),
    ]);
    assert_eq!(code, 0, "{err}");
    let b = std::fs::read(&png).unwrap();
    let be = |i: usize| u32::from_be_bytes(b[i..i + 4].try_into().unwrap());
    // --width/--height are layout pixels (1/96 inch): at 300 dpi the PNG has 300/96 times
    // as many pixels each way, the same 16.7 x 9.4 inches.
    assert_eq!((be(16), be(20)), (5000, 2813), "IHDR width and height");
    assert_eq!(&b[37..41], b"pHYs");
    assert_eq!(be(41), 11811, "300 dpi in pixels per metre");
    assert!(
        !st.join("plots/big.svg").exists(),
        "a .png --out writes the PNG only"
    );
    // Options that do not apply, or contradict each other, are refused.
    for (args, msg) in [
        (vec!["--vmin", "0"], "--vmin/--vmax"),
        (
            vec!["--kind", "heatmap", "--vmin", "2", "--vmax", "1"],
            "vmin < vmax",
        ),
        (
            vec!["--facet", "engine.liquidation.bonus"],
            "already on the chart",
        ),
        (vec!["--facet", "gas.nope"], "no such axis"),
    ] {
        let mut a = vec!["plot", s(st)];
        a.extend(args);
        let (code, _, err) = cascade(&a);
        assert_eq!(code, 2, "{a:?}: {err}");
        assert!(err.contains(msg), "{a:?}: {err}");
    }
    let (code, _, err) = cascade(&["plot", s(st), "--width", "10"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = cascade(&["plot", s(st), "--width", "8000", "--dpi", "2400"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--dpi"), "{err}");
}

/// `--dpi 192` draws the same figure as `--dpi 96` with twice the pixels each way: the
/// text, strokes and markers scale with it (the same share of the figure is ink), and the
/// PNG states its resolution.
#[test]
fn dpi_scales_the_whole_figure() {
    let _one = serial();
    let st = store();
    let mut shots = Vec::new();
    for dpi in ["96", "192"] {
        let png = st.join(format!("plots/dpi{dpi}.png"));
        let (code, _, err) = cascade(&[
            "plot",
            s(st),
            "--y",
            "bad_debt",
            "--width",
            "800",
            "--height",
            "450",
            "--dpi",
            dpi,
            "--out",
            s(&png),
        ]);
        assert_eq!(code, 0, "{err}");
        let b = std::fs::read(&png).unwrap();
        let be = |i: usize| u32::from_be_bytes(b[i..i + 4].try_into().unwrap());
        assert_eq!(&b[37..41], b"pHYs");
        let img = image::load_from_memory(&b).unwrap().to_rgb8();
        let ink = img
            .pixels()
            .filter(|p| p.0.iter().any(|c| *c < 200))
            .count() as f64;
        shots.push((
            (be(16), be(20)),
            be(41),
            ink / (img.width() * img.height()) as f64,
        ));
    }
    assert_eq!(shots[0].0, (800, 450));
    assert_eq!(shots[1].0, (1600, 900), "twice the pixels each way");
    assert_eq!(
        (shots[0].1, shots[1].1),
        (3780, 7559),
        "96 and 192 dpi in pixels per metre"
    );
    // Unscaled strokes and text would leave about half the ink share at 192 dpi.
    let ratio = shots[1].2 / shots[0].2;
    assert!((0.8..1.25).contains(&ratio), "ink share ratio {ratio}");
}
