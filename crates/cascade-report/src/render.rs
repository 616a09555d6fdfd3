//! From a figure to bytes on disk: PNG and SVG rendering, atomic writes, and the visual
//! vocabulary every chart shares (palette, colour scale, number format, text styles, legends).
//!
//! A chart kind only describes how to draw itself on a plotters drawing area ([`Figure`]);
//! this module draws it twice (bitmap and SVG), so both files always show the same thing. A
//! failed drawing never leaves a file behind: bytes are produced in memory first and written
//! under a temporary name, then renamed (cascade-sim's `fsutil`).

use crate::{ReportError, font};
use cascade_sim::fsutil::write_atomic;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

pub use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Something that can draw itself on a drawing area of any backend.
pub trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    /// Draw on `root` (already filled white).
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ReportError>;
}

/// A figure drawn at another size (`--width`, `--height`): charts lay themselves out on the
/// area they are given, so only the canvas changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Resized<'a, F> {
    pub fig: &'a F,
    pub size: (u32, u32),
}

impl<F: Figure> Figure for Resized<'_, F> {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ReportError> {
        self.fig.draw(root)
    }
}

/// A plotters drawing error as ours.
pub fn draw_err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> ReportError {
    ReportError::Draw(e.to_string())
}

/// `?`-friendly conversion of plotters results.
pub trait OrDraw<T> {
    fn dr(self) -> Result<T, ReportError>;
}

impl<T, E: std::error::Error + Send + Sync> OrDraw<T> for Result<T, DrawingAreaErrorKind<E>> {
    fn dr(self) -> Result<T, ReportError> {
        self.map_err(draw_err)
    }
}

/// Which files to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Formats {
    pub png: bool,
    pub svg: bool,
}

impl Formats {
    pub const BOTH: Formats = Formats {
        png: true,
        svg: true,
    };
}

/// The resolution figures are laid out at: a layout pixel is 1/96 inch (a CSS pixel), so
/// `--width 1100` is 11.46 inches wide at any `--dpi`.
pub const LAYOUT_DPI: u32 = 96;

/// The figure as a PNG file's bytes, at the layout resolution (one pixel per layout pixel).
pub fn png_bytes<F: Figure>(fig: &F) -> Result<Vec<u8>, ReportError> {
    png_bytes_at(fig, LAYOUT_DPI)
}

/// The PNG's pixel size for a figure of `size` layout pixels drawn at `dpi`.
pub fn png_size(size: (u32, u32), dpi: u32) -> (u32, u32) {
    let s = crate::scaled::scale_for(dpi);
    (
        ((size.0 as f64 * s).round() as u32).max(1),
        ((size.1 as f64 * s).round() as u32).max(1),
    )
}

/// The figure as a PNG file's bytes drawn at `dpi`: the pixel size is the layout size times
/// dpi/96, and every length in the figure (text, strokes, markers, margins) scales with it
/// (see [`crate::scaled`]).
pub fn png_bytes_at<F: Figure>(fig: &F, dpi: u32) -> Result<Vec<u8>, ReportError> {
    font::ensure_registered()?;
    let (w, h) = png_size(fig.size(), dpi);
    let mut buf = vec![255u8; w as usize * h as usize * 3];
    {
        let inner = BitMapBackend::with_buffer(&mut buf, (w, h));
        if dpi == LAYOUT_DPI {
            let root = inner.into_drawing_area();
            root.fill(&WHITE).dr()?;
            fig.draw(&root)?;
            root.present().dr()?;
        } else {
            let root = crate::scaled::Scaled {
                inner,
                scale: crate::scaled::scale_for(dpi),
            }
            .into_drawing_area();
            root.fill(&WHITE).dr()?;
            fig.draw(&root)?;
            root.present().dr()?;
        }
    }
    let mut out = Vec::new();
    use image::ImageEncoder;
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(&buf, w, h, image::ColorType::Rgb8)
        .map_err(|e| ReportError::Draw(format!("PNG encoding: {e}")))?;
    Ok(out)
}

/// The figure as an SVG document.
pub fn svg_string<F: Figure>(fig: &F) -> Result<String, ReportError> {
    font::ensure_registered()?;
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, fig.size()).into_drawing_area();
        root.fill(&WHITE).dr()?;
        fig.draw(&root)?;
        root.present().dr()?;
    }
    // Name the bundled family first, with a generic fallback for viewers without it.
    let s = s.replace(
        &format!("font-family=\"{}\"", font::FAMILY),
        &format!("font-family=\"{}\"", font::SVG_FAMILY),
    );
    Ok(embed_font(&s))
}

/// `svg` with the bundled font embedded (an `@font-face` with a base64 data URL in a
/// `<style>` right after the root element's tag), so it renders the same without DejaVu Sans
/// installed; an SVG without text is returned as it is.
pub fn embed_font(svg: &str) -> String {
    if !svg.contains("<text") {
        return svg.to_string();
    }
    let Some(open) = svg
        .find("<svg")
        .and_then(|i| svg[i..].find('>').map(|j| i + j + 1))
    else {
        return svg.to_string();
    };
    let face = font_face_css();
    let mut out = String::with_capacity(svg.len() + face.len() + 40);
    out.push_str(&svg[..open]);
    out.push_str("\n<defs><style>");
    out.push_str(face);
    out.push_str("</style></defs>");
    out.push_str(&svg[open..]);
    out
}

/// The `@font-face` rules for the bundled font (normal and bold from the one TTF, as the
/// bitmap charts draw them), computed once.
pub fn font_face_css() -> &'static str {
    static CSS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CSS.get_or_init(|| {
        let url = format!("data:font/ttf;base64,{}", base64(font::DEJAVU_SANS));
        format!(
            "@font-face{{font-family:\"{f}\";font-weight:normal;src:url({url}) format(\"truetype\");}}",
            f = font::FAMILY
        )
    })
}

fn with_ext(stem: &Path, ext: &str) -> PathBuf {
    let mut name = stem.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(ext);
    stem.with_file_name(name)
}

/// The files [`write_figure`] writes for `stem` and `formats`.
pub fn figure_paths(stem: &Path, formats: Formats) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if formats.png {
        out.push(with_ext(stem, "png"));
    }
    if formats.svg {
        out.push(with_ext(stem, "svg"));
    }
    out
}

/// Write `<stem>.png` and/or `<stem>.svg` atomically; returns the paths written.
pub fn write_figure<F: Figure>(
    fig: &F,
    stem: &Path,
    formats: Formats,
) -> Result<Vec<PathBuf>, ReportError> {
    write_figure_dpi(fig, stem, formats, None)
}

/// Insert a pHYs chunk (the resolution a viewer or a typesetter prints at) right after a
/// PNG's header chunk.
pub fn with_dpi(png: &[u8], dpi: u32) -> Vec<u8> {
    // Signature (8) + IHDR (4 length + 4 type + 13 data + 4 CRC).
    const AFTER_IHDR: usize = 8 + 25;
    if png.len() < AFTER_IHDR || &png[12..16] != b"IHDR" {
        return png.to_vec();
    }
    let ppm = (dpi as f64 / 0.0254).round() as u32;
    let mut chunk = Vec::with_capacity(21);
    chunk.extend_from_slice(&9u32.to_be_bytes());
    let mut body = b"pHYs".to_vec();
    body.extend_from_slice(&ppm.to_be_bytes());
    body.extend_from_slice(&ppm.to_be_bytes());
    body.push(1); // unit: metre
    chunk.extend_from_slice(&body);
    chunk.extend_from_slice(&crc32(&body).to_be_bytes());
    let mut out = png[..AFTER_IHDR].to_vec();
    out.extend_from_slice(&chunk);
    out.extend_from_slice(&png[AFTER_IHDR..]);
    out
}

/// CRC-32 (ISO-HDLC, as PNG chunks use).
fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xffff_ffffu32;
    for &b in bytes {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// [`write_figure`], the PNG drawn at `dpi` (pixel size and every length times dpi/96) and
/// stating it (pHYs) when given; the SVG is vector, at the layout size.
pub fn write_figure_dpi<F: Figure>(
    fig: &F,
    stem: &Path,
    formats: Formats,
    dpi: Option<u32>,
) -> Result<Vec<PathBuf>, ReportError> {
    let mut out = Vec::new();
    let with_ext = |ext: &str| with_ext(stem, ext);
    // Draw everything before writing anything.
    let png = if formats.png {
        let b = png_bytes_at(fig, dpi.unwrap_or(LAYOUT_DPI))?;
        Some(match dpi {
            Some(d) => with_dpi(&b, d),
            None => b,
        })
    } else {
        None
    };
    let svg = if formats.svg {
        Some(svg_string(fig)?)
    } else {
        None
    };
    if let Some(b) = png {
        let p = with_ext("png");
        write_atomic(&p, &b).map_err(|e| ReportError::Io(p.clone(), e))?;
        out.push(p);
    }
    if let Some(s) = svg {
        let p = with_ext("svg");
        write_atomic(&p, s.as_bytes()).map_err(|e| ReportError::Io(p.clone(), e))?;
        out.push(p);
    }
    Ok(out)
}

/// Standard base64 (RFC 4648, with padding), for images embedded in the report.
pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        s.push(T[(n >> 18) as usize & 63] as char);
        s.push(T[(n >> 12) as usize & 63] as char);
        s.push(if c.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        s.push(if c.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    s
}

/// The Okabe–Ito palette (distinguishable with the common colour-vision deficiencies),
/// without its yellow, which is unreadable on white.
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(230, 159, 0),   // orange
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(0, 0, 0),       // black
];

/// The `i`-th series colour (cycling).
pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// A neutral grey for reference lines.
pub const GREY: RGBColor = RGBColor(120, 120, 120);

/// Viridis (perceptually uniform, monotone in lightness): `t` in [0, 1].
pub fn viridis(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |p: u8, q: u8| (p as f64 + (q as f64 - p as f64) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Whether text on `c` should be white (dark background) rather than black.
pub fn dark(c: RGBColor) -> bool {
    (0.2126 * c.0 as f64 + 0.7152 * c.1 as f64 + 0.0722 * c.2 as f64) < 128.0
}

/// A number for ticks and labels: 3 significant digits, thousands as k and millions as M.
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    let (x, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e4 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let ax = x.abs();
    let s = if ax == 0.0 {
        "0".to_string()
    } else if ax >= 100.0 {
        format!("{x:.0}")
    } else if ax >= 10.0 {
        format!("{x:.1}")
    } else if ax >= 1.0 {
        format!("{x:.2}")
    } else if ax >= 0.001 {
        format!("{x:.3}")
    } else {
        format!("{x:.1e}")
    };
    // Trim trailing zeros of a decimal fraction ("0.100" -> "0.1", "2.00" -> "2").
    let s = if s.contains('.') && !s.contains('e') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s}{suffix}")
}

/// A tick label on an axis spanning `[lo, hi]`: [`fmt_num`], unless the span is narrow
/// relative to the values (amplifications near 1), where enough decimals to tell ticks apart.
pub fn fmt_tick(v: f64, lo: f64, hi: f64) -> String {
    let span = (hi - lo).abs();
    let mag = lo.abs().max(hi.abs());
    if span > 0.0 && span.is_finite() && span < mag * 0.2 && mag < 1e4 {
        let decimals = ((-(span / 5.0).log10()).ceil() as i32 + 1).clamp(0, 9) as usize;
        let s = format!("{v:.decimals$}");
        if s.contains('.') {
            return s.trim_end_matches('0').trim_end_matches('.').to_string();
        }
        return s;
    }
    fmt_num(v)
}

/// Round ticks for a log axis spanning `[lo, hi]` (positive values, not their logs): 1, 2
/// and 5 times each power of ten inside the range, or only the powers of ten when those are
/// too many for the axis (more than 10); on a panel spanning less than a decade, where 1-2-5
/// leaves fewer than three ticks, every integer multiple (1..9) of the powers of ten, and on a
/// still narrower one, round linear steps. The values themselves, in increasing order.
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo > 0.0 && hi >= lo && hi.is_finite()) {
        return Vec::new();
    }
    let (d0, d1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let inside = |v: &f64| *v >= lo * (1.0 - 1e-9) && *v <= hi * (1.0 + 1e-9);
    let decade = |d: i32, m: f64| m * 10f64.powi(d);
    let with = |ms: &[f64]| -> Vec<f64> {
        (d0..=d1)
            .flat_map(|d| ms.iter().map(move |&m| decade(d, m)))
            .filter(inside)
            .collect()
    };
    let all = with(&[1.0, 2.0, 5.0]);
    if all.len() > 10 {
        let ones: Vec<f64> = (d0..=d1).map(|d| decade(d, 1.0)).filter(inside).collect();
        let step = ones.len().div_ceil(8).max(1);
        return ones.into_iter().step_by(step).collect();
    }
    if all.len() >= 3 {
        return all;
    }
    let nine = with(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    if nine.len() >= 3 {
        return nine;
    }
    linear_ticks(lo, hi, 5)
}

/// Round linear ticks (1, 2 or 5 times a power of ten apart) inside `[lo, hi]`, about
/// `n` of them.
pub fn linear_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite() && hi > lo) {
        return if lo.is_finite() { vec![lo] } else { Vec::new() };
    }
    let raw = (hi - lo) / n.max(1) as f64;
    let p = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * p);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// Marker shapes, so series that coincide stay distinguishable (shape as well as colour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Circle,
    Triangle,
    Square,
    Diamond,
    Cross,
}

/// The `i`-th series' marker (cycling).
pub fn marker(i: usize) -> Marker {
    [
        Marker::Circle,
        Marker::Triangle,
        Marker::Square,
        Marker::Diamond,
        Marker::Cross,
    ][i % 5]
}

/// The `i`-th series' dash pattern (dash, gap) in pixels; `None` for solid. Series cycle
/// solid, dashed, dotted, long-dashed, so two lines drawn on top of each other both show.
pub fn dash(i: usize) -> Option<(u32, u32)> {
    [None, Some((12, 7)), Some((3, 5)), Some((22, 8))][i % 4]
}

/// A chart on plain f64 axes.
pub type XyChart<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Draw `shape` markers of radius `r` (pixels) at data points `pts`, filled with `c` and
/// rimmed in white so overlapping markers stay apart.
pub fn draw_markers<DB: DrawingBackend>(
    chart: &mut XyChart<DB>,
    pts: &[(f64, f64)],
    shape: Marker,
    c: RGBColor,
    r: i32,
) -> Result<(), ReportError> {
    let f = c.filled();
    let rim = WHITE.stroke_width(1);
    let at = |p: &(f64, f64)| EmptyElement::at(*p);
    match shape {
        Marker::Circle => chart
            .draw_series(
                pts.iter()
                    .map(|p| at(p) + Circle::new((0, 0), r, f) + Circle::new((0, 0), r, rim)),
            )
            .map(|_| ()),
        Marker::Triangle => chart
            .draw_series(pts.iter().map(|p| {
                let v = vec![(0, -r - 2), (r + 1, r - 1), (-r - 1, r - 1)];
                at(p)
                    + Polygon::new(v.clone(), f)
                    + PathElement::new([v.clone(), vec![v[0]]].concat(), rim)
            }))
            .map(|_| ()),
        Marker::Square => chart
            .draw_series(pts.iter().map(|p| {
                at(p)
                    + Rectangle::new([(-r + 1, -r + 1), (r - 1, r - 1)], f)
                    + Rectangle::new([(-r + 1, -r + 1), (r - 1, r - 1)], rim)
            }))
            .map(|_| ()),
        Marker::Diamond => chart
            .draw_series(pts.iter().map(|p| {
                let v = vec![(0, -r - 1), (r + 1, 0), (0, r + 1), (-r - 1, 0)];
                at(p)
                    + Polygon::new(v.clone(), f)
                    + PathElement::new([v.clone(), vec![v[0]]].concat(), rim)
            }))
            .map(|_| ()),
        Marker::Cross => chart
            .draw_series(pts.iter().map(|p| {
                let s = c.stroke_width(3);
                at(p)
                    + PathElement::new(vec![(-r, -r), (r, r)], s)
                    + PathElement::new(vec![(-r, r), (r, -r)], s)
            }))
            .map(|_| ()),
    }
    .dr()
}

/// Draw a line through `pts` in colour `c`, `width` pixels wide, with the dash pattern of
/// [`dash`] (`None`: solid).
pub fn draw_line<DB: DrawingBackend>(
    chart: &mut XyChart<DB>,
    pts: &[(f64, f64)],
    c: RGBColor,
    width: u32,
    pattern: Option<(u32, u32)>,
) -> Result<(), ReportError> {
    match pattern {
        None => chart
            .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(width)))
            .map(|_| ()),
        Some((d, g)) => chart
            .draw_series(DashedLineSeries::new(
                pts.iter().copied(),
                d,
                g,
                c.stroke_width(width),
            ))
            .map(|_| ()),
    }
    .dr()
}

/// Text sizes (pixels).
pub const TITLE_PX: f64 = 24.0;
pub const SUBTITLE_PX: f64 = 16.0;
pub const LABEL_PX: f64 = 17.0;
pub const TICK_PX: f64 = 14.0;
pub const LEGEND_PX: f64 = 15.0;

pub fn text(px: f64) -> TextStyle<'static> {
    (font::FAMILY, px).into_font().color(&BLACK)
}

pub fn bold(px: f64) -> TextStyle<'static> {
    (font::FAMILY, px, FontStyle::Bold)
        .into_font()
        .color(&BLACK)
}

/// The width of `s` in pixels at `px`, estimated from DejaVu Sans' average advance (0.6 em,
/// a little over its real 0.55 so an estimate never runs off the edge).
pub fn text_width(s: &str, px: f64) -> u32 {
    (s.chars().count() as f64 * px * 0.6).ceil() as u32
}

/// Split `s` into lines no wider than `width` pixels at `px`: at " · " separators first, then
/// at spaces; a single word wider than the line keeps a line of its own.
pub fn wrap(s: &str, width: u32, px: f64) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    let fits = |t: &str| text_width(t, px) <= width;
    for part in s.split(" · ").filter(|p| !p.is_empty()) {
        let joined = if cur.is_empty() {
            part.to_string()
        } else {
            format!("{cur} · {part}")
        };
        if fits(&joined) {
            cur = joined;
            continue;
        }
        if !cur.is_empty() {
            lines.push(std::mem::take(&mut cur));
        }
        for word in part.split(' ') {
            let next = if cur.is_empty() {
                word.to_string()
            } else {
                format!("{cur} {word}")
            };
            if fits(&next) || cur.is_empty() {
                cur = next;
            } else {
                lines.push(std::mem::replace(&mut cur, word.to_string()));
            }
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

/// Draw a title and an optional grey subtitle (wrapped to the width) at the top of `root`; returns the area below.
pub fn titled<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
) -> Result<DrawingArea<DB, Shift>, ReportError> {
    let (w, _) = root.dim_in_pixel();
    let mut top = 12;
    root.draw(&Text::new(
        title.to_string(),
        (w as i32 / 2, top),
        bold(TITLE_PX).pos(Pos::new(HPos::Center, VPos::Top)),
    ))
    .dr()?;
    top += TITLE_PX as i32 + 8;
    for line in wrap(subtitle, w.saturating_sub(40), SUBTITLE_PX) {
        root.draw(&Text::new(
            line,
            (w as i32 / 2, top),
            text(SUBTITLE_PX)
                .color(&RGBColor(80, 80, 80))
                .pos(Pos::new(HPos::Center, VPos::Top)),
        ))
        .dr()?;
        top += SUBTITLE_PX as i32 + 6;
    }
    if !subtitle.is_empty() {
        top += 2;
    }
    Ok(root.margin(top as u32 + 4, 0, 0, 0))
}

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Swatch {
    /// A line (width in pixels), optionally dashed.
    Line { width: u32, dashed: bool },
    /// A line over a shaded band (a mean with its interval).
    LineBand,
    /// A filled circle.
    Dot,
    /// A filled triangle.
    Triangle,
    /// A filled square.
    Square,
    /// A series of a line or point chart: its marker, over its line (with its dash
    /// pattern) and band when drawn.
    Series {
        marker: Marker,
        dash: Option<(u32, u32)>,
        line: bool,
        band: bool,
    },
}

/// One legend entry.
#[derive(Debug, Clone)]
pub struct LegendEntry {
    pub label: String,
    pub color: RGBColor,
    pub swatch: Swatch,
}

/// Draw a legend (optional bold heading, then one entry per line) in `area`, which the plot
/// does not cover, so a legend never hides data.
pub fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    heading: &str,
    entries: &[LegendEntry],
) -> Result<(), ReportError> {
    let mut y = 8i32;
    let x0 = 8i32;
    if !heading.is_empty() {
        area.draw(&Text::new(
            heading.to_string(),
            (x0, y),
            bold(LEGEND_PX).pos(Pos::new(HPos::Left, VPos::Top)),
        ))
        .dr()?;
        y += LEGEND_PX as i32 + 10;
    }
    for e in entries {
        let cy = y + LEGEND_PX as i32 / 2;
        draw_swatch(area, e.swatch, e.color, (x0, cy))?;
        area.draw(&Text::new(
            e.label.clone(),
            (x0 + 34, y),
            text(LEGEND_PX).pos(Pos::new(HPos::Left, VPos::Top)),
        ))
        .dr()?;
        y += LEGEND_PX as i32 + 9;
    }
    Ok(())
}

/// Draw a legend swatch 26 px wide starting at `(x, cy)` (vertical centre).
pub fn draw_swatch<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    swatch: Swatch,
    c: RGBColor,
    (x, cy): (i32, i32),
) -> Result<(), ReportError> {
    match swatch {
        Swatch::Line { width, dashed } => {
            if dashed {
                for k in 0..3 {
                    area.draw(&PathElement::new(
                        vec![(x + k * 10, cy), (x + k * 10 + 6, cy)],
                        c.stroke_width(width),
                    ))
                    .dr()?;
                }
            } else {
                area.draw(&PathElement::new(
                    vec![(x, cy), (x + 26, cy)],
                    c.stroke_width(width),
                ))
                .dr()?;
            }
        }
        Swatch::LineBand => {
            area.draw(&Rectangle::new(
                [(x, cy - 7), (x + 26, cy + 7)],
                c.mix(0.2).filled(),
            ))
            .dr()?;
            area.draw(&PathElement::new(
                vec![(x, cy), (x + 26, cy)],
                c.stroke_width(3),
            ))
            .dr()?;
        }
        Swatch::Dot => {
            area.draw(&Circle::new((x + 13, cy), 5, c.filled())).dr()?;
        }
        Swatch::Triangle => {
            area.draw(&TriangleMarker::new((x + 13, cy), 7, c.filled()))
                .dr()?;
        }
        Swatch::Square => {
            area.draw(&Rectangle::new(
                [(x + 7, cy - 6), (x + 19, cy + 6)],
                c.filled(),
            ))
            .dr()?;
        }
        Swatch::Series {
            marker,
            dash,
            line,
            band,
        } => {
            if band {
                area.draw(&Rectangle::new(
                    [(x, cy - 7), (x + 26, cy + 7)],
                    c.mix(0.2).filled(),
                ))
                .dr()?;
            }
            if line {
                match dash {
                    None => area
                        .draw(&PathElement::new(
                            vec![(x, cy), (x + 26, cy)],
                            c.stroke_width(3),
                        ))
                        .dr()?,
                    Some((d, g)) => {
                        let mut a = x;
                        while a < x + 26 {
                            let b = (a + d as i32).min(x + 26);
                            area.draw(&PathElement::new(vec![(a, cy), (b, cy)], c.stroke_width(3)))
                                .dr()?;
                            a = b + g as i32;
                        }
                    }
                }
            } else {
                // Points with error bars: a vertical whisker.
                area.draw(&PathElement::new(
                    vec![(x + 13, cy - 8), (x + 13, cy + 8)],
                    c.stroke_width(2),
                ))
                .dr()?;
            }
            let (mx, r) = (x + 13, 5);
            let f = c.filled();
            match marker {
                Marker::Circle => area.draw(&Circle::new((mx, cy), r, f)).dr()?,
                Marker::Triangle => area
                    .draw(&Polygon::new(
                        vec![
                            (mx, cy - r - 2),
                            (mx + r + 1, cy + r - 1),
                            (mx - r - 1, cy + r - 1),
                        ],
                        f,
                    ))
                    .dr()?,
                Marker::Square => area
                    .draw(&Rectangle::new(
                        [(mx - r + 1, cy - r + 1), (mx + r - 1, cy + r - 1)],
                        f,
                    ))
                    .dr()?,
                Marker::Diamond => area
                    .draw(&Polygon::new(
                        vec![
                            (mx, cy - r - 1),
                            (mx + r + 1, cy),
                            (mx, cy + r + 1),
                            (mx - r - 1, cy),
                        ],
                        f,
                    ))
                    .dr()?,
                Marker::Cross => {
                    for v in [
                        vec![(mx - r, cy - r), (mx + r, cy + r)],
                        vec![(mx - r, cy + r), (mx + r, cy - r)],
                    ] {
                        area.draw(&PathElement::new(v, c.stroke_width(3))).dr()?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// A range `[lo, hi]` padded by `pad` of its width on both sides, never empty.
pub fn padded(lo: f64, hi: f64, pad: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if hi > lo {
        let w = hi - lo;
        (lo - w * pad, hi + w * pad)
    } else {
        let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        (lo - d, hi + d)
    }
}

/// The min and max of the finite values (None when there are none).
pub fn finite_range(vals: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    vals.into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((a, b)) => Some((a.min(v), b.max(v))),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (i, o) in cases {
            assert_eq!(base64(i.as_bytes()), o, "{i}");
        }
        assert_eq!(base64(&[0xff, 0xfe, 0xfd]), "//79");
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(0.1), "0.1");
        assert_eq!(fmt_num(0.025), "0.025");
        assert_eq!(fmt_num(2.0), "2");
        assert_eq!(fmt_num(12.5), "12.5");
        assert_eq!(fmt_num(6229.7), "6230");
        assert_eq!(fmt_num(45_000.0), "45k");
        assert_eq!(fmt_num(2_500_000.0), "2.5M");
        assert_eq!(fmt_num(-1500.0), "-1500");
        assert_eq!(fmt_num(0.00012), "1.2e-4");
        // Narrow spans keep ticks apart.
        assert_eq!(fmt_tick(1.015, 1.01, 1.02), "1.015");
        assert_eq!(fmt_tick(1.02, 1.01, 1.02), "1.02");
        assert_eq!(fmt_tick(3000.0, 0.0, 7000.0), "3000");
    }

    #[test]
    fn log_ticks_fall_on_1_2_5() {
        let close = |a: &[f64], b: &[f64]| {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(x, y)| (x - y).abs() <= 1e-9 * y.abs())
        };
        let t = log_ticks(0.3, 40.0);
        assert!(close(&t, &[0.5, 1.0, 2.0, 5.0, 10.0, 20.0]), "{t:?}");
        // Wide ranges keep the powers of ten only.
        let t = log_ticks(1.0, 1e6);
        assert!(close(&t, &[1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6]), "{t:?}");
        // Never 0.631 or 3981: every tick is 1, 2 or 5 times a power of ten.
        for t in log_ticks(0.0004, 7.0e3) {
            let m = t / 10f64.powf(t.log10().floor());
            assert!([1.0, 2.0, 5.0].iter().any(|k| (m - k).abs() < 1e-6), "{t}");
        }
        assert!(log_ticks(0.0, 1.0).is_empty());
    }

    #[test]
    fn log_ticks_under_a_decade_are_several() {
        let within = |t: &[f64], lo: f64, hi: f64| t.iter().all(|v| *v >= lo && *v <= hi);
        // 1-2-5 gives only 5 in [3, 9]: every integer multiple instead.
        let t = log_ticks(3.0, 9.0);
        assert!(t.len() >= 3 && within(&t, 3.0, 9.0), "{t:?}");
        let t = log_ticks(1.5, 4.0);
        assert_eq!(t, [2.0, 3.0, 4.0]);
        // Narrower than one step of those: round linear steps.
        let t = log_ticks(3.1, 3.9);
        assert!(t.len() >= 3 && within(&t, 3.1, 3.9), "{t:?}");
        assert_eq!(linear_ticks(0.0, 1.0, 5).len(), 6);
    }

    #[test]
    fn svgs_embed_the_font_their_text_names() {
        struct Hello;
        impl Figure for Hello {
            fn size(&self) -> (u32, u32) {
                (200, 80)
            }
            fn draw<DB: DrawingBackend>(
                &self,
                root: &DrawingArea<DB, Shift>,
            ) -> Result<(), ReportError> {
                root.draw(&Text::new("Hello", (10, 10), text(TICK_PX))).dr()
            }
        }
        let svg = svg_string(&Hello).unwrap();
        let face = svg
            .find("@font-face{font-family:\"DejaVu Sans\"")
            .expect("@font-face");
        let root = svg.find("<svg").unwrap();
        let text = svg.find("<text").unwrap();
        assert!(root < face && face < text, "the style precedes the text");
        assert!(
            svg.contains("src:url(data:font/ttf;base64,AAEAAA"),
            "a TrueType data URL"
        );
        assert!(svg[text..].contains("font-family=\"DejaVu Sans, sans-serif\""));
        // The embedded font is the bundled one, whole (no subsetting: see font.rs).
        assert!(svg.len() > font::DEJAVU_SANS.len() * 4 / 3);
    }

    #[test]
    fn crc32_matches_png_chunks() {
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    }

    #[test]
    fn subtitles_wrap_at_separators_then_spaces() {
        assert_eq!(wrap("", 100, 10.0), Vec::<String>::new());
        assert_eq!(wrap("a · b", 1000, 10.0), ["a · b"]);
        // 6 px per character: 10 characters per 60 px line.
        assert_eq!(wrap("aaaa · bbbb · cc", 60, 10.0), ["aaaa", "bbbb · cc"]);
        assert_eq!(wrap("one two three", 60, 10.0), ["one two", "three"]);
        assert_eq!(
            wrap("averyveryverylongword x", 60, 10.0),
            ["averyveryverylongword", "x"]
        );
    }

    #[test]
    fn viridis_runs_dark_to_light() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert!(dark(viridis(0.1)) && !dark(viridis(0.9)));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
    }
}
