//! [`Adamax`]: Adam with the infinity norm in place of the second moment.

use ember_tensor::Tensor;

use crate::core::{effective_grad, impl_optimizer, lerp, Algo, Core, ParamState};
use crate::group::{hyper, options};

hyper!(AdamaxHyper {
    lr: f64 = 0.0,
    beta1: f64 = 0.9,
    beta2: f64 = 0.999,
    eps: f64 = 1e-8,
    weight_decay: f64 = 0.0,
    maximize: bool = false,
});

pub(crate) struct AdamaxAlgo;

impl Algo for AdamaxAlgo {
    const NAME: &'static str = "Adamax";
    type H = AdamaxHyper;
    const SLOTS: &'static [&'static str] = &["exp_avg", "exp_inf"];
    const REQUIRED: &'static [&'static str] = &["exp_avg", "exp_inf"];

    fn defaults(lr: f64) -> AdamaxHyper {
        AdamaxHyper { lr, ..AdamaxHyper::default() }
    }

    fn update(h: &AdamaxHyper, p: &Tensor, g: Tensor, st: &mut ParamState) -> Tensor {
        let g = effective_grad(g, p, h.maximize, h.weight_decay);
        let m = lerp(&st.take_or_zeros(0, p), &g, 1.0 - h.beta1);
        let u = st.take_or_zeros(1, p).mul_scalar(h.beta2).maximum(&g.abs().add_scalar(h.eps));
        let clr = h.lr / (1.0 - h.beta1.powf(st.step as f64));
        let out = p.sub(&m.div(&u).mul_scalar(clr));
        st.put(0, m);
        st.put(1, u);
        out
    }
}

/// Adamax, PyTorch's `torch.optim.Adamax`: `m ← β₁m + (1-β₁)g`, `u ← max(β₂u, |g| + ε)`,
/// `θ ← θ - γ/(1-β₁ᵗ) · m/u`. Defaults: betas (0.9, 0.999), eps 1e-8, weight decay 0
/// (PyTorch's default lr is 2e-3).
///
/// State per parameter: `step`, `exp_avg`, `exp_inf`.
///
/// ```
/// use ember_autograd::Variable;
/// use ember_optim::Adamax;
/// use ember_tensor::Tensor;
/// let w = Variable::new(Tensor::from_vec(vec![1.0f64], &[1]), true);
/// let mut opt = Adamax::new(vec![w.clone()], 0.1).eps(0.0);
/// w.set_grad(Some(Tensor::from_vec(vec![5.0f64], &[1])));
/// opt.step(); // first step: m/(1-β₁) = g, u = |g|: moves by lr
/// assert!((w.data().item::<f64>() - 0.9).abs() < 1e-12);
/// ```
pub struct Adamax {
    core: Core<AdamaxAlgo>,
}

impl_optimizer!(Adamax, AdamaxAlgo);

options!(Adamax {
    /// Term added to the denominator (default 1e-8). **Panics** when negative.
    eps: f64,
    /// L2 penalty added to the gradient (default 0). **Panics** when negative.
    weight_decay: f64,
    /// Maximizes the objective instead of minimizing it (default false).
    maximize: bool,
});

impl Adamax {
    /// Coefficients of the running average and of the infinity norm's decay. **Panics** unless
    /// both are in `[0, 1)`.
    #[must_use]
    #[track_caller]
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Self {
        self.core.set_default("beta1", beta1);
        self.core.set_default("beta2", beta2);
        self
    }
}
