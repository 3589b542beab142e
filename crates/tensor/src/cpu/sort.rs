//! CPU kernels for `sort` and `topk`: each lane along the sorted dim is one row of a dense buffer
//! (moved to the last dim first when it is not already there), rows run in parallel when large.

use std::cmp::Ordering;

use rayon::prelude::*;

use super::elementwise::par_worth;
use crate::{Element, Tensor};

/// True for NaN (the only value not equal to itself), for any element type.
#[inline]
fn is_nan<T: PartialOrd>(x: &T) -> bool {
    x.partial_cmp(x).is_none()
}

/// Ascending total order with NaN above everything (equal to another NaN), as PyTorch sorts.
#[inline]
fn cmp_nan_last<T: PartialOrd>(a: &T, b: &T) -> Ordering {
    a.partial_cmp(b).unwrap_or_else(|| is_nan(a).cmp(&is_nan(b)))
}

/// Runs `f(row, values_out, indices_out, scratch)` for every row of `n` inputs giving `m` outputs
/// each, where the rows are the lanes of `t` along `dim`. Returns the values and I64 indices in
/// `t`'s shape with `m` at `dim`.
fn per_lane<T: Element>(
    t: &Tensor,
    dim: usize,
    m: usize,
    f: impl Fn(&[T], &mut [T], &mut [i64], &mut Vec<(T, usize)>) + Sync + Send,
) -> (Tensor, Tensor) {
    let rank = t.rank();
    let last = dim + 1 == rank || t.shape()[dim + 1..].iter().product::<usize>() == 1;
    let src = if last { t.clone() } else { t.transpose(dim, -1) };
    let data = src.cpu_data::<T>();
    let n = t.shape()[dim];
    let rows = data.len().checked_div(n).unwrap_or(0);
    let mut vals = super::alloc::filled("sort", rows * m, T::default());
    let mut idxs = super::alloc::filled("sort", rows * m, 0i64);
    if rows > 0 && m > 0 {
        let log = (usize::BITS - n.leading_zeros()) as usize;
        if rows > 1 && par_worth(rows * n * log) {
            let per = rows.div_ceil(rayon::current_num_threads() * 4).max(1);
            vals.par_chunks_mut(per * m).zip(idxs.par_chunks_mut(per * m)).enumerate().for_each(|(c, (v, i))| {
                let mut scratch = Vec::with_capacity(n);
                for (r, (v, i)) in v.chunks_exact_mut(m).zip(i.chunks_exact_mut(m)).enumerate() {
                    let r = c * per + r;
                    f(&data[r * n..(r + 1) * n], v, i, &mut scratch);
                }
            });
        } else {
            let mut scratch = Vec::with_capacity(n);
            for (r, (v, i)) in vals.chunks_exact_mut(m).zip(idxs.chunks_exact_mut(m)).enumerate() {
                f(&data[r * n..(r + 1) * n], v, i, &mut scratch);
            }
        }
    }
    let mut shape = src.shape().to_vec();
    let at = if last { dim } else { rank - 1 };
    shape[at] = m;
    let (v, i) = (Tensor::from_vec_unchecked(vals, &shape), Tensor::from_vec_unchecked(idxs, &shape));
    if last {
        (v, i)
    } else {
        (v.transpose(dim, -1).contiguous(), i.transpose(dim, -1).contiguous())
    }
}

/// Writes the pairs out as values and indices.
#[inline]
fn emit<T: Copy>(pairs: &[(T, usize)], v: &mut [T], i: &mut [i64]) {
    for ((p, v), i) in pairs.iter().zip(v).zip(i) {
        *v = p.0;
        *i = p.1 as i64;
    }
}

/// Stable sort of `t` (rank >= 1) along `dim`: values and I64 indices. NaN sorts above everything.
pub fn sort(t: &Tensor, dim: usize, descending: bool) -> (Tensor, Tensor) {
    let n = t.shape()[dim];
    with_dtype!(t.dtype(), T, {
        per_lane::<T>(t, dim, n, |row, v, i, buf| {
            buf.clear();
            buf.extend(row.iter().copied().zip(0..));
            // `sort_by` is stable: equal values keep their input order, descending too.
            if descending {
                buf.sort_by(|a, b| cmp_nan_last(&b.0, &a.0));
            } else {
                buf.sort_by(|a, b| cmp_nan_last(&a.0, &b.0));
            }
            emit(buf, v, i);
        })
    })
}

/// The `k` largest (or smallest) elements of `t` (rank >= 1, numeric, `k <= size`) along `dim`, by
/// partial selection then a sort of the `k`. Ties go to the lower index; NaN counts as largest.
/// With `sorted == false` the `k` come in index order.
pub fn topk<T: Element>(t: &Tensor, k: usize, dim: usize, largest: bool, sorted: bool) -> (Tensor, Tensor) {
    per_lane::<T>(t, dim, k, |row, v, i, buf| {
        buf.clear();
        buf.extend(row.iter().copied().zip(0..));
        let rank = |a: &(T, usize), b: &(T, usize)| {
            let o = if largest { cmp_nan_last(&b.0, &a.0) } else { cmp_nan_last(&a.0, &b.0) };
            o.then(a.1.cmp(&b.1))
        };
        if k < buf.len() {
            buf.select_nth_unstable_by(k - 1, rank);
            buf.truncate(k);
        }
        if sorted {
            buf.sort_unstable_by(rank);
        } else {
            buf.sort_unstable_by_key(|p| p.1);
        }
        emit(buf, v, i);
    })
}
