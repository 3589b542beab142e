//! CPU convolution kernels: im2col + GEMM for the forward pass, GEMM + col2im for the gradient of
//! the input (which is also the transposed convolution), and GEMM over im2col for the gradient of
//! the weight. 1-d convolutions arrive here as 2-d ones with `h = 1`.
//!
//! Per sample `x[n]` (`[c, h, w]`) and group `g`, with `kk = c/groups * kh * kw` and `l = oh * ow`:
//! - forward: `y[n]_g [o/groups, l] = W_g [o/groups, kk] @ col(x[n])_g [kk, l]` (+ bias);
//! - input gradient: `dx[n] = col2im(W_g^T @ dy[n]_g)`;
//! - weight gradient: `dW_g += dy[n]_g @ col(x[n])_g^T`, summed over the batch.
//!
//! A batch runs in parallel over its samples (rayon); a single sample runs its products threaded
//! by `matrixmultiply`, im2col/col2im split over channels.

use rayon::prelude::*;

use super::elementwise::PAR_THRESHOLD;
use super::matmul::{GemmElem, MatRef, PAR_FLOPS};
use crate::{Result, Tensor};

/// The shape of one convolution, seen from the forward direction: input `[n, c, h, w]`, weight
/// `[o, c / groups, kh, kw]`, output `[n, o, oh, ow]`. (A transposed convolution is described by the
/// convolution it is the input-gradient of.) Sizes are validated by `ops/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeom {
    /// Batch size.
    pub n: usize,
    /// Input channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub o: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Output height (at most what stride, padding and dilation give).
    pub oh: usize,
    /// Output width.
    pub ow: usize,
    /// Stride (height, width), each ≥ 1.
    pub stride: [usize; 2],
    /// Zero padding (height, width).
    pub padding: [usize; 2],
    /// Dilation (height, width), each ≥ 1.
    pub dilation: [usize; 2],
    /// Number of groups, dividing `c` and `o`.
    pub groups: usize,
}

impl ConvGeom {
    /// Rows of one group's im2col matrix: `c / groups * kh * kw`.
    fn kk(&self) -> usize {
        self.c / self.groups * self.kh * self.kw
    }

    /// Output positions per channel: `oh * ow`.
    fn l(&self) -> usize {
        self.oh * self.ow
    }

    /// True when im2col is the identity (1x1 kernel, stride 1, no padding): the input is used as
    /// the column matrix directly.
    fn identity_cols(&self) -> bool {
        self.kh == 1
            && self.kw == 1
            && self.stride == [1, 1]
            && self.padding == [0, 0]
            && self.oh == self.h
            && self.ow == self.w
    }

    /// Output positions `o` (of `n_out`) with `0 <= o * stride + off < size`, as a range.
    fn valid(n_out: usize, stride: usize, off: isize, size: usize) -> (usize, usize) {
        let (s, size) = (stride as isize, size as isize);
        let lo = if off >= 0 { 0 } else { (-off + s - 1) / s };
        let hi = if size - off <= 0 { 0 } else { (size - off + s - 1) / s };
        let hi = (hi as usize).min(n_out);
        ((lo as usize).min(hi), hi)
    }

    /// Each kernel tap `(ki, kj)`: its row `ki * kw + kj` within a channel's block of the column
    /// matrix, and the offsets `(dh, dw)` with input `iy = oy * stride_h + dh`, `ix = ox * stride_w + dw`.
    fn taps(&self) -> impl Iterator<Item = (usize, isize, isize)> + '_ {
        (0..self.kh).flat_map(move |ki| {
            (0..self.kw).map(move |kj| {
                let dh = (ki * self.dilation[0]) as isize - self.padding[0] as isize;
                let dw = (kj * self.dilation[1]) as isize - self.padding[1] as isize;
                (ki * self.kw + kj, dh, dw)
            })
        })
    }
}

/// Fills `rows` (`kh*kw` rows of `l`, one channel's part of the column matrix) from one input
/// channel `xc` (`[h, w]`), zeros where the kernel reads padding.
fn im2col_channel<T: GemmElem>(xc: &[T], g: &ConvGeom, rows: &mut [T]) {
    let (l, ow, [sh, sw]) = (g.l(), g.ow, g.stride);
    for (r, dh, dw) in g.taps() {
        let row = &mut rows[r * l..(r + 1) * l];
        let (lo, hi) = ConvGeom::valid(ow, sw, dw, g.w);
        for (oy, dst) in row.chunks_mut(ow).enumerate() {
            let iy = (oy * sh) as isize + dh;
            if iy < 0 || iy >= g.h as isize {
                dst.fill(T::ZERO);
                continue;
            }
            let src = &xc[iy as usize * g.w..(iy as usize + 1) * g.w];
            dst[..lo].fill(T::ZERO);
            dst[hi..].fill(T::ZERO);
            if lo == hi {
                continue;
            }
            let start = (lo * sw) as isize + dw;
            if sw == 1 {
                dst[lo..hi].copy_from_slice(&src[start as usize..start as usize + (hi - lo)]);
            } else {
                for (d, s) in dst[lo..hi].iter_mut().zip(src[start as usize..].iter().step_by(sw)) {
                    *d = *s;
                }
            }
        }
    }
}

/// Adds `rows` (one channel's part of a column matrix) back into the image channel `xc`: the
/// adjoint of [`im2col_channel`].
fn col2im_channel<T: GemmElem>(rows: &[T], g: &ConvGeom, xc: &mut [T]) {
    let (l, ow, [sh, sw]) = (g.l(), g.ow, g.stride);
    for (r, dh, dw) in g.taps() {
        let row = &rows[r * l..(r + 1) * l];
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

/// The column matrix `[c * kh * kw, l]` of one sample `xn` (`[c, h, w]`), in `col`.
fn im2col<T: GemmElem>(xn: &[T], g: &ConvGeom, col: &mut Vec<T>) {
    let (hw, per) = (g.h * g.w, g.kh * g.kw * g.l());
    col.resize(g.c * per, T::ZERO);
    if per == 0 {
        return;
    }
    let xn = &xn[..g.c * hw];
    if g.c * per >= PAR_THRESHOLD && g.c > 1 {
        col.par_chunks_mut(per).enumerate().for_each(|(ci, rows)| im2col_channel(&xn[ci * hw..], g, rows));
    } else {
        col.chunks_mut(per).enumerate().for_each(|(ci, rows)| im2col_channel(&xn[ci * hw..], g, rows));
    }
}

/// Adds the column matrix `col` (`[c * kh * kw, l]`) into one sample's image `xn` (`[c, h, w]`).
fn col2im<T: GemmElem>(col: &[T], g: &ConvGeom, xn: &mut [T]) {
    let (hw, per) = (g.h * g.w, g.kh * g.kw * g.l());
    if hw == 0 || per == 0 {
        return;
    }
    if g.c * per >= PAR_THRESHOLD && g.c > 1 {
        xn.par_chunks_mut(hw).zip(col.par_chunks(per)).for_each(|(xc, rows)| col2im_channel(rows, g, xc));
    } else {
        xn.chunks_mut(hw).zip(col.chunks(per)).for_each(|(xc, rows)| col2im_channel(rows, g, xc));
    }
}

/// True when a batch of `n` samples, each a GEMM of `m x k` by `k x l` per group, runs in parallel
/// over the samples. Unlike batched matmul this holds even when `matrixmultiply` would thread each
/// product: conv GEMMs have few rows (`out_channels / groups`), which it splits poorly; one sample
/// per core measured 1.5-2x faster on 2 cores for typical CNN layers.
fn par_samples(n: usize, m: usize, k: usize, l: usize) -> bool {
    n > 1 && n * m * k * l >= PAR_FLOPS
}

/// Runs `f(sample, out_chunk, scratch)` for every sample, each writing its own `chunk`-sized part
/// of `out`: in parallel (one scratch buffer per rayon job) when `par`, else in order.
fn per_sample<T: GemmElem>(out: &mut [T], chunk: usize, par: bool, f: impl Fn(usize, &mut [T], &mut Vec<T>) + Sync) {
    if chunk == 0 {
        return;
    }
    if par {
        out.par_chunks_mut(chunk).enumerate().for_each_init(Vec::new, |col, (i, o)| f(i, o, col));
    } else {
        let mut col = Vec::new();
        out.chunks_mut(chunk).enumerate().for_each(|(i, o)| f(i, o, &mut col));
    }
}

/// Forward convolution of `x` (`[n, c, h, w]`, row-major) with `w` (`[o, c/groups, kh, kw]`):
/// `[n, o, oh, ow]`, plus `bias[o]` per output channel.
pub fn forward_kernel<T: GemmElem>(x: &[T], w: &[T], bias: Option<&[T]>, g: &ConvGeom) -> Vec<T> {
    let (kk, l, og) = (g.kk(), g.l(), g.o / g.groups);
    let mut out = vec![T::ZERO; g.n * g.o * l];
    let par = par_samples(g.n, og, kk, l);
    let beta = if bias.is_some() { T::ONE } else { T::ZERO };
    per_sample(&mut out, g.o * l, par, |i, yn, col| {
        let xn = &x[i * g.c * g.h * g.w..(i + 1) * g.c * g.h * g.w];
        let cols: &[T] = if g.identity_cols() {
            xn
        } else {
            im2col(xn, g, col);
            col
        };
        if let Some(b) = bias {
            for (row, &bv) in yn.chunks_mut(l).zip(b) {
                row.fill(bv);
            }
        }
        for grp in 0..g.groups {
            let a = MatRef::dense(w, grp * og * kk, og, kk);
            let b = MatRef::dense(cols, grp * kk * l, kk, l);
            T::gemm(a, b, beta, &mut yn[grp * og * l..(grp + 1) * og * l], l, 1);
        }
    });
    out
}

/// Gradient of the forward convolution with respect to its input, from `dy` (`[n, o, oh, ow]`) and
/// `w`: `[n, c, h, w]`, starting from `init[c]` per channel (a transposed convolution's bias) or 0.
pub fn backward_input_kernel<T: GemmElem>(dy: &[T], w: &[T], init: Option<&[T]>, g: &ConvGeom) -> Vec<T> {
    let (kk, l, og, cg, hw) = (g.kk(), g.l(), g.o / g.groups, g.c / g.groups, g.h * g.w);
    let mut dx = vec![T::ZERO; g.n * g.c * hw];
    let par = par_samples(g.n, kk, og, l);
    per_sample(&mut dx, g.c * hw, par, |i, dxn, dcol| {
        if let Some(b) = init {
            for (ch, &bv) in dxn.chunks_mut(hw).zip(b) {
                ch.fill(bv);
            }
        }
        let dyn_ = &dy[i * g.o * l..(i + 1) * g.o * l];
        let identity = g.identity_cols();
        if !identity {
            dcol.resize(g.c * g.kh * g.kw * l, T::ZERO);
        }
        for grp in 0..g.groups {
            let a = MatRef::dense(w, grp * og * kk, og, kk).t();
            let b = MatRef::dense(dyn_, grp * og * l, og, l);
            if identity {
                T::gemm(a, b, T::ONE, &mut dxn[grp * cg * hw..(grp + 1) * cg * hw], l, 1);
            } else {
                T::gemm(a, b, T::ZERO, &mut dcol[grp * kk * l..(grp + 1) * kk * l], l, 1);
            }
        }
        if !identity {
            col2im(dcol, g, dxn);
        }
    });
    dx
}

/// Gradient of the forward convolution with respect to its weight, from `dy` (`[n, o, oh, ow]`) and
/// the input `x` (`[n, c, h, w]`): `[o, c/groups, kh, kw]`, summed over the batch.
pub fn backward_weight_kernel<T: GemmElem>(dy: &[T], x: &[T], g: &ConvGeom) -> Vec<T> {
    let (kk, l, og, chw) = (g.kk(), g.l(), g.o / g.groups, g.c * g.h * g.w);
    let len = g.o * kk;
    // dW_g += dy[i]_g @ col(x[i])_g^T, into `dw`
    let accumulate = |dw: &mut [T], col: &mut Vec<T>, i: usize| {
        let xn = &x[i * chw..(i + 1) * chw];
        let cols: &[T] = if g.identity_cols() {
            xn
        } else {
            im2col(xn, g, col);
            col
        };
        for grp in 0..g.groups {
            let a = MatRef::dense(dy, i * g.o * l + grp * og * l, og, l);
            let b = MatRef::dense(cols, grp * kk * l, kk, l).t();
            T::gemm(a, b, T::ONE, &mut dw[grp * og * kk..(grp + 1) * og * kk], kk, 1);
        }
    };
    if len == 0 {
        return Vec::new();
    }
    if par_samples(g.n, og, l, kk) {
        (0..g.n)
            .into_par_iter()
            .fold(
                || (vec![T::ZERO; len], Vec::new()),
                |(mut dw, mut col), i| {
                    accumulate(&mut dw, &mut col, i);
                    (dw, col)
                },
            )
            .map(|(dw, _)| dw)
            .reduce(
                || vec![T::ZERO; len],
                |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(x, &y)| *x += y);
                    a
                },
            )
    } else {
        let (mut dw, mut col) = (vec![T::ZERO; len], Vec::new());
        for i in 0..g.n {
            accumulate(&mut dw, &mut col, i);
        }
        dw
    }
}

/// [`forward_kernel`] on CPU tensors (dtypes checked by the caller): a contiguous
/// `[n, o, oh, ow]` tensor.
pub fn forward(op: &'static str, x: &Tensor, w: &Tensor, bias: Option<&Tensor>, g: &ConvGeom) -> Result<Tensor> {
    with_float!(op, x.dtype(), T, {
        let b = bias.map(|b| b.cpu_data::<T>());
        let v = forward_kernel::<T>(&x.cpu_data::<T>(), &w.cpu_data::<T>(), b.as_deref(), g);
        Ok(Tensor::from_vec_unchecked(v, &[g.n, g.o, g.oh, g.ow]))
    })
}

/// [`backward_input_kernel`] on CPU tensors: a contiguous `[n, c, h, w]` tensor.
pub fn backward_input(
    op: &'static str,
    dy: &Tensor,
    w: &Tensor,
    init: Option<&Tensor>,
    g: &ConvGeom,
) -> Result<Tensor> {
    with_float!(op, dy.dtype(), T, {
        let b = init.map(|b| b.cpu_data::<T>());
        let v = backward_input_kernel::<T>(&dy.cpu_data::<T>(), &w.cpu_data::<T>(), b.as_deref(), g);
        Ok(Tensor::from_vec_unchecked(v, &[g.n, g.c, g.h, g.w]))
    })
}

/// [`backward_weight_kernel`] on CPU tensors: a contiguous `[o, c/groups, kh, kw]` tensor.
pub fn backward_weight(op: &'static str, dy: &Tensor, x: &Tensor, g: &ConvGeom) -> Result<Tensor> {
    with_float!(op, dy.dtype(), T, {
        let v = backward_weight_kernel::<T>(&dy.cpu_data::<T>(), &x.cpu_data::<T>(), g);
        Ok(Tensor::from_vec_unchecked(v, &[g.o, g.c / g.groups, g.kh, g.kw]))
    })
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
        for (h, w, k, s, p, d) in [(5, 6, 3, 1, 1, 1), (7, 5, 3, 2, 2, 2), (4, 4, 2, 3, 0, 1), (3, 8, 1, 2, 1, 3)] {
            let g = geom(h, w, k, s, p, d);
            let x: Vec<f64> = (0..g.c * h * w).map(|v| (v as f64 * 0.37).sin()).collect();
            let mut col = Vec::new();
            im2col(&x, &g, &mut col);
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
            col2im(&c, &g, &mut back);
            let lhs: f64 = col.iter().zip(&c).map(|(a, b)| a * b).sum();
            let rhs: f64 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() < 1e-9, "{g:?}: {lhs} vs {rhs}");
        }
    }
}
