//! Fused kernels: optimizer updates and the relu gradient, each one pass over memory where the
//! composite of tensor ops would take several (a dozen for Adam).

use crate::tensor::ok;
use crate::{Error, Result, Tensor};

/// # Fused optimizer updates and gradients
impl Tensor {
    /// One Adam step on this parameter, fused into a single pass (the composite of tensor ops costs
    /// about twelve passes and allocations per parameter):
    ///
    /// `m' = m + (1-β₁)(g - m)`, `v' = β₂v + (1-β₂)g²`, `θ' = θ - scale · m' / (√v' + eps)`.
    ///
    /// The caller folds Adam's bias corrections into `scale` and `eps`. Returns `(θ', m', v')`.
    /// All four tensors must share shape, float dtype and device. On a GPU, F32 runs as one kernel
    /// and F64 as the composite of elementwise kernels.
    ///
    /// The moment buffers are taken by value: on the CPU, when `m` and `v` are each the only handle
    /// to their contiguous storage (as an optimizer's own state is), `m'` and `v'` are written over
    /// them in place, which saves two allocations and a third of the memory traffic; otherwise
    /// (another tensor shares them) they are left as they are and `m'`, `v'` are new.
    ///
    /// ```
    /// use ember_tensor::Tensor;
    /// let p = Tensor::from_vec(vec![1.0f64], &[1]);
    /// let g = Tensor::from_vec(vec![2.0f64], &[1]);
    /// let z = p.zeros_like();
    /// let (p2, m, v) = p.adam_step(&g, z.clone(), z, 0.9, 0.999, 0.1, 1e-8);
    /// assert!((m.item::<f64>() - 0.2).abs() < 1e-12 && (v.item::<f64>() - 0.004).abs() < 1e-12);
    /// assert!((p2.item::<f64>() - (1.0 - 0.1 * 0.2 / (0.004f64.sqrt() + 1e-8))).abs() < 1e-12);
    /// ```
    #[must_use]
    #[track_caller]
    #[allow(clippy::too_many_arguments)]
    pub fn adam_step(
        &self,
        grad: &Tensor,
        m: Tensor,
        v: Tensor,
        beta1: f64,
        beta2: f64,
        scale: f64,
        eps: f64,
    ) -> (Tensor, Tensor, Tensor) {
        ok(self.try_adam_step(grad, m, v, beta1, beta2, scale, eps))
    }

    /// Checked form of [`Tensor::adam_step`].
    #[allow(clippy::too_many_arguments)]
    pub fn try_adam_step(
        &self,
        grad: &Tensor,
        m: Tensor,
        v: Tensor,
        beta1: f64,
        beta2: f64,
        scale: f64,
        eps: f64,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        const OP: &str = "adam_step";
        self.check_fused(OP, &[grad, &m, &v])?;
        self.backend().adam_step(self, grad, m, v, beta1, beta2, scale, eps)
    }

    /// One step of SGD with momentum on this parameter, fused into one pass (the composite costs
    /// four passes and allocations per parameter), for every step after the first (whose buffer is
    /// the gradient itself):
    ///
    /// `b' = μb + (1-τ)g`, `d = g + μb'` (Nesterov) or `b'`, `θ' = θ - lr · d`. Returns `(θ', b')`,
    /// equal bit for bit to the composite of tensor ops on the CPU. All three tensors must share
    /// shape, float dtype and device; on a GPU, F32 runs as one kernel and F64 as the composite.
    ///
    /// ```
    /// use ember_tensor::Tensor;
    /// let p = Tensor::from_vec(vec![1.0f64], &[1]);
    /// let (g, b) = (Tensor::from_vec(vec![2.0f64], &[1]), Tensor::from_vec(vec![0.5f64], &[1]));
    /// let (p2, b2) = p.sgd_momentum_step(&g, &b, 0.1, 0.9, 0.0, false);
    /// assert_eq!(b2.item::<f64>(), 0.5 * 0.9 + 2.0);
    /// assert_eq!(p2.item::<f64>(), 1.0 - (0.5 * 0.9 + 2.0) * 0.1);
    /// ```
    #[must_use]
    #[track_caller]
    #[allow(clippy::too_many_arguments)]
    pub fn sgd_momentum_step(
        &self,
        grad: &Tensor,
        buf: &Tensor,
        lr: f64,
        momentum: f64,
        dampening: f64,
        nesterov: bool,
    ) -> (Tensor, Tensor) {
        ok(self.try_sgd_momentum_step(grad, buf, lr, momentum, dampening, nesterov))
    }

    /// Checked form of [`Tensor::sgd_momentum_step`].
    #[allow(clippy::too_many_arguments)]
    pub fn try_sgd_momentum_step(
        &self,
        grad: &Tensor,
        buf: &Tensor,
        lr: f64,
        momentum: f64,
        dampening: f64,
        nesterov: bool,
    ) -> Result<(Tensor, Tensor)> {
        const OP: &str = "sgd_momentum_step";
        self.check_fused(OP, &[grad, buf])?;
        self.backend().sgd_momentum_step(self, grad, buf, lr, momentum, dampening, nesterov)
    }

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

    /// The operand checks of the fused updates: one shape, device and float dtype.
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
