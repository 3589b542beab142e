//! Activation functions, as `torch.nn.functional`: thin wrappers over the differentiable Variable
//! ops (each has its backward rule in `ember-autograd`), plus the tanh form of GELU as a composite.
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_nn::functional as F;
//! use ember_tensor::Tensor;
//! let x = Variable::from(Tensor::from_vec(vec![-1.0f32, 0.0, 2.0], &[3]));
//! assert_eq!(F::relu(&x).to_vec::<f32>(), vec![0.0, 0.0, 2.0]);
//! assert_eq!(F::leaky_relu(&x, 0.1).to_vec::<f32>(), vec![-0.1, 0.0, 2.0]);
//! let p = F::softmax(&x, -1).to_vec::<f32>();
//! assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
//! ```

use ember_autograd::{is_grad_enabled, Variable};
use ember_tensor::{ActGrad, DType, Dim, Tensor};

/// `max(x, 0)`, PyTorch's `F.relu` (gradient 0 at 0).
#[must_use]
pub fn relu(x: &Variable) -> Variable {
    x.relu()
}

/// GELU with the exact erf form `x/2 (1 + erf(x/√2))`, PyTorch's `F.gelu` (`approximate='none'`).
#[must_use]
pub fn gelu(x: &Variable) -> Variable {
    x.gelu()
}

/// GELU with the tanh approximation `x/2 (1 + tanh(√(2/π) (x + 0.044715 x³)))`, PyTorch's
/// `F.gelu(x, approximate='tanh')`.
#[must_use]
///
/// On the CPU (F32, F64) one recorded op: a fused forward pass and, in a plain backward, a fused
/// gradient pass (`Tensor::activation_backward`); under `create_graph` the gradient is composed of
/// Variable ops so it is differentiable again. Elsewhere the composite of Variable ops.
pub fn gelu_tanh(x: &Variable) -> Variable {
    if x.device().is_cpu() && matches!(x.dtype(), DType::F32 | DType::F64) {
        let out = x.data().gelu_tanh();
        return Variable::record("gelu_tanh", &[x], out, |ctx| {
            let (x, g) = (&ctx.inputs[0], ctx.grad);
            if is_grad_enabled() {
                vec![Some(g * &gelu_tanh_grad_composite(x))]
            } else {
                let d = Tensor::activation_backward(ActGrad::GeluTanh, &x.data(), &g.data());
                vec![Some(Variable::from(d))]
            }
        });
    }
    let k = (2.0 / std::f64::consts::PI).sqrt();
    let inner = (x + &(x.powf(3.0) * 0.044_715)) * k;
    x * &((inner.tanh() + 1.0) * 0.5)
}

/// `d/dx` of the tanh form of GELU, from Variable ops:
/// `(1 + t)/2 + x/2 (1 - t²) k (1 + 3c x²)` with `t = tanh(k (x + c x³))`.
fn gelu_tanh_grad_composite(x: &Variable) -> Variable {
    let k = (2.0 / std::f64::consts::PI).sqrt();
    let c = 0.044_715;
    let t = ((x + &(x.powf(3.0) * c)) * k).tanh();
    let dinner = (x.square() * (3.0 * c) + 1.0) * k;
    (&t + 1.0) * 0.5 + &(&(x * 0.5) * &(1.0 - &t.square())) * &dinner
}

/// SiLU (swish) `x * sigmoid(x)`, PyTorch's `F.silu`.
#[must_use]
pub fn silu(x: &Variable) -> Variable {
    x.silu()
}

/// ELU: `x` for `x > 0`, `alpha (e^x - 1)` otherwise; PyTorch's `F.elu` (its default `alpha` is 1).
#[must_use]
pub fn elu(x: &Variable, alpha: f64) -> Variable {
    x.elu(alpha)
}

/// Leaky ReLU: `x` for `x > 0`, `negative_slope * x` otherwise; PyTorch's `F.leaky_relu` (its
/// default slope is 0.01).
#[must_use]
pub fn leaky_relu(x: &Variable, negative_slope: f64) -> Variable {
    x.leaky_relu(negative_slope)
}

/// The logistic sigmoid `1 / (1 + e^-x)`, PyTorch's `torch.sigmoid`.
#[must_use]
pub fn sigmoid(x: &Variable) -> Variable {
    x.sigmoid()
}

/// The hyperbolic tangent, PyTorch's `torch.tanh`.
#[must_use]
pub fn tanh(x: &Variable) -> Variable {
    x.tanh()
}

/// Softmax along `dim` (negative counts from the end), PyTorch's `F.softmax`.
///
/// **Panics** when `dim` is out of range.
#[must_use]
#[track_caller]
pub fn softmax(x: &Variable, dim: impl Dim) -> Variable {
    x.softmax(dim)
}

/// Log-softmax along `dim`, computed stably, PyTorch's `F.log_softmax`.
///
/// **Panics** when `dim` is out of range.
#[must_use]
#[track_caller]
pub fn log_softmax(x: &Variable, dim: impl Dim) -> Variable {
    x.log_softmax(dim)
}
