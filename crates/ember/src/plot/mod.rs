//! Small plots without a plotting crate: [`LineChart`] draws loss and accuracy curves to PNG, and
//! [`encode_png`] writes any 8-bit image.
//!
//! ```
//! use ember::plot::LineChart;
//! let chart = LineChart::new(320, 200)
//!     .title("loss")
//!     .x_label("epoch")
//!     .series("train", &[2.3, 1.1, 0.6, 0.4, 0.3])
//!     .series("test", &[2.2, 1.2, 0.7, 0.5, 0.45]);
//! let png = chart.to_png();
//! assert_eq!(&png[1..4], b"PNG");
//! ```

mod canvas;
mod font;
pub(crate) mod png;

use std::path::Path;

use ember_tensor::{Error, Result};

use canvas::{Canvas, Rgb};
pub use png::encode_png;

/// Series colors (matplotlib's first four).
const COLORS: [Rgb; 4] = [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40]];
const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];
const GRID: Rgb = [225, 225, 225];
const TEXT: usize = 2; // font scale: glyphs are 6x10 pixels

/// A line chart of one or more series, with axes, "nice" ticks, grid lines, a title and a legend.
#[derive(Clone, Debug)]
pub struct LineChart {
    width: usize,
    height: usize,
    title: String,
    x_label: String,
    series: Vec<(String, Vec<(f64, f64)>)>,
}

impl LineChart {
    /// An empty chart of `width x height` pixels (each at least 160 x 120; smaller sizes are raised).
    pub fn new(width: usize, height: usize) -> LineChart {
        LineChart {
            width: width.max(160),
            height: height.max(120),
            title: String::new(),
            x_label: String::new(),
            series: Vec::new(),
        }
    }

    /// The title drawn above the plot.
    #[must_use]
    pub fn title(mut self, title: &str) -> LineChart {
        self.title = title.to_string();
        self
    }

    /// The label under the x axis.
    #[must_use]
    pub fn x_label(mut self, label: &str) -> LineChart {
        self.x_label = label.to_string();
        self
    }

    /// Adds a series `ys` plotted against `x = 1, 2, ...` (epochs, steps). Non-finite values are
    /// skipped (the line breaks there).
    #[must_use]
    pub fn series(self, name: &str, ys: &[f64]) -> LineChart {
        let pts: Vec<(f64, f64)> = ys.iter().enumerate().map(|(i, &y)| ((i + 1) as f64, y)).collect();
        self.series_xy(name, &pts)
    }

    /// Adds a series of `(x, y)` points, joined in the order given.
    #[must_use]
    pub fn series_xy(mut self, name: &str, points: &[(f64, f64)]) -> LineChart {
        self.series.push((name.to_string(), points.to_vec()));
        self
    }

    /// Renders the chart and encodes it as PNG bytes.
    pub fn to_png(&self) -> Vec<u8> {
        let c = self.render();
        // The canvas always has a valid size and three channels, so encoding cannot fail.
        encode_png(c.width, c.height, 3, &c.pixels).unwrap_or_default()
    }

    /// Renders the chart and writes it to `path` as a PNG file.
    pub fn save_png(&self, path: impl AsRef<Path>) -> Result<()> {
        let p = path.as_ref();
        std::fs::write(p, self.to_png()).map_err(|e| Error::Io(format!("{}: {e}", p.display())))
    }

    fn render(&self) -> Canvas {
        let (w, h) = (self.width as i64, self.height as i64);
        let mut c = Canvas::new(self.width, self.height, WHITE);
        let glyph_h = 5 * TEXT as i64;
        let finite = |&&(x, y): &&(f64, f64)| x.is_finite() && y.is_finite();
        let pts: Vec<&(f64, f64)> = self.series.iter().flat_map(|(_, p)| p.iter().filter(finite)).collect();
        let (xs, ys) = (pts.iter().map(|p| p.0), pts.iter().map(|p| p.1));
        let (x_ticks, x_lo, x_hi) =
            nice_axis(xs.clone().fold(f64::INFINITY, f64::min), xs.fold(f64::NEG_INFINITY, f64::max));
        let (y_ticks, y_lo, y_hi) =
            nice_axis(ys.clone().fold(f64::INFINITY, f64::min), ys.fold(f64::NEG_INFINITY, f64::max));
        let y_labels: Vec<String> = y_ticks.iter().map(|&v| tick_label(v, &y_ticks)).collect();
        let label_w = y_labels.iter().map(|s| font::text_width(s, TEXT)).max().unwrap_or(0) as i64;
        // Plot area: room on the left for tick labels, above for the title, below for ticks + label.
        let (left, right) = (label_w + 18, w - 20);
        let (top, bottom) = (if self.title.is_empty() { 16 } else { 22 + glyph_h }, h - 24 - 2 * glyph_h);
        let px = |x: f64| left + ((x - x_lo) / (x_hi - x_lo) * (right - left) as f64).round() as i64;
        let py = |y: f64| bottom - ((y - y_lo) / (y_hi - y_lo) * (bottom - top) as f64).round() as i64;

        for (&v, label) in y_ticks.iter().zip(&y_labels) {
            let y = py(v);
            c.line((left, y), (right, y), GRID, 1);
            c.line((left - 5, y), (left, y), BLACK, 1);
            c.text(left - 8 - font::text_width(label, TEXT) as i64, y - glyph_h / 2, label, BLACK, TEXT);
        }
        for &v in &x_ticks {
            let x = px(v);
            c.line((x, top), (x, bottom), GRID, 1);
            c.line((x, bottom), (x, bottom + 5), BLACK, 1);
            let label = tick_label(v, &x_ticks);
            c.text(x - font::text_width(&label, TEXT) as i64 / 2, bottom + 9, &label, BLACK, TEXT);
        }
        c.line((left, top), (left, bottom), BLACK, 1);
        c.line((left, bottom), (right, bottom), BLACK, 1);
        let centered = |s: &str, lo: i64, hi: i64| (lo + hi) / 2 - font::text_width(s, TEXT) as i64 / 2;
        c.text(centered(&self.title, 0, w), 10, &self.title, BLACK, TEXT);
        c.text(centered(&self.x_label, left, right), h - 6 - glyph_h, &self.x_label, BLACK, TEXT);

        for (k, (_, points)) in self.series.iter().enumerate() {
            let color = COLORS[k % COLORS.len()];
            let mut prev: Option<(i64, i64)> = None;
            for &(x, y) in points {
                if !(x.is_finite() && y.is_finite()) {
                    prev = None;
                    continue;
                }
                let p = (px(x), py(y));
                c.line(prev.unwrap_or(p), p, color, 2);
                prev = Some(p);
            }
        }
        // Legend: a line sample and the name per series, in the inside corner that hides the
        // fewest curve pixels (top right first).
        let name_w = self.series.iter().map(|(n, _)| font::text_width(n, TEXT)).max().unwrap_or(0) as i64;
        let (lw, lh) = (name_w + 44, self.series.len() as i64 * (glyph_h + 8) + 4);
        let corners = [
            (right - lw - 6, top + 6),
            (right - lw - 6, bottom - lh - 6),
            (left + 8, top + 6),
            (left + 8, bottom - lh - 6),
        ];
        let hidden = |&(x0, y0): &(i64, i64)| {
            let mut n = 0;
            for y in y0.max(0)..(y0 + lh).min(h) {
                for x in x0.max(0)..(x0 + lw).min(w) {
                    let i = (y * w + x) as usize * 3;
                    n += usize::from(COLORS.iter().any(|col| c.pixels[i..i + 3] == col[..]));
                }
            }
            n
        };
        let (lx, ly) = corners.iter().min_by_key(|p| hidden(p)).copied().unwrap_or(corners[0]);
        c.fill_rect(lx, ly, lx + lw, ly + lh, WHITE);
        for (k, (name, _)) in self.series.iter().enumerate() {
            let y = ly + 5 + k as i64 * (glyph_h + 8);
            c.line((lx + 4, y + glyph_h / 2), (lx + 26, y + glyph_h / 2), COLORS[k % COLORS.len()], 3);
            c.text(lx + 34, y, name, BLACK, TEXT);
        }
        c
    }
}

/// Ticks at a "nice" step (1, 2 or 5 times a power of ten) covering `[lo, hi]`, about five of
/// them, and the axis range they span.
fn nice_axis(lo: f64, hi: f64) -> (Vec<f64>, f64, f64) {
    let (lo, hi) = match (lo.is_finite(), hi.is_finite()) {
        (true, true) if hi > lo => (lo, hi),
        (true, true) => (lo - 0.5 * lo.abs().max(1.0), hi + 0.5 * hi.abs().max(1.0)),
        _ => (0.0, 1.0),
    };
    let raw = (hi - lo) / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|&s| s >= raw).unwrap_or(10.0 * mag);
    let (first, last) = ((lo / step).floor(), (hi / step).ceil());
    let ticks: Vec<f64> = (0..=(last - first) as i64).map(|i| (first + i as f64) * step).collect();
    (ticks, first * step, last * step)
}

/// A tick value with as many decimals as the step between ticks needs.
fn tick_label(v: f64, ticks: &[f64]) -> String {
    let step = if ticks.len() > 1 { ticks[1] - ticks[0] } else { 1.0 };
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    let s = format!("{v:.decimals$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string() // "-0.0" -> "0.0"
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ticks() {
        let (t, lo, hi) = nice_axis(0.03, 2.31);
        assert_eq!((lo, hi), (0.0, 2.5));
        assert_eq!(t.len(), 6);
        assert_eq!(
            t.iter().map(|&v| tick_label(v, &t)).collect::<Vec<_>>(),
            ["0.0", "0.5", "1.0", "1.5", "2.0", "2.5"]
        );
        let (t, lo, hi) = nice_axis(1.0, 30.0);
        assert_eq!((lo, hi, t[1] - t[0]), (0.0, 30.0, 10.0));
        assert_eq!(tick_label(30.0, &t), "30");
        let (t, _, _) = nice_axis(3.0, 3.0); // a flat series still gets an axis
        assert!(t.len() >= 2);
        assert_eq!(nice_axis(f64::INFINITY, f64::NEG_INFINITY).1, 0.0); // no data
    }

    #[test]
    fn chart_draws_series_and_axes() {
        let chart = LineChart::new(400, 300).title("loss").x_label("epoch").series("a", &[1.0, f64::NAN, 0.5, 0.25]);
        let c = chart.render();
        let colored = c.pixels.chunks_exact(3).filter(|p| *p == COLORS[0]).count();
        let black = c.pixels.chunks_exact(3).filter(|p| *p == BLACK).count();
        assert!(colored > 200 && black > 500, "{colored} series pixels, {black} black ones");
        let png = chart.to_png();
        let (w, h, _, px) = png::tests::decode(&png);
        assert_eq!((w, h, px), (400, 300, c.pixels));
        assert!(!LineChart::new(10, 10).to_png().is_empty()); // no series: still an image
    }
}
