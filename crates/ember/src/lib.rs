//! Ember: a deep-learning library for Rust with PyTorch's API.
//!
//! This facade re-exports the levels: [`tensor`] (n-d arrays on the CPU or a GPU), [`autograd`]
//! (`Variable` and the dynamic graph), [`nn`] (modules, layers, losses), [`optim`] (optimizers),
//! and adds [`data`] (datasets, loaders, file formats) and [`plot`] (PNG line charts). Most
//! programs start with `use ember::prelude::*;`; the [`guide`] is a tour for PyTorch users.
//!
//! ```
//! use ember::prelude::*;
//! ember::manual_seed(0);
//! let x = Variable::new(Tensor::randn(&[2, 3]), true);
//! let y = (&x * &x).sum();
//! y.backward();
//! let g = x.grad().unwrap();                        // d(sum x^2)/dx = 2x
//! assert_eq!(g.to_vec::<f32>(), (&x.data() * 2.0).to_vec::<f32>());
//! ```
#![doc(test(attr(deny(warnings))))]
#![warn(missing_docs)]

pub mod data;
pub mod plot;

pub use ember_autograd as autograd;
#[cfg(feature = "models")]
pub use ember_models as models;
pub use ember_optim as optim;
pub use ember_tensor as tensor;

pub use ember_autograd::{autocast, enable_grad, no_grad, Variable};
pub use ember_tensor::{manual_seed, DType, Device, Error, Tensor};

/// Modules, layers, losses, init, `functional`, state dicts: `ember-nn`, re-exported.
///
/// `use ember::nn::Module;` brings the trait and `#[derive(Module)]` together:
///
/// ```
/// use ember::nn::{self, Module};
/// use ember::Variable;
///
/// #[derive(Module)]
/// struct TwoTower { query: nn::Linear, doc: nn::Linear, #[module(skip)] dim: usize }
///
/// impl TwoTower {
///     fn score(&self, q: &Variable, d: &Variable) -> Variable {
///         (&self.query.forward(q) * &self.doc.forward(d)).sum_dim(-1, false)
///     }
/// }
///
/// let m = TwoTower { query: nn::Linear::new(4, 8), doc: nn::Linear::new(4, 8), dim: 8 };
/// let names: Vec<String> = m.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["query.weight", "query.bias", "doc.weight", "doc.bias"]);
/// let x = Variable::from(ember::Tensor::ones(&[3, 4]));
/// assert_eq!(m.score(&x, &x).shape(), vec![3]);
/// assert_eq!(m.dim, 8);
/// ```
pub mod nn {
    /// `#[derive(Module)]` for code using the `ember` facade (see `ember_derive`).
    pub use ember_derive::Module;
    pub use ember_nn::*;
}

/// `Result` with Ember's [`Error`]: what I/O, parsing and device creation return.
pub type Result<T> = std::result::Result<T, Error>;

/// The names most programs need: `use ember::prelude::*;`.
///
/// Brings `Tensor, DType, Device, Variable, Module, Optimizer, no_grad, nn, optim`.
///
/// ```
/// use ember::prelude::*;
/// let fc = nn::Linear::new(3, 2);
/// let y = no_grad(|| fc.forward(&Variable::from(Tensor::ones(&[1, 3]))));
/// assert!(!y.requires_grad());
/// assert_eq!((y.shape(), y.dtype(), y.device()), (vec![1, 2], DType::F32, Device::Cpu));
/// ```
pub mod prelude {
    pub use crate::nn::Module;
    pub use crate::{nn, optim};
    pub use ember_autograd::{no_grad, Variable};
    pub use ember_optim::Optimizer;
    pub use ember_tensor::{DType, Device, Tensor};
}

/// Data-parallel training over MPI (cargo feature `distributed`): `init`, the collectives,
/// `DistributedDataParallel` (the `ember-distributed` crate) and [`DistributedSampler`].
///
/// [`DistributedSampler`]: crate::data::DistributedSampler
#[cfg(feature = "distributed")]
pub mod distributed {
    pub use crate::data::DistributedSampler;
    pub use ember_distributed::*;
}

#[doc = include_str!("../guide.md")]
pub mod guide {}
