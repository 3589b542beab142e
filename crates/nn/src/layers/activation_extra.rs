//! More activation layers: `PRelu` (learned slope), `Hardtanh`, `Mish`, `Hardswish`.
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_nn::{Hardtanh, Module, PRelu};
//! use ember_tensor::Tensor;
//! let x = Variable::from(Tensor::from_vec(vec![-2.0f32, 3.0], &[2]));
//! assert_eq!(PRelu::new().forward(&x).to_vec::<f32>(), vec![-0.5, 3.0]);
//! assert_eq!(Hardtanh::new().max_val(2.0).forward(&x).to_vec::<f32>(), vec![-1.0, 2.0]);
//! ```

use ember_autograd::Variable;
use ember_tensor::{Result, Tensor};

use crate::functional as F;
use crate::module::forward_or_panic;
use crate::{Module, TrainingFlag};

/// `max(0, x) + a min(0, x)` with a learned slope `a`, PyTorch's `nn.PReLU(num_parameters=1,
/// init=0.25)`: `weight` `[num_parameters]`, one shared slope or one per channel (dim 1).
pub struct PRelu {
    training: TrainingFlag,
    /// The slopes, `[num_parameters]`.
    pub weight: Variable,
}

impl PRelu {
    /// One shared slope, initialised to 0.25.
    pub fn new() -> PRelu {
        PRelu { training: TrainingFlag::new(), weight: Variable::new(Tensor::full(&[1], 0.25), true) }
    }

    /// `n` slopes (one per channel), each set to the current initial value.
    #[must_use]
    pub fn num_parameters(self, n: usize) -> PRelu {
        let v = self.weight.to_vec::<f32>()[0] as f64;
        PRelu { training: TrainingFlag::new(), weight: Variable::new(Tensor::full(&[n], v), true) }
    }

    /// The initial slope (default 0.25).
    #[must_use]
    pub fn init(self, a: f64) -> PRelu {
        PRelu { training: TrainingFlag::new(), weight: Variable::new(Tensor::full(&self.weight.shape(), a), true) }
    }

    /// Checked forward: fails when the slopes fit neither one shared slope nor the channels.
    pub fn try_forward(&self, x: &Variable) -> Result<Variable> {
        F::try_prelu(x, &self.weight)
    }
}

impl Default for PRelu {
    fn default() -> Self {
        PRelu::new()
    }
}

impl Module for PRelu {
    /// This layer's own train/eval flag, so `eval()` reaches a user module made of such layers.
    fn training_flag(&self) -> Option<&TrainingFlag> {
        Some(&self.training)
    }
    #[track_caller]
    fn forward(&self, x: &Variable) -> Variable {
        forward_or_panic(self.try_forward(x))
    }

    fn own_parameters(&self) -> Vec<(String, Variable)> {
        vec![("weight".to_string(), self.weight.clone())]
    }
}

/// `clamp(x, min_val, max_val)`, PyTorch's `nn.Hardtanh` (defaults -1, 1).
#[derive(Clone, Copy, Debug)]
pub struct Hardtanh {
    min_val: f64,
    max_val: f64,
}

impl Hardtanh {
    /// Clamps into `[-1, 1]`.
    pub fn new() -> Hardtanh {
        Hardtanh { min_val: -1.0, max_val: 1.0 }
    }

    /// The lower bound (default -1).
    #[must_use]
    pub fn min_val(mut self, v: f64) -> Hardtanh {
        self.min_val = v;
        self
    }

    /// The upper bound (default 1).
    #[must_use]
    pub fn max_val(mut self, v: f64) -> Hardtanh {
        self.max_val = v;
        self
    }
}

impl Default for Hardtanh {
    fn default() -> Self {
        Hardtanh::new()
    }
}

impl Module for Hardtanh {
    fn forward(&self, x: &Variable) -> Variable {
        F::hardtanh(x, self.min_val, self.max_val)
    }
}

/// `x tanh(softplus(x))`, PyTorch's `nn.Mish`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mish;

impl Mish {
    /// The Mish activation.
    pub fn new() -> Mish {
        Mish
    }
}

impl Module for Mish {
    fn forward(&self, x: &Variable) -> Variable {
        F::mish(x)
    }
}

/// `x relu6(x + 3) / 6`, PyTorch's `nn.Hardswish`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Hardswish;

impl Hardswish {
    /// The hard-swish activation.
    pub fn new() -> Hardswish {
        Hardswish
    }
}

impl Module for Hardswish {
    fn forward(&self, x: &Variable) -> Variable {
        F::hardswish(x)
    }
}
