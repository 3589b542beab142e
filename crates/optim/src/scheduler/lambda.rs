//! [`LambdaLr`].

use ember_tensor::{Error, Result};

use super::{impl_scheduler, Base};
use crate::Optimizer;

/// A function of the epoch giving the factor applied to a group's base rate.
pub type LrLambda = Box<dyn Fn(usize) -> f64 + Send + Sync>;

/// Sets each group's rate to `base_lr · f(epoch)` (PyTorch's `LambdaLR`); construction sets
/// `base_lr · f(0)`.
///
/// ```
/// use ember_autograd::Variable;
/// use ember_optim::{LambdaLr, LrScheduler, Sgd};
/// use ember_tensor::Tensor;
/// let mut opt = Sgd::new(vec![Variable::new(Tensor::zeros(&[1]), true)], 2.0);
/// let mut s = LambdaLr::new(&mut opt, |epoch| 1.0 / (epoch + 1) as f64);
/// assert_eq!(opt.lr(), 2.0);
/// s.step(&mut opt);
/// s.step(&mut opt);
/// assert!((opt.lr() - 2.0 / 3.0).abs() < 1e-15);
/// ```
pub struct LambdaLr {
    base: Base,
    lambdas: Vec<LrLambda>,
}

impl LambdaLr {
    /// One function for every group.
    pub fn new(opt: &mut dyn Optimizer, f: impl Fn(usize) -> f64 + Send + Sync + 'static) -> LambdaLr {
        let f: std::sync::Arc<dyn Fn(usize) -> f64 + Send + Sync> = std::sync::Arc::new(f);
        let lambdas = (0..opt.num_param_groups())
            .map(|_| {
                let f = f.clone();
                Box::new(move |e| f(e)) as LrLambda
            })
            .collect();
        LambdaLr { base: Base::attach("LambdaLr", opt), lambdas }.initial_step(opt)
    }

    /// One function per parameter group.
    ///
    /// **Panics** when the count differs from the optimizer's groups; see
    /// [`LambdaLr::try_with_lambdas`].
    #[track_caller]
    pub fn with_lambdas(opt: &mut dyn Optimizer, lambdas: Vec<LrLambda>) -> LambdaLr {
        match LambdaLr::try_with_lambdas(opt, lambdas) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    /// Checked form of [`LambdaLr::with_lambdas`].
    pub fn try_with_lambdas(opt: &mut dyn Optimizer, lambdas: Vec<LrLambda>) -> Result<LambdaLr> {
        let n = opt.num_param_groups();
        if lambdas.len() != n {
            return Err(Error::InvalidArgument {
                op: "LambdaLr",
                msg: format!("expected {n} lr_lambdas (one per parameter group), but got {}", lambdas.len()),
            });
        }
        Ok(LambdaLr { base: Base::attach("LambdaLr", opt), lambdas }.initial_step(opt))
    }

    fn compute(&mut self, _opt: &mut dyn Optimizer, _initial: bool) -> Vec<f64> {
        let e = self.base.last_epoch as usize;
        self.base.base_lrs.iter().zip(&self.lambdas).map(|(base, f)| base * f(e)).collect()
    }
}

impl_scheduler!(LambdaLr);

impl std::fmt::Debug for LambdaLr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LambdaLr").field("base", &self.base).field("lambdas", &self.lambdas.len()).finish()
    }
}
