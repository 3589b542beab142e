//! `ember-autograd`: `Variable`, the dynamic graph recorded as the program runs, and `backward`.
//!
//! This level is being built (see the autograd issue); it depends only on `ember-tensor`.
#![warn(missing_docs)]

pub use ember_tensor::Tensor;
