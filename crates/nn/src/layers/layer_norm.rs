//! `LayerNorm`: normalisation over the trailing dims of each sample, PyTorch's `nn.LayerNorm`, with
//! an elementwise affine `weight` (ones) and `bias` (zeros) of the normalised shape.
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_nn::{LayerNorm, Module};
//! use ember_tensor::Tensor;
//! let ln = LayerNorm::new(4);
//! let y = ln.forward(&Variable::from(Tensor::randn(&[2, 3, 4]) * 3.0 + 1.0));
//! let m = y.data().mean_dim(-1, false).to_vec::<f32>();
//! assert!(m.iter().all(|v| v.abs() < 1e-5));
//! assert_eq!(ln.num_parameters(), 8);
//! ```

use std::fmt;

use ember_autograd::Variable;
use ember_tensor::{Result, Tensor};

use crate::functional as F;
use crate::module::{forward_or_panic, layer_error};
use crate::{Module, TrainingFlag};

/// Layer normalisation over the last `normalized_shape.len()` dims, PyTorch's `nn.LayerNorm`
/// (eps 1e-5, elementwise affine with a bias by default).
pub struct LayerNorm {
    /// Elementwise scale of the normalised shape (`None` without `elementwise_affine`).
    pub weight: Option<Variable>,
    /// Elementwise shift of the normalised shape (`None` without affine or bias).
    pub bias: Option<Variable>,
    normalized_shape: Vec<usize>,
    eps: f64,
    training: TrainingFlag,
}

impl LayerNorm {
    /// Normalises over the last dim, of size `last_dim`.
    pub fn new(last_dim: usize) -> LayerNorm {
        LayerNorm::new_shape(&[last_dim])
    }

    /// Normalises over the trailing dims `normalized_shape` (e.g. `&[C, H, W]`).
    pub fn new_shape(normalized_shape: &[usize]) -> LayerNorm {
        LayerNorm {
            training: TrainingFlag::new(),
            weight: Some(Variable::new(Tensor::ones(normalized_shape), true)),
            bias: Some(Variable::new(Tensor::zeros(normalized_shape), true)),
            normalized_shape: normalized_shape.to_vec(),
            eps: 1e-5,
        }
    }

    /// Sets the value added to the variance before its square root.
    #[must_use]
    pub fn eps(mut self, eps: f64) -> LayerNorm {
        self.eps = eps;
        self
    }

    /// With or without the learnable `weight` and `bias` (PyTorch's `elementwise_affine`).
    #[must_use]
    pub fn elementwise_affine(self, on: bool) -> LayerNorm {
        let s = self.normalized_shape.clone();
        LayerNorm {
            weight: on.then(|| Variable::new(Tensor::ones(&s), true)),
            bias: on.then(|| Variable::new(Tensor::zeros(&s), true)),
            ..self
        }
    }

    /// With or without the `bias` (PyTorch's `bias=False`).
    #[must_use]
    pub fn bias(mut self, on: bool) -> LayerNorm {
        if !on {
            self.bias = None;
        } else if self.bias.is_none() && self.weight.is_some() {
            self.bias = Some(Variable::new(Tensor::zeros(&self.normalized_shape), true));
        }
        self
    }

    /// Checked forward: an input whose trailing dims are not the normalised shape gives an error
    /// naming the layer and shapes.
    pub fn try_forward(&self, x: &Variable) -> Result<Variable> {
        F::try_layer_norm(x, &self.normalized_shape, self.weight.as_ref(), self.bias.as_ref(), self.eps)
            .map_err(|e| layer_error("LayerNorm", self, e))
    }
}

impl fmt::Debug for LayerNorm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s: Vec<String> = self.normalized_shape.iter().map(|d| d.to_string()).collect();
        let tail = if s.len() == 1 { "," } else { "" };
        let affine = if self.weight.is_some() { "True" } else { "False" };
        write!(f, "LayerNorm(({}{tail}), eps={}, elementwise_affine={affine})", s.join(", "), self.eps)
    }
}

impl Module for LayerNorm {
    fn training_flag(&self) -> Option<&TrainingFlag> {
        Some(&self.training)
    }

    #[track_caller]
    fn forward(&self, x: &Variable) -> Variable {
        forward_or_panic(self.try_forward(x))
    }

    fn own_parameters(&self) -> Vec<(String, Variable)> {
        crate::module::weight_and_bias(self.weight.as_ref(), self.bias.as_ref())
    }
}
