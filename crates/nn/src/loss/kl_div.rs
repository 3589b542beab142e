//! `KlDivLoss`: the Kullback-Leibler divergence of a target distribution from log-probabilities.

use ember_autograd::Variable;
use ember_tensor::Result;

use super::{c, check_like, two_input_loss, Reduction};

/// Kullback-Leibler divergence, PyTorch's `nn.KLDivLoss`: with `input` log-probabilities and `target`
/// probabilities, `target * (log(target) - input)` per element (0 where `target == 0`, as `xlogy`);
/// with `log_target`, the target holds log-probabilities: `exp(target) * (target - input)`.
///
/// [`Reduction::Batchmean`] divides the sum by the batch size (`input.shape()[0]`), which is the
/// divergence's definition; [`Reduction::Mean`] (the default, as PyTorch) divides by the number of
/// elements.
///
/// ```
/// use ember_nn::{KlDivLoss, Reduction};
/// use ember_autograd::Variable;
/// use ember_tensor::Tensor;
/// let logq = Variable::from(Tensor::from_vec(vec![0.5f64.ln(), 0.5f64.ln()], &[1, 2]));
/// let p = Variable::from(Tensor::from_vec(vec![1.0f64, 0.0], &[1, 2]));
/// let kl = KlDivLoss::new().reduction(Reduction::Batchmean).forward(&logq, &p);
/// assert!((kl.data().item::<f64>() - 2f64.ln()).abs() < 1e-12);
/// ```
#[derive(Clone, Debug, Default)]
pub struct KlDivLoss {
    /// How the per-element losses are reduced (`Batchmean` allowed).
    pub reduction: Reduction,
    /// Whether the target holds log-probabilities (default false).
    pub log_target: bool,
}

impl KlDivLoss {
    /// Probability targets, mean reduction.
    pub fn new() -> KlDivLoss {
        KlDivLoss::default()
    }

    /// Whether the target holds log-probabilities.
    #[must_use]
    pub fn log_target(mut self, log_target: bool) -> Self {
        self.log_target = log_target;
        self
    }

    /// Checked form of [`forward`](Self::forward): errors on mismatched shapes or dtypes.
    pub fn try_forward(&self, input: &Variable, target: &Variable) -> Result<Variable> {
        if let Some((a, b)) = super::autocast2("kl_div", input, target) {
            return self.try_forward(&a, &b);
        }
        check_like("kl_div", "input", input, "target", target)?;
        let l = if self.log_target {
            target.exp() * (target - input)
        } else {
            // xlogy(t, t): log of 1 where t == 0 keeps the value and both gradients finite there
            let td = target.data();
            let zero = td.eq_scalar(0.0);
            let safe = if zero.any().item::<bool>() { c(td.ones_like()).where_(&zero, target) } else { target.clone() };
            target * &safe.log() - target * input
        };
        match self.reduction {
            Reduction::Batchmean => {
                let batch = input.shape().first().copied().unwrap_or(1);
                Ok(l.sum() / batch as f64)
            }
            Reduction::None => Ok(l),
            Reduction::Mean => Ok(l.mean()),
            Reduction::Sum => Ok(l.sum()),
        }
    }
}
two_input_loss!(KlDivLoss);
