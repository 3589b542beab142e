//! `softmax` and `log_softmax` along a dim, numerically stable (the max is subtracted first).

use crate::op_desc::Axis;
use crate::shape::Dim;
use crate::tensor::ok;
use crate::{Result, Tensor};

/// # Softmax
impl Tensor {
    /// `exp(x) / Σ exp(x)` along `dim`, computed as `exp(x - m) / Σ exp(x - m)` with `m` the max, so
    /// large inputs do not overflow. Floats only (as PyTorch). Slices holding a NaN, or made only of
    /// `-inf`, give NaN (as PyTorch); `-inf` entries in an otherwise finite slice give 0.
    ///
    /// ```
    /// # use ember_tensor::Tensor;
    /// let t = Tensor::from_vec(vec![1000.0f32, 1000.0, f32::NEG_INFINITY], &[1, 3]);
    /// assert_eq!(t.softmax(-1).to_vec::<f32>(), vec![0.5, 0.5, 0.0]);
    /// let l = t.log_softmax(1).to_vec::<f32>();
    /// assert!((l[0] + std::f32::consts::LN_2).abs() < 1e-6 && l[2] == f32::NEG_INFINITY);
    /// ```
    ///
    /// **Panics** on a bad dim or a non-float tensor; see [`Tensor::try_softmax`].
    #[must_use]
    #[track_caller]
    pub fn softmax(&self, dim: impl Dim) -> Tensor {
        ok(self.try_softmax(dim))
    }

    /// Checked form of [`Tensor::softmax`].
    pub fn try_softmax(&self, dim: impl Dim) -> Result<Tensor> {
        let ax = self.reduction("softmax", dim.to_isize(), true)?.ax;
        self.softmax_on_backend(ax, false)
    }

    /// `log(softmax(x))` along `dim`, computed directly as `x - m - log Σ exp(x - m)` (accurate where
    /// `softmax` underflows to 0). Floats only.
    #[must_use]
    #[track_caller]
    pub fn log_softmax(&self, dim: impl Dim) -> Tensor {
        ok(self.try_log_softmax(dim))
    }

    /// Checked form of [`Tensor::log_softmax`].
    pub fn try_log_softmax(&self, dim: impl Dim) -> Result<Tensor> {
        let ax = self.reduction("log_softmax", dim.to_isize(), true)?.ax;
        self.softmax_on_backend(ax, true)
    }
}

impl Tensor {
    fn softmax_on_backend(&self, ax: Axis, log: bool) -> Result<Tensor> {
        self.backend().softmax(self, ax, log)
    }
}
