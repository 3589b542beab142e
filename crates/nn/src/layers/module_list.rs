//! `ModuleList`: modules held in a list, named `"0"`, `"1"`, ... in the state dict, PyTorch's
//! `nn.ModuleList`. It registers its modules (parameters, train/eval, devices, state dicts) but has
//! no forward of its own: the owner iterates.
//!
//! `ModuleList` alone is a list of boxed modules of any kinds (`ModuleList<Box<dyn Module>>`);
//! `ModuleList<T>` holds one kind, and [`get`](ModuleList::get) and [`iter`](ModuleList::iter)
//! give `&T`, so a layer's own methods (several inputs, options) stay in reach.
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_nn::{Bilinear, Linear, Module, ModuleList};
//! use ember_tensor::Tensor;
//! let layers = ModuleList::new().add(Linear::new(4, 4)).add(Linear::new(4, 2));
//! let mut h = Variable::from(Tensor::ones(&[1, 4]));
//! for m in layers.iter() {
//!     h = m.forward(&h);
//! }
//! assert_eq!(h.shape(), vec![1, 2]);
//! let names: Vec<String> = layers.named_parameters().into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names, ["0.weight", "0.bias", "1.weight", "1.bias"]);
//!
//! // typed: `get` returns `&Bilinear`, whose two-input `forward2` is in reach
//! let typed: ModuleList<Bilinear> = (0..2).map(|_| Bilinear::new(3, 3, 3)).collect();
//! let x = Variable::from(Tensor::ones(&[1, 3]));
//! assert_eq!(typed.get(1).unwrap().forward2(&x, &x).shape(), vec![1, 3]);
//! assert_eq!(typed[0].forward2(&x, &x).shape(), vec![1, 3]);
//! ```

use std::ops::Index;

use ember_autograd::Variable;

use crate::{Module, TrainingFlag};

/// A list of modules, PyTorch's `nn.ModuleList`: of any kinds (`ModuleList`, boxed) or of one
/// kind `T` (`ModuleList<T>`, whose items keep their type).
pub struct ModuleList<T: Module = Box<dyn Module>> {
    modules: Vec<T>,
    training: TrainingFlag,
}

impl ModuleList {
    /// An empty list of modules of any kinds (for one kind, collect or use [`ModuleList::from_vec`]).
    pub fn new() -> ModuleList {
        ModuleList::default()
    }

    /// Appends a module (builder style).
    #[must_use]
    #[allow(clippy::should_implement_trait)]
    pub fn add<M: Module + 'static>(mut self, m: M) -> ModuleList {
        self.modules.push(Box::new(m));
        self
    }

    /// Appends a module in place.
    pub fn push<M: Module + 'static>(&mut self, m: M) {
        self.modules.push(Box::new(m));
    }
}

impl<T: Module> ModuleList<T> {
    /// A list holding `modules`, named `"0"`, `"1"`, ... in order.
    pub fn from_vec(modules: Vec<T>) -> ModuleList<T> {
        ModuleList { modules, training: TrainingFlag::new() }
    }

    /// Appends a module of the list's kind (PyTorch's `append`).
    pub fn append(&mut self, m: T) {
        self.modules.push(m);
    }

    /// Number of modules.
    pub fn len(&self) -> usize {
        self.modules.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.modules.is_empty()
    }

    /// The `i`-th module, `None` past the end.
    pub fn get(&self, i: usize) -> Option<&T> {
        self.modules.get(i)
    }

    /// The modules in order.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.modules.iter()
    }
}

impl<T: Module> Default for ModuleList<T> {
    fn default() -> Self {
        ModuleList::from_vec(Vec::new())
    }
}

impl<T: Module> FromIterator<T> for ModuleList<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        ModuleList::from_vec(iter.into_iter().collect())
    }
}

impl<'a, T: Module> IntoIterator for &'a ModuleList<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.modules.iter()
    }
}

impl<T: Module> Index<usize> for ModuleList<T> {
    type Output = T;
    /// **Panics** past the end, naming the index and the length.
    #[track_caller]
    fn index(&self, i: usize) -> &T {
        match self.modules.get(i) {
            Some(m) => m,
            None => panic!("ModuleList: index {i} is out of range for a list of {} modules", self.len()),
        }
    }
}

impl<T: Module> Module for ModuleList<T> {
    /// **Panics**: a `ModuleList` only holds modules (as in PyTorch, it is not callable); iterate
    /// over [`ModuleList::iter`] instead.
    #[track_caller]
    fn forward(&self, _input: &Variable) -> Variable {
        panic!("ModuleList has no forward: iterate over its {} modules with iter() and call each", self.len())
    }

    fn training_flag(&self) -> Option<&TrainingFlag> {
        Some(&self.training)
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.modules.iter().enumerate().map(|(i, m)| (i.to_string(), m as &dyn Module)).collect()
    }
}
