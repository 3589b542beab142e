//! Fused activation ops beside the unary ones: the tanh form of GELU, and the gradients of GELU
//! (both forms), SiLU, sigmoid and tanh as one pass each (the backward rules of `ember-autograd`
//! and `ember-nn` call them instead of composing four to eight elementwise ops). GPU tensors run
//! the CPU kernel through the host.

use crate::tensor::ok;
use crate::{Error, Result, Tensor};

/// Which activation's derivative [`Tensor::activation_backward`] applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActGrad {
    /// GELU, erf form; the saved value is the input.
    Gelu,
    /// GELU, tanh form; the saved value is the input.
    GeluTanh,
    /// SiLU; the saved value is the input.
    Silu,
    /// sigmoid; the saved value is the output `s` (the derivative is `s (1 - s)`).
    SigmoidFromOutput,
    /// tanh; the saved value is the output `t` (the derivative is `1 - t²`).
    TanhFromOutput,
}

impl ActGrad {
    /// The op's name in error messages.
    pub fn name(self) -> &'static str {
        match self {
            ActGrad::Gelu => "gelu_backward",
            ActGrad::GeluTanh => "gelu_tanh_backward",
            ActGrad::Silu => "silu_backward",
            ActGrad::SigmoidFromOutput => "sigmoid_backward",
            ActGrad::TanhFromOutput => "tanh_backward",
        }
    }
}

fn check_float(op: &'static str, t: &Tensor) -> Result<()> {
    if !matches!(t.dtype(), crate::DType::F32 | crate::DType::F64) {
        return Err(Error::UnsupportedDType { op, dtype: t.dtype() });
    }
    Ok(())
}

/// # Fused activations and their gradients
impl Tensor {
    /// GELU with the tanh approximation, `x/2 (1 + tanh(√(2/π) (x + 0.044715 x³)))`, PyTorch's
    /// `F.gelu(x, approximate='tanh')`, in one pass (F32 and F64).
    ///
    /// ```
    /// use ember_tensor::Tensor;
    /// let y = Tensor::from_vec(vec![0.0f32, 1.0], &[2]).gelu_tanh().to_vec::<f32>();
    /// assert_eq!(y[0], 0.0);
    /// assert!((y[1] - 0.841_192).abs() < 1e-6);
    /// ```
    #[must_use]
    #[track_caller]
    pub fn gelu_tanh(&self) -> Tensor {
        ok(self.try_gelu_tanh())
    }

    /// Checked form of [`Tensor::gelu_tanh`] (F32 or F64 only).
    pub fn try_gelu_tanh(&self) -> Result<Tensor> {
        check_float("gelu_tanh", self)?;
        crate::backend::host("gelu_tanh", &[self], |t| crate::cpu::activation::gelu_tanh(t[0]))
    }

    /// `grad · f'(saved)` for the activation `op` in one pass: `saved` is the input of GELU and
    /// SiLU, the output of sigmoid and tanh. Both F32 or both F64, of one shape and device.
    ///
    /// ```
    /// use ember_tensor::{ActGrad, Tensor};
    /// let s = Tensor::from_vec(vec![0.5f32, 0.25], &[2]);
    /// let g = Tensor::from_vec(vec![1.0f32, 2.0], &[2]);
    /// let d = Tensor::activation_backward(ActGrad::SigmoidFromOutput, &s, &g);
    /// assert_eq!(d.to_vec::<f32>(), vec![0.25, 0.375]);
    /// ```
    #[must_use]
    #[track_caller]
    pub fn activation_backward(op: ActGrad, saved: &Tensor, grad: &Tensor) -> Tensor {
        ok(Tensor::try_activation_backward(op, saved, grad))
    }

    /// Checked form of [`Tensor::activation_backward`].
    pub fn try_activation_backward(op: ActGrad, saved: &Tensor, grad: &Tensor) -> Result<Tensor> {
        let name = op.name();
        check_float(name, saved)?;
        saved.same_dtype(name, grad)?;
        saved.same_device(name, grad)?;
        if saved.shape() != grad.shape() {
            crate::bail!(
                name,
                "the gradient's shape {:?} differs from the saved tensor's {:?}",
                grad.shape(),
                saved.shape()
            );
        }
        crate::backend::host(name, &[saved, grad], |t| crate::cpu::activation::activation_backward(op, t[0], t[1]))
    }
}
