//! Max and min reductions: values (`max`, `max_dim`, like `torch.amax`), values with indices
//! (`max_dim_with_indices`, like `torch.max(x, dim)`), and `argmax`/`argmin`.
//!
//! Ties resolve to the first occurrence (as PyTorch on the CPU). NaN propagates: a slice holding a NaN
//! has max and min NaN, and its arg index points at its first NaN.

use crate::op_desc::ReduceKind;
use crate::shape::Dim;
use crate::tensor::ok;
use crate::{DType, Result, Tensor};

impl Tensor {
    /// Max or min over `dim` with indices (values only when `!indices`: the second tensor is then
    /// a placeholder); checks the dim and that it is not empty.
    fn extreme_dim(
        &self,
        op: &'static str,
        dim: isize,
        keepdim: bool,
        max: bool,
        indices: bool,
    ) -> Result<(Tensor, Tensor)> {
        let r = self.reduction(op, dim, keepdim)?;
        if r.ax.n == 0 {
            crate::bail!(op, "Expected reduction dim {} to have non-zero size (input shape {:?})", r.d, self.shape());
        }
        self.extreme_or_values(op, &r.mask, max, &r.out, indices)
    }

    /// Max or min over all elements with the flat index (see [`Tensor::extreme_dim`] for
    /// `indices`); fails on an empty tensor.
    fn extreme_all(&self, op: &'static str, max: bool, indices: bool) -> Result<(Tensor, Tensor)> {
        if self.numel() == 0 {
            crate::bail!(
                op,
                "Expected reduction dim to be specified for input.numel() == 0 (input shape {:?})",
                self.shape()
            );
        }
        let (mask, out) = self.reduction_all();
        self.extreme_or_values(op, &mask, max, &out, indices)
    }

    /// [`Tensor::extreme`], or without `indices` the values alone (the backend's max/min reduction).
    fn extreme_or_values(
        &self,
        op: &'static str,
        mask: &[bool],
        max: bool,
        out: &[usize],
        indices: bool,
    ) -> Result<(Tensor, Tensor)> {
        if indices {
            return self.extreme(op, mask, max, out);
        }
        let kind = if max { ReduceKind::Max } else { ReduceKind::Min };
        let v = match self.dtype {
            DType::Bool => {
                let i = self.try_to_dtype(DType::I64)?;
                i.backend().reduce(kind, &i, mask, out)?.try_to_dtype(DType::Bool)?
            }
            _ => self.backend().reduce(kind, self, mask, out)?,
        };
        Ok((v.clone(), v))
    }

    /// Dispatches to the backend; Bool is compared as I64 and its values converted back.
    fn extreme(&self, op: &'static str, mask: &[bool], max: bool, out: &[usize]) -> Result<(Tensor, Tensor)> {
        if self.dtype == DType::Bool {
            let (v, i) = self.try_to_dtype(DType::I64)?.extreme(op, mask, max, out)?;
            return Ok((v.try_to_dtype(DType::Bool)?, i));
        }
        self.backend().extreme(op, self, mask, max, out)
    }
}

/// # Reductions: max, min, argmax, argmin
impl Tensor {
    /// The largest element, as a 0-d tensor (NaN if any element is NaN).
    ///
    /// **Panics** on an empty tensor; see [`Tensor::try_max`].
    #[must_use]
    #[track_caller]
    pub fn max(&self) -> Tensor {
        ok(self.try_max())
    }

    /// Checked form of [`Tensor::max`].
    pub fn try_max(&self) -> Result<Tensor> {
        Ok(self.extreme_all("max", true, false)?.0)
    }

    /// The smallest element, as a 0-d tensor (NaN if any element is NaN).
    ///
    /// **Panics** on an empty tensor; see [`Tensor::try_min`].
    #[must_use]
    #[track_caller]
    pub fn min(&self) -> Tensor {
        ok(self.try_min())
    }

    /// Checked form of [`Tensor::min`].
    pub fn try_min(&self) -> Result<Tensor> {
        Ok(self.extreme_all("min", false, false)?.0)
    }

    /// The max over `dim` (values only, as `torch.amax`); `keepdim` keeps the dim as size 1.
    ///
    /// **Panics** on a bad dim or when `dim` has size 0; see [`Tensor::try_max_dim`].
    #[must_use]
    #[track_caller]
    pub fn max_dim(&self, dim: impl Dim, keepdim: bool) -> Tensor {
        ok(self.try_max_dim(dim, keepdim))
    }

    /// Checked form of [`Tensor::max_dim`].
    pub fn try_max_dim(&self, dim: impl Dim, keepdim: bool) -> Result<Tensor> {
        Ok(self.extreme_dim("max", dim.to_isize(), keepdim, true, false)?.0)
    }

    /// The min over `dim` (values only, as `torch.amin`).
    #[must_use]
    #[track_caller]
    pub fn min_dim(&self, dim: impl Dim, keepdim: bool) -> Tensor {
        ok(self.try_min_dim(dim, keepdim))
    }

    /// Checked form of [`Tensor::min_dim`].
    pub fn try_min_dim(&self, dim: impl Dim, keepdim: bool) -> Result<Tensor> {
        Ok(self.extreme_dim("min", dim.to_isize(), keepdim, false, false)?.0)
    }

    /// The max over `dim` and the I64 index of its first occurrence, as `torch.max(x, dim)`.
    ///
    /// ```
    /// # use ember_tensor::Tensor;
    /// let t = Tensor::from_vec(vec![1.0f32, 3.0, 3.0, 7.0, 2.0, 0.0], &[2, 3]);
    /// let (v, i) = t.max_dim_with_indices(1, false);
    /// assert_eq!(v.to_vec::<f32>(), vec![3.0, 7.0]);
    /// assert_eq!(i.to_vec::<i64>(), vec![1, 0]); // ties: first occurrence
    /// ```
    #[must_use]
    #[track_caller]
    pub fn max_dim_with_indices(&self, dim: impl Dim, keepdim: bool) -> (Tensor, Tensor) {
        ok(self.try_max_dim_with_indices(dim, keepdim))
    }

    /// Checked form of [`Tensor::max_dim_with_indices`].
    pub fn try_max_dim_with_indices(&self, dim: impl Dim, keepdim: bool) -> Result<(Tensor, Tensor)> {
        self.extreme_dim("max", dim.to_isize(), keepdim, true, true)
    }

    /// The min over `dim` and the I64 index of its first occurrence, as `torch.min(x, dim)`.
    #[must_use]
    #[track_caller]
    pub fn min_dim_with_indices(&self, dim: impl Dim, keepdim: bool) -> (Tensor, Tensor) {
        ok(self.try_min_dim_with_indices(dim, keepdim))
    }

    /// Checked form of [`Tensor::min_dim_with_indices`].
    pub fn try_min_dim_with_indices(&self, dim: impl Dim, keepdim: bool) -> Result<(Tensor, Tensor)> {
        self.extreme_dim("min", dim.to_isize(), keepdim, false, true)
    }

    /// The I64 index of the max along `dim` (first occurrence; the first NaN if any).
    #[must_use]
    #[track_caller]
    pub fn argmax(&self, dim: impl Dim, keepdim: bool) -> Tensor {
        ok(self.try_argmax(dim, keepdim))
    }

    /// Checked form of [`Tensor::argmax`].
    pub fn try_argmax(&self, dim: impl Dim, keepdim: bool) -> Result<Tensor> {
        Ok(self.extreme_dim("argmax", dim.to_isize(), keepdim, true, true)?.1)
    }

    /// The I64 index of the min along `dim` (first occurrence; the first NaN if any).
    #[must_use]
    #[track_caller]
    pub fn argmin(&self, dim: impl Dim, keepdim: bool) -> Tensor {
        ok(self.try_argmin(dim, keepdim))
    }

    /// Checked form of [`Tensor::argmin`].
    pub fn try_argmin(&self, dim: impl Dim, keepdim: bool) -> Result<Tensor> {
        Ok(self.extreme_dim("argmin", dim.to_isize(), keepdim, false, true)?.1)
    }

    /// The flat (row-major) index of the max over all elements, as a 0-d I64 (`torch.argmax(x)`).
    #[must_use]
    #[track_caller]
    pub fn argmax_all(&self) -> Tensor {
        ok(self.try_argmax_all())
    }

    /// Checked form of [`Tensor::argmax_all`].
    pub fn try_argmax_all(&self) -> Result<Tensor> {
        Ok(self.extreme_all("argmax", true, true)?.1)
    }

    /// The flat (row-major) index of the min over all elements, as a 0-d I64 (`torch.argmin(x)`).
    #[must_use]
    #[track_caller]
    pub fn argmin_all(&self) -> Tensor {
        ok(self.try_argmin_all())
    }

    /// Checked form of [`Tensor::argmin_all`].
    pub fn try_argmin_all(&self) -> Result<Tensor> {
        Ok(self.extreme_all("argmin", false, true)?.1)
    }
}
