//! [`CosineAnnealingLr`].

use std::f64::consts::PI;

use super::{impl_scheduler, Base};
use crate::Optimizer;

/// Cosine annealing from each group's base rate down to `eta_min` over `t_max` epochs, then back
/// up over the next `t_max` (PyTorch's `CosineAnnealingLR`, periodic with period `2 t_max`).
///
/// The rates follow PyTorch's recursive form, which equals the closed form
/// `η_min + (η_base - η_min)(1 + cos(π t / t_max))/2` when nothing else changes the rate.
///
/// ```
/// use ember_autograd::Variable;
/// use ember_optim::{CosineAnnealingLr, LrScheduler, Sgd};
/// use ember_tensor::Tensor;
/// let mut opt = Sgd::new(vec![Variable::new(Tensor::zeros(&[1]), true)], 1.0);
/// let mut s = CosineAnnealingLr::new(&mut opt, 4).eta_min(0.2);
/// for t in 1..=8 {
///     s.step(&mut opt);
///     let want = 0.2 + 0.8 * (1.0 + (std::f64::consts::PI * t as f64 / 4.0).cos()) / 2.0;
///     assert!((opt.lr() - want).abs() < 1e-12);
/// }
/// ```
#[derive(Debug)]
pub struct CosineAnnealingLr {
    base: Base,
    t_max: usize,
    eta_min: f64,
}

impl CosineAnnealingLr {
    /// Anneals over `t_max` epochs to the default `eta_min` 0.
    ///
    /// **Panics** when `t_max` is 0.
    #[track_caller]
    pub fn new(opt: &mut dyn Optimizer, t_max: usize) -> CosineAnnealingLr {
        if t_max == 0 {
            panic!("CosineAnnealingLr: t_max must be positive, got 0");
        }
        CosineAnnealingLr { base: Base::attach("CosineAnnealingLr", opt), t_max, eta_min: 0.0 }.initial_step(opt)
    }

    /// The minimum learning rate (default 0).
    #[must_use]
    pub fn eta_min(mut self, eta_min: f64) -> CosineAnnealingLr {
        self.eta_min = eta_min;
        self
    }

    fn compute(&mut self, opt: &mut dyn Optimizer, initial: bool) -> Vec<f64> {
        let lrs = opt.group_lrs();
        if initial {
            return lrs;
        }
        let (e, t) = (self.base.last_epoch, self.t_max as i64);
        let (ef, tf, eta_min) = (e as f64, t as f64, self.eta_min);
        if (e - 1 - t).rem_euclid(2 * t) == 0 {
            // Leaving the minimum: the recursion's ratio would divide by zero here.
            return lrs
                .iter()
                .zip(&self.base.base_lrs)
                .map(|(lr, base)| lr + (base - eta_min) * (1.0 - (PI / tf).cos()) / 2.0)
                .collect();
        }
        let ratio = (1.0 + (PI * ef / tf).cos()) / (1.0 + (PI * (ef - 1.0) / tf).cos());
        lrs.into_iter().map(|lr| ratio * (lr - eta_min) + eta_min).collect()
    }
}

impl_scheduler!(CosineAnnealingLr);
