//! `ember-nn`: modules with trainable weights, layers, losses and state dicts, as `torch.nn`.
//!
//! A [`Module`] holds parameters as [`Variable`](ember_autograd::Variable)s; `forward` builds the
//! autograd graph; `named_parameters` and `state_dict` use PyTorch's names, so weights move between
//! Ember and PyTorch through safetensors files.
#![warn(missing_docs)]

pub mod functional;
pub mod init;
mod layers;
pub mod loss;
mod module;

pub use layers::*;
pub use loss::*;
pub use module::{IncompatibleKeys, Module, TrainingFlag};

/// `#[derive(Module)]`: writes `children`, `own_parameters` and `own_buffers` from a struct's
/// fields with PyTorch's names (see the `ember-derive` crate); `use ember_nn::Module;` brings it
/// with the trait.
pub use ember_derive::NnModule as Module;

#[doc(hidden)]
pub use module::derive_support as __derive;
