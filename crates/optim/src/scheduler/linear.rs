//! [`LinearLr`].

use ember_tensor::{Error, Result};

use super::{impl_scheduler, Base};
use crate::Optimizer;

/// Scales each group's rate by a factor moving linearly from `start_factor` to `end_factor` over
/// `total_iters` epochs, then constant (PyTorch's `LinearLR`; its defaults are 1/3, 1.0 and 5).
/// Construction already sets the rate to `base · start_factor`.
///
/// ```
/// use ember_autograd::Variable;
/// use ember_optim::{LinearLr, LrScheduler, Sgd};
/// use ember_tensor::Tensor;
/// let mut opt = Sgd::new(vec![Variable::new(Tensor::zeros(&[1]), true)], 1.0);
/// let mut s = LinearLr::new(&mut opt, 0.25, 1.0, 3);
/// let mut lrs = vec![opt.lr()];
/// for _ in 0..4 {
///     s.step(&mut opt);
///     lrs.push(opt.lr());
/// }
/// for (got, want) in lrs.iter().zip([0.25, 0.5, 0.75, 1.0, 1.0]) {
///     assert!((got - want).abs() < 1e-12);
/// }
/// ```
#[derive(Debug)]
pub struct LinearLr {
    base: Base,
    start_factor: f64,
    end_factor: f64,
    total_iters: usize,
}

impl LinearLr {
    /// The warm-up (or decay) from `start_factor` to `end_factor` in `total_iters` epochs.
    ///
    /// **Panics** unless `0 < start_factor <= 1` and `0 <= end_factor <= 1`; see
    /// [`LinearLr::try_new`].
    #[track_caller]
    pub fn new(opt: &mut dyn Optimizer, start_factor: f64, end_factor: f64, total_iters: usize) -> LinearLr {
        match LinearLr::try_new(opt, start_factor, end_factor, total_iters) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    /// Checked form of [`LinearLr::new`].
    pub fn try_new(
        opt: &mut dyn Optimizer,
        start_factor: f64,
        end_factor: f64,
        total_iters: usize,
    ) -> Result<LinearLr> {
        if !(start_factor > 0.0 && start_factor <= 1.0) {
            return Err(Error::InvalidArgument {
                op: "LinearLr",
                msg: format!("start_factor expected to be greater than 0 and less or equal to 1, got {start_factor}"),
            });
        }
        if !(0.0..=1.0).contains(&end_factor) {
            return Err(Error::InvalidArgument {
                op: "LinearLr",
                msg: format!("end_factor expected to be between 0 and 1, got {end_factor}"),
            });
        }
        Ok(LinearLr { base: Base::attach("LinearLr", opt), start_factor, end_factor, total_iters }.initial_step(opt))
    }

    fn compute(&mut self, opt: &mut dyn Optimizer, initial: bool) -> Vec<f64> {
        let e = self.base.last_epoch;
        let lrs = opt.group_lrs();
        if e == 0 {
            return lrs.into_iter().map(|lr| lr * self.start_factor).collect();
        }
        if initial || e > self.total_iters as i64 {
            return lrs;
        }
        let (s, d) = (self.start_factor, self.end_factor - self.start_factor);
        let f = 1.0 + d / (self.total_iters as f64 * s + (e - 1) as f64 * d);
        lrs.into_iter().map(|lr| lr * f).collect()
    }
}

impl_scheduler!(LinearLr);
