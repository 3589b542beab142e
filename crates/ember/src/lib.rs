//! Ember: a deep-learning library for Rust with PyTorch's API.
//!
//! This facade re-exports the levels: [`tensor`] (n-d arrays), [`autograd`], [`nn`], [`optim`].
//!
//! ```
//! use ember::prelude::*;
//! ember::manual_seed(0);
//! let x = Tensor::randn(&[2, 3]);
//! assert_eq!(x.shape(), &[2, 3]);
//! ```
#![warn(missing_docs)]

pub use ember_autograd as autograd;
pub use ember_nn as nn;
pub use ember_optim as optim;
pub use ember_tensor as tensor;
pub use ember_tensor::{manual_seed, DType, Device, Error, Result, Tensor};

/// The names most programs need: `use ember::prelude::*;`.
pub mod prelude {
    pub use crate::{nn, optim};
    pub use ember_tensor::{DType, Device, Tensor};
}
