//! `Identity`: returns its input, PyTorch's `nn.Identity` (a placeholder, e.g. for a removed head).
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_nn::{Identity, Module};
//! use ember_tensor::Tensor;
//! let x = Variable::from(Tensor::ones(&[2, 3]));
//! assert!(Identity::new().forward(&x).same(&x));
//! ```

use ember_autograd::Variable;

use crate::Module;

/// The identity map, PyTorch's `nn.Identity`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Identity;

impl Identity {
    /// An identity layer.
    pub fn new() -> Identity {
        Identity
    }
}

impl Module for Identity {
    fn forward(&self, x: &Variable) -> Variable {
        x.clone()
    }
}
