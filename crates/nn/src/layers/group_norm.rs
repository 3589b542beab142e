//! `GroupNorm`: normalisation over groups of channels of each sample, PyTorch's `nn.GroupNorm`,
//! with a per-channel affine `weight` (ones) and `bias` (zeros).
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_nn::{GroupNorm, Module};
//! use ember_tensor::Tensor;
//! let gn = GroupNorm::new(2, 4);
//! let y = gn.forward(&Variable::from(Tensor::randn(&[3, 4, 5])));
//! assert_eq!(y.shape(), vec![3, 4, 5]);
//! assert_eq!(gn.num_parameters(), 8);
//! ```

use std::fmt;

use ember_autograd::Variable;
use ember_tensor::{Result, Tensor};

use crate::functional as F;
use crate::module::{forward_or_panic, layer_error};
use crate::{Module, TrainingFlag};

/// Group normalisation of `[N, C, *]` in `num_groups` groups of `C / num_groups` channels,
/// PyTorch's `nn.GroupNorm` (eps 1e-5, affine by default).
pub struct GroupNorm {
    /// Per-channel scale `[C]` (`None` without `affine`).
    pub weight: Option<Variable>,
    /// Per-channel shift `[C]` (`None` without `affine`).
    pub bias: Option<Variable>,
    num_groups: usize,
    num_channels: usize,
    eps: f64,
    training: TrainingFlag,
}

impl GroupNorm {
    /// `num_channels` channels in `num_groups` groups.
    ///
    /// **Panics** when `num_groups` does not divide `num_channels`.
    #[track_caller]
    pub fn new(num_groups: usize, num_channels: usize) -> GroupNorm {
        if num_groups == 0 || !num_channels.is_multiple_of(num_groups) {
            panic!("GroupNorm: num_channels={num_channels} must be divisible by num_groups={num_groups}");
        }
        GroupNorm {
            training: TrainingFlag::new(),
            weight: Some(Variable::new(Tensor::ones(&[num_channels]), true)),
            bias: Some(Variable::new(Tensor::zeros(&[num_channels]), true)),
            num_groups,
            num_channels,
            eps: 1e-5,
        }
    }

    /// Sets the value added to the variance before its square root.
    #[must_use]
    pub fn eps(mut self, eps: f64) -> GroupNorm {
        self.eps = eps;
        self
    }

    /// With or without the learnable per-channel `weight` and `bias`.
    #[must_use]
    pub fn affine(mut self, on: bool) -> GroupNorm {
        let c = self.num_channels;
        self.weight = on.then(|| Variable::new(Tensor::ones(&[c]), true));
        self.bias = on.then(|| Variable::new(Tensor::zeros(&[c]), true));
        self
    }

    /// Checked forward: a wrong rank or channel count gives an error naming the layer and shape.
    pub fn try_forward(&self, x: &Variable) -> Result<Variable> {
        let shape = x.shape();
        if shape.len() < 2 || shape[1] != self.num_channels {
            return Err(layer_error(
                "GroupNorm",
                self,
                ember_tensor::Error::InvalidArgument {
                    op: "group_norm",
                    msg: format!("expected input of shape [N, {}, *], got input of shape {shape:?}", self.num_channels),
                },
            ));
        }
        F::try_group_norm(x, self.num_groups, self.weight.as_ref(), self.bias.as_ref(), self.eps)
            .map_err(|e| layer_error("GroupNorm", self, e))
    }
}

impl fmt::Debug for GroupNorm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let affine = if self.weight.is_some() { "True" } else { "False" };
        write!(f, "GroupNorm({}, {}, eps={}, affine={affine})", self.num_groups, self.num_channels, self.eps)
    }
}

impl Module for GroupNorm {
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
