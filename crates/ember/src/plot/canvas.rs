//! An RGB raster with the few drawing primitives a chart needs: pixels, lines, rectangles, text.

use super::font;

/// An RGB color.
pub(crate) type Rgb = [u8; 3];

/// A `width x height` RGB image, row-major, three bytes per pixel.
pub(crate) struct Canvas {
    pub(crate) width: usize,
    pub(crate) height: usize,
    pub(crate) pixels: Vec<u8>,
}

impl Canvas {
    /// A canvas filled with `bg`.
    pub(crate) fn new(width: usize, height: usize, bg: Rgb) -> Canvas {
        Canvas { width, height, pixels: bg.repeat(width * height) }
    }

    /// Sets one pixel; points outside the canvas are ignored (lines may be clipped).
    pub(crate) fn set(&mut self, x: i64, y: i64, c: Rgb) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            let i = (y as usize * self.width + x as usize) * 3;
            self.pixels[i..i + 3].copy_from_slice(&c);
        }
    }

    /// The color at `(x, y)` (tests).
    #[cfg(test)]
    pub(crate) fn get(&self, x: usize, y: usize) -> Rgb {
        let i = (y * self.width + x) * 3;
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }

    /// A filled rectangle with corners `(x0, y0)` and `(x1, y1)` included.
    pub(crate) fn fill_rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: Rgb) {
        for y in y0.min(y1)..=y0.max(y1) {
            for x in x0.min(x1)..=x0.max(x1) {
                self.set(x, y, c);
            }
        }
    }

    /// A line from `(x0, y0)` to `(x1, y1)` (Bresenham), `thick` pixels wide (a square brush).
    pub(crate) fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), c: Rgb, thick: i64) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        let lo = -(thick - 1) / 2;
        let hi = thick / 2;
        loop {
            self.fill_rect(x + lo, y + lo, x + hi, y + hi, c);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// `text` with its top-left corner at `(x, y)`, each font pixel a `scale x scale` square.
    pub(crate) fn text(&mut self, x: i64, y: i64, text: &str, c: Rgb, scale: usize) {
        let s = scale as i64;
        for (k, ch) in text.chars().enumerate() {
            let gx = x + k as i64 * 4 * s;
            for (row, bits) in font::glyph(ch).iter().enumerate() {
                for col in 0..3 {
                    if bits & (0b100 >> col) != 0 {
                        let (px, py) = (gx + col * s, y + row as i64 * s);
                        self.fill_rect(px, py, px + s - 1, py + s - 1, c);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_stay_inside() {
        let mut c = Canvas::new(10, 6, [255; 3]);
        c.line((-5, -5), (20, 20), [0; 3], 3); // clipped, no panic
        assert_eq!(c.get(2, 2), [0; 3]);
        assert_eq!(c.get(9, 0), [255; 3]);
        c.line((0, 5), (9, 5), [1, 2, 3], 1);
        assert_eq!((c.get(0, 5), c.get(9, 5)), ([1, 2, 3], [1, 2, 3]));
        c.text(0, 0, "1", [9; 3], 1);
        assert_eq!((c.get(1, 0), c.get(0, 0)), ([9; 3], [0; 3])); // "1" has its top pixel in the middle
        assert_eq!(font::text_width("ab", 2), 14);
    }
}
