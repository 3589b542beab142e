//! Multiplicative decays: [`StepLr`], [`MultiStepLr`], [`ExponentialLr`].

use super::{impl_scheduler, Base};
use crate::Optimizer;

/// Multiplies the learning rate by `gamma` every `step_size` epochs (PyTorch's `StepLR`).
///
/// ```
/// use ember_autograd::Variable;
/// use ember_optim::{LrScheduler, Sgd, StepLr};
/// use ember_tensor::Tensor;
/// let mut opt = Sgd::new(vec![Variable::new(Tensor::zeros(&[1]), true)], 1.0);
/// let mut s = StepLr::new(&mut opt, 3); // gamma 0.1
/// let lrs: Vec<f64> = (0..7).map(|_| { s.step(&mut opt); opt.lr() }).collect();
/// assert_eq!(lrs[1], 1.0);
/// assert!((lrs[2] - 0.1).abs() < 1e-12 && (lrs[5] - 0.01).abs() < 1e-12);
/// ```
#[derive(Debug)]
pub struct StepLr {
    base: Base,
    step_size: usize,
    gamma: f64,
}

impl StepLr {
    /// Decays every `step_size` epochs by the default `gamma` 0.1.
    ///
    /// **Panics** when `step_size` is 0.
    #[track_caller]
    pub fn new(opt: &mut dyn Optimizer, step_size: usize) -> StepLr {
        if step_size == 0 {
            panic!("StepLr: step_size must be positive, got 0");
        }
        StepLr { base: Base::attach("StepLr", opt), step_size, gamma: 0.1 }.initial_step(opt)
    }

    /// The decay factor (default 0.1).
    #[must_use]
    pub fn gamma(mut self, gamma: f64) -> StepLr {
        self.gamma = gamma;
        self
    }

    fn compute(&mut self, opt: &mut dyn Optimizer, _initial: bool) -> Vec<f64> {
        let e = self.base.last_epoch;
        let lrs = opt.group_lrs();
        if e == 0 || e % self.step_size as i64 != 0 {
            return lrs;
        }
        lrs.into_iter().map(|lr| lr * self.gamma).collect()
    }
}

impl_scheduler!(StepLr);

/// Multiplies the learning rate by `gamma` at each milestone epoch (by `gamma^n` at a milestone
/// listed `n` times), PyTorch's `MultiStepLR`.
///
/// ```
/// use ember_autograd::Variable;
/// use ember_optim::{LrScheduler, MultiStepLr, Sgd};
/// use ember_tensor::Tensor;
/// let mut opt = Sgd::new(vec![Variable::new(Tensor::zeros(&[1]), true)], 1.0);
/// let mut s = MultiStepLr::new(&mut opt, &[1, 3]).gamma(0.5);
/// let lrs: Vec<f64> = (0..4).map(|_| { s.step(&mut opt); opt.lr() }).collect();
/// assert_eq!(lrs, vec![0.5, 0.5, 0.25, 0.25]);
/// ```
#[derive(Debug)]
pub struct MultiStepLr {
    base: Base,
    milestones: Vec<usize>,
    gamma: f64,
}

impl MultiStepLr {
    /// Decays at each of `milestones` (any order, repeats count) by the default `gamma` 0.1.
    pub fn new(opt: &mut dyn Optimizer, milestones: &[usize]) -> MultiStepLr {
        MultiStepLr { base: Base::attach("MultiStepLr", opt), milestones: milestones.to_vec(), gamma: 0.1 }
            .initial_step(opt)
    }

    /// The decay factor (default 0.1).
    #[must_use]
    pub fn gamma(mut self, gamma: f64) -> MultiStepLr {
        self.gamma = gamma;
        self
    }

    fn compute(&mut self, opt: &mut dyn Optimizer, _initial: bool) -> Vec<f64> {
        let e = self.base.last_epoch;
        let hits = self.milestones.iter().filter(|&&m| m as i64 == e).count();
        let lrs = opt.group_lrs();
        if hits == 0 {
            return lrs;
        }
        lrs.into_iter().map(|lr| lr * self.gamma.powi(hits as i32)).collect()
    }
}

impl_scheduler!(MultiStepLr);

/// Multiplies the learning rate by `gamma` every epoch (PyTorch's `ExponentialLR`).
///
/// ```
/// use ember_autograd::Variable;
/// use ember_optim::{ExponentialLr, LrScheduler, Sgd};
/// use ember_tensor::Tensor;
/// let mut opt = Sgd::new(vec![Variable::new(Tensor::zeros(&[1]), true)], 1.0);
/// let mut s = ExponentialLr::new(&mut opt, 0.5);
/// s.step(&mut opt);
/// s.step(&mut opt);
/// assert_eq!(opt.lr(), 0.25);
/// ```
#[derive(Debug)]
pub struct ExponentialLr {
    base: Base,
    gamma: f64,
}

impl ExponentialLr {
    /// Decays by `gamma` each epoch.
    pub fn new(opt: &mut dyn Optimizer, gamma: f64) -> ExponentialLr {
        ExponentialLr { base: Base::attach("ExponentialLr", opt), gamma }.initial_step(opt)
    }

    fn compute(&mut self, opt: &mut dyn Optimizer, initial: bool) -> Vec<f64> {
        let lrs = opt.group_lrs();
        if initial {
            return lrs;
        }
        lrs.into_iter().map(|lr| lr * self.gamma).collect()
    }
}

impl_scheduler!(ExponentialLr);
