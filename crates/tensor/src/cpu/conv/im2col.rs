//! The column matrix of a convolution: im2col (each kernel tap of each input channel as one row
//! over the output positions) and its adjoint col2im, with fast paths for `same` convolutions
//! (stride 1, output as wide as the input), where a tap's row is one shifted copy of the plane.

use rayon::prelude::*;

use super::super::elementwise::par_worth;
use super::super::matmul::GemmElem;
use crate::op_desc::ConvGeom;

/// Fills `row` (`s * l` values: tap `(dh, dw)` of one input channel for `s` samples, sample `i` at
/// `i * l`) from the samples' channel planes `plane(i)` (`[h, w]`), zeros where the tap reads padding.
fn im2col_row<'a, T: GemmElem>(
    plane: impl Fn(usize) -> &'a [T],
    g: &ConvGeom,
    (dh, dw): (isize, isize),
    row: &mut [T],
) {
    let (l, ow, [sh, sw]) = (g.l(), g.ow, g.stride);
    let (lo, hi) = ConvGeom::valid(ow, sw, dw, g.w);
    if sh == 1 && sw == 1 && ow == g.w && l > 0 {
        for (i, part) in row.chunks_mut(l).enumerate() {
            shifted_plane(plane(i), g, (dh, dw), (lo, hi), part);
        }
        return;
    }
    for (i, part) in row.chunks_mut(l).enumerate() {
        let xc = plane(i);
        for (oy, dst) in part.chunks_mut(ow).enumerate() {
            let iy = (oy * sh) as isize + dh;
            if iy < 0 || iy >= g.h as isize || lo == hi {
                dst.fill(T::ZERO);
                continue;
            }
            let src = &xc[iy as usize * g.w..(iy as usize + 1) * g.w];
            dst[..lo].fill(T::ZERO);
            dst[hi..].fill(T::ZERO);
            let start = ((lo * sw) as isize + dw) as usize;
            if sw == 1 {
                dst[lo..hi].copy_from_slice(&src[start..start + (hi - lo)]);
            } else {
                for (d, s) in dst[lo..hi].iter_mut().zip(src[start..].iter().step_by(sw)) {
                    *d = *s;
                }
            }
        }
    }
}

/// [`im2col_row`] for one sample when both strides are 1 and the output is as wide as the input
/// (`same` padding): the valid output rows of tap `(dh, dw)` are one shifted copy of the plane, so
/// a row of the column matrix is one `memcpy`, zeroed border rows, and `|dw|` zeroed columns per
/// row, instead of three library calls per output row (a row is often only 14 or 28 wide).
fn shifted_plane<T: GemmElem>(
    xc: &[T],
    g: &ConvGeom,
    (dh, dw): (isize, isize),
    (lo, hi): (usize, usize),
    dst: &mut [T],
) {
    let (w, ow) = (g.w, g.ow);
    let (ylo, yhi) = ConvGeom::valid(g.oh, 1, dh, g.h);
    dst[..ylo * ow].fill(T::ZERO);
    dst[yhi * ow..].fill(T::ZERO);
    if ylo == yhi {
        return;
    }
    // dst[oy * ow + ox] = xc[(oy + dh) * w + ox + dw] for oy in ylo..yhi, every ox; the source range
    // is clipped to the plane, and what it wraps into (ox + dw outside 0..w) is zeroed below.
    let start = (ylo as isize + dh) * w as isize + dw;
    let len = ((yhi - ylo) * ow) as isize;
    let (s0, s1) = (start.max(0), (start + len).min(xc.len() as isize));
    let d0 = ylo * ow + (s0 - start) as usize;
    dst[d0..d0 + (s1 - s0) as usize].copy_from_slice(&xc[s0 as usize..s1 as usize]);
    for r in dst[ylo * ow..yhi * ow].chunks_exact_mut(ow) {
        let (left, right) = r.split_at_mut(hi);
        for v in left[..lo].iter_mut().chain(right) {
            *v = T::ZERO;
        }
    }
}

/// Adds the column rows of one sample's channel (`kh*kw` rows, row `r` at `rows[r * rs..]`, `l`
/// long) back into the channel plane `xc`: the adjoint of [`im2col_row`].
fn col2im_channel<T: GemmElem>(rows: &[T], rs: usize, g: &ConvGeom, xc: &mut [T]) {
    let (l, ow, [sh, sw]) = (g.l(), g.ow, g.stride);
    for (r, dh, dw) in g.taps() {
        let row = &rows[r * rs..r * rs + l];
        let (lo, hi) = ConvGeom::valid(ow, sw, dw, g.w);
        for (oy, src) in row.chunks(ow).enumerate() {
            let iy = (oy * sh) as isize + dh;
            if iy < 0 || iy >= g.h as isize || lo == hi {
                continue;
            }
            let dst = &mut xc[iy as usize * g.w..(iy as usize + 1) * g.w];
            let start = ((lo * sw) as isize + dw) as usize;
            if sw == 1 {
                for (d, &s) in dst[start..start + (hi - lo)].iter_mut().zip(&src[lo..hi]) {
                    *d += s;
                }
            } else {
                for (d, &s) in dst[start..].iter_mut().step_by(sw).zip(&src[lo..hi]) {
                    *d += s;
                }
            }
        }
    }
}

/// The column matrix `[c * kh * kw, s * l]` of the `s` samples in `xs` (`[s, c, h, w]`), in `col`:
/// row `ci * kh * kw + tap`, sample `i`'s positions at columns `i * l..(i + 1) * l`. Rows are filled
/// in parallel when `par` and the matrix is large.
pub(super) fn im2col<T: GemmElem>(xs: &[T], g: &ConvGeom, s: usize, col: &mut [T], par: bool) {
    let (hw, taps, width) = (g.h * g.w, g.kh * g.kw, s * g.l());
    debug_assert_eq!(col.len(), g.c * taps * width);
    if width == 0 {
        return;
    }
    let chw = g.c * hw;
    let offs: Vec<(isize, isize)> = g.taps().map(|(_, dh, dw)| (dh, dw)).collect();
    let fill = |r: usize, row: &mut [T]| {
        let ci = r / taps;
        im2col_row(|i| &xs[i * chw + ci * hw..i * chw + (ci + 1) * hw], g, offs[r % taps], row);
    };
    if par && par_worth(col.len()) && g.c * taps > 1 {
        col.par_chunks_mut(width).enumerate().for_each(|(r, row)| fill(r, row));
    } else {
        col.chunks_mut(width).enumerate().for_each(|(r, row)| fill(r, row));
    }
}

/// Adds the column matrix `col` (`[c * kh * kw, s * l]`, as [`im2col`] lays it out) into the
/// images `xs` (`[s, c, h, w]`), in parallel over (sample, channel) planes when `par` and large.
pub(super) fn col2im<T: GemmElem>(col: &[T], g: &ConvGeom, s: usize, xs: &mut [T], par: bool) {
    let (hw, taps, l) = (g.h * g.w, g.kh * g.kw, g.l());
    let width = s * l;
    if hw == 0 || width == 0 {
        return;
    }
    let plane = |p: usize, xc: &mut [T]| {
        let (i, ci) = (p / g.c, p % g.c);
        col2im_channel(&col[ci * taps * width + i * l..], width, g, xc);
    };
    if par && par_worth(col.len()) && s * g.c > 1 {
        xs.par_chunks_mut(hw).enumerate().for_each(|(p, xc)| plane(p, xc));
    } else {
        xs.chunks_mut(hw).enumerate().for_each(|(p, xc)| plane(p, xc));
    }
}

/// [`col2im`] of one sample when both strides are 1 and the output is as wide as the input (the
/// geometry of [`shifted_plane`]): each tap's row of `dcol` is added to its channel plane as one
/// shifted span instead of one short add per output row. The row entries whose shifted position
/// would wrap across a plane row (those read padding in the forward pass) are zeroed first, so
/// `dcol` is modified.
pub(super) fn col2im_same<T: GemmElem>(dcol: &mut [T], g: &ConvGeom, xs: &mut [T]) {
    let (hw, l, ow, taps) = (g.h * g.w, g.l(), g.ow, g.kh * g.kw);
    debug_assert!(g.stride == [1, 1] && ow == g.w);
    for (ci, xc) in xs.chunks_mut(hw).enumerate() {
        for (r, dh, dw) in g.taps() {
            let row = &mut dcol[(ci * taps + r) * l..(ci * taps + r + 1) * l];
            let (lo, hi) = ConvGeom::valid(ow, 1, dw, g.w);
            let (ylo, yhi) = ConvGeom::valid(g.oh, 1, dh, g.h);
            if ylo >= yhi || lo >= hi {
                continue;
            }
            if lo > 0 || hi < ow {
                for rr in row[ylo * ow..yhi * ow].chunks_exact_mut(ow) {
                    rr[..lo].fill(T::ZERO);
                    rr[hi..].fill(T::ZERO);
                }
            }
            // (oy, ox) -> (oy + dh) * w + ox + dw = oy * ow + ox + (dh * w + dw): one shift
            let (s0, s1) = (ylo * ow + lo, (yhi - 1) * ow + hi);
            let d0 = ((ylo as isize + dh) * g.w as isize + lo as isize + dw) as usize;
            for (d, &v) in xc[d0..d0 + (s1 - s0)].iter_mut().zip(&row[s0..s1]) {
                *d += v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geom(h: usize, w: usize, k: usize, s: usize, p: usize, d: usize) -> ConvGeom {
        let out = |n: usize| (n + 2 * p - d * (k - 1) - 1) / s + 1;
        ConvGeom {
            n: 1,
            c: 2,
            h,
            w,
            o: 1,
            kh: k,
            kw: k,
            oh: out(h),
            ow: out(w),
            stride: [s, s],
            padding: [p, p],
            dilation: [d, d],
            groups: 1,
        }
    }

    /// im2col against a direct definition, and col2im as its adjoint: <im2col(x), c> == <x, col2im(c)>.
    #[test]
    fn im2col_and_col2im_are_adjoint() {
        // The first six are `same` convolutions with stride 1 (the shifted-plane fast path).
        for (h, w, k, s, p, d) in [
            (5, 6, 3, 1, 1, 1),
            (6, 4, 5, 1, 2, 1),
            (4, 7, 3, 1, 2, 2),
            (3, 3, 5, 1, 2, 1),
            (2, 1, 3, 1, 1, 1),
            (1, 5, 7, 1, 3, 1),
            (7, 5, 3, 2, 2, 2),
            (4, 4, 2, 3, 0, 1),
            (3, 8, 1, 2, 1, 3),
            (6, 6, 3, 1, 0, 1),
        ] {
            let g = geom(h, w, k, s, p, d);
            let x: Vec<f64> = (0..g.c * h * w).map(|v| (v as f64 * 0.37).sin()).collect();
            let mut col = vec![0.0; g.c * k * k * g.l()];
            im2col(&x, &g, 1, &mut col, true);
            for (r, v) in col.iter().enumerate() {
                let (row, pos) = (r / g.l(), r % g.l());
                let (ci, tap) = (row / (k * k), row % (k * k));
                let iy = ((pos / g.ow) * s + (tap / k) * d) as isize - p as isize;
                let ix = ((pos % g.ow) * s + (tap % k) * d) as isize - p as isize;
                let inside = iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w;
                let want = if inside { x[ci * h * w + iy as usize * w + ix as usize] } else { 0.0 };
                assert_eq!(*v, want, "{g:?} element {r}");
            }
            let c: Vec<f64> = (0..col.len()).map(|v| (v as f64 * 0.11).cos()).collect();
            let mut back = vec![0.0; x.len()];
            col2im(&c, &g, 1, &mut back, true);
            let lhs: f64 = col.iter().zip(&c).map(|(a, b)| a * b).sum();
            let rhs: f64 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() < 1e-9, "{g:?}: {lhs} vs {rhs}");
        }
    }
}
