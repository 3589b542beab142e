//! Statistics over all elements or one dim: `var`, `std` (two-pass, accumulated in f64) and
//! `logsumexp` (stable: the max is subtracted first).

use crate::shape::Dim;
use crate::tensor::ok;
use crate::{DType, Result, Tensor};

impl Tensor {
    /// Variance or standard deviation over `ax`; floats only (PyTorch's wording otherwise).
    fn var_std(&self, op: &'static str, mask: &[bool], unbiased: bool, sqrt: bool, out: &[usize]) -> Result<Tensor> {
        if !self.dtype.is_float() {
            crate::bail!(op, "std and var only support floating point dtypes, got {}", self.dtype);
        }
        self.backend().var(op, self, mask, unbiased, sqrt, out)
    }
}

/// # Reductions: variance, standard deviation, logsumexp
impl Tensor {
    /// The variance of all elements, as a 0-d tensor: the mean squared deviation from the mean,
    /// divided by `n - 1` when `unbiased` (Bessel's correction, PyTorch's default) or by `n`.
    /// NaN when that divisor is not positive (one element unbiased, or empty), as PyTorch.
    ///
    /// ```
    /// # use ember_tensor::Tensor;
    /// let t = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[4]);
    /// assert_eq!(t.var(false).item::<f64>(), 1.25);
    /// assert!((t.std(true).item::<f64>() - (5.0f64 / 3.0).sqrt()).abs() < 1e-15);
    /// ```
    ///
    /// **Panics** on an integer or Bool tensor; see [`Tensor::try_var`].
    #[must_use]
    #[track_caller]
    pub fn var(&self, unbiased: bool) -> Tensor {
        ok(self.try_var(unbiased))
    }

    /// Checked form of [`Tensor::var`].
    pub fn try_var(&self, unbiased: bool) -> Result<Tensor> {
        let (mask, out) = self.reduction_all();
        self.var_std("var", &mask, unbiased, false, &out)
    }

    /// The variance over `dim` (see [`Tensor::var`]); `keepdim` keeps the dim as size 1.
    #[must_use]
    #[track_caller]
    pub fn var_dim(&self, dim: impl Dim, unbiased: bool, keepdim: bool) -> Tensor {
        ok(self.try_var_dim(dim, unbiased, keepdim))
    }

    /// Checked form of [`Tensor::var_dim`].
    pub fn try_var_dim(&self, dim: impl Dim, unbiased: bool, keepdim: bool) -> Result<Tensor> {
        let r = self.reduction("var", dim.to_isize(), keepdim)?;
        self.var_std("var", &r.mask, unbiased, false, &r.out)
    }

    /// The standard deviation of all elements (the square root of [`Tensor::var`]).
    #[must_use]
    #[track_caller]
    pub fn std(&self, unbiased: bool) -> Tensor {
        ok(self.try_std(unbiased))
    }

    /// Checked form of [`Tensor::std`].
    pub fn try_std(&self, unbiased: bool) -> Result<Tensor> {
        let (mask, out) = self.reduction_all();
        self.var_std("std", &mask, unbiased, true, &out)
    }

    /// The standard deviation over `dim`; `keepdim` keeps the dim as size 1.
    #[must_use]
    #[track_caller]
    pub fn std_dim(&self, dim: impl Dim, unbiased: bool, keepdim: bool) -> Tensor {
        ok(self.try_std_dim(dim, unbiased, keepdim))
    }

    /// Checked form of [`Tensor::std_dim`].
    pub fn try_std_dim(&self, dim: impl Dim, unbiased: bool, keepdim: bool) -> Result<Tensor> {
        let r = self.reduction("std", dim.to_isize(), keepdim)?;
        self.var_std("std", &r.mask, unbiased, true, &r.out)
    }

    /// `log(Σ exp(x))` over `dim`, computed stably as `m + log(Σ exp(x - m))` with `m` the max. A
    /// slice of all `-inf` (or an empty one) gives `-inf`, one holding `+inf` gives `+inf`, NaN
    /// propagates. Integer and Bool inputs are promoted to F32, as PyTorch.
    #[must_use]
    #[track_caller]
    pub fn logsumexp(&self, dim: impl Dim, keepdim: bool) -> Tensor {
        ok(self.try_logsumexp(dim, keepdim))
    }

    /// Checked form of [`Tensor::logsumexp`].
    pub fn try_logsumexp(&self, dim: impl Dim, keepdim: bool) -> Result<Tensor> {
        let r = self.reduction("logsumexp", dim.to_isize(), keepdim)?;
        let t = if self.dtype.is_float() { self.clone() } else { self.try_to_dtype(DType::F32)? };
        t.backend().logsumexp(&t, &r.mask, &r.out)
    }
}
