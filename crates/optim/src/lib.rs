//! `ember-optim`: optimizers, learning-rate schedulers and gradient clipping.
//!
//! This level is being built (see the nn/optim issue); it depends on `ember-autograd`.
#![warn(missing_docs)]

pub use ember_autograd;
