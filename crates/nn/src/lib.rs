//! `ember-nn`: modules, layers, losses and state dicts.
//!
//! This level is being built (see the nn issue); it depends on `ember-autograd` and `ember-tensor`.
#![warn(missing_docs)]

pub use ember_autograd;
