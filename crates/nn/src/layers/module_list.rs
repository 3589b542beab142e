//! `ModuleList`: modules held in a list, named `"0"`, `"1"`, ... in the state dict, PyTorch's
//! `nn.ModuleList`. It registers its modules (parameters, train/eval, devices, state dicts) but has
//! no forward of its own: the owner iterates.
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_nn::{Linear, Module, ModuleList};
//! use ember_tensor::Tensor;
//! let layers = ModuleList::new().add(Linear::new(4, 4)).add(Linear::new(4, 2));
//! let mut h = Variable::from(Tensor::ones(&[1, 4]));
//! for m in layers.iter() {
//!     h = m.forward(&h);
//! }
//! assert_eq!(h.shape(), vec![1, 2]);
//! let names: Vec<String> = layers.named_parameters().into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names, ["0.weight", "0.bias", "1.weight", "1.bias"]);
//! ```

use ember_autograd::Variable;

use crate::Module;

/// A list of modules, PyTorch's `nn.ModuleList`.
#[derive(Default)]
pub struct ModuleList {
    modules: Vec<Box<dyn Module>>,
    training: crate::TrainingFlag,
}

impl ModuleList {
    /// An empty list.
    pub fn new() -> ModuleList {
        ModuleList { modules: Vec::new(), training: crate::TrainingFlag::new() }
    }

    /// Appends a module (builder style).
    #[must_use]
    #[allow(clippy::should_implement_trait)]
    pub fn add<M: Module + 'static>(mut self, m: M) -> ModuleList {
        self.modules.push(Box::new(m));
        self
    }

    /// Appends a module in place (PyTorch's `append`).
    pub fn push<M: Module + 'static>(&mut self, m: M) {
        self.modules.push(Box::new(m));
    }

    /// Number of modules.
    pub fn len(&self) -> usize {
        self.modules.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.modules.is_empty()
    }

    /// The `i`-th module.
    pub fn get(&self, i: usize) -> Option<&dyn Module> {
        self.modules.get(i).map(|m| m.as_ref() as &dyn Module)
    }

    /// The modules in order.
    pub fn iter(&self) -> impl Iterator<Item = &dyn Module> {
        self.modules.iter().map(|m| m.as_ref() as &dyn Module)
    }
}

impl Module for ModuleList {
    /// **Panics**: a `ModuleList` only holds modules (as in PyTorch, it is not callable); iterate
    /// over [`ModuleList::iter`] instead.
    #[track_caller]
    fn forward(&self, _input: &Variable) -> Variable {
        panic!("ModuleList has no forward: iterate over its {} modules with iter() and call each", self.len())
    }

    fn set_own_training(&self, on: bool) {
        self.training.set(on);
    }

    fn is_training(&self) -> bool {
        self.training.get()
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.modules.iter().enumerate().map(|(i, m)| (i.to_string(), m.as_ref() as &dyn Module)).collect()
    }
}
