//! `Sequential`: modules applied in order; children named "0", "1", ... as in PyTorch.

use ember_autograd::Variable;

use crate::Module;

/// Modules applied one after another, PyTorch's `nn.Sequential`.
///
/// ```
/// use ember_nn::{Linear, Module, Relu, Sequential};
/// let m = Sequential::new().add(Linear::new(4, 8)).add(Relu::new()).add(Linear::new(8, 2));
/// let names: Vec<String> = m.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
/// ```
#[derive(Default)]
pub struct Sequential {
    layers: Vec<Box<dyn Module>>,
    training: crate::TrainingFlag,
}

impl Sequential {
    /// An empty container.
    pub fn new() -> Sequential {
        Sequential { layers: Vec::new(), training: crate::TrainingFlag::new() }
    }

    /// Appends a module (builder style).
    #[must_use]
    #[allow(clippy::should_implement_trait)]
    pub fn add<M: Module + 'static>(mut self, m: M) -> Sequential {
        self.layers.push(Box::new(m));
        self
    }

    /// Appends a module in place.
    pub fn push<M: Module + 'static>(&mut self, m: M) {
        self.layers.push(Box::new(m));
    }

    /// Number of modules.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The `i`-th module.
    pub fn get(&self, i: usize) -> Option<&dyn Module> {
        self.layers.get(i).map(|m| m.as_ref() as &dyn Module)
    }
}

impl Module for Sequential {
    fn forward(&self, x: &Variable) -> Variable {
        let mut h = x.clone();
        for m in &self.layers {
            h = m.forward(&h);
        }
        h
    }

    fn set_own_training(&self, on: bool) {
        self.training.set(on);
    }

    fn is_training(&self) -> bool {
        self.training.get()
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.layers.iter().enumerate().map(|(i, m)| (i.to_string(), m.as_ref() as &dyn Module)).collect()
    }
}
