//! Fused kernels: the relu gradient in one pass over memory where the composite of tensor ops
//! would take two. Optimizer updates are written by `ember-optim` with the generic
//! [`FusedMap`](crate::FusedMap) (`ops/fused_map.rs`).

use crate::tensor::ok;
use crate::{Error, Result, Tensor};

/// # Fused gradients
impl Tensor {
    /// The gradient of `relu` from its output, in one pass: `grad` where `out > 0` (or NaN), else 0
    /// (PyTorch's `threshold_backward(grad, out, 0)`, relu'(0) = 0). The composite
    /// `grad.masked_fill(out.le_scalar(0), 0)` makes a Bool mask and a second pass.
    ///
    /// ```
    /// use ember_tensor::Tensor;
    /// let g = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
    /// let out = Tensor::from_vec(vec![0.0f32, 0.5, f32::NAN], &[3]);
    /// assert_eq!(Tensor::relu_backward(&g, &out).to_vec::<f32>(), vec![0.0, 2.0, 3.0]);
    /// ```
    #[must_use]
    #[track_caller]
    pub fn relu_backward(grad: &Tensor, out: &Tensor) -> Tensor {
        ok(Tensor::try_relu_backward(grad, out))
    }

    /// Checked form of [`Tensor::relu_backward`].
    pub fn try_relu_backward(grad: &Tensor, out: &Tensor) -> Result<Tensor> {
        grad.check_fused("relu_backward", &[out])?;
        grad.backend().relu_backward(grad, out)
    }

    /// The operand checks of the fused kernels: one shape, device and float dtype.
    pub(crate) fn check_fused(&self, op: &'static str, others: &[&Tensor]) -> Result<()> {
        for t in others {
            self.same_device(op, t)?;
            self.same_dtype(op, t)?;
            if t.shape() != self.shape() {
                return Err(Error::ShapeMismatch { op, lhs: self.shape().to_vec(), rhs: t.shape().to_vec() });
            }
        }
        if !self.dtype().is_float() {
            return Err(Error::UnsupportedDType { op, dtype: self.dtype() });
        }
        Ok(())
    }
}
