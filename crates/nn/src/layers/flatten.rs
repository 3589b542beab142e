//! `Flatten`: merges dims `start_dim..=end_dim` (PyTorch's defaults 1 and -1).

use ember_autograd::Variable;

use crate::Module;

/// Flattens dims `start_dim..=end_dim` into one, PyTorch's `nn.Flatten` (defaults 1, -1).
#[derive(Clone, Copy, Debug)]
pub struct Flatten {
    start_dim: isize,
    end_dim: isize,
}

impl Flatten {
    /// Flattens all dims but the first (the batch).
    pub fn new() -> Flatten {
        Flatten { start_dim: 1, end_dim: -1 }
    }

    /// Flattens `start..=end`.
    pub fn with_dims(start: isize, end: isize) -> Flatten {
        Flatten { start_dim: start, end_dim: end }
    }
}

impl Default for Flatten {
    fn default() -> Self {
        Flatten::new()
    }
}

impl Module for Flatten {
    fn forward(&self, x: &Variable) -> Variable {
        x.flatten(self.start_dim, self.end_dim)
    }
}
