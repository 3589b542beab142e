//! `RmsNorm`: `x / sqrt(mean(x²) + eps) * weight` over the trailing dims, PyTorch's `nn.RMSNorm`
//! (`eps = None` by default: the machine epsilon of the input's dtype).
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_nn::{Module, RmsNorm};
//! use ember_tensor::Tensor;
//! let rms = RmsNorm::new(2);
//! let y = rms.forward(&Variable::from(Tensor::from_vec(vec![3.0f32, 4.0], &[1, 2])));
//! let want = [3.0 / 12.5f32.sqrt(), 4.0 / 12.5f32.sqrt()];
//! assert!(y.to_vec::<f32>().iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6));
//! ```

use std::fmt;

use ember_autograd::Variable;
use ember_tensor::{Result, Tensor};

use crate::functional as F;
use crate::module::{forward_or_panic, layer_error};
use crate::{Module, TrainingFlag};

/// RMS normalisation over the last `normalized_shape.len()` dims, PyTorch's `nn.RMSNorm`.
pub struct RmsNorm {
    /// Elementwise scale of the normalised shape, ones at first (`None` without affine).
    pub weight: Option<Variable>,
    normalized_shape: Vec<usize>,
    eps: Option<f64>,
    training: TrainingFlag,
}

impl RmsNorm {
    /// Normalises over the last dim, of size `last_dim`.
    pub fn new(last_dim: usize) -> RmsNorm {
        RmsNorm::new_shape(&[last_dim])
    }

    /// Normalises over the trailing dims `normalized_shape`.
    pub fn new_shape(normalized_shape: &[usize]) -> RmsNorm {
        RmsNorm {
            training: TrainingFlag::new(),
            weight: Some(Variable::new(Tensor::ones(normalized_shape), true)),
            normalized_shape: normalized_shape.to_vec(),
            eps: None,
        }
    }

    /// Sets the value added to the mean square (`None`: the dtype's machine epsilon).
    #[must_use]
    pub fn eps(mut self, eps: impl Into<Option<f64>>) -> RmsNorm {
        self.eps = eps.into();
        self
    }

    /// With or without the learnable `weight` (PyTorch's `elementwise_affine`).
    #[must_use]
    pub fn elementwise_affine(mut self, on: bool) -> RmsNorm {
        self.weight = on.then(|| Variable::new(Tensor::ones(&self.normalized_shape), true));
        self
    }

    /// Checked forward: an input whose trailing dims are not the normalised shape gives an error
    /// naming the layer and shapes.
    pub fn try_forward(&self, x: &Variable) -> Result<Variable> {
        F::try_rms_norm(x, &self.normalized_shape, self.weight.as_ref(), self.eps)
            .map_err(|e| layer_error("RmsNorm", self, e))
    }
}

impl fmt::Debug for RmsNorm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s: Vec<String> = self.normalized_shape.iter().map(|d| d.to_string()).collect();
        let tail = if s.len() == 1 { "," } else { "" };
        let eps = self.eps.map_or("None".to_string(), |e| e.to_string());
        let affine = if self.weight.is_some() { "True" } else { "False" };
        write!(f, "RmsNorm(({}{tail}), eps={eps}, elementwise_affine={affine})", s.join(", "))
    }
}

impl Module for RmsNorm {
    fn training_flag(&self) -> Option<&TrainingFlag> {
        Some(&self.training)
    }

    #[track_caller]
    fn forward(&self, x: &Variable) -> Variable {
        forward_or_panic(self.try_forward(x))
    }

    fn own_parameters(&self) -> Vec<(String, Variable)> {
        self.weight.iter().map(|w| ("weight".to_string(), w.clone())).collect()
    }
}
