//! CPU reduction kernels. A dense tensor is seen as `[outer, n, inner]` and reduced over `n`:
//! along the last dim (`inner == 1`) each output is a pairwise reduction of one contiguous row; along
//! other dims each output row of `inner` accumulators takes the `n` input rows in turn (blocks of
//! `ROW_BLOCK` (128) rows, then merged, so long reductions stay accurate). Large work runs on rayon:
//! over outer rows, over column chunks when there are few outer rows, or over chunks of one long row.

use rayon::prelude::*;

use super::elementwise::par_worth;
use crate::{Element, Float, Numeric};

pub use crate::op_desc::Axis;

/// Length of a contiguous run reduced sequentially before pairwise merging.
const LEAF: usize = 512;
/// Input rows accumulated into a partial output row before it is merged into the total.
const ROW_BLOCK: usize = 128;
/// Elements per parallel task when one long row is split.
const PAR_CHUNK: usize = 1 << 14;
/// Output columns per parallel task when the columns of a few slabs are split.
const PAR_COLS: usize = 256;

/// One reduction: how to start, extend and combine accumulators.
///
/// `pos` is the output's flat index (`o * inner + j`), `k` an index along the reduced dim. `merge(a, b)`
/// combines the accumulators of two adjacent ranges, `a` the earlier, so "first occurrence" rules hold.
pub trait Reducer<T: Copy>: Sync {
    /// The running state.
    type Acc: Copy + Send + Sync;
    /// The state before any element, for output `pos`, of a range starting at `k0`.
    fn init(&self, pos: usize, k0: usize) -> Self::Acc;
    /// The state after also seeing `x` at index `k`.
    fn step(&self, acc: Self::Acc, x: T, k: usize) -> Self::Acc;
    /// Combines the states of an earlier range `a` and the range `b` right after it.
    fn merge(&self, a: Self::Acc, b: Self::Acc) -> Self::Acc;
    /// Folds a contiguous run starting at index `k0` (override for a faster loop).
    #[inline]
    fn run(&self, mut acc: Self::Acc, xs: &[T], k0: usize) -> Self::Acc {
        for (i, &x) in xs.iter().enumerate() {
            acc = self.step(acc, x, k0 + i);
        }
        acc
    }
}

/// Reduces `data` (dense, `ax.outer * ax.n * ax.inner` elements) over `ax.n`; one accumulator per
/// output, in row-major `[outer, inner]` order.
pub fn reduce_axis<T: Copy + Sync, R: Reducer<T>>(data: &[T], ax: Axis, r: &R) -> Vec<R::Acc> {
    let Axis { outer, n, inner } = ax;
    if ax.out_len() == 0 {
        return Vec::new();
    }
    // one thread: `outer >= threads` always holds, and the per-row (per-slab) split gives the
    // same sums as the sequential loop, so `par_worth` changes no result
    let par = par_worth(outer * n * inner);
    let threads = rayon::current_num_threads();
    if inner == 1 {
        let row = |o: usize| pairwise(r, &data[o * n..(o + 1) * n], o, 0);
        if !par {
            return (0..outer).map(row).collect();
        }
        if outer >= threads {
            return (0..outer).into_par_iter().with_min_len((PAR_CHUNK / n.max(1)).max(1)).map(row).collect();
        }
        // A few long rows: reduce chunks of each row in parallel, then merge them in order.
        return (0..outer)
            .map(|o| {
                let parts: Vec<R::Acc> = data[o * n..(o + 1) * n]
                    .par_chunks(PAR_CHUNK)
                    .enumerate()
                    .map(|(c, xs)| pairwise(r, xs, o, c * PAR_CHUNK))
                    .collect();
                parts.into_iter().reduce(|a, b| r.merge(a, b)).unwrap_or_else(|| r.init(o, 0))
            })
            .collect();
    }
    let slab = n * inner;
    let mut out = super::alloc::filled_any("reduce", outer * inner, r.init(0, 0));
    let per_slab =
        |(o, acc): (usize, &mut [R::Acc])| columns(r, &data[o * slab..(o + 1) * slab], n, inner, 0, o * inner, acc);
    if !par {
        out.chunks_mut(inner).enumerate().for_each(per_slab);
    } else if outer >= threads {
        out.par_chunks_mut(inner).enumerate().for_each(per_slab);
    } else {
        for (o, acc) in out.chunks_mut(inner).enumerate() {
            let xs = &data[o * slab..(o + 1) * slab];
            acc.par_chunks_mut(PAR_COLS).enumerate().for_each(|(c, acc)| {
                columns(r, xs, n, inner, c * PAR_COLS, o * inner + c * PAR_COLS, acc);
            });
        }
    }
    out
}

/// Pairwise reduction of one contiguous run: sequential leaves of [`LEAF`] elements, merged in a tree.
fn pairwise<T: Copy + Sync, R: Reducer<T>>(r: &R, xs: &[T], pos: usize, k0: usize) -> R::Acc {
    if xs.len() <= LEAF {
        return r.run(r.init(pos, k0), xs, k0);
    }
    let mid = xs.len() / 2;
    r.merge(pairwise(r, &xs[..mid], pos, k0), pairwise(r, &xs[mid..], pos, k0 + mid))
}

/// Reduces columns `j0 .. j0 + acc.len()` of one `[n, inner]` slab into `acc`, row by row.
fn columns<T: Copy + Sync, R: Reducer<T>>(
    r: &R,
    slab: &[T],
    n: usize,
    inner: usize,
    j0: usize,
    pos0: usize,
    acc: &mut [R::Acc],
) {
    let w = acc.len();
    let fold = |acc: &mut [R::Acc], k0: usize, k1: usize| {
        for k in k0..k1 {
            let row = &slab[k * inner + j0..k * inner + j0 + w];
            for (a, &x) in acc.iter_mut().zip(row) {
                *a = r.step(*a, x, k);
            }
        }
    };
    for (j, a) in acc.iter_mut().enumerate() {
        *a = r.init(pos0 + j, 0);
    }
    fold(acc, 0, n.min(ROW_BLOCK));
    if n <= ROW_BLOCK {
        return;
    }
    let mut part = acc.to_vec();
    for k0 in (ROW_BLOCK..n).step_by(ROW_BLOCK) {
        for (j, a) in part.iter_mut().enumerate() {
            *a = r.init(pos0 + j, k0);
        }
        fold(&mut part, k0, (k0 + ROW_BLOCK).min(n));
        for (a, &b) in acc.iter_mut().zip(&part) {
            *a = r.merge(*a, b);
        }
    }
}

/// Sum of floats, accumulated in `f64` (eight lanes per run, pairwise across runs).
pub struct SumF;

impl<T: Element> Reducer<T> for SumF {
    type Acc = f64;
    #[inline]
    fn init(&self, _: usize, _: usize) -> f64 {
        0.0
    }
    #[inline]
    fn step(&self, acc: f64, x: T, _: usize) -> f64 {
        acc + x.to_f64()
    }
    #[inline]
    fn merge(&self, a: f64, b: f64) -> f64 {
        a + b
    }
    #[inline]
    fn run(&self, acc: f64, xs: &[T], _: usize) -> f64 {
        let mut l = [0.0f64; 8];
        let chunks = xs.chunks_exact(8);
        let rest = chunks.remainder();
        for c in chunks {
            for i in 0..8 {
                l[i] += c[i].to_f64();
            }
        }
        let mut s = acc + (((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7])));
        for &x in rest {
            s += x.to_f64();
        }
        s
    }
}

/// Sum of `i64`, wrapping on overflow (as PyTorch).
pub struct SumI;

impl Reducer<i64> for SumI {
    type Acc = i64;
    #[inline]
    fn init(&self, _: usize, _: usize) -> i64 {
        0
    }
    #[inline]
    fn step(&self, acc: i64, x: i64, _: usize) -> i64 {
        acc.wrapping_add(x)
    }
    #[inline]
    fn merge(&self, a: i64, b: i64) -> i64 {
        a.wrapping_add(b)
    }
}

/// Product of floats, accumulated in `f64`.
pub struct ProdF;

impl<T: Element> Reducer<T> for ProdF {
    type Acc = f64;
    #[inline]
    fn init(&self, _: usize, _: usize) -> f64 {
        1.0
    }
    #[inline]
    fn step(&self, acc: f64, x: T, _: usize) -> f64 {
        acc * x.to_f64()
    }
    #[inline]
    fn merge(&self, a: f64, b: f64) -> f64 {
        a * b
    }
}

/// Product of `i64`, wrapping on overflow.
pub struct ProdI;

impl Reducer<i64> for ProdI {
    type Acc = i64;
    #[inline]
    fn init(&self, _: usize, _: usize) -> i64 {
        1
    }
    #[inline]
    fn step(&self, acc: i64, x: i64, _: usize) -> i64 {
        acc.wrapping_mul(x)
    }
    #[inline]
    fn merge(&self, a: i64, b: i64) -> i64 {
        a.wrapping_mul(b)
    }
}

/// True when `cand` replaces `cur` as the running max (`MAX`) or min: strictly better, or the first
/// NaN (a NaN is never replaced, so NaN propagates and its index is the first NaN's).
#[inline]
fn better<T: Numeric, const MAX: bool>(cand: T, cur: T) -> bool {
    !cur.is_nan() && (cand.is_nan() || if MAX { cand > cur } else { cand < cur })
}

/// Max (`MAX = true`) or min with the index of its first occurrence along the reduced dim.
pub struct Extreme<const MAX: bool>;

impl<T: Numeric, const MAX: bool> Reducer<T> for Extreme<MAX> {
    type Acc = (T, usize);
    #[inline]
    fn init(&self, _: usize, k0: usize) -> (T, usize) {
        // Starting from the type's extreme at the range's first index keeps "first occurrence" right
        // even when every element equals that extreme.
        (if MAX { T::MIN } else { T::MAX }, k0)
    }
    #[inline]
    fn step(&self, acc: (T, usize), x: T, k: usize) -> (T, usize) {
        if better::<T, MAX>(x, acc.0) {
            (x, k)
        } else {
            acc
        }
    }
    #[inline]
    fn merge(&self, a: (T, usize), b: (T, usize)) -> (T, usize) {
        if better::<T, MAX>(b.0, a.0) {
            b
        } else {
            a
        }
    }
}

/// Max of floats, values only, for centring exponentials: a NaN is skipped here (it still makes the
/// row's exp-sum NaN, which is how `logsumexp` and softmax propagate it).
pub struct MaxVal;

impl<T: Float> Reducer<T> for MaxVal {
    type Acc = T;
    #[inline]
    fn init(&self, _: usize, _: usize) -> T {
        T::NEG_INFINITY
    }
    #[inline]
    fn step(&self, acc: T, x: T, _: usize) -> T {
        if x > acc {
            x
        } else {
            acc
        }
    }
    #[inline]
    fn merge(&self, a: T, b: T) -> T {
        self.step(a, b, 0)
    }
}

/// `all` (`ALL = true`) or `any` of `x != 0`.
pub struct AllAny<const ALL: bool>;

impl<T: Element, const ALL: bool> Reducer<T> for AllAny<ALL> {
    type Acc = bool;
    #[inline]
    fn init(&self, _: usize, _: usize) -> bool {
        ALL
    }
    #[inline]
    fn step(&self, acc: bool, x: T, _: usize) -> bool {
        if ALL {
            acc && x != T::ZERO
        } else {
            acc || x != T::ZERO
        }
    }
    #[inline]
    fn merge(&self, a: bool, b: bool) -> bool {
        if ALL {
            a && b
        } else {
            a || b
        }
    }
}

/// Sum of `f(x, c)` in `f64`, where `c` is a per-output centre (the mean for variance, the max for
/// `logsumexp` and softmax).
pub struct CenteredSum<'a, F> {
    /// One centre per output, indexed by output position.
    pub center: &'a [f64],
    /// The function of the centred value.
    pub f: F,
}

impl<T: Element, F: Fn(T, f64) -> f64 + Sync> Reducer<T> for CenteredSum<'_, F> {
    type Acc = (f64, f64);
    #[inline]
    fn init(&self, pos: usize, _: usize) -> (f64, f64) {
        (0.0, self.center[pos])
    }
    #[inline]
    fn step(&self, acc: (f64, f64), x: T, _: usize) -> (f64, f64) {
        (acc.0 + (self.f)(x, acc.1), acc.1)
    }
    #[inline]
    fn merge(&self, a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
        (a.0 + b.0, a.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_sum(data: &[f64], ax: Axis) -> Vec<f64> {
        let mut out = vec![0.0; ax.out_len()];
        for o in 0..ax.outer {
            for k in 0..ax.n {
                for j in 0..ax.inner {
                    out[o * ax.inner + j] += data[(o * ax.n + k) * ax.inner + j];
                }
            }
        }
        out
    }

    /// Every path (sequential, rows, row chunks, slabs, column chunks) against a naive loop, on a pool
    /// large enough that the "few outer rows" paths are taken too.
    #[test]
    fn all_paths_match_naive() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(8).build().unwrap();
        let axes = [
            Axis { outer: 3, n: 7, inner: 1 },
            Axis { outer: 2, n: 300, inner: 5 },
            Axis { outer: 1, n: 200_000, inner: 1 },
            Axis { outer: 50, n: 3000, inner: 1 },
            Axis { outer: 1, n: 300, inner: 700 },
            Axis { outer: 20, n: 130, inner: 40 },
            Axis { outer: 3, n: 0, inner: 4 },
        ];
        for ax in axes {
            let len = ax.outer * ax.n * ax.inner;
            let data: Vec<f64> = (0..len).map(|i| ((i * 7919) % 1000) as f64 / 100.0 - 5.0).collect();
            let want = naive_sum(&data, ax);
            for got in [reduce_axis(&data, ax, &SumF), pool.install(|| reduce_axis(&data, ax, &SumF))] {
                for (g, w) in got.iter().zip(&want) {
                    assert!((g - w).abs() <= 1e-9 * (w.abs() + 1.0), "{ax:?}: {g} vs {w}");
                }
            }
            if ax.n > 0 {
                // argmax of a sequence whose max appears twice: the first index wins on every path.
                let mut d = data.clone();
                for o in 0..ax.outer {
                    for j in 0..ax.inner {
                        d[(o * ax.n + ax.n / 3) * ax.inner + j] = 100.0;
                        d[(o * ax.n + ax.n - 1) * ax.inner + j] = 100.0;
                    }
                }
                for got in
                    [reduce_axis(&d, ax, &Extreme::<true>), pool.install(|| reduce_axis(&d, ax, &Extreme::<true>))]
                {
                    assert!(got.iter().all(|&(v, k)| v == 100.0 && k == ax.n / 3), "{ax:?}");
                }
            }
        }
    }

    #[test]
    fn extreme_nan_and_all_minus_inf() {
        let x = [1.0f32, f32::NAN, 3.0, f32::NAN];
        assert_eq!(reduce_axis(&x, Axis::all(4), &Extreme::<true>)[0].1, 1);
        let y = [f32::NEG_INFINITY; 3];
        assert_eq!(reduce_axis(&y, Axis::all(3), &Extreme::<true>)[0], (f32::NEG_INFINITY, 0));
        assert_eq!(reduce_axis(&[i64::MAX, 2, i64::MAX], Axis::all(3), &Extreme::<false>)[0], (2, 1));
    }
}
