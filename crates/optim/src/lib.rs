//! `ember-optim`: optimizers, learning-rate schedulers and gradient clipping, with PyTorch's
//! semantics, defaults and names.
//!
//! - [`Optimizer`], implemented by [`Sgd`], [`Adam`], [`AdamW`], [`RmsProp`], [`Adagrad`],
//!   [`Adadelta`], [`Adamax`], [`NAdam`] and [`RAdam`]; each is built with `new(params, lr)` and
//!   builder options (`Sgd::new(params, 0.1).momentum(0.9)`), or over [`ParamGroup`]s with their
//!   own hyperparameters (`Sgd::with_groups(groups, lr)`). Updates run as tensor ops on the
//!   parameters' data, on whatever device it lives; no graph is recorded.
//! - LR schedulers: [`StepLr`], [`MultiStepLr`], [`ExponentialLr`], [`CosineAnnealingLr`],
//!   [`LinearLr`], [`LambdaLr`], [`OneCycleLr`] (all [`LrScheduler`]) and [`ReduceLrOnPlateau`].
//! - [`clip_grad_norm`] and [`clip_grad_value`].
//! - Checkpointing: [`Optimizer::save_state`] / [`Optimizer::load_state`] (safetensors; the
//!   layout is described at [`Optimizer::state_dict`]) resume training exactly.
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_optim::{clip_grad_norm, Adam, CosineAnnealingLr, LrScheduler};
//! use ember_tensor::Tensor;
//! // Fit w to minimize (w - 3)²
//! let w = Variable::new(Tensor::from_vec(vec![0.0f32], &[1]), true);
//! let mut opt = Adam::new(vec![w.clone()], 0.1);
//! let mut sched = CosineAnnealingLr::new(&mut opt, 300);
//! for _ in 0..300 {
//!     opt.zero_grad();
//!     let loss = (&w - 3.0).powf(2.0).sum();
//!     loss.backward();
//!     clip_grad_norm(&[w.clone()], 10.0, 2.0);
//!     opt.step();
//!     sched.step(&mut opt);
//! }
//! assert!((w.data().item::<f32>() - 3.0).abs() < 1e-2);
//! ```
#![doc(test(attr(deny(warnings))))]
#![warn(missing_docs)]

mod adadelta;
mod adagrad;
mod adam;
mod adamax;
mod clip;
mod core;
mod fused;
mod grad_scaler;
mod group;
mod nadam;
mod optimizer;
mod radam;
mod rmsprop;
pub mod scheduler;
mod sgd;
mod state;

pub use adadelta::Adadelta;
pub use adagrad::Adagrad;
pub use adam::{Adam, AdamW};
pub use adamax::Adamax;
pub use clip::{clip_grad_norm, clip_grad_value, try_clip_grad_norm};
pub use grad_scaler::{GradScaler, GradScalerState};
pub use group::ParamGroup;
pub use nadam::NAdam;
pub use optimizer::Optimizer;
pub use radam::RAdam;
pub use rmsprop::RmsProp;
pub use scheduler::{
    Anneal, CosineAnnealingLr, ExponentialLr, LambdaLr, LinearLr, LrLambda, LrScheduler, MultiStepLr, OneCycleLr,
    OneCycleOptions, PlateauMode, ReduceLrOnPlateau, StepLr, ThresholdMode,
};
pub use sgd::Sgd;

pub use ember_autograd;
