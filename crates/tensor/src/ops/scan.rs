//! Cumulative ops along a dim: `cumsum` and `cumprod`.

use crate::shape::Dim;
use crate::tensor::ok;
use crate::{Result, Tensor};

/// # Cumulative sums and products
impl Tensor {
    /// The running sum along `dim`: element `k` is the sum of elements `0..=k`. Floats accumulate in
    /// f64 (as PyTorch's CPU kernel); I64 stays I64 and Bool counts into I64, as PyTorch.
    ///
    /// ```
    /// # use ember_tensor::Tensor;
    /// let t = Tensor::from_vec(vec![1i64, 2, 3, 4, 5, 6], &[2, 3]);
    /// assert_eq!(t.cumsum(1).to_vec::<i64>(), vec![1, 3, 6, 4, 9, 15]);
    /// assert_eq!(t.cumsum(0).to_vec::<i64>(), vec![1, 2, 3, 5, 7, 9]);
    /// ```
    ///
    /// **Panics** on a bad dim; see [`Tensor::try_cumsum`].
    #[must_use]
    #[track_caller]
    pub fn cumsum(&self, dim: impl Dim) -> Tensor {
        ok(self.try_cumsum(dim))
    }

    /// Checked form of [`Tensor::cumsum`].
    pub fn try_cumsum(&self, dim: impl Dim) -> Result<Tensor> {
        let ax = self.reduction("cumsum", dim.to_isize(), true)?.ax;
        let t = self.bool_to_i64()?;
        t.backend().cumulative(&t, ax, false)
    }

    /// The running product along `dim`; dtypes as [`Tensor::cumsum`].
    #[must_use]
    #[track_caller]
    pub fn cumprod(&self, dim: impl Dim) -> Tensor {
        ok(self.try_cumprod(dim))
    }

    /// Checked form of [`Tensor::cumprod`].
    pub fn try_cumprod(&self, dim: impl Dim) -> Result<Tensor> {
        let ax = self.reduction("cumprod", dim.to_isize(), true)?.ax;
        let t = self.bool_to_i64()?;
        t.backend().cumulative(&t, ax, true)
    }
}
