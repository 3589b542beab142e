//! CPU kernels for the reductions of `ops/reduce.rs`, `ops/extrema.rs` and `ops/stats.rs`, built on
//! the axis engine of [`super::reduce_axis`].
//!
//! The reduced dims are given as a mask (one flag per input dim). The input is read densely without a
//! copy when it is contiguous *or a permutation of a dense layout* (a transpose, a permute): the dims
//! are then taken in storage order, and the (smaller) result is permuted back. Other layouts
//! (broadcast, sliced) are gathered once. Adjacent dims with the same flag merge into groups; each
//! reduced group is one pass of the engine, from the last (the first pass reads the input, later
//! passes the partial results).

use std::borrow::Cow;

use smallvec::SmallVec;

use super::reduce_axis::{reduce_axis, AllAny, CenteredSum, Extreme, MaxVal, ProdF, ProdI, Reducer, SumF, SumI};
use super::strided::gather;
use crate::op_desc::Axis;
use crate::{DType, Element, Float, Result, Tensor};

/// A reduction's input read densely, its dims in data order.
struct Dense<'a, T: Clone> {
    data: Cow<'a, [T]>,
    /// `(size, reduced)` of each dim in data order (kept dims of size 1 are dropped).
    dims: SmallVec<[(usize, bool); 6]>,
    /// Original index of each kept dim, in data order.
    kept: SmallVec<[usize; 6]>,
}

impl<'a, T: Element> Dense<'a, T> {
    /// Reads `t` for a reduction over `mask`. With `flat`, the reduced dims keep their logical order
    /// (for flat indices of `argmax` over all elements), so permuted layouts are gathered.
    fn new(t: &'a Tensor, mask: &[bool], flat: bool) -> Self {
        let l = t.layout();
        let mut order: SmallVec<[usize; 6]> = (0..l.rank()).filter(|&i| mask[i] || l.shape[i] != 1).collect();
        let data = if l.is_contiguous() {
            t.cpu_data::<T>()
        } else {
            let (s, _) = t.cpu_raw::<T>();
            let mut by_stride = order.clone();
            by_stride.sort_by(|&a, &b| l.strides[b].cmp(&l.strides[a]));
            let mut expect = 1;
            let dense = by_stride.iter().rev().all(|&i| {
                let fits = l.shape[i] == 1 || l.strides[i] == expect;
                expect *= l.shape[i];
                fits
            });
            if dense && !flat && l.numel() > 0 {
                order = by_stride;
                Cow::Borrowed(&s[l.offset..l.offset + l.numel()])
            } else {
                Cow::Owned(gather(s, l))
            }
        };
        let dims = order.iter().map(|&i| (l.shape[i], mask[i])).collect();
        let kept = order.iter().copied().filter(|&i| !mask[i]).collect();
        Dense { data, dims, kept }
    }

    /// Adjacent dims merged by flag; always at least one reduced group (a size-1 one if need be).
    fn groups(&self) -> Vec<(usize, bool)> {
        let mut g: Vec<(usize, bool)> = Vec::new();
        for &(s, r) in &self.dims {
            match g.last_mut() {
                Some(last) if last.1 == r => last.0 *= s,
                _ => g.push((s, r)),
            }
        }
        if !g.iter().any(|g| g.1) {
            g.push((1, true));
        }
        g
    }

    /// The geometry of a reduction with a single reduced group.
    fn axis(&self) -> Axis {
        let g = self.groups();
        let p = g.iter().position(|g| g.1).expect("a reduced group");
        assert!(g[p + 1..].iter().all(|g| !g.1), "single reduced group expected");
        Axis::of(&g.iter().map(|g| g.0).collect::<Vec<_>>(), p)
    }

    /// Runs `first` over the last reduced group, then `rest` over the others.
    fn reduce<A: Copy + Sync>(&self, first: &impl Reducer<T, Acc = A>, rest: &impl Reducer<A, Acc = A>) -> Vec<A> {
        let groups = self.groups();
        let mut sizes: Vec<usize> = groups.iter().map(|g| g.0).collect();
        let mut reduced = (0..groups.len()).filter(|&g| groups[g].1).rev();
        let g = reduced.next().expect("a reduced group");
        let mut cur = reduce_axis(&self.data, Axis::of(&sizes, g), first);
        sizes.remove(g);
        for g in reduced {
            cur = reduce_axis(&cur, Axis::of(&sizes, g), rest);
            sizes.remove(g);
        }
        cur
    }

    /// The result tensor of shape `out` from values in data order (kept dims permuted back).
    fn shape<O: Element>(&self, v: Vec<O>, out: &[usize]) -> Tensor {
        if self.kept.windows(2).all(|w| w[0] < w[1]) {
            return Tensor::from_vec_unchecked(v, out);
        }
        let t = Tensor::from_vec_unchecked(v, &self.kept.iter().map(|&i| self.dim_size(i)).collect::<Vec<_>>());
        let mut perm: SmallVec<[usize; 6]> = (0..self.kept.len()).collect();
        perm.sort_by_key(|&j| self.kept[j]);
        t.permute(&perm).contiguous().reshape(out)
    }

    fn dim_size(&self, orig: usize) -> usize {
        let j = self.kept.iter().position(|&i| i == orig).expect("kept dim");
        self.dims.iter().filter(|d| !d.1).nth(j).expect("kept dim").0
    }
}

/// `f64` accumulators as `T`, scaled by `scale`.
fn cast<T: Element>(acc: Vec<f64>, scale: f64) -> Vec<T> {
    acc.into_iter().map(|s| T::from_f64(s * scale)).collect()
}

/// Sum (or mean, when `mean`) over the dims in `mask`. Floats accumulate in `f64`; `I64` wraps. The
/// caller promotes Bool to I64 and checks `mean` is only asked of floats.
pub fn sum(t: &Tensor, mask: &[bool], mean: bool, out: &[usize]) -> Result<Tensor> {
    let count: usize = t.shape().iter().zip(mask).filter(|d| *d.1).map(|d| *d.0).product();
    Ok(match t.dtype() {
        DType::I64 => {
            let d = Dense::<i64>::new(t, mask, false);
            d.shape(d.reduce(&SumI, &SumI), out)
        }
        dt => with_float!("sum", dt, T, {
            let scale = if mean { 1.0 / count as f64 } else { 1.0 };
            if mask.iter().all(|&m| m) && t.is_contiguous() && t.numel() > 0 {
                // the whole of a dense tensor: one row, as `Dense` would merge it, without its
                // bookkeeping (a third of a 16-element `sum`)
                let ax = Axis { outer: 1, n: t.numel(), inner: 1 };
                return Ok(Tensor::from_vec_unchecked(
                    cast::<T>(reduce_axis(&t.cpu_data::<T>(), ax, &SumF), scale),
                    out,
                ));
            }
            let d = Dense::<T>::new(t, mask, false);
            d.shape(cast::<T>(d.reduce(&SumF, &SumF), scale), out)
        }),
    })
}

/// Product over the dims in `mask` (floats accumulate in `f64`, `I64` wraps; Bool promoted by caller).
pub fn prod(t: &Tensor, mask: &[bool], out: &[usize]) -> Result<Tensor> {
    Ok(match t.dtype() {
        DType::I64 => {
            let d = Dense::<i64>::new(t, mask, false);
            d.shape(d.reduce(&ProdI, &ProdI), out)
        }
        dt => with_float!("prod", dt, T, {
            let d = Dense::<T>::new(t, mask, false);
            d.shape(cast::<T>(d.reduce(&ProdF, &ProdF), 1.0), out)
        }),
    })
}

/// Max (`max = true`) or min over one dim (or all dims: `mask` all true) with the index of its first
/// occurrence (flat, row-major, over all dims); NaN wins (the first NaN). The caller checks the
/// reduced size is not 0 and the dtype (F32, F64, I64).
pub fn extreme(t: &Tensor, mask: &[bool], max: bool, out: &[usize]) -> Result<(Tensor, Tensor)> {
    let op = if max { "max" } else { "min" };
    Ok(with_numeric!(op, t.dtype(), T, {
        // Flat indices over several dims need the logical order; one dim's own order never changes.
        let flat = t.shape().iter().zip(mask).filter(|d| *d.1 && *d.0 > 1).count() > 1;
        let d = Dense::<T>::new(t, mask, flat);
        let ax = d.axis();
        let acc =
            if max { reduce_axis(&d.data, ax, &Extreme::<true>) } else { reduce_axis(&d.data, ax, &Extreme::<false>) };
        let (v, i): (Vec<T>, Vec<i64>) = acc.into_iter().map(|(v, k)| (v, k as i64)).unzip();
        (d.shape(v, out), d.shape(i, out))
    }))
}

/// `all` (`all = true`) or `any` of `x != 0` over the dims in `mask`, for any dtype (NaN is true).
pub fn all_any(t: &Tensor, mask: &[bool], all: bool, out: &[usize]) -> Tensor {
    with_dtype!(t.dtype(), T, {
        let d = Dense::<T>::new(t, mask, false);
        let v =
            if all { d.reduce(&AllAny::<true>, &AllAny::<true>) } else { d.reduce(&AllAny::<false>, &AllAny::<false>) };
        d.shape(v, out)
    })
}

/// Variance (or standard deviation, when `sqrt`) over one dim or all dims of a float tensor,
/// two-pass in `f64`: the mean, then the sum of squared deviations, divided by `n - 1` (`unbiased`)
/// or `n`; NaN when that divisor is not positive, as PyTorch.
pub fn var(t: &Tensor, mask: &[bool], unbiased: bool, sqrt: bool, out: &[usize]) -> Result<Tensor> {
    Ok(with_float!("var", t.dtype(), T, {
        let d = Dense::<T>::new(t, mask, false);
        let ax = d.axis();
        let n = ax.n as f64;
        let div = (n - if unbiased { 1.0 } else { 0.0 }).max(0.0);
        let means: Vec<f64> = reduce_axis(&d.data, ax, &SumF).into_iter().map(|s| s / n).collect();
        let sq = |x: T, c: f64| {
            let e = x.to_f64() - c;
            e * e
        };
        let m2 = reduce_axis(&d.data, ax, &CenteredSum { center: &means, f: sq });
        let v: Vec<T> = m2
            .into_iter()
            .map(|(s, _)| {
                let v = s / div;
                T::from_f64(if sqrt { v.sqrt() } else { v })
            })
            .collect();
        d.shape(v, out)
    }))
}

/// Per output of `ax`: the centre `c` (the max, or 0 where the max is infinite and `zero_inf`, which
/// is PyTorch's `logsumexp` rule: rows of `-inf` give `-inf`, rows holding `+inf` give `+inf`) and
/// `Σ exp(x - c)` (exponentials in `T`, summed in `f64`). A NaN in a row makes its sum NaN.
pub fn max_and_expsum<T: Float>(data: &[T], ax: Axis, zero_inf: bool) -> (Vec<f64>, Vec<f64>) {
    let center: Vec<f64> = reduce_axis(data, ax, &MaxVal)
        .into_iter()
        .map(|m: T| if zero_inf && !m.is_finite() { 0.0 } else { m.to_f64() })
        .collect();
    let expc = |x: T, c: f64| (x - T::from_f64(c)).exp().to_f64();
    let sums = reduce_axis(data, ax, &CenteredSum { center: &center, f: expc }).into_iter().map(|a| a.0).collect();
    (center, sums)
}

/// `log Σ exp(x)` over one dim of a float tensor, stably (max subtracted first).
pub fn logsumexp(t: &Tensor, mask: &[bool], out: &[usize]) -> Result<Tensor> {
    Ok(with_float!("logsumexp", t.dtype(), T, {
        let d = Dense::<T>::new(t, mask, false);
        let (c, s) = max_and_expsum(&d.data, d.axis(), true);
        let v: Vec<T> = c.iter().zip(&s).map(|(&c, &s)| T::from_f64(s.ln() + c)).collect();
        d.shape(v, out)
    }))
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    /// Permuted dense inputs are reduced in storage order and the result is permuted back.
    #[test]
    fn permuted_inputs_match_contiguous_copies() {
        let n = 2 * 3 * 4 * 5;
        let t = Tensor::from_vec((0..n).map(|i| ((i * 37) % 11) as f64 - 5.0).collect(), &[2, 3, 4, 5]);
        for perm in [[3, 1, 0, 2], [1, 0, 3, 2], [0, 2, 1, 3], [3, 2, 1, 0]] {
            let p = t.permute(&perm);
            let c = p.contiguous();
            assert!(!p.is_contiguous());
            for d in 0..4 {
                for keep in [false, true] {
                    assert_eq!(p.sum_dim(d, keep).to_vec::<f64>(), c.sum_dim(d, keep).to_vec::<f64>());
                    assert_eq!(p.sum_dim(d, keep).shape(), c.sum_dim(d, keep).shape());
                    let (pv, pi) = p.max_dim_with_indices(d, keep);
                    let (cv, ci) = c.max_dim_with_indices(d, keep);
                    assert_eq!((pv.to_vec::<f64>(), pi.to_vec::<i64>()), (cv.to_vec::<f64>(), ci.to_vec::<i64>()));
                    assert_eq!(p.var_dim(d, true, keep).to_vec::<f64>(), c.var_dim(d, true, keep).to_vec::<f64>());
                }
            }
            assert_eq!(p.sum_dims(&[0, 2], false).to_vec::<f64>(), c.sum_dims(&[0, 2], false).to_vec::<f64>());
            assert_eq!(p.argmax_all().item::<i64>(), c.argmax_all().item::<i64>());
            assert_eq!(p.sum().item::<f64>(), c.sum().item::<f64>());
        }
        // size-1 dims with odd strides, and a broadcast (not dense) view
        let u = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).t().unsqueeze(1);
        assert_eq!(u.sum_dim(2, false).to_vec::<f32>(), vec![5.0, 7.0, 9.0]);
        let b = Tensor::from_vec(vec![1.0f32, 2.0], &[2, 1]).expand(&[2, 3]);
        assert_eq!(b.sum_dim(0, false).to_vec::<f32>(), vec![3.0, 3.0, 3.0]);
    }
}
