//! CPU kernels for the cumulative ops `cumsum` and `cumprod`, on a dense `[outer, n, inner]` view:
//! a running scalar along each contiguous row (`inner == 1`), else a running row of `inner`
//! accumulators per slab. Outer rows/slabs run in parallel when large.

use rayon::prelude::*;

use super::elementwise::par_worth;
use crate::op_desc::Axis;
use crate::{DType, Element, Result, Tensor};

/// The running value of `f` along `ax`: `out[k] = f(out[k - 1], x[k])` from `init`, mapped by `fin`.
fn scan<T: Copy + Sync, A: Copy + Send + Sync, O: Copy + Default + Send + Sync>(
    data: &[T],
    ax: Axis,
    init: A,
    f: impl Fn(A, T) -> A + Sync,
    fin: impl Fn(A) -> O + Sync,
) -> Vec<O> {
    let total = data.len();
    let mut out = super::alloc::filled_any("scan", total, O::default());
    if total == 0 {
        return out;
    }
    let slab = ax.n * ax.inner;
    let inner = ax.inner;
    let one = |(o, x): (&mut [O], &[T])| {
        if inner == 1 {
            let mut acc = init;
            for (o, &x) in o.iter_mut().zip(x) {
                acc = f(acc, x);
                *o = fin(acc);
            }
        } else {
            let mut acc = vec![init; inner];
            for (o, x) in o.chunks_exact_mut(inner).zip(x.chunks_exact(inner)) {
                for ((o, a), &x) in o.iter_mut().zip(acc.iter_mut()).zip(x) {
                    *a = f(*a, x);
                    *o = fin(*a);
                }
            }
        }
    };
    if par_worth(total) && ax.outer > 1 {
        out.par_chunks_mut(slab).zip(data.par_chunks(slab)).for_each(one);
    } else {
        out.chunks_mut(slab).zip(data.chunks(slab)).for_each(one);
    }
    out
}

/// Cumulative sum (`prod = false`) or product along `ax`. Floats accumulate in `f64` (as PyTorch's
/// CPU kernel); `I64` wraps. The caller promotes Bool to I64.
pub fn cumulative(t: &Tensor, ax: Axis, prod: bool) -> Result<Tensor> {
    let shape = t.shape();
    Ok(match t.dtype() {
        DType::I64 => {
            let d = t.cpu_data::<i64>();
            let v = if prod {
                scan(&d, ax, 1i64, |a, x| a.wrapping_mul(x), |a| a)
            } else {
                scan(&d, ax, 0i64, |a, x| a.wrapping_add(x), |a| a)
            };
            Tensor::from_vec_unchecked(v, shape)
        }
        dt => with_float!(if prod { "cumprod" } else { "cumsum" }, dt, T, {
            let d = t.cpu_data::<T>();
            let v: Vec<T> = if prod {
                scan(&d, ax, 1.0f64, |a, x: T| a * x.to_f64(), T::from_f64)
            } else {
                scan(&d, ax, 0.0f64, |a, x: T| a + x.to_f64(), T::from_f64)
            };
            Tensor::from_vec_unchecked(v, shape)
        }),
    })
}
