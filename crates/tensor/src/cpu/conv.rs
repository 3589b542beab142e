//! CPU convolution kernels: im2col + GEMM for the forward pass, GEMM + col2im for the gradient of
//! the input (which is also the transposed convolution), and GEMM over im2col for the gradient of
//! the weight. 1-d convolutions arrive here as 2-d ones with `h = 1`.
//!
//! Per sample `x[n]` (`[c, h, w]`) and group `g`, with `kk = c/groups * kh * kw` and `l = oh * ow`:
//! - forward: `y[n]_g [o/groups, l] = W_g [o/groups, kk] @ col(x[n])_g [kk, l]` (+ bias);
//! - input gradient: `dx[n] = col2im(W_g^T @ dy[n]_g)`;
//! - weight gradient: `dW_g += dy[n]_g @ col(x[n])_g^T`, summed over the batch.
//!
//! A batch runs in chunks of samples (as many as fit a 16 MiB column matrix): one im2col for the
//! chunk, one GEMM per group over all its positions (threaded over rayon's pool by `gemm`), and a
//! permute between `[s, o, l]` and the GEMM's channel-major `[o, s * l]`. Few large products run
//! far closer to the machine's peak than one small product per sample. Column matrices live in
//! per-thread scratch vectors reused from call to call.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::elementwise::PAR_THRESHOLD;
use super::matmul::{GemmElem, MatRef};
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
/// row `ci * kh * kw + tap`, sample `i`'s positions at columns `i * l..(i + 1) * l`.
fn im2col<T: GemmElem>(xs: &[T], g: &ConvGeom, s: usize, col: &mut [T]) {
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
    if col.len() >= PAR_THRESHOLD && g.c * taps > 1 {
        col.par_chunks_mut(width).enumerate().for_each(|(r, row)| fill(r, row));
    } else {
        col.chunks_mut(width).enumerate().for_each(|(r, row)| fill(r, row));
    }
}

/// Adds the column matrix `col` (`[c * kh * kw, s * l]`, as [`im2col`] lays it out) into the
/// images `xs` (`[s, c, h, w]`), in parallel over (sample, channel) planes when large.
fn col2im<T: GemmElem>(col: &[T], g: &ConvGeom, s: usize, xs: &mut [T]) {
    let (hw, taps, l) = (g.h * g.w, g.kh * g.kw, g.l());
    let width = s * l;
    if hw == 0 || width == 0 {
        return;
    }
    let plane = |p: usize, xc: &mut [T]| {
        let (i, ci) = (p / g.c, p % g.c);
        col2im_channel(&col[ci * taps * width + i * l..], width, g, xc);
    };
    if col.len() >= PAR_THRESHOLD && s * g.c > 1 {
        xs.par_chunks_mut(hw).enumerate().for_each(|(p, xc)| plane(p, xc));
    } else {
        xs.chunks_mut(hw).enumerate().for_each(|(p, xc)| plane(p, xc));
    }
}

/// Elements of column matrix a chunk of samples may use: the batch runs in chunks of samples whose
/// column matrix stays under this (16 MiB of f32), so memory does not grow with the batch.
const COL_BUDGET: usize = 1 << 22;

/// The sample chunks `(first, count)` of a batch: as many samples per chunk as fit `COL_BUDGET`.
fn sample_chunks(g: &ConvGeom) -> impl Iterator<Item = (usize, usize)> {
    let per = (g.c * g.kh * g.kw * g.l()).max(g.o * g.l()).max(1);
    let (n, s) = (g.n, (COL_BUDGET / per).clamp(1, g.n.max(1)));
    (0..n).step_by(s).map(move |i| (i, s.min(n - i)))
}

thread_local! {
    /// Reusable scratch vectors per element type, so repeated convolutions neither allocate nor
    /// zero their column matrices again.
    static SCRATCH: std::cell::RefCell<Vec<Box<dyn std::any::Any>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with two scratch vectors of `T` (contents unspecified), kept for the next call.
fn with_scratch<T: GemmElem + 'static, R>(f: impl FnOnce(&mut Vec<T>, &mut Vec<T>) -> R) -> R {
    let take = || {
        SCRATCH.with(|sc| {
            let mut sc = sc.borrow_mut();
            let at = sc.iter().position(|b| b.is::<Vec<T>>());
            at.and_then(|i| sc.swap_remove(i).downcast::<Vec<T>>().ok()).map_or_else(Vec::new, |b| *b)
        })
    };
    let (mut a, mut b) = (take(), take());
    let r = f(&mut a, &mut b);
    SCRATCH.with(|sc| {
        let mut sc = sc.borrow_mut();
        for v in [a, b] {
            // keep at most 64 MiB per vector alive between calls
            if v.capacity() * std::mem::size_of::<T>() <= 1 << 26 {
                sc.push(Box::new(v));
            }
        }
    });
    r
}

/// The first `n` elements of scratch vector `v`, grown (zero-filled) only when shorter: scratch is
/// never shrunk, so alternating layers do not zero their column matrices again on every call.
fn sized<T: GemmElem>(v: &mut Vec<T>, n: usize) -> &mut [T] {
    if v.len() < n {
        v.resize(n, T::ZERO);
    }
    &mut v[..n]
}

/// Copies the `s` samples of `y` (`[s, o, l]`) into `yp` as `[o, s * l]` (channel-major).
fn to_channel_major<T: GemmElem>(y: &[T], yp: &mut [T], o: usize, l: usize) {
    let width = y.len() / o;
    let row = |(c, row): (usize, &mut [T])| {
        for (i, dst) in row.chunks_mut(l).enumerate() {
            dst.copy_from_slice(&y[(i * o + c) * l..(i * o + c + 1) * l]);
        }
    };
    if y.len() >= PAR_THRESHOLD {
        yp.par_chunks_mut(width).enumerate().for_each(row);
    } else {
        yp.chunks_mut(width).enumerate().for_each(row);
    }
}

/// Writes `yp` (`[o, s * l]`) into `y` (`[s, o, l]`, uninitialised), adding `bias[c]` to channel
/// `c` when given: the inverse of [`to_channel_major`]. Every element of `y` is written.
fn from_channel_major<T: GemmElem>(yp: &[T], y: &mut [MaybeUninit<T>], o: usize, l: usize, bias: Option<&[T]>) {
    let width = y.len() / o;
    let plane = |(p, dst): (usize, &mut [MaybeUninit<T>])| {
        let (i, c) = (p / o, p % o);
        let src = &yp[c * width + i * l..c * width + (i + 1) * l];
        match bias {
            Some(b) => dst.iter_mut().zip(src).for_each(|(d, &v)| {
                d.write(v + b[c]);
            }),
            None => dst.iter_mut().zip(src).for_each(|(d, &v)| {
                d.write(v);
            }),
        }
    };
    if y.len() >= PAR_THRESHOLD {
        y.par_chunks_mut(l).enumerate().for_each(plane);
    } else {
        y.chunks_mut(l).enumerate().for_each(plane);
    }
}

/// Forward convolution of `x` (`[n, c, h, w]`, row-major) with `w` (`[o, c/groups, kh, kw]`):
/// `[n, o, oh, ow]`, plus `bias[o]` per output channel. Per chunk of samples: one im2col, one GEMM
/// per group over all the chunk's positions (threaded by `gemm`), one permute to `[n, o, l]`.
pub fn forward_kernel<T: GemmElem + 'static>(x: &[T], w: &[T], bias: Option<&[T]>, g: &ConvGeom) -> Vec<T> {
    let (kk, l, og, chw) = (g.kk(), g.l(), g.o / g.groups, g.c * g.h * g.w);
    let total = g.n * g.o * l;
    let mut out = Vec::with_capacity(total);
    if total == 0 {
        return out;
    }
    with_scratch::<T, _>(|col, yp| {
        for (i0, s) in sample_chunks(g) {
            let width = s * l;
            let col = sized(col, g.c * g.kh * g.kw * width);
            im2col(&x[i0 * chw..(i0 + s) * chw], g, s, col);
            let yp = sized(yp, g.o * width);
            for grp in 0..g.groups {
                let a = MatRef::dense(w, grp * og * kk, og, kk);
                let b = MatRef::dense(col, grp * kk * width, kk, width);
                T::gemm(a, b, T::ZERO, &mut yp[grp * og * width..(grp + 1) * og * width], width, 1);
            }
            from_channel_major(yp, &mut out.spare_capacity_mut()[i0 * g.o * l..(i0 + s) * g.o * l], g.o, l, bias);
        }
    });
    // SAFETY: the sample chunks cover the batch, and from_channel_major wrote every element of each
    // chunk's `[s, o, l]` range, so all `total` elements are initialised.
    unsafe { out.set_len(total) };
    out
}

/// Gradient of the forward convolution with respect to its input, from `dy` (`[n, o, oh, ow]`) and
/// `w`: `[n, c, h, w]`, starting from `init[c]` per channel (a transposed convolution's bias) or 0.
/// Per chunk of samples: `dy` permuted to `[o, s * l]`, one GEMM per group into the column matrix,
/// then col2im.
pub fn backward_input_kernel<T: GemmElem + 'static>(dy: &[T], w: &[T], init: Option<&[T]>, g: &ConvGeom) -> Vec<T> {
    let (kk, l, og, hw) = (g.kk(), g.l(), g.o / g.groups, g.h * g.w);
    let mut dx = vec![T::ZERO; g.n * g.c * hw];
    if let Some(b) = init {
        for (p, ch) in dx.chunks_mut(hw.max(1)).enumerate() {
            ch.fill(b[p % g.c]);
        }
    }
    if dx.is_empty() || l == 0 {
        return dx;
    }
    with_scratch::<T, _>(|dcol, dyp| {
        for (i0, s) in sample_chunks(g) {
            let width = s * l;
            let dyp = sized(dyp, g.o * width);
            to_channel_major(&dy[i0 * g.o * l..(i0 + s) * g.o * l], dyp, g.o, l);
            let dcol = sized(dcol, g.c * g.kh * g.kw * width);
            for grp in 0..g.groups {
                let a = MatRef::dense(w, grp * og * kk, og, kk).t();
                let b = MatRef::dense(dyp, grp * og * width, og, width);
                T::gemm(a, b, T::ZERO, &mut dcol[grp * kk * width..(grp + 1) * kk * width], width, 1);
            }
            col2im(dcol, g, s, &mut dx[i0 * g.c * hw..(i0 + s) * g.c * hw]);
        }
    });
    dx
}

/// Gradient of the forward convolution with respect to its weight, from `dy` (`[n, o, oh, ow]`) and
/// the input `x` (`[n, c, h, w]`): `[o, c/groups, kh, kw]`, summed over the batch. Per chunk of
/// samples and group, the transposed product `dW_g^T [kk, og] += col_g [kk, s * l] @ dy_g^T`, with
/// `dy` laid out position-major (`[s * l, o]`): both operands are then row-major, which `gemm`
/// runs two to three times faster than `dy_g @ col_g^T` with its column-major right operand.
pub fn backward_weight_kernel<T: GemmElem + 'static>(dy: &[T], x: &[T], g: &ConvGeom) -> Vec<T> {
    let (kk, l, og, chw) = (g.kk(), g.l(), g.o / g.groups, g.c * g.h * g.w);
    let mut dw = vec![T::ZERO; g.o * kk];
    if dw.is_empty() || l == 0 {
        return dw;
    }
    with_scratch::<T, _>(|col, dyt| {
        for (i0, s) in sample_chunks(g) {
            let width = s * l;
            let col = sized(col, g.c * g.kh * g.kw * width);
            im2col(&x[i0 * chw..(i0 + s) * chw], g, s, col);
            let dyt = sized(dyt, width * g.o);
            to_position_major(&dy[i0 * g.o * l..(i0 + s) * g.o * l], dyt, g.o, l);
            for grp in 0..g.groups {
                let a = MatRef::dense(col, grp * kk * width, kk, width);
                let b = MatRef { data: dyt, off: grp * og, rows: width, cols: og, rs: g.o, cs: 1 };
                // dW_g^T into a small dense matrix, then added transposed into dW_g (a strided
                // destination slows `gemm` down).
                let mut t = vec![T::ZERO; kk * og];
                T::gemm(a, b, T::ZERO, &mut t, og, 1);
                for (j, row) in dw[grp * og * kk..(grp + 1) * og * kk].chunks_exact_mut(kk).enumerate() {
                    for (r, d) in row.iter_mut().enumerate() {
                        *d += t[r * og + j];
                    }
                }
            }
        }
    });
    dw
}

/// Copies the `s` samples of `y` (`[s, o, l]`) into `yt` as `[s * l, o]` (position-major: row
/// `i * l + p` holds every channel of sample `i` at position `p`), one transpose per sample.
fn to_position_major<T: GemmElem>(y: &[T], yt: &mut [T], o: usize, l: usize) {
    let sample = |(i, dst): (usize, &mut [T])| {
        let src = &y[i * o * l..(i + 1) * o * l];
        for (c, row) in src.chunks_exact(l).enumerate() {
            for (p, &v) in row.iter().enumerate() {
                dst[p * o + c] = v;
            }
        }
    };
    if y.len() >= PAR_THRESHOLD {
        yt.par_chunks_mut(o * l).enumerate().for_each(sample);
    } else {
        yt.chunks_mut(o * l).enumerate().for_each(sample);
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
            im2col(&x, &g, 1, &mut col);
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
            col2im(&c, &g, 1, &mut back);
            let lhs: f64 = col.iter().zip(&c).map(|(a, b)| a * b).sum();
            let rhs: f64 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() < 1e-9, "{g:?}: {lhs} vs {rhs}");
        }
    }
}
