//! Sorting and selection: `sort argsort topk`.

use crate::shape::{normalize_dim, Dim};
use crate::tensor::ok;
use crate::{DType, Error, Result, Tensor};

/// # Sorting and selection
impl Tensor {
    /// The elements sorted along `dim`, with the I64 indices of where each came from (`torch.sort`
    /// with `stable=True`). The sort is stable in both directions: equal elements keep their order.
    /// NaN sorts as larger than everything (last ascending, first descending), as PyTorch.
    ///
    /// ```
    /// # use ember_tensor::Tensor;
    /// let t = Tensor::from_vec(vec![3.0f32, f32::NAN, 1.0, 3.0], &[4]);
    /// let (v, i) = t.sort(0, true);
    /// assert!(v.to_vec::<f32>()[0].is_nan());
    /// assert_eq!(&v.to_vec::<f32>()[1..], &[3.0, 3.0, 1.0]);
    /// assert_eq!(i.to_vec::<i64>(), vec![1, 0, 3, 2]);
    /// ```
    ///
    /// **Panics** on a bad dim; see [`Tensor::try_sort`].
    #[must_use]
    #[track_caller]
    pub fn sort(&self, dim: impl Dim, descending: bool) -> (Tensor, Tensor) {
        ok(self.try_sort(dim, descending))
    }

    /// Checked form of [`Tensor::sort`].
    pub fn try_sort(&self, dim: impl Dim, descending: bool) -> Result<(Tensor, Tensor)> {
        let d = normalize_dim("sort", dim.to_isize(), self.rank())?;
        crate::cpu::alloc::try_room("sort", self, self.shape(), self.dtype)?;
        crate::cpu::alloc::try_room("sort", self, self.shape(), crate::DType::I64)?;
        self.backend().sort(self, d, descending)
    }

    /// The I64 indices that sort `self` along `dim` (`torch.argsort` with `stable=True`): the second
    /// result of [`Tensor::sort`].
    ///
    /// **Panics** on a bad dim; see [`Tensor::try_argsort`].
    #[must_use]
    #[track_caller]
    pub fn argsort(&self, dim: impl Dim, descending: bool) -> Tensor {
        ok(self.try_argsort(dim, descending))
    }

    /// Checked form of [`Tensor::argsort`].
    pub fn try_argsort(&self, dim: impl Dim, descending: bool) -> Result<Tensor> {
        self.try_sort(dim, descending).map(|(_, i)| i)
    }

    /// The `k` largest (`largest`) or smallest elements along `dim` and their I64 indices
    /// (`torch.topk`). With `sorted` they come largest first (smallest first when not `largest`);
    /// otherwise in the order of their indices. Among equal values the lower index is taken and comes
    /// first; NaN counts as larger than everything, as PyTorch.
    ///
    /// **Panics** when `k` exceeds the size of `dim`, on a bad dim or a Bool tensor; see
    /// [`Tensor::try_topk`].
    #[must_use]
    #[track_caller]
    pub fn topk(&self, k: usize, dim: impl Dim, largest: bool, sorted: bool) -> (Tensor, Tensor) {
        ok(self.try_topk(k, dim, largest, sorted))
    }

    /// Checked form of [`Tensor::topk`].
    pub fn try_topk(&self, k: usize, dim: impl Dim, largest: bool, sorted: bool) -> Result<(Tensor, Tensor)> {
        let op = "topk";
        let d = normalize_dim(op, dim.to_isize(), self.rank())?;
        let size = self.shape().get(d).copied().unwrap_or(1);
        if k > size {
            return Err(Error::InvalidArgument {
                op,
                msg: format!("k ({k}) is out of range for dimension {d} of size {size} (shape {:?})", self.shape()),
            });
        }
        if self.dtype == DType::Bool {
            return Err(Error::UnsupportedDType { op, dtype: DType::Bool });
        }
        let mut out: crate::shape::Dims = self.shape().into();
        if let Some(s) = out.get_mut(d) {
            *s = k;
        }
        crate::cpu::alloc::try_room(op, self, &out, self.dtype)?;
        crate::cpu::alloc::try_room(op, self, &out, crate::DType::I64)?;
        self.backend().topk(op, self, k, d, largest, sorted)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    /// Sort and topk along a middle dim of a large tensor (the parallel path) against a naive sort.
    #[test]
    fn large_sort_and_topk_match_naive() {
        let (a, n, b) = (40, 300, 7);
        let v: Vec<f64> = (0..a * n * b).map(|x| ((x * 7919) % 1009) as f64).collect();
        let t = Tensor::from_vec(v.clone(), &[a, n, b]);
        let (sv, si) = t.sort(1, false);
        let (tv, ti) = t.topk(5, 1, true, true);
        let (sv, si, tv, ti) = (sv.to_vec::<f64>(), si.to_vec::<i64>(), tv.to_vec::<f64>(), ti.to_vec::<i64>());
        for i in 0..a {
            for k in 0..b {
                let mut lane: Vec<(f64, i64)> = (0..n).map(|j| (v[(i * n + j) * b + k], j as i64)).collect();
                lane.sort_by(|x, y| x.0.partial_cmp(&y.0).unwrap());
                for (j, &(x, ix)) in lane.iter().enumerate() {
                    assert_eq!((sv[(i * n + j) * b + k], si[(i * n + j) * b + k]), (x, ix));
                }
                lane.sort_by(|x, y| y.0.partial_cmp(&x.0).unwrap().then(x.1.cmp(&y.1)));
                for (j, &(x, ix)) in lane[..5].iter().enumerate() {
                    assert_eq!((tv[(i * 5 + j) * b + k], ti[(i * 5 + j) * b + k]), (x, ix));
                }
            }
        }
    }

    #[test]
    fn scalars_bools_and_k_zero() {
        let (v, i) = Tensor::scalar(3.0f32).sort(0, false);
        assert_eq!((v.shape(), i.item::<i64>()), (&[] as &[usize], 0));
        let b = Tensor::from_vec(vec![true, false, true], &[3]);
        assert_eq!(b.argsort(0, false).to_vec::<i64>(), vec![1, 0, 2]);
        let (v, i) = Tensor::zeros(&[2, 3]).topk(0, 1, true, true);
        assert_eq!((v.shape(), i.shape()), (&[2usize, 0][..], &[2usize, 0][..]));
        assert!(b.try_topk(1, 0, true, true).is_err());
    }
}
