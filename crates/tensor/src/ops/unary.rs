//! Elementwise unary functions: `neg abs exp log ... gelu silu softplus clamp powf`.

pub use crate::op_desc::UnaryOp;
use crate::tensor::ok;
use crate::{DType, Error, Result, Tensor};

impl Tensor {
    /// Checks the dtype, promotes integers where PyTorch does, and runs `op` on the backend.
    pub(crate) fn unary(&self, op: UnaryOp) -> Result<Tensor> {
        match self.dtype {
            DType::Bool => Err(Error::UnsupportedDType { op: op.name(), dtype: DType::Bool }),
            DType::I64 if !op.keeps_int() => self.try_to_dtype(DType::F32)?.unary(op),
            _ => self.backend().unary(op, self),
        }
    }
}

macro_rules! unary_methods {
    ($($name:ident, $op:ident, $doc:literal;)*) => {
        /// # Elementwise unary functions
        impl Tensor {
            $(
                #[doc = $doc]
                ///
                /// Integer tensors are promoted to F32 where the result is not integral, as in PyTorch.
                /// **Panics** on a Bool tensor.
                #[must_use]
                #[track_caller]
                pub fn $name(&self) -> Tensor {
                    ok(self.unary(UnaryOp::$op))
                }
            )*
        }
    };
}

unary_methods! {
    neg, Neg, "`-x`, elementwise.";
    abs, Abs, "`|x|`, elementwise.";
    exp, Exp, "`e^x`, elementwise.";
    log, Log, "Natural logarithm, elementwise.";
    log1p, Log1p, "`ln(1 + x)`, elementwise, accurate near 0.";
    sqrt, Sqrt, "Square root, elementwise.";
    rsqrt, Rsqrt, "`1 / sqrt(x)`, elementwise.";
    sin, Sin, "Sine, elementwise.";
    cos, Cos, "Cosine, elementwise.";
    tanh, Tanh, "Hyperbolic tangent, elementwise.";
    sigmoid, Sigmoid, "Logistic sigmoid `1 / (1 + e^-x)`, elementwise, stable for large |x|.";
    relu, Relu, "`max(x, 0)`, elementwise.";
    gelu, Gelu, "GELU with the exact erf form `x/2 (1 + erf(x/√2))`, PyTorch's default.";
    silu, Silu, "SiLU (swish) `x * sigmoid(x)`, elementwise.";
    softplus, Softplus, "Softplus `ln(1 + e^x)` (beta 1, linear above 20 as PyTorch), elementwise.";
    sign, Sign, "The sign (-1, 0 or 1), elementwise.";
    floor, Floor, "Round down, elementwise.";
    ceil, Ceil, "Round up, elementwise.";
    round, Round, "Round half to even, elementwise (as `torch.round`).";
    recip, Recip, "`1 / x`, elementwise (PyTorch's `reciprocal`).";
    erf, Erf, "The error function, elementwise.";
}

/// # Parameterised elementwise functions
impl Tensor {
    /// `x ** e` for a scalar exponent, elementwise.
    #[must_use]
    #[track_caller]
    pub fn powf(&self, e: f64) -> Tensor {
        ok(self.unary(UnaryOp::Powf(e)))
    }

    /// Clamps every element into `[min, max]`; either bound may be `None`.
    ///
    /// **Panics** when both are `None` (as PyTorch); see [`Tensor::try_clamp`].
    #[must_use]
    #[track_caller]
    pub fn clamp(&self, min: Option<f64>, max: Option<f64>) -> Tensor {
        ok(self.try_clamp(min, max))
    }

    /// Checked form of [`Tensor::clamp`].
    pub fn try_clamp(&self, min: Option<f64>, max: Option<f64>) -> Result<Tensor> {
        if min.is_none() && max.is_none() {
            crate::bail!("clamp", "at least one of 'min' or 'max' must not be None");
        }
        self.unary(UnaryOp::Clamp(min, max))
    }

    /// `max(x, lo)`, elementwise.
    #[must_use]
    #[track_caller]
    pub fn clamp_min(&self, lo: f64) -> Tensor {
        self.clamp(Some(lo), None)
    }

    /// `min(x, hi)`, elementwise.
    #[must_use]
    #[track_caller]
    pub fn clamp_max(&self, hi: f64) -> Tensor {
        self.clamp(None, Some(hi))
    }

    /// Leaky ReLU: `x` if positive, else `negative_slope * x`.
    #[must_use]
    #[track_caller]
    pub fn leaky_relu(&self, negative_slope: f64) -> Tensor {
        ok(self.unary(UnaryOp::LeakyRelu(negative_slope)))
    }

    /// ELU: `x` if positive, else `alpha * (e^x - 1)`.
    #[must_use]
    #[track_caller]
    pub fn elu(&self, alpha: f64) -> Tensor {
        ok(self.unary(UnaryOp::Elu(alpha)))
    }

    /// Square, elementwise.
    #[must_use]
    #[track_caller]
    pub fn square(&self) -> Tensor {
        self.mul(self)
    }
}
