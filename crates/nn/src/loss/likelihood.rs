//! Negative log-likelihoods of distributions: `PoissonNllLoss`, `GaussianNllLoss`.

use ember_autograd::Variable;
use ember_tensor::Result;

use super::{c, check_like, err, reduce, three_input_loss, two_input_loss, Reduction};

/// PyTorch's `nn.PoissonNLLLoss`: with `log_input` (default), `exp(input) - target * input`;
/// otherwise `input - target * log(input + eps)`. With `full`, Stirling's approximation of
/// `log(target!)`, `t log t - t + 0.5 log(2π t)`, is added where `target > 1`.
///
/// ```
/// use ember_nn::PoissonNllLoss;
/// use ember_autograd::Variable;
/// use ember_tensor::Tensor;
/// let rate = Variable::from(Tensor::from_vec(vec![0.0f64], &[1]));
/// let k = Variable::from(Tensor::from_vec(vec![2.0f64], &[1]));
/// assert_eq!(PoissonNllLoss::new().forward(&rate, &k).data().item::<f64>(), 1.0);
/// ```
#[derive(Clone, Debug)]
pub struct PoissonNllLoss {
    /// How the per-element losses are reduced.
    pub reduction: Reduction,
    /// Whether the input is the log of the rate (default true).
    pub log_input: bool,
    /// Whether to add the Stirling term (default false).
    pub full: bool,
    /// Keeps `log(input + eps)` finite when `log_input` is false (default 1e-8).
    pub eps: f64,
}

impl Default for PoissonNllLoss {
    fn default() -> Self {
        PoissonNllLoss { reduction: Reduction::Mean, log_input: true, full: false, eps: 1e-8 }
    }
}

impl PoissonNllLoss {
    /// `log_input = true`, `full = false`, `eps = 1e-8`, mean reduction.
    pub fn new() -> PoissonNllLoss {
        PoissonNllLoss::default()
    }

    /// Whether the input is the log of the rate.
    #[must_use]
    pub fn log_input(mut self, log_input: bool) -> Self {
        self.log_input = log_input;
        self
    }

    /// Whether to add the Stirling term.
    #[must_use]
    pub fn full(mut self, full: bool) -> Self {
        self.full = full;
        self
    }

    /// Sets `eps`.
    #[must_use]
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// Checked form of [`forward`](Self::forward): errors on mismatched shapes or dtypes.
    pub fn try_forward(&self, input: &Variable, target: &Variable) -> Result<Variable> {
        if let Some((a, b)) = super::autocast2("poisson_nll_loss", input, target) {
            return self.try_forward(&a, &b);
        }
        const OP: &str = "poisson_nll_loss";
        check_like(OP, "input", input, "target", target)?;
        let mut l =
            if self.log_input { input.exp() - target * input } else { input - target * &(input + self.eps).log() };
        if self.full {
            // computed on a target moved above 1 where it is masked out, so no log(0) reaches the
            // value or the target's gradient
            let td = target.data();
            let small = td.le_scalar(1.0);
            let t = c(td.full_like(2.0)).where_(&small, target);
            let stirling = &t * &t.log() - &t + (&t * (2.0 * std::f64::consts::PI)).log() * 0.5;
            l = l + stirling.masked_fill(&small, 0.0);
        }
        reduce(OP, l, self.reduction)
    }
}
two_input_loss!(PoissonNllLoss);

/// PyTorch's `nn.GaussianNLLLoss`: `0.5 (log(var) + (input - target)² / var)` per element (plus
/// `0.5 log(2π)` with `full`), the variance clamped at `eps` for stability.
///
/// `var` has the input's shape (one variance per prediction), or the input's shape without its last
/// dim, or that shape with one dim of size 1 (shared variances); it must not be negative. As PyTorch,
/// the clamp does not stop `var`'s gradient (it is taken at the clamped value). Defaults:
/// `full = false`, `eps = 1e-6`.
///
/// ```
/// use ember_nn::GaussianNllLoss;
/// use ember_autograd::Variable;
/// use ember_tensor::Tensor;
/// let mu = Variable::from(Tensor::from_vec(vec![1.0f64, 2.0], &[2]));
/// let y = Variable::from(Tensor::from_vec(vec![3.0f64, 2.0], &[2]));
/// let var = Variable::from(Tensor::from_vec(vec![1.0f64, 1.0], &[2]));
/// assert_eq!(GaussianNllLoss::new().forward(&mu, &y, &var).data().item::<f64>(), 1.0);
/// ```
#[derive(Clone, Debug)]
pub struct GaussianNllLoss {
    /// How the per-element losses are reduced.
    pub reduction: Reduction,
    /// Whether to add the constant `0.5 log(2π)` (default false).
    pub full: bool,
    /// The smallest variance used (default 1e-6).
    pub eps: f64,
}

impl Default for GaussianNllLoss {
    fn default() -> Self {
        GaussianNllLoss { reduction: Reduction::Mean, full: false, eps: 1e-6 }
    }
}

impl GaussianNllLoss {
    /// `full = false`, `eps = 1e-6`, mean reduction.
    pub fn new() -> GaussianNllLoss {
        GaussianNllLoss::default()
    }

    /// Whether to add the constant term.
    #[must_use]
    pub fn full(mut self, full: bool) -> Self {
        self.full = full;
        self
    }

    /// Sets the variance clamp `eps`.
    #[must_use]
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// Checked form of [`forward`](Self::forward): errors on mismatched input and target, a `var`
    /// shape that does not fit, or negative variances.
    pub fn try_forward(&self, input: &Variable, target: &Variable, var: &Variable) -> Result<Variable> {
        if let Some((a, b, c)) = super::autocast3("gaussian_nll_loss", input, target, var) {
            return self.try_forward(&a, &b, &c);
        }
        const OP: &str = "gaussian_nll_loss";
        check_like(OP, "input", input, "target", target)?;
        let dt = input.dtype();
        if var.dtype() != dt {
            return Err(err(OP, format!("var has dtype {}, but input has dtype {dt}; they must match", var.dtype())));
        }
        let (xs, vs) = (input.shape(), var.shape());
        let var = if vs == xs {
            var.clone()
        } else if !xs.is_empty() && vs == xs[..xs.len() - 1] {
            var.unsqueeze(-1)
        } else if vs.len() == xs.len() && {
            let diff: Vec<usize> = (0..xs.len()).filter(|&i| xs[i] != vs[i]).collect();
            diff.len() == 1 && vs[diff[0]] == 1
        } {
            var.clone()
        } else {
            return Err(err(
                OP,
                format!("var of shape {vs:?} does not fit input of shape {xs:?}: expected {xs:?}, the input's shape without its last dim, or one dim of size 1"),
            ));
        };
        let vd = var.data();
        if vd.numel() > 0 && vd.min().item::<f64>() < 0.0 {
            return Err(err(OP, "var has negative entries".into()));
        }
        // clamp without stopping the gradient: PyTorch clamps a clone in place under no_grad
        let var =
            Variable::record("gaussian_nll_clamp", &[&var], vd.clamp_min(self.eps), |ctx| vec![Some(ctx.grad.clone())]);
        let mut l = (var.log() + (input - target).square() / &var) * 0.5;
        if self.full {
            l = l + 0.5 * (2.0 * std::f64::consts::PI).ln();
        }
        reduce(OP, l, self.reduction)
    }
}
three_input_loss!(GaussianNllLoss, input, target, var);
