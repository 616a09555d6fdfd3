//! A drawing backend that draws a figure laid out in layout pixels (1/96 inch, as CSS
//! pixels) at another resolution: `--dpi 300` multiplies every coordinate, stroke width,
//! circle radius and font size by 300/96, so the PNG is the same figure with more pixels
//! (text, lines, markers and margins all keep their size relative to the figure).
//!
//! Charts lay themselves out in layout pixels and never see the scale; wrapping the bitmap
//! backend here is the one place the scale is applied, so no chart can forget it. The SVG
//! is vector and is written at the layout size.

use plotters::style::{FontDesc, TextStyle};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
};

/// The scale for `dpi` (96 is 1, the layout resolution).
pub fn scale_for(dpi: u32) -> f64 {
    dpi as f64 / crate::render::LAYOUT_DPI as f64
}

/// `inner` (in device pixels) seen as a canvas `scale` times smaller (in layout pixels).
pub struct Scaled<DB> {
    pub inner: DB,
    pub scale: f64,
}

/// A style with its stroke width scaled.
struct Stroke {
    color: BackendColor,
    width: u32,
}

impl BackendStyle for Stroke {
    fn color(&self) -> BackendColor {
        self.color
    }
    fn stroke_width(&self) -> u32 {
        self.width
    }
}

impl<DB: DrawingBackend> Scaled<DB> {
    fn p(&self, (x, y): BackendCoord) -> BackendCoord {
        (
            (x as f64 * self.scale).round() as i32,
            (y as f64 * self.scale).round() as i32,
        )
    }

    fn len(&self, v: u32) -> u32 {
        ((v as f64 * self.scale).round() as u32).max(1)
    }

    fn stroke<S: BackendStyle>(&self, s: &S) -> Stroke {
        Stroke {
            color: s.color(),
            width: self.len(s.stroke_width()),
        }
    }

    /// The text style at the device size (the charts only use the bundled font's faces).
    fn text<'a, T: BackendTextStyle>(&self, s: &'a T) -> TextStyle<'a> {
        let font =
            FontDesc::new(s.family(), s.size() * self.scale, s.style()).transform(s.transform());
        TextStyle {
            font,
            color: s.color(),
            pos: s.anchor(),
        }
    }
}

impl<DB: DrawingBackend> DrawingBackend for Scaled<DB> {
    type ErrorType = DB::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        let (w, h) = self.inner.get_size();
        (
            (w as f64 / self.scale).round() as u32,
            (h as f64 / self.scale).round() as u32,
        )
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        // A layout pixel is a block of device pixels.
        let a = self.p(point);
        let b = self.p((point.0 + 1, point.1 + 1));
        let b = ((b.0 - 1).max(a.0), (b.1 - 1).max(a.1));
        self.inner.draw_rect(a, b, &color, true)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let s = self.stroke(style);
        let (a, b) = (self.p(from), self.p(to));
        if s.width <= 1 {
            self.inner.draw_line(a, b, &s)
        } else {
            self.inner.draw_path([a, b], &s)
        }
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let s = self.stroke(style);
        let (a, b) = (self.p(upper_left), self.p(bottom_right));
        if fill || s.width <= 1 {
            self.inner.draw_rect(a, b, &s, fill)
        } else {
            self.inner.draw_path([a, (b.0, a.1), b, (a.0, b.1), a], &s)
        }
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let s = self.stroke(style);
        let pts: Vec<BackendCoord> = path.into_iter().map(|p| self.p(p)).collect();
        self.inner.draw_path(pts, &s)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let s = self.stroke(style);
        let c = self.p(center);
        let r = self.len(radius);
        if fill || s.width <= 1 {
            self.inner.draw_circle(c, r, &s, fill)
        } else {
            // A thick rim: concentric circles one device pixel apart.
            let half = s.width / 2;
            let one = Stroke {
                color: s.color,
                width: 1,
            };
            for k in 0..s.width {
                let rr = (r + k).saturating_sub(half);
                self.inner.draw_circle(c, rr, &one, false)?;
            }
            Ok(())
        }
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let s = self.stroke(style);
        let pts: Vec<BackendCoord> = vert.into_iter().map(|p| self.p(p)).collect();
        self.inner.fill_polygon(pts, &s)
    }

    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let t = self.text(style);
        let at = self.p(pos);
        self.inner.draw_text(text, &t, at)
    }

    fn estimate_text_size<TStyle: BackendTextStyle>(
        &self,
        text: &str,
        style: &TStyle,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        // Layout happens at the layout size.
        self.inner.estimate_text_size(text, style)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::prelude::*;

    #[test]
    fn doubling_the_scale_doubles_what_is_drawn() {
        let mut buf = vec![255u8; 200 * 100 * 3];
        {
            let be = Scaled {
                inner: BitMapBackend::with_buffer(&mut buf, (200, 100)),
                scale: 2.0,
            };
            let root = be.into_drawing_area();
            assert_eq!(root.dim_in_pixel(), (100, 50));
            root.draw(&Rectangle::new([(10, 10), (20, 20)], BLACK.filled()))
                .unwrap();
            root.present().unwrap();
        }
        let at = |x: usize, y: usize| buf[(y * 200 + x) * 3];
        assert_eq!(at(25, 25), 0);
        assert_eq!(at(39, 39), 0);
        assert_eq!(at(15, 15), 255);
        assert_eq!(at(45, 45), 255);
    }
}
