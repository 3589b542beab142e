//! Activation layers: thin modules over the functional forms (no parameters, no mode).
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_nn::{LeakyRelu, Module, Softmax};
//! use ember_tensor::Tensor;
//! let x = Variable::from(Tensor::from_vec(vec![-2.0f32, 0.0, 2.0], &[1, 3]));
//! assert_eq!(LeakyRelu::new().forward(&x).to_vec::<f32>(), vec![-0.02, 0.0, 2.0]);
//! let p = Softmax::new(1).forward(&x).to_vec::<f32>();
//! assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
//! ```

use ember_autograd::Variable;

use crate::functional as F;
use crate::Module;

/// `max(x, 0)`, PyTorch's `nn.ReLU`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Relu;

impl Relu {
    /// A ReLU layer.
    pub fn new() -> Relu {
        Relu
    }
}

impl Module for Relu {
    fn forward(&self, x: &Variable) -> Variable {
        x.relu()
    }
}

/// Leaky ReLU, PyTorch's `nn.LeakyReLU` (default `negative_slope` 0.01).
#[derive(Clone, Copy, Debug)]
pub struct LeakyRelu {
    negative_slope: f64,
}

impl LeakyRelu {
    /// A leaky ReLU with slope 0.01 below zero.
    pub fn new() -> LeakyRelu {
        LeakyRelu { negative_slope: 0.01 }
    }

    /// Sets the slope below zero.
    #[must_use]
    pub fn negative_slope(mut self, s: f64) -> LeakyRelu {
        self.negative_slope = s;
        self
    }
}

impl Default for LeakyRelu {
    fn default() -> Self {
        LeakyRelu::new()
    }
}

impl Module for LeakyRelu {
    fn forward(&self, x: &Variable) -> Variable {
        F::leaky_relu(x, self.negative_slope)
    }
}

/// GELU, PyTorch's `nn.GELU`: the exact erf form by default, the tanh approximation with
/// `.approximate("tanh")`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Gelu {
    tanh: bool,
}

impl Gelu {
    /// The exact (erf) GELU.
    pub fn new() -> Gelu {
        Gelu { tanh: false }
    }

    /// `"none"` (exact) or `"tanh"` (approximation), as PyTorch's `approximate` argument.
    ///
    /// **Panics** on any other string.
    #[must_use]
    #[track_caller]
    pub fn approximate(mut self, mode: &str) -> Gelu {
        self.tanh = match mode {
            "none" => false,
            "tanh" => true,
            other => panic!("Gelu: approximate argument must be either none or tanh, got {other:?}"),
        };
        self
    }
}

impl Module for Gelu {
    fn forward(&self, x: &Variable) -> Variable {
        if self.tanh {
            F::gelu_tanh(x)
        } else {
            F::gelu(x)
        }
    }
}

/// SiLU (swish) `x * sigmoid(x)`, PyTorch's `nn.SiLU`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silu;

impl Silu {
    /// A SiLU layer.
    pub fn new() -> Silu {
        Silu
    }
}

impl Module for Silu {
    fn forward(&self, x: &Variable) -> Variable {
        F::silu(x)
    }
}

/// ELU, PyTorch's `nn.ELU` (default `alpha` 1).
#[derive(Clone, Copy, Debug)]
pub struct Elu {
    alpha: f64,
}

impl Elu {
    /// An ELU with `alpha = 1`.
    pub fn new() -> Elu {
        Elu { alpha: 1.0 }
    }

    /// Sets `alpha` (the value approached for large negative inputs is `-alpha`).
    #[must_use]
    pub fn alpha(mut self, alpha: f64) -> Elu {
        self.alpha = alpha;
        self
    }
}

impl Default for Elu {
    fn default() -> Self {
        Elu::new()
    }
}

impl Module for Elu {
    fn forward(&self, x: &Variable) -> Variable {
        F::elu(x, self.alpha)
    }
}

/// The hyperbolic tangent, PyTorch's `nn.Tanh`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tanh;

impl Tanh {
    /// A tanh layer.
    pub fn new() -> Tanh {
        Tanh
    }
}

impl Module for Tanh {
    fn forward(&self, x: &Variable) -> Variable {
        x.tanh()
    }
}

/// The logistic sigmoid, PyTorch's `nn.Sigmoid`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sigmoid;

impl Sigmoid {
    /// A sigmoid layer.
    pub fn new() -> Sigmoid {
        Sigmoid
    }
}

impl Module for Sigmoid {
    fn forward(&self, x: &Variable) -> Variable {
        x.sigmoid()
    }
}

/// Softmax along `dim`, PyTorch's `nn.Softmax(dim)`.
#[derive(Clone, Copy, Debug)]
pub struct Softmax {
    dim: isize,
}

impl Softmax {
    /// Softmax along `dim` (negative counts from the end).
    pub fn new(dim: isize) -> Softmax {
        Softmax { dim }
    }
}

impl Module for Softmax {
    #[track_caller]
    fn forward(&self, x: &Variable) -> Variable {
        F::softmax(x, self.dim)
    }
}

/// Log-softmax along `dim`, PyTorch's `nn.LogSoftmax(dim)`.
#[derive(Clone, Copy, Debug)]
pub struct LogSoftmax {
    dim: isize,
}

impl LogSoftmax {
    /// Log-softmax along `dim` (negative counts from the end).
    pub fn new(dim: isize) -> LogSoftmax {
        LogSoftmax { dim }
    }
}

impl Module for LogSoftmax {
    #[track_caller]
    fn forward(&self, x: &Variable) -> Variable {
        F::log_softmax(x, self.dim)
    }
}
