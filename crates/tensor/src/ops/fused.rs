//! Fused optimizer updates: one pass over memory where the composite would take a dozen.

use crate::tensor::ok;
use crate::{Error, Result, Tensor};

/// # Fused optimizer updates
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
    /// ```
    /// use ember_tensor::Tensor;
    /// let p = Tensor::from_vec(vec![1.0f64], &[1]);
    /// let g = Tensor::from_vec(vec![2.0f64], &[1]);
    /// let z = p.zeros_like();
    /// let (p2, m, v) = p.adam_step(&g, &z, &z, 0.9, 0.999, 0.1, 1e-8);
    /// assert!((m.item::<f64>() - 0.2).abs() < 1e-12 && (v.item::<f64>() - 0.004).abs() < 1e-12);
    /// assert!((p2.item::<f64>() - (1.0 - 0.1 * 0.2 / (0.004f64.sqrt() + 1e-8))).abs() < 1e-12);
    /// ```
    #[must_use]
    #[track_caller]
    #[allow(clippy::too_many_arguments)]
    pub fn adam_step(
        &self,
        grad: &Tensor,
        m: &Tensor,
        v: &Tensor,
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
        m: &Tensor,
        v: &Tensor,
        beta1: f64,
        beta2: f64,
        scale: f64,
        eps: f64,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        const OP: &str = "adam_step";
        for t in [grad, m, v] {
            self.same_device(OP, t)?;
            self.same_dtype(OP, t)?;
            if t.shape() != self.shape() {
                return Err(Error::ShapeMismatch { op: OP, lhs: self.shape().to_vec(), rhs: t.shape().to_vec() });
            }
        }
        if !self.dtype().is_float() {
            return Err(Error::UnsupportedDType { op: OP, dtype: self.dtype() });
        }
        if self.device().is_cpu() {
            return Ok(crate::cpu::fused::adam_step(self, grad, m, v, beta1, beta2, scale, eps));
        }
        if self.dtype() == crate::DType::F32 {
            return crate::wgpu::fused::adam_step(self, grad, m, v, beta1, beta2, scale, eps);
        }
        let m2 = m.try_add(&grad.try_sub(m)?.try_mul_scalar(1.0 - beta1)?)?;
        let v2 = v.try_mul_scalar(beta2)?.try_add(&grad.try_mul(grad)?.try_mul_scalar(1.0 - beta2)?)?;
        let denom = v2.sqrt().try_add_scalar(eps)?;
        let p2 = self.try_sub(&m2.try_div(&denom)?.try_mul_scalar(scale)?)?;
        Ok((p2, m2, v2))
    }
}
