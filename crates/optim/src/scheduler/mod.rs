//! Learning-rate schedulers, PyTorch's `torch.optim.lr_scheduler`.
//!
//! A scheduler does not hold its optimizer: it is built from `&mut` the optimizer (which, as in
//! PyTorch, sets the learning rates for epoch 0) and each [`LrScheduler::step`] is handed the
//! optimizer again, computes the learning rates of the next epoch and sets them. So the usual
//! loop borrows nothing for longer than a call:
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_optim::{LrScheduler, Sgd, StepLr};
//! use ember_tensor::Tensor;
//! let w = Variable::new(Tensor::zeros(&[2]), true);
//! let mut opt = Sgd::new(vec![w.clone()], 0.1);
//! let mut sched = StepLr::new(&mut opt, 2).gamma(0.5);
//! let mut seen = vec![];
//! for _epoch in 0..5 {
//!     seen.push(opt.lr()); // ... train one epoch with `opt` ...
//!     sched.step(&mut opt);
//! }
//! assert_eq!(seen, vec![0.1, 0.1, 0.05, 0.05, 0.025]);
//! assert_eq!(sched.get_last_lr(), vec![0.025]);
//! ```
//!
//! Like PyTorch's, the schedulers are *chainable*: most compute the next rate from the rate the
//! optimizer holds now (recursive forms), so several schedulers may act on one optimizer and a
//! rate set by hand carries on. The first scheduler built on an optimizer records each group's
//! rate as `initial_lr` in the optimizer; later ones start from it, as in PyTorch.

mod cosine;
mod lambda;
mod linear;
mod one_cycle;
mod plateau;
mod step;

pub use cosine::CosineAnnealingLr;
pub use lambda::{LambdaLr, LrLambda};
pub use linear::LinearLr;
pub use one_cycle::{Anneal, OneCycleLr, OneCycleOptions};
pub use plateau::{PlateauMode, ReduceLrOnPlateau, ThresholdMode};
pub use step::{ExponentialLr, MultiStepLr, StepLr};

use crate::Optimizer;

/// An epoch-indexed learning-rate schedule (every scheduler but [`ReduceLrOnPlateau`], whose
/// `step` also takes the metric).
pub trait LrScheduler {
    /// Advances one epoch (one batch for [`OneCycleLr`]) and sets the optimizer's learning rates
    /// for it. Call it after the optimizer's `step`, as in PyTorch.
    ///
    /// **Panics** when `opt` has another number of parameter groups than the optimizer the
    /// scheduler was built on.
    fn step(&mut self, opt: &mut dyn Optimizer);

    /// The learning rate of every group as last set by this scheduler.
    fn get_last_lr(&self) -> Vec<f64>;

    /// The index of the current epoch (0 right after construction).
    fn last_epoch(&self) -> i64;
}

/// What every epoch-indexed scheduler keeps: its epoch, the groups' base rates, the last rates.
#[derive(Debug)]
pub(crate) struct Base {
    pub(crate) name: &'static str,
    pub(crate) last_epoch: i64,
    pub(crate) base_lrs: Vec<f64>,
    pub(crate) last_lr: Vec<f64>,
}

impl Base {
    /// Attaches to `opt`: each group's `initial_lr` (recorded now if no scheduler did before) is
    /// its base rate.
    pub(crate) fn attach(name: &'static str, opt: &mut dyn Optimizer) -> Base {
        let lrs = opt.group_lrs();
        let base_lrs = lrs
            .iter()
            .enumerate()
            .map(|(g, &lr)| match opt.hyper(g, "initial_lr") {
                Some(v) => v,
                None => {
                    // An optimizer that cannot store it simply gets no record.
                    let _ = opt.set_hyper(g, "initial_lr", lr);
                    lr
                }
            })
            .collect();
        Base { name, last_epoch: -1, base_lrs, last_lr: lrs }
    }

    /// **Panics** when `opt` does not have the groups this scheduler was built for.
    #[track_caller]
    pub(crate) fn check(&self, opt: &dyn Optimizer) {
        let n = opt.num_param_groups();
        if n != self.base_lrs.len() {
            panic!(
                "{}: the optimizer has {n} parameter groups, the scheduler was built for {}",
                self.name,
                self.base_lrs.len()
            );
        }
    }

    /// Sets the rates computed for the current epoch.
    #[track_caller]
    pub(crate) fn apply(&mut self, opt: &mut dyn Optimizer, lrs: Vec<f64>) {
        for (g, lr) in lrs.into_iter().enumerate() {
            opt.set_group_lr(g, lr);
        }
        self.last_lr = opt.group_lrs();
    }
}

/// Implements [`LrScheduler`] for a scheduler with a `base: Base` field and a
/// `compute(&mut self, opt, initial) -> Vec<f64>` method (PyTorch's `get_lr`), plus the initial
/// step every constructor takes.
macro_rules! impl_scheduler {
    ($ty:ty) => {
        impl $ty {
            /// PyTorch's `_initial_step`: epoch 0's rates, set at construction.
            #[track_caller]
            fn initial_step(mut self, opt: &mut dyn $crate::Optimizer) -> Self {
                self.base.last_epoch = 0;
                let lrs = self.compute(opt, true);
                self.base.apply(opt, lrs);
                self
            }
        }

        impl $crate::LrScheduler for $ty {
            #[track_caller]
            fn step(&mut self, opt: &mut dyn $crate::Optimizer) {
                self.base.check(opt);
                self.base.last_epoch += 1;
                let lrs = self.compute(opt, false);
                self.base.apply(opt, lrs);
            }

            fn get_last_lr(&self) -> Vec<f64> {
                self.base.last_lr.clone()
            }

            fn last_epoch(&self) -> i64 {
                self.base.last_epoch
            }
        }
    };
}
pub(crate) use impl_scheduler;
