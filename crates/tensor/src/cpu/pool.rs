//! CPU pooling kernels over row-major planes: windowed max (with indices) and mean, and their
//! scatter-add backward kernels. Forward kernels run in parallel over output rows (of all N*C
//! planes at once), backward kernels over planes, when the work is large. Forward outputs are
//! written into uninitialised capacity (no zero-fill first).

use std::mem::MaybeUninit;

use rayon::prelude::*;

use crate::op_desc::{Pool2dPlan, PoolWindow};
use crate::{Error, Float, Result, Tensor};

/// Kernels reading more elements than this run on rayon's pool.
const PAR_WORK: usize = 1 << 15;

/// Calls `f(i, chunk)` for every `width`-sized chunk of `out`, in parallel when `chunks * cost` (the
/// element reads of all chunks) is large.
fn chunks<O: Send>(out: &mut [O], width: usize, cost: usize, f: impl Fn(usize, &mut [O]) + Sync + Send) {
    if out.is_empty() || width == 0 {
        return;
    }
    let n = out.len() / width;
    if n > 1 && n.saturating_mul(cost) >= PAR_WORK && rayon::current_num_threads() > 1 {
        let min = (PAR_WORK / 16 / cost.max(1)).max(1);
        out.par_chunks_mut(width).enumerate().with_min_len(min).for_each(|(i, o)| f(i, o));
    } else {
        out.chunks_mut(width).enumerate().for_each(|(i, o)| f(i, o));
    }
}

/// PyTorch's max update: a larger value or any NaN replaces the running max.
#[inline(always)]
fn pick<T: Float>(best: &mut T, at: &mut usize, v: T, i: usize) {
    if v > *best || v.is_nan() {
        *best = v;
        *at = i;
    }
}

/// The max of four taps in order and the position (0..4) of the one chosen, with [`pick`]'s rule
/// (a larger value or any NaN replaces the running max), written as selects without branches.
#[inline(always)]
fn max4<T: Float>(x0: T, x1: T, x2: T, x3: T) -> (T, usize) {
    let (mut best, mut at) = (x0, 0);
    for (v, i) in [(x1, 1), (x2, 2), (x3, 3)] {
        // `|`, not `||`: both compares are cheap, and a short circuit becomes a branch
        #[allow(clippy::eq_op)]
        let take = (v > best) | (v != v);
        best = if take { v } else { best };
        at = if take { i } else { at };
    }
    (best, at)
}

/// The max of one window of a plane of width `w`, and its index in the plane (PyTorch's initial
/// index, the first tap, when the window holds no input).
#[inline]
fn window_max<T: Float>(plane: &[T], w: usize, r: PoolWindow, c: PoolWindow, step: [usize; 2]) -> (T, usize) {
    let mut best = T::NEG_INFINITY;
    let mut at = r.start * w + c.start;
    if r.start >= r.end || c.start >= c.end {
        return (best, at);
    }
    for ih in (r.start..r.end).step_by(step[0]) {
        let row = &plane[ih * w + c.start..ih * w + c.end];
        for (j, &v) in row.iter().enumerate().step_by(step[1]) {
            pick(&mut best, &mut at, v, ih * w + c.start + j);
        }
    }
    (best, at)
}

/// One output row `oh` of a plane's max pool, written into `vals` (uninitialised); `idx` receives
/// plane indices when given. Every element of both is written.
fn max_row<T: Float>(
    plane: &[T],
    plan: &Pool2dPlan,
    oh: usize,
    vals: &mut [MaybeUninit<T>],
    mut idx: Option<&mut [MaybeUninit<i64>]>,
) {
    let w = plan.in_w;
    if plan.fast_2x2 {
        // 2x2 windows, stride 2: branch-free selects (random data mispredicts `pick`'s branch).
        let r0 = &plane[2 * oh * w..(2 * oh + 1) * w];
        let r1 = &plane[(2 * oh + 1) * w..(2 * oh + 2) * w];
        let taps = r0.chunks_exact(2).zip(r1.chunks_exact(2));
        match idx {
            Some(ix) => {
                for (ow, ((v, i), (a, b))) in vals.iter_mut().zip(ix.iter_mut()).zip(taps).enumerate() {
                    let (best, at) = max4(a[0], a[1], b[0], b[1]);
                    v.write(best);
                    i.write((2 * oh * w + 2 * ow + (at & 1) + (at >> 1) * w) as i64);
                }
            }
            None => {
                for (v, (a, b)) in vals.iter_mut().zip(taps) {
                    v.write(max4(a[0], a[1], b[0], b[1]).0);
                }
            }
        }
        return;
    }
    let r = plan.rows[oh];
    for (ow, (v, &c)) in vals.iter_mut().zip(&plan.cols).enumerate() {
        let (best, at) = window_max(plane, w, r, c, plan.step);
        v.write(best);
        if let Some(ix) = idx.as_deref_mut() {
            ix[ow].write(at as i64);
        }
    }
}

/// Max pool of a contiguous view of `x` by `plan`: the values and, if asked, the I64 plane indices.
pub fn max_pool2d<T: Float>(x: &Tensor, plan: &Pool2dPlan, with_indices: bool) -> (Tensor, Option<Tensor>) {
    let data = x.cpu_data::<T>();
    let (oh, ow) = (plan.rows.len(), plan.cols.len());
    let in_plane = plan.in_h * plan.in_w;
    let n = plan.planes * oh * ow;
    let taps = |k: &[PoolWindow], s: usize| k.first().map_or(1, |w| (w.end.saturating_sub(w.start)).div_ceil(s).max(1));
    let cost = ow * taps(&plan.rows, plan.step[0]) * taps(&plan.cols, plan.step[1]);
    let mut vals: Vec<T> = super::alloc::vec_uninit("max_pool2d", n);
    let mut idx: Vec<i64> = super::alloc::vec_uninit("max_pool2d", if with_indices { n } else { 0 });
    let row_of = |i: usize| (&data[i / oh * in_plane..(i / oh + 1) * in_plane], i % oh);
    if n > 0 {
        let v = &mut vals.spare_capacity_mut()[..n];
        if with_indices {
            let run = |i: usize, (v, ix): (&mut [MaybeUninit<T>], &mut [MaybeUninit<i64>])| {
                let (plane, r) = row_of(i);
                max_row(plane, plan, r, v, Some(ix));
            };
            let ix = &mut idx.spare_capacity_mut()[..n];
            if n / ow > 1 && (n / ow).saturating_mul(cost) >= PAR_WORK && rayon::current_num_threads() > 1 {
                let rows = v.par_chunks_mut(ow).zip(ix.par_chunks_mut(ow)).enumerate();
                rows.with_min_len((PAR_WORK / 16 / cost.max(1)).max(1)).for_each(|(i, p)| run(i, p));
            } else {
                v.chunks_mut(ow).zip(ix.chunks_mut(ow)).enumerate().for_each(|(i, p)| run(i, p));
            }
        } else {
            chunks(v, ow, cost, |i, v| {
                let (plane, r) = row_of(i);
                max_row(plane, plan, r, v, None);
            });
        }
        // SAFETY: max_row wrote every element of every output row, and the rows cover `n`.
        unsafe {
            vals.set_len(n);
            if with_indices {
                idx.set_len(n);
            }
        }
    }
    let idx = with_indices.then(|| Tensor::from_vec_unchecked(idx, &plan.out_shape));
    (Tensor::from_vec_unchecked(vals, &plan.out_shape), idx)
}

/// Scatter-adds `grad_out` into zeros of `input_shape` at `indices` (checked to lie in the
/// `in_plane`-element planes).
pub fn max_pool2d_backward<T: Float>(
    grad_out: &Tensor,
    indices: &Tensor,
    input_shape: &[usize],
    in_plane: usize,
) -> Result<Tensor> {
    let g = grad_out.cpu_data::<T>();
    let ix = indices.cpu_data::<i64>();
    if let Some(&bad) = ix.iter().find(|&&i| i < 0 || i as usize >= in_plane) {
        return Err(Error::IndexOutOfRange { op: "max_pool2d_backward", index: bad, size: in_plane });
    }
    let mut out = super::alloc::filled("pool_backward", input_shape.iter().product(), T::ZERO);
    let r = input_shape.len();
    let out_plane: usize = grad_out.shape()[r - 2..].iter().product();
    if out_plane > 0 {
        chunks(&mut out, in_plane, out_plane, |p, gin| {
            let span = p * out_plane..(p + 1) * out_plane;
            for (&v, &i) in g[span.clone()].iter().zip(&ix[span]) {
                gin[i as usize] += v;
            }
        });
    }
    Ok(Tensor::from_vec_unchecked(out, input_shape))
}

/// The max pool's input gradient by the windows of `plan`: `grad_out` added, in output order, at
/// each output's index where that index is a tap of its window (others, as those of windows
/// wholly in the padding, are dropped).
pub fn max_pool2d_backward_windows<T: Float>(
    grad_out: &Tensor,
    indices: &Tensor,
    plan: &Pool2dPlan,
    input_shape: &[usize],
) -> Tensor {
    let (g, ix) = (grad_out.contiguous(), indices.contiguous());
    let (g, ix) = (g.cpu_data::<T>(), ix.cpu_data::<i64>());
    let (w, in_plane) = (plan.in_w, plan.in_h * plan.in_w);
    let mut out = super::alloc::filled("pool_backward", input_shape.iter().product(), T::ZERO);
    let out_plane = plan.rows.len() * plan.cols.len();
    let tap =
        |win: &PoolWindow, i: usize, step: usize| win.start <= i && i < win.end && (i - win.start).is_multiple_of(step);
    let ow = plan.cols.len();
    if out_plane > 0 && plan.fast_2x2 {
        // 2x2 windows, stride 2, all inside the plane: the taps of output (r, c) are `base`,
        // `base + 1`, `base + w` and `base + w + 1` from `base = 2 r w + 2 c`, so membership needs
        // no divisions, and every tap lies in the plane.
        chunks(&mut out, in_plane, out_plane, |p, gin| {
            let span = p * out_plane..(p + 1) * out_plane;
            let rows = g[span.clone()].chunks_exact(ow).zip(ix[span].chunks_exact(ow));
            for (r, (gr, ir)) in rows.enumerate() {
                for (c, (&v, &i)) in gr.iter().zip(ir).enumerate() {
                    let base = 2 * r * w + 2 * c;
                    // `d` in {0, 1, w, w + 1}: with `e = d` as unsigned (a negative `d` is
                    // huge), `e - w` when `e >= w`, else `e`, is below 2. Arithmetic rather than
                    // `||` so the one branch left is always taken for the forward's indices
                    // (branches on which tap won mispredict on most elements).
                    let e = i.wrapping_sub(base as i64) as u64;
                    let inside = e - w as u64 * u64::from(e >= w as u64) < 2;
                    if inside {
                        gin[i as usize] += v;
                    }
                }
            }
        });
    } else if out_plane > 0 {
        chunks(&mut out, in_plane, out_plane, |p, gin| {
            let span = p * out_plane..(p + 1) * out_plane;
            let rows = g[span.clone()].chunks_exact(ow).zip(ix[span].chunks_exact(ow));
            for (r, (gr, ir)) in plan.rows.iter().zip(rows) {
                for (c, (&v, &i)) in plan.cols.iter().zip(gr.iter().zip(ir)) {
                    if i >= 0 && (i as usize) < in_plane {
                        let (ih, iw) = (i as usize / w, i as usize % w);
                        if tap(r, ih, plan.step[0]) && tap(c, iw, plan.step[1]) {
                            gin[i as usize] += v;
                        }
                    }
                }
            }
        });
    }
    Tensor::from_vec_unchecked(out, input_shape)
}

/// One output row of an average pool: the mean of each window (0 for a window wholly in padding).
fn avg_row<T: Float>(plane: &[T], plan: &Pool2dPlan, oh: usize, out: &mut [T]) {
    let w = plan.in_w;
    if plan.fast_2x2 {
        let r0 = &plane[2 * oh * w..(2 * oh + 1) * w];
        let r1 = &plane[(2 * oh + 1) * w..(2 * oh + 2) * w];
        let quarter = T::from_f64(0.25);
        for ((o, a), b) in out.iter_mut().zip(r0.chunks_exact(2)).zip(r1.chunks_exact(2)) {
            *o = (a[0] + a[1] + b[0] + b[1]) * quarter;
        }
        return;
    }
    let r = plan.rows[oh];
    for (o, c) in out.iter_mut().zip(&plan.cols) {
        if r.start >= r.end || c.start >= c.end {
            *o = T::ZERO;
            continue;
        }
        let mut s = T::ZERO;
        for ih in r.start..r.end {
            for &v in &plane[ih * w + c.start..ih * w + c.end] {
                s += v;
            }
        }
        *o = s / T::from_f64((r.divisor * c.divisor) as f64);
    }
}

/// Average pool (fixed or adaptive windows) of a contiguous view of `x` by `plan`.
pub fn avg_pool2d<T: Float>(x: &Tensor, plan: &Pool2dPlan) -> Tensor {
    let data = x.cpu_data::<T>();
    let (oh, ow) = (plan.rows.len(), plan.cols.len());
    let in_plane = plan.in_h * plan.in_w;
    let mut out = super::alloc::filled("pool", plan.planes * oh * ow, T::ZERO);
    let len = |k: &[PoolWindow]| k.first().map_or(1, |w| w.end.saturating_sub(w.start).max(1));
    let cost = ow * len(&plan.rows) * len(&plan.cols);
    chunks(&mut out, ow, cost, |i, o| {
        let p = i / oh;
        avg_row(&data[p * in_plane..(p + 1) * in_plane], plan, i % oh, o);
    });
    Tensor::from_vec_unchecked(out, &plan.out_shape)
}

/// The input gradient of an average pool by `plan`: each `grad_out` element over its divisor, added
/// to every input of its window.
pub fn avg_pool2d_backward<T: Float>(grad_out: &Tensor, plan: &Pool2dPlan, input_shape: &[usize]) -> Tensor {
    let g = grad_out.cpu_data::<T>();
    let (oh, ow) = (plan.rows.len(), plan.cols.len());
    let (w, in_plane) = (plan.in_w, plan.in_h * plan.in_w);
    let mut out = super::alloc::filled("pool_backward", plan.planes * in_plane, T::ZERO);
    if oh * ow > 0 {
        chunks(&mut out, in_plane, oh * ow * 4, |p, gin| {
            let gp = &g[p * oh * ow..(p + 1) * oh * ow];
            for (r, grow) in plan.rows.iter().zip(gp.chunks_exact(ow)) {
                if r.start >= r.end {
                    continue;
                }
                for (c, &gv) in plan.cols.iter().zip(grow) {
                    if c.start >= c.end {
                        continue;
                    }
                    let v = gv / T::from_f64((r.divisor * c.divisor) as f64);
                    for ih in r.start..r.end {
                        for x in &mut gin[ih * w + c.start..ih * w + c.end] {
                            *x += v;
                        }
                    }
                }
            }
        });
    }
    Tensor::from_vec_unchecked(out, input_shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The branch-free 2x2 path picks exactly what the general `pick` loop picks: first of equal
    /// maxima, the last NaN, -inf windows at the first tap.
    #[test]
    fn max4_matches_pick() {
        let vals = [0.0f32, -0.0, 1.0, -1.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY];
        for a in vals {
            for b in vals {
                for c in vals {
                    for d in vals {
                        let (mut best, mut at) = (f32::NEG_INFINITY, 0);
                        for (i, v) in [a, b, c, d].into_iter().enumerate() {
                            pick(&mut best, &mut at, v, i);
                        }
                        let (m, i) = max4(a, b, c, d);
                        assert_eq!((m.to_bits(), i), (best.to_bits(), at), "{a} {b} {c} {d}");
                    }
                }
            }
        }
    }

    /// The 2x2 backward adds exactly what the general window check adds, for indices that are
    /// taps of their window, taps of a neighbouring window, outside the plane or negative, on an
    /// odd-sized plane whose last row and column no window covers.
    #[test]
    fn fast_2x2_backward_matches_the_window_check() {
        let (planes, h, w) = (3, 7, 9);
        let (oh, ow) = (h / 2, w / 2);
        let win = |n: usize| (0..n).map(|o| PoolWindow { start: 2 * o, end: 2 * o + 2, divisor: 1 }).collect();
        let plan = |fast_2x2| Pool2dPlan {
            planes,
            in_h: h,
            in_w: w,
            rows: win(oh),
            cols: win(ow),
            step: [1, 1],
            fast_2x2,
            out_shape: [planes, oh, ow].as_slice().into(),
        };
        let n = planes * oh * ow;
        let grads: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 7.0).collect();
        // cycle through every tap, neighbours' taps, the uncovered border, and bad indices
        let offsets: [i64; 9] = [0, 1, w as i64, w as i64 + 1, 2, -1, 2 * w as i64, -1_000, 10_000];
        let idx: Vec<i64> = (0..n)
            .map(|o| {
                let (r, c) = ((o % (oh * ow)) / ow, o % ow);
                let off = offsets[o % offsets.len()];
                if off <= -1_000 || off >= 10_000 {
                    off
                } else {
                    (2 * r * w + 2 * c) as i64 + off
                }
            })
            .collect();
        let g = Tensor::from_vec(grads, &[planes, oh, ow]);
        let ix = Tensor::from_vec(idx, &[planes, oh, ow]);
        let shape = [planes, h, w];
        let fast = max_pool2d_backward_windows::<f32>(&g, &ix, &plan(true), &shape).to_vec::<f32>();
        let general = max_pool2d_backward_windows::<f32>(&g, &ix, &plan(false), &shape).to_vec::<f32>();
        assert_eq!(fast, general);
        assert!(fast.iter().any(|&v| v != 0.0), "some gradient was added");
    }
}
