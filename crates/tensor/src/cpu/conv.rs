//! CPU convolution kernels: im2col + GEMM for the forward pass, GEMM + col2im for the gradient of
//! the input (which is also the transposed convolution), and GEMM over im2col for the gradient of
//! the weight. 1-d convolutions arrive here as 2-d ones with `h = 1`.
//!
//! Per sample `x[n]` (`[c, h, w]`) and group `g`, with `kk = c/groups * kh * kw` and `l = oh * ow`:
//! - forward: `y[n]_g [o/groups, l] = W_g [o/groups, kk] @ col(x[n])_g [kk, l]` (+ bias);
//! - input gradient: `dx[n] = col2im(W_g^T @ dy[n]_g)`;
//! - weight gradient: `dW_g += dy[n]_g @ col(x[n])_g^T`, summed over the batch.
//!
//! A batch of more than one sample runs its samples in parallel over rayon's pool, each with
//! single-threaded products and its own scratch column matrix, which stays in the core's cache
//! between im2col and GEMM; outputs are written in place, so the batch is never permuted. A single
//! sample runs its products threaded instead. Column matrices live in per-thread scratch vectors
//! reused from call to call; im2col and col2im themselves are in `conv/im2col.rs`.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::matmul::{GemmElem, MatRef};
use crate::op_desc::ConvGeom;
use crate::{Result, Tensor};

mod im2col;

use im2col::{col2im, col2im_same, im2col};

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

/// Multiply-adds above which the samples of a batch are spread over rayon's pool.
const SAMPLE_PAR_WORK: usize = 1 << 18;

/// Whether a convolution runs its samples in parallel, one thread per sample with single-threaded
/// products (true for any batch of more than one sample with enough work), or one sample at a time
/// with each product threaded by `gemm`. Per sample, the column matrix (`kk * l` values, 113 KiB for
/// a 16-channel 14x14 3x3 layer) stays in the core's cache from im2col to GEMM, the GEMM reads and
/// writes the sample's `[o, l]` planes in place (no permute of the batch), and no thread waits for
/// another between products. On two cores this ran the products of a 64-sample batch 15-25% faster
/// than one batch-wide product per layer (`cnn_ops --exp`).
fn sample_parallel(g: &ConvGeom) -> bool {
    g.n > 1 && g.n * g.o * g.kk() * g.l() >= SAMPLE_PAR_WORK && rayon::current_num_threads() > 1
}

thread_local! {
    /// Reusable scratch vectors per element type, so repeated convolutions neither allocate nor
    /// zero their column matrices again.
    static SCRATCH: std::cell::RefCell<Vec<Box<dyn std::any::Any>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Two scratch vectors of `T` (contents unspecified) taken from this thread's pool and given back
/// to the pool of the thread that drops them.
struct Scratch<T: GemmElem + 'static> {
    a: Vec<T>,
    b: Vec<T>,
}

impl<T: GemmElem + 'static> Scratch<T> {
    fn take() -> Self {
        let take = || {
            SCRATCH.with(|sc| {
                let mut sc = sc.borrow_mut();
                let at = sc.iter().position(|b| b.is::<Vec<T>>());
                at.and_then(|i| sc.swap_remove(i).downcast::<Vec<T>>().ok()).map_or_else(Vec::new, |b| *b)
            })
        };
        Scratch { a: take(), b: take() }
    }
}

impl<T: GemmElem + 'static> Drop for Scratch<T> {
    fn drop(&mut self) {
        let _ = SCRATCH.try_with(|sc| {
            let mut sc = sc.borrow_mut();
            for v in [std::mem::take(&mut self.a), std::mem::take(&mut self.b)] {
                // keep at most 64 MiB per vector alive between calls
                if v.capacity() > 0 && v.capacity() * std::mem::size_of::<T>() <= 1 << 26 {
                    sc.push(Box::new(v));
                }
            }
        });
    }
}

/// The first `n` elements of scratch vector `v`, grown (zero-filled) only when shorter: scratch is
/// never shrunk, so alternating layers do not zero their column matrices again on every call.
fn sized<T: GemmElem>(v: &mut Vec<T>, n: usize) -> &mut [T] {
    if v.len() < n {
        // reserved fallibly: a refusal panics with the out-of-memory message instead of aborting
        // (the ops' `try_*` forms probe these sizes before calling in)
        if v.try_reserve_exact(n - v.len()).is_err() {
            crate::tensor::ok::<()>(Err(super::alloc::oom::<T>("conv scratch", n)));
        }
        v.resize(n, T::ZERO);
    }
    &mut v[..n]
}

/// Writes `value(c)` into every element of plane `c` (`plane` elements each) of `out`, and returns
/// it as initialised values.
fn fill_planes<T: GemmElem>(out: &mut [MaybeUninit<T>], plane: usize, value: impl Fn(usize) -> T) -> &mut [T] {
    for (c, p) in out.chunks_mut(plane).enumerate() {
        let v = value(c);
        p.iter_mut().for_each(|d| {
            d.write(v);
        });
    }
    // SAFETY: every element was written above, and `MaybeUninit<T>` has the layout of `T`.
    unsafe { &mut *(out as *mut [MaybeUninit<T>] as *mut [T]) }
}

/// A vector of `n * per` values whose sample `i` (`per` values) is written by
/// `f(scratch, i, chunk)`, for every sample in parallel when `par` (each thread with its own
/// scratch), else in order. `f` must initialise its whole chunk.
fn per_sample<T: GemmElem + 'static>(
    n: usize,
    per: usize,
    par: bool,
    f: impl Fn(&mut Scratch<T>, usize, &mut [MaybeUninit<T>]) + Sync,
) -> Vec<T> {
    let total = n * per;
    let mut out = super::alloc::vec_uninit::<T>("conv", total);
    if total == 0 {
        return out;
    }
    let chunks = &mut out.spare_capacity_mut()[..total];
    if par {
        chunks.par_chunks_mut(per).enumerate().for_each_init(Scratch::take, |scr, (i, y)| f(scr, i, y));
    } else {
        let mut scr = Scratch::take();
        chunks.chunks_mut(per).enumerate().for_each(|(i, y)| f(&mut scr, i, y));
    }
    // SAFETY: the chunks cover all `total` elements and `f` initialised each chunk.
    unsafe { out.set_len(total) };
    out
}

/// Forward convolution of `x` (`[n, c, h, w]`, row-major) with `w` (`[o, c/groups, kh, kw]`):
/// `[n, o, oh, ow]`, plus `bias[o]` per output channel. Per sample: its planes start at the bias,
/// then one im2col and one GEMM per group accumulate `W_g @ col_g` into them.
pub fn forward_kernel<T: GemmElem + 'static>(x: &[T], w: &[T], bias: Option<&[T]>, g: &ConvGeom) -> Vec<T> {
    let (kk, l, og, chw) = (g.kk(), g.l(), g.o / g.groups, g.c * g.h * g.w);
    let par = sample_parallel(g);
    per_sample(g.n, g.o * l, par, |scr: &mut Scratch<T>, i, y| {
        let y = fill_planes(y, l, |c| bias.map_or(T::ZERO, |b| b[c]));
        let col = sized(&mut scr.a, g.c * g.kh * g.kw * l);
        im2col(&x[i * chw..(i + 1) * chw], g, 1, col, !par);
        let beta = if bias.is_some() { T::ONE } else { T::ZERO };
        for grp in 0..g.groups {
            let a = MatRef::dense(w, grp * og * kk, og, kk);
            let b = MatRef::dense(col, grp * kk * l, kk, l);
            T::gemm(a, b, beta, &mut y[grp * og * l..(grp + 1) * og * l], l, 1);
        }
    })
}

/// Gradient of the forward convolution with respect to its input, from `dy` (`[n, o, oh, ow]`) and
/// `w`: `[n, c, h, w]`, starting from `init[c]` per channel (a transposed convolution's bias) or 0.
/// Per sample: one GEMM per group `W_g^T @ dy_g` into the column matrix, then col2im.
pub fn backward_input_kernel<T: GemmElem + 'static>(dy: &[T], w: &[T], init: Option<&[T]>, g: &ConvGeom) -> Vec<T> {
    let (kk, l, og, hw) = (g.kk(), g.l(), g.o / g.groups, g.h * g.w);
    // W_g^T per group, dense ([groups][kk, og]): a row-major left operand for every sample's product
    let mut wt = vec![T::ZERO; g.o * kk];
    for grp in 0..g.groups {
        for j in 0..og {
            for r in 0..kk {
                wt[grp * og * kk + r * og + j] = w[(grp * og + j) * kk + r];
            }
        }
    }
    let par = sample_parallel(g);
    per_sample(g.n, g.c * hw, par, |scr: &mut Scratch<T>, i, xs| {
        let xs = fill_planes(xs, hw, |c| init.map_or(T::ZERO, |b| b[c]));
        if l == 0 {
            return;
        }
        let dcol = sized(&mut scr.a, g.c * g.kh * g.kw * l);
        for grp in 0..g.groups {
            let a = MatRef::dense(&wt, grp * og * kk, kk, og);
            let b = MatRef::dense(dy, (i * g.o + grp * og) * l, og, l);
            T::gemm(a, b, T::ZERO, &mut dcol[grp * kk * l..(grp + 1) * kk * l], l, 1);
        }
        if par && g.stride == [1, 1] && g.ow == g.w {
            col2im_same(dcol, g, xs);
        } else {
            col2im(dcol, g, 1, xs, !par);
        }
    })
}

/// Gradient of the forward convolution with respect to its weight, from `dy` (`[n, o, oh, ow]`) and
/// the input `x` (`[n, c, h, w]`): `[o, c/groups, kh, kw]`, summed over the batch. Per sample and
/// group, the transposed product `dW_g^T [kk, og] += col_g [kk, l] @ dy_g^T`, with `dy` laid out
/// position-major (`[l, o]`): both operands are then row-major, which `gemm` runs two to three
/// times faster than `dy_g @ col_g^T` with its column-major right operand. With samples in
/// parallel, each thread sums its samples into its own `dW^T`, and those are added at the end.
pub fn backward_weight_kernel<T: GemmElem + 'static>(dy: &[T], x: &[T], g: &ConvGeom) -> Vec<T> {
    let (kk, l, og, chw) = (g.kk(), g.l(), g.o / g.groups, g.c * g.h * g.w);
    let mut dw = vec![T::ZERO; g.o * kk];
    if dw.is_empty() || l == 0 || g.n == 0 {
        return dw;
    }
    let par = sample_parallel(g);
    // adds sample i's `dW_g^T` for every group into `acc` (`[groups][kk, og]`)
    let sample = |scr: &mut Scratch<T>, acc: &mut [T], i: usize| {
        let col = sized(&mut scr.a, g.c * g.kh * g.kw * l);
        im2col(&x[i * chw..(i + 1) * chw], g, 1, col, !par);
        let dyt = sized(&mut scr.b, l * g.o);
        to_position_major(&dy[i * g.o * l..(i + 1) * g.o * l], dyt, g.o, l);
        for grp in 0..g.groups {
            let a = MatRef::dense(col, grp * kk * l, kk, l);
            let b = MatRef { data: dyt, off: grp * og, rows: l, cols: og, rs: g.o, cs: 1 };
            T::gemm(a, b, T::ONE, &mut acc[grp * kk * og..(grp + 1) * kk * og], og, 1);
        }
    };
    let acc = if par {
        (0..g.n)
            .into_par_iter()
            .fold(
                || (Scratch::take(), vec![T::ZERO; g.o * kk]),
                |(mut scr, mut acc), i| {
                    sample(&mut scr, &mut acc, i);
                    (scr, acc)
                },
            )
            .map(|(_, acc)| acc)
            .reduce_with(|mut a, b| {
                a.iter_mut().zip(&b).for_each(|(a, &b)| *a += b);
                a
            })
            .unwrap_or_default()
    } else {
        let (mut scr, mut acc) = (Scratch::take(), vec![T::ZERO; g.o * kk]);
        (0..g.n).for_each(|i| sample(&mut scr, &mut acc, i));
        acc
    };
    for grp in 0..g.groups {
        let t = &acc[grp * kk * og..(grp + 1) * kk * og];
        for (j, row) in dw[grp * og * kk..(grp + 1) * og * kk].chunks_exact_mut(kk).enumerate() {
            for (r, d) in row.iter_mut().enumerate() {
                *d = t[r * og + j];
            }
        }
    }
    dw
}

/// Copies one sample's `y` (`[o, l]`) into `yt` as `[l, o]` (position-major: row `p` holds every
/// channel at position `p`), in 16x16 tiles so the strided writes stay within a few cache lines.
fn to_position_major<T: GemmElem>(y: &[T], yt: &mut [T], o: usize, l: usize) {
    const TILE: usize = 16;
    for c0 in (0..o).step_by(TILE) {
        for p0 in (0..l).step_by(TILE) {
            let p1 = (p0 + TILE).min(l);
            for c in c0..(c0 + TILE).min(o) {
                for (p, &v) in (p0..p1).zip(&y[c * l + p0..c * l + p1]) {
                    yt[p * o + c] = v;
                }
            }
        }
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

    /// Direct definitions of the forward convolution and both gradients (f64 loops), against the
    /// kernels on a batch large enough to run its samples in parallel and one sample at a time.
    #[test]
    fn kernels_match_direct_loops_in_both_sample_modes() {
        // strided with uneven padding; then `same` convolutions (the shifted-span col2im), one dilated
        for (stride, pad, dil) in [([2, 1], [1, 2], 1), ([1, 1], [1, 1], 1), ([1, 1], [2, 2], 2)] {
            direct_loops_case(stride, pad, dil);
        }
    }

    fn direct_loops_case(stride: [usize; 2], pad: [usize; 2], dil: usize) {
        let (n, c, h, w, o, k, groups) = (16, 4, 15, 16, 8, 3, 2);
        let oh = (h + 2 * pad[0] - dil * (k - 1) - 1) / stride[0] + 1;
        let ow = (w + 2 * pad[1] - dil * (k - 1) - 1) / stride[1] + 1;
        let dilation = [dil, dil];
        let g = ConvGeom { n, c, h, w, o, kh: k, kw: k, oh, ow, stride, padding: pad, dilation, groups };
        let one = ConvGeom { n: 1, ..g };
        assert!(sample_parallel(&g) || rayon::current_num_threads() == 1);
        assert!(!sample_parallel(&one));
        let (cg, og) = (c / groups, o / groups);
        let x: Vec<f64> = (0..n * c * h * w).map(|v| (v as f64 * 0.37).sin()).collect();
        let wt: Vec<f64> = (0..o * cg * k * k).map(|v| (v as f64 * 0.91).cos()).collect();
        let bias: Vec<f64> = (0..o).map(|v| v as f64 - 3.5).collect();
        let dy: Vec<f64> = (0..n * o * oh * ow).map(|v| (v as f64 * 0.13).sin()).collect();
        let (mut y, mut dx, mut dw) = (vec![0.0; dy.len()], vec![0.0; x.len()], vec![0.0; wt.len()]);
        for i in 0..n {
            for (oc, &b0) in bias.iter().enumerate() {
                let grp = oc / og;
                for oy in 0..oh {
                    for ox in 0..ow {
                        let yi = ((i * o + oc) * oh + oy) * ow + ox;
                        y[yi] = b0;
                        for ci in 0..cg {
                            for ki in 0..k {
                                for kj in 0..k {
                                    let iy = (oy * stride[0] + ki * dil) as isize - pad[0] as isize;
                                    let ix = (ox * stride[1] + kj * dil) as isize - pad[1] as isize;
                                    if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                        continue;
                                    }
                                    let xi = ((i * c + grp * cg + ci) * h + iy as usize) * w + ix as usize;
                                    let wi = ((oc * cg + ci) * k + ki) * k + kj;
                                    y[yi] += wt[wi] * x[xi];
                                    dx[xi] += wt[wi] * dy[yi];
                                    dw[wi] += x[xi] * dy[yi];
                                }
                            }
                        }
                    }
                }
            }
        }
        let close = |what: &str, got: &[f64], want: &[f64]| {
            assert_eq!(got.len(), want.len(), "{what}");
            for (j, (a, b)) in got.iter().zip(want).enumerate() {
                assert!((a - b).abs() < 1e-9, "{g:?} {what} element {j}: {a} vs {b}");
            }
        };
        close("forward", &forward_kernel(&x, &wt, Some(&bias), &g), &y);
        close("input grad", &backward_input_kernel(&dy, &wt, None, &g), &dx);
        close("weight grad", &backward_weight_kernel(&dy, &x, &g), &dw);
        // one sample at a time (products threaded by gemm instead)
        let (chw, ol) = (c * h * w, o * oh * ow);
        let mut dw1 = vec![0.0; dw.len()];
        for i in 0..n {
            let (xi, dyi) = (&x[i * chw..(i + 1) * chw], &dy[i * ol..(i + 1) * ol]);
            close("forward, one sample", &forward_kernel(xi, &wt, Some(&bias), &one), &y[i * ol..(i + 1) * ol]);
            close("input grad, one sample", &backward_input_kernel(dyi, &wt, None, &one), &dx[i * chw..(i + 1) * chw]);
            for (a, b) in dw1.iter_mut().zip(backward_weight_kernel(dyi, xi, &one)) {
                *a += b;
            }
        }
        close("weight grad, summed over samples", &dw1, &dw);
    }
}
