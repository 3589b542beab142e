//! [`Adagrad`]: per-coordinate learning rates from the sum of squared gradients.

use ember_tensor::Tensor;

use crate::core::{effective_grad, impl_optimizer, Algo, Core, ParamState};
use crate::fused;
use crate::group::{hyper, options};

hyper!(AdagradHyper {
    lr: f64 = 0.0,
    lr_decay: f64 = 0.0,
    weight_decay: f64 = 0.0,
    initial_accumulator_value: f64 = 0.0,
    eps: f64 = 1e-10,
    maximize: bool = false,
});

pub(crate) struct AdagradAlgo;

impl Algo for AdagradAlgo {
    const NAME: &'static str = "Adagrad";
    type H = AdagradHyper;
    const SLOTS: &'static [&'static str] = &["sum"];
    const REQUIRED: &'static [&'static str] = &["sum"];

    fn defaults(lr: f64) -> AdagradHyper {
        AdagradHyper { lr, ..AdagradHyper::default() }
    }

    fn update(h: &AdagradHyper, p: &Tensor, g: Tensor, st: &mut ParamState) -> Tensor {
        let g = effective_grad(g, p, h.maximize, h.weight_decay);
        let clr = h.lr / (1.0 + (st.step as f64 - 1.0) * h.lr_decay);
        // the sum starts at `initial_accumulator_value` (0 + g² is g² exactly)
        let sum = st.slots[0].take().unwrap_or_else(|| p.full_like(h.initial_accumulator_value));
        let (out, sum) = fused::adagrad(p.clone(), g, sum, clr, h.eps);
        st.put(0, sum);
        out
    }
}

/// Adagrad, PyTorch's `torch.optim.Adagrad`: `s ← s + g²` (starting at
/// `initial_accumulator_value`), `θ ← θ - γ/(1 + (t-1)·lr_decay) · g/(√s + ε)`. Defaults:
/// lr_decay 0, weight decay 0, initial accumulator 0, eps 1e-10 (PyTorch's default lr is 0.01).
///
/// State per parameter: `step`, `sum`.
///
/// ```
/// use ember_autograd::Variable;
/// use ember_optim::Adagrad;
/// use ember_tensor::Tensor;
/// let w = Variable::new(Tensor::from_vec(vec![0.0f64], &[1]), true);
/// let mut opt = Adagrad::new(vec![w.clone()], 1.0).eps(0.0);
/// for g in [3.0, 4.0] {
///     w.set_grad(Some(Tensor::from_vec(vec![g], &[1])));
///     opt.step();
/// }
/// // 0 - 3/3 - 4/5
/// assert!((w.data().item::<f64>() + 1.8).abs() < 1e-12);
/// ```
pub struct Adagrad {
    core: Core<AdagradAlgo>,
}

impl_optimizer!(Adagrad, AdagradAlgo);

options!(Adagrad {
    /// Learning-rate decay per step (default 0). **Panics** when negative.
    lr_decay: f64,
    /// L2 penalty added to the gradient (default 0). **Panics** when negative.
    weight_decay: f64,
    /// Starting value of the sum of squares (default 0). **Panics** when negative.
    initial_accumulator_value: f64,
    /// Term added to the denominator (default 1e-10). **Panics** when negative.
    eps: f64,
    /// Maximizes the objective instead of minimizing it (default false).
    maximize: bool,
});
