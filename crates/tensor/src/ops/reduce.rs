//! Sums, means and products over all elements, one dim or several dims; `sum_to_shape` (the reverse
//! of broadcasting); `all` and `any`.

use smallvec::SmallVec;

use crate::op_desc::Axis;
use crate::op_desc::Mask;
use crate::op_desc::ReduceKind;
use crate::shape::{normalize_dim, Dim, Dims};
use crate::tensor::ok;
use crate::{DType, Error, Result, Tensor};

/// A resolved single-dim reduction.
pub(crate) struct Reduction {
    /// The reduced dim (0 for a 0-d tensor).
    pub d: usize,
    /// The geometry of the reduced dim in a dense row-major view.
    pub ax: Axis,
    /// One flag per dim: the reduced one.
    pub mask: Mask,
    /// The output shape.
    pub out: Dims,
}

/// Helpers shared by the reduction families.
impl Tensor {
    /// Resolves `dim` for the reduction `op`: the dim, the axis geometry, the reduced-dims mask and the
    /// output shape (the dim kept as size 1 with `keepdim`, else removed; a 0-d tensor stays 0-d).
    pub(crate) fn reduction(&self, op: &'static str, dim: isize, keepdim: bool) -> Result<Reduction> {
        let d = normalize_dim(op, dim, self.rank())?;
        let shape = self.shape();
        let mut mask = Mask::from_elem(false, shape.len());
        let mut out: Dims = shape.into();
        if !shape.is_empty() {
            mask[d] = true;
            if keepdim {
                out[d] = 1;
            } else {
                out.remove(d);
            }
        }
        Ok(Reduction { d, ax: Axis::of(shape, d), mask, out })
    }

    /// The mask of all dims and the 0-d output shape, for reductions over all elements.
    pub(crate) fn reduction_all(&self) -> (Mask, [usize; 0]) {
        (Mask::from_elem(true, self.rank()), [])
    }

    /// `self`, with Bool converted to I64 (sums, products and scans of Bool count in I64, as PyTorch).
    pub(crate) fn bool_to_i64(&self) -> Result<Tensor> {
        if self.dtype == DType::Bool {
            self.try_to_dtype(DType::I64)
        } else {
            Ok(self.clone())
        }
    }

    /// Fails unless the dtype is a float, with PyTorch's wording for `mean`-like ops.
    pub(crate) fn need_float(&self, op: &'static str) -> Result<()> {
        if !self.dtype.is_float() {
            crate::bail!(
                op,
                "could not infer output dtype. Input dtype must be a floating point dtype, got {}",
                self.dtype
            );
        }
        Ok(())
    }

    /// Sum or mean over a set of dims (empty: all dims, as PyTorch).
    fn reduce_dims<D: Dim>(&self, op: &'static str, dims: &[D], keepdim: bool, mean: bool) -> Result<Tensor> {
        let r = self.rank();
        let mut mask = Mask::from_elem(dims.is_empty(), r);
        for d in dims {
            let d = normalize_dim(op, d.to_isize(), r)?;
            if r > 0 && mask[d] {
                crate::bail!(op, "dim {d} appears multiple times in the list of dims");
            }
            if r > 0 {
                mask[d] = true;
            }
        }
        if mean {
            self.need_float(op)?;
        }
        let out: Dims = self
            .shape()
            .iter()
            .zip(&mask)
            .filter(|(_, &m)| !m || keepdim)
            .map(|(&s, &m)| if m { 1 } else { s })
            .collect();
        sum_on_backend(&self.bool_to_i64()?, &mask, mean, &out)
    }
}

/// # Reductions: sum, mean, prod, all, any
impl Tensor {
    /// The sum of all elements, as a 0-d tensor. F32 accumulates in f64 (pairwise); I64 stays I64
    /// (wrapping), Bool counts into I64, as PyTorch. The sum of an empty tensor is 0.
    #[must_use]
    #[track_caller]
    pub fn sum(&self) -> Tensor {
        ok(self.try_sum())
    }

    /// Checked form of [`Tensor::sum`].
    pub fn try_sum(&self) -> Result<Tensor> {
        let (mask, out) = self.reduction_all();
        sum_on_backend(&self.bool_to_i64()?, &mask, false, &out)
    }

    /// The sum over `dim` (negative counts from the end); `keepdim` keeps it as size 1.
    ///
    /// ```
    /// # use ember_tensor::Tensor;
    /// let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    /// assert_eq!(t.sum_dim(0, false).to_vec::<f32>(), vec![5.0, 7.0, 9.0]);
    /// assert_eq!(t.sum_dim(-1, true).shape(), &[2, 1]);
    /// assert_eq!(t.sum().item::<f32>(), 21.0);
    /// ```
    #[must_use]
    #[track_caller]
    pub fn sum_dim(&self, dim: impl Dim, keepdim: bool) -> Tensor {
        ok(self.try_sum_dim(dim, keepdim))
    }

    /// Checked form of [`Tensor::sum_dim`].
    pub fn try_sum_dim(&self, dim: impl Dim, keepdim: bool) -> Result<Tensor> {
        let r = self.reduction("sum", dim.to_isize(), keepdim)?;
        sum_on_backend(&self.bool_to_i64()?, &r.mask, false, &r.out)
    }

    /// The sum over several dims at once (an empty list sums over all dims, as PyTorch).
    ///
    /// **Panics** on a bad or repeated dim; see [`Tensor::try_sum_dims`].
    #[must_use]
    #[track_caller]
    pub fn sum_dims<D: Dim>(&self, dims: &[D], keepdim: bool) -> Tensor {
        ok(self.try_sum_dims(dims, keepdim))
    }

    /// Checked form of [`Tensor::sum_dims`].
    pub fn try_sum_dims<D: Dim>(&self, dims: &[D], keepdim: bool) -> Result<Tensor> {
        self.reduce_dims("sum", dims, keepdim, false)
    }

    /// Sums a broadcast result back to `shape`, the reverse of broadcasting `shape` to `self.shape()`:
    /// leading dims are summed away and dims where `shape` has 1 are summed with keepdim, so the result
    /// has exactly `shape`. Returns a view of `self` when nothing needs summing. Dtypes as
    /// [`Tensor::sum`] (Bool gives I64).
    ///
    /// **Panics** when `shape` does not broadcast to `self.shape()`; see [`Tensor::try_sum_to_shape`].
    #[must_use]
    #[track_caller]
    pub fn sum_to_shape(&self, shape: &[usize]) -> Tensor {
        ok(self.try_sum_to_shape(shape))
    }

    /// Checked form of [`Tensor::sum_to_shape`].
    pub fn try_sum_to_shape(&self, shape: &[usize]) -> Result<Tensor> {
        let have = self.shape();
        let bad = || Error::InvalidArgument {
            op: "sum_to_shape",
            msg: format!("shape {shape:?} does not broadcast to the tensor's shape {have:?}"),
        };
        if shape.len() > have.len() {
            return Err(bad());
        }
        let lead = have.len() - shape.len();
        let mut dims: SmallVec<[usize; 6]> = SmallVec::new();
        for (i, &s) in have.iter().enumerate() {
            if i < lead {
                if s != 1 {
                    dims.push(i);
                }
            } else if shape[i - lead] != s {
                if shape[i - lead] != 1 {
                    return Err(bad());
                }
                dims.push(i);
            }
        }
        let t = if dims.is_empty() { self.bool_to_i64()? } else { self.try_sum_dims(&dims, true)? };
        t.try_reshape(shape)
    }

    /// The mean of all elements, as a 0-d tensor (NaN for an empty tensor).
    ///
    /// **Panics** on an integer or Bool tensor (as PyTorch); see [`Tensor::try_mean`].
    #[must_use]
    #[track_caller]
    pub fn mean(&self) -> Tensor {
        ok(self.try_mean())
    }

    /// Checked form of [`Tensor::mean`].
    pub fn try_mean(&self) -> Result<Tensor> {
        self.need_float("mean")?;
        let (mask, out) = self.reduction_all();
        sum_on_backend(self, &mask, true, &out)
    }

    /// The mean over `dim`; `keepdim` keeps it as size 1. Floats only.
    #[must_use]
    #[track_caller]
    pub fn mean_dim(&self, dim: impl Dim, keepdim: bool) -> Tensor {
        ok(self.try_mean_dim(dim, keepdim))
    }

    /// Checked form of [`Tensor::mean_dim`].
    pub fn try_mean_dim(&self, dim: impl Dim, keepdim: bool) -> Result<Tensor> {
        let r = self.reduction("mean", dim.to_isize(), keepdim)?;
        self.need_float("mean")?;
        sum_on_backend(self, &r.mask, true, &r.out)
    }

    /// The mean over several dims at once (an empty list means all dims). Floats only.
    #[must_use]
    #[track_caller]
    pub fn mean_dims<D: Dim>(&self, dims: &[D], keepdim: bool) -> Tensor {
        ok(self.try_mean_dims(dims, keepdim))
    }

    /// Checked form of [`Tensor::mean_dims`].
    pub fn try_mean_dims<D: Dim>(&self, dims: &[D], keepdim: bool) -> Result<Tensor> {
        self.reduce_dims("mean", dims, keepdim, true)
    }

    /// The product of all elements, as a 0-d tensor (1 for an empty tensor). Dtypes as [`Tensor::sum`].
    #[must_use]
    #[track_caller]
    pub fn prod(&self) -> Tensor {
        ok(self.try_prod())
    }

    /// Checked form of [`Tensor::prod`].
    pub fn try_prod(&self) -> Result<Tensor> {
        let (mask, out) = self.reduction_all();
        let t = self.bool_to_i64()?;
        t.backend().reduce(ReduceKind::Prod, &t, &mask, &out)
    }

    /// The product over `dim`; `keepdim` keeps it as size 1.
    #[must_use]
    #[track_caller]
    pub fn prod_dim(&self, dim: impl Dim, keepdim: bool) -> Tensor {
        ok(self.try_prod_dim(dim, keepdim))
    }

    /// Checked form of [`Tensor::prod_dim`].
    pub fn try_prod_dim(&self, dim: impl Dim, keepdim: bool) -> Result<Tensor> {
        let r = self.reduction("prod", dim.to_isize(), keepdim)?;
        let t = self.bool_to_i64()?;
        t.backend().reduce(ReduceKind::Prod, &t, &r.mask, &r.out)
    }

    /// True (a 0-d Bool) when every element is nonzero (NaN counts as nonzero); true when empty.
    ///
    /// **Panics** only when a GPU fails (out of memory); see [`Tensor::try_all`].
    #[must_use]
    #[track_caller]
    pub fn all(&self) -> Tensor {
        ok(self.try_all())
    }

    /// Checked form of [`Tensor::all`].
    pub fn try_all(&self) -> Result<Tensor> {
        let (mask, out) = self.reduction_all();
        all_any_on_backend(self, &mask, true, &out)
    }

    /// True (a 0-d Bool) when some element is nonzero; false when empty.
    ///
    /// **Panics** only when a GPU fails (out of memory); see [`Tensor::try_any`].
    #[must_use]
    #[track_caller]
    pub fn any(&self) -> Tensor {
        ok(self.try_any())
    }

    /// Checked form of [`Tensor::any`].
    pub fn try_any(&self) -> Result<Tensor> {
        let (mask, out) = self.reduction_all();
        all_any_on_backend(self, &mask, false, &out)
    }

    /// Whether every element along `dim` is nonzero (Bool result, any input dtype).
    #[must_use]
    #[track_caller]
    pub fn all_dim(&self, dim: impl Dim, keepdim: bool) -> Tensor {
        ok(self.try_all_dim(dim, keepdim))
    }

    /// Checked form of [`Tensor::all_dim`].
    pub fn try_all_dim(&self, dim: impl Dim, keepdim: bool) -> Result<Tensor> {
        let r = self.reduction("all", dim.to_isize(), keepdim)?;
        all_any_on_backend(self, &r.mask, true, &r.out)
    }

    /// Whether some element along `dim` is nonzero (Bool result, any input dtype).
    #[must_use]
    #[track_caller]
    pub fn any_dim(&self, dim: impl Dim, keepdim: bool) -> Tensor {
        ok(self.try_any_dim(dim, keepdim))
    }

    /// Checked form of [`Tensor::any_dim`].
    pub fn try_any_dim(&self, dim: impl Dim, keepdim: bool) -> Result<Tensor> {
        let r = self.reduction("any", dim.to_isize(), keepdim)?;
        all_any_on_backend(self, &r.mask, false, &r.out)
    }
}

/// Sum (or mean) of `t` (not Bool) over the dims flagged in `mask`, shaped `out`, on `t`'s device.
fn sum_on_backend(t: &Tensor, mask: &[bool], mean: bool, out: &[usize]) -> Result<Tensor> {
    let kind = if mean { ReduceKind::Mean } else { ReduceKind::Sum };
    t.backend().reduce(kind, t, mask, out)
}

/// `all` (or `any`) of `t` over the dims flagged in `mask`, shaped `out`, on `t`'s device. On a GPU:
/// the min (all) or max (any) of the values as Bool then I64, the I64 result cast back to Bool.
fn all_any_on_backend(t: &Tensor, mask: &[bool], all: bool, out: &[usize]) -> Result<Tensor> {
    t.backend().all_any(t, mask, all, out)
}
