//! Elementwise unary functions: `neg abs exp log ... gelu silu softplus clamp powf`.

use crate::tensor::ok;
use crate::{DType, Device, Error, Result, Tensor};

/// The unary elementwise ops, as the backends see them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `|x|`
    Abs,
    /// `e^x`
    Exp,
    /// natural log
    Log,
    /// `ln(1 + x)`
    Log1p,
    /// square root
    Sqrt,
    /// `1 / sqrt(x)`
    Rsqrt,
    /// sine
    Sin,
    /// cosine
    Cos,
    /// hyperbolic tangent
    Tanh,
    /// `1 / (1 + e^-x)`, computed stably for large |x|
    Sigmoid,
    /// `max(x, 0)`
    Relu,
    /// `x * Φ(x)` with the exact (erf) normal CDF, PyTorch's default GELU
    Gelu,
    /// `x * sigmoid(x)`
    Silu,
    /// `ln(1 + e^x)`, linear above 20 (PyTorch's threshold)
    Softplus,
    /// -1, 0 or 1
    Sign,
    /// round down
    Floor,
    /// round up
    Ceil,
    /// round half to even
    Round,
    /// `1 / x`
    Recip,
    /// the error function
    Erf,
    /// `x ** e`
    Powf(f64),
    /// `min(max(x, lo), hi)`; either bound may be absent
    Clamp(Option<f64>, Option<f64>),
    /// `x` if positive, else `slope * x`
    LeakyRelu(f64),
    /// `x` if positive, else `alpha * (e^x - 1)`
    Elu(f64),
}

impl UnaryOp {
    /// The PyTorch name of the op, used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Neg => "neg",
            UnaryOp::Abs => "abs",
            UnaryOp::Exp => "exp",
            UnaryOp::Log => "log",
            UnaryOp::Log1p => "log1p",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Rsqrt => "rsqrt",
            UnaryOp::Sin => "sin",
            UnaryOp::Cos => "cos",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Sigmoid => "sigmoid",
            UnaryOp::Relu => "relu",
            UnaryOp::Gelu => "gelu",
            UnaryOp::Silu => "silu",
            UnaryOp::Softplus => "softplus",
            UnaryOp::Sign => "sign",
            UnaryOp::Floor => "floor",
            UnaryOp::Ceil => "ceil",
            UnaryOp::Round => "round",
            UnaryOp::Recip => "reciprocal",
            UnaryOp::Erf => "erf",
            UnaryOp::Powf(_) => "pow",
            UnaryOp::Clamp(..) => "clamp",
            UnaryOp::LeakyRelu(_) => "leaky_relu",
            UnaryOp::Elu(_) => "elu",
        }
    }

    /// True for ops that keep integer dtypes integral (the rest promote `I64` to `F32`, as PyTorch).
    pub fn keeps_int(self) -> bool {
        matches!(
            self,
            UnaryOp::Neg
                | UnaryOp::Abs
                | UnaryOp::Relu
                | UnaryOp::Sign
                | UnaryOp::Floor
                | UnaryOp::Ceil
                | UnaryOp::Round
                | UnaryOp::Clamp(..)
        )
    }
}

impl Tensor {
    /// Checks the dtype, promotes integers where PyTorch does, and runs `op` on the backend.
    pub(crate) fn unary(&self, op: UnaryOp) -> Result<Tensor> {
        match self.dtype {
            DType::Bool => Err(Error::UnsupportedDType { op: op.name(), dtype: DType::Bool }),
            DType::I64 if !op.keeps_int() => self.try_to_dtype(DType::F32)?.unary(op),
            _ => match self.device() {
                Device::Cpu => crate::cpu::unary::unary(op, self),
                Device::Gpu(_) => crate::wgpu::unary::unary(op, self),
            },
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
