//! The one font every chart uses, compiled into the binary.
//!
//! plotters' default text path goes through font-kit and the system's fontconfig and
//! freetype, which a cluster node or a CI image may lack (and which make PNGs differ from
//! machine to machine). With the `ab_glyph` feature plotters rasterizes glyphs itself from a
//! font we register: DejaVu Sans (Bitstream Vera licence, fonts/LICENSE-DejaVu.txt), under its
//! own family name `DejaVu Sans`, the only family the charts ask for. SVG files name that
//! family first, then `sans-serif` ([`SVG_FAMILY`]), and carry the font itself as an
//! `@font-face` with a base64 data URL (render::embed_font), so they render the same without
//! DejaVu installed. The whole font is embedded (760 kB, 1.01 MB in base64, per SVG with
//! text): the Rust subsetters at hand (`subsetter`) drop the cmap table a browser needs, as
//! they subset for PDF.

use plotters::style::FontStyle;
use std::sync::OnceLock;

/// The bundled TTF.
pub static DEJAVU_SANS: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// The family name charts use (the bundled font's own name).
pub const FAMILY: &str = "DejaVu Sans";

/// The `font-family` SVG files carry: the bundled family, then a generic fallback.
pub const SVG_FAMILY: &str = "DejaVu Sans, sans-serif";

/// Register the bundled font (once per process); charts call this before drawing.
pub fn ensure_registered() -> Result<(), crate::ReportError> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        [FontStyle::Normal, FontStyle::Bold]
            .into_iter()
            .all(|s| plotters::style::register_font(FAMILY, s, DEJAVU_SANS).is_ok())
    });
    if ok {
        Ok(())
    } else {
        Err(crate::ReportError::Draw(
            "the bundled font DejaVuSans.ttf could not be parsed".into(),
        ))
    }
}
