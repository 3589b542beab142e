//! `Bilinear`: `y = x1ᵀ W x2 + b` per output feature, PyTorch's `nn.Bilinear` (weight
//! `[out, in1, in2]` and bias `[out]`, both uniform in `±1/√in1`). It takes two inputs: call
//! [`Bilinear::forward2`]; the one-input `Module::forward` panics.
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_nn::{Bilinear, Module};
//! use ember_tensor::Tensor;
//! let bl = Bilinear::new(3, 4, 2);
//! let y = bl.forward2(&Variable::from(Tensor::ones(&[5, 3])), &Variable::from(Tensor::ones(&[5, 4])));
//! assert_eq!(y.shape(), vec![5, 2]);
//! assert_eq!(bl.num_parameters(), 2 * 3 * 4 + 2);
//! ```

use std::fmt;

use ember_autograd::Variable;
use ember_tensor::Result;

use crate::functional as F;
use crate::module::{forward_or_panic, layer_error};
use crate::{init, Module, TrainingFlag};

/// A bilinear map of two inputs, PyTorch's `nn.Bilinear`.
pub struct Bilinear {
    /// `[out_features, in1_features, in2_features]`.
    pub weight: Variable,
    /// `[out_features]`, if the layer has a bias.
    pub bias: Option<Variable>,
    in1: usize,
    in2: usize,
    out: usize,
    training: TrainingFlag,
}

impl Bilinear {
    /// A map from `[.., in1_features]` and `[.., in2_features]` to `[.., out_features]`, with a bias.
    ///
    /// **Panics** (never aborts) when the weights cannot be allocated; see [`Bilinear::try_new`].
    #[track_caller]
    pub fn new(in1_features: usize, in2_features: usize, out_features: usize) -> Bilinear {
        Bilinear::try_new(in1_features, in2_features, out_features).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Bilinear::new`] returning `Error::OutOfMemory` (or the overflow error naming the shape)
    /// when the weights cannot be allocated.
    pub fn try_new(in1_features: usize, in2_features: usize, out_features: usize) -> Result<Bilinear> {
        let bound = if in1_features > 0 { 1.0 / (in1_features as f64).sqrt() } else { 0.0 };
        let weight =
            Variable::new(init::try_uniform(&[out_features, in1_features, in2_features], -bound, bound)?, true);
        let bias = Some(Variable::new(init::try_uniform(&[out_features], -bound, bound)?, true));
        Ok(Bilinear {
            training: TrainingFlag::new(),
            weight,
            bias,
            in1: in1_features,
            in2: in2_features,
            out: out_features,
        })
    }

    /// With or without a bias (`bias=False` drops it).
    #[must_use]
    pub fn bias(mut self, on: bool) -> Bilinear {
        if !on {
            self.bias = None;
        } else if self.bias.is_none() {
            let bound = if self.in1 > 0 { 1.0 / (self.in1 as f64).sqrt() } else { 0.0 };
            self.bias = Some(Variable::new(init::uniform(&[self.out], -bound, bound), true));
        }
        self
    }

    /// The layer on its two inputs (same leading dims).
    ///
    /// **Panics** when the shapes do not fit; see [`Bilinear::try_forward2`].
    #[track_caller]
    pub fn forward2(&self, input1: &Variable, input2: &Variable) -> Variable {
        forward_or_panic(self.try_forward2(input1, input2))
    }

    /// Checked form of [`Bilinear::forward2`]: the error names the layer and the shapes.
    pub fn try_forward2(&self, input1: &Variable, input2: &Variable) -> Result<Variable> {
        F::try_bilinear(input1, input2, &self.weight, self.bias.as_ref()).map_err(|e| layer_error("Bilinear", self, e))
    }
}

impl fmt::Debug for Bilinear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Bilinear(in1_features={}, in2_features={}, out_features={}, bias={})",
            self.in1,
            self.in2,
            self.out,
            if self.bias.is_some() { "True" } else { "False" }
        )
    }
}

impl Module for Bilinear {
    fn training_flag(&self) -> Option<&TrainingFlag> {
        Some(&self.training)
    }

    /// **Panics**: `Bilinear` takes two inputs; call [`Bilinear::forward2`].
    #[track_caller]
    fn forward(&self, _input: &Variable) -> Variable {
        panic!("Bilinear takes two inputs (input1, input2): call forward2(&input1, &input2)")
    }

    fn own_parameters(&self) -> Vec<(String, Variable)> {
        crate::module::weight_and_bias(Some(&self.weight), self.bias.as_ref())
    }
}
