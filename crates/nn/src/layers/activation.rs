//! Activation layers: thin modules over the Variable ops.

use ember_autograd::Variable;

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
