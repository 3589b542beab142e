//! [`RAdam`]: Adam with the variance of the adaptive learning rate rectified.

use ember_tensor::Tensor;

use crate::core::{decay, ema_sq, impl_optimizer, lerp, Algo, Core, ParamState};
use crate::group::{hyper, options};

hyper!(RAdamHyper {
    lr: f64 = 0.0,
    beta1: f64 = 0.9,
    beta2: f64 = 0.999,
    eps: f64 = 1e-8,
    weight_decay: f64 = 0.0,
    decoupled_weight_decay: bool = false,
    maximize: bool = false,
});

pub(crate) struct RAdamAlgo;

impl Algo for RAdamAlgo {
    const NAME: &'static str = "RAdam";
    type H = RAdamHyper;
    const SLOTS: &'static [&'static str] = &["exp_avg", "exp_avg_sq"];
    const REQUIRED: &'static [&'static str] = &["exp_avg", "exp_avg_sq"];

    fn defaults(lr: f64) -> RAdamHyper {
        RAdamHyper { lr, ..RAdamHyper::default() }
    }

    fn update(h: &RAdamHyper, p: &Tensor, g: Tensor, st: &mut ParamState) -> Tensor {
        let t = st.step as f64;
        let g = if h.maximize { g.neg() } else { g };
        let (p, g) = decay(p, g, h.lr, h.weight_decay, h.decoupled_weight_decay);
        let m = lerp(&st.take_or_zeros(0, &p), &g, 1.0 - h.beta1);
        let v = ema_sq(&st.take_or_zeros(1, &p), &g, h.beta2);
        let bias_correction1 = 1.0 - h.beta1.powf(t);
        let bias_correction2 = 1.0 - h.beta2.powf(t);
        // Length of the approximated simple moving average, and its limit.
        let rho_inf = 2.0 / (1.0 - h.beta2) - 1.0;
        let rho_t = rho_inf - 2.0 * t * h.beta2.powf(t) / bias_correction2;
        let out = if rho_t > 5.0 {
            let rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)).sqrt();
            let scale = h.lr * rect * bias_correction2.sqrt() / bias_correction1;
            p.sub(&m.div(&v.sqrt().add_scalar(h.eps)).mul_scalar(scale))
        } else {
            p.sub(&m.mul_scalar(h.lr / bias_correction1))
        };
        st.put(0, m);
        st.put(1, v);
        out
    }
}

/// RAdam, PyTorch's `torch.optim.RAdam`: Adam's moments, with
/// `ρₜ = ρ∞ - 2tβ₂ᵗ/(1-β₂ᵗ)`, `ρ∞ = 2/(1-β₂) - 1`; when `ρₜ > 5` the step is
/// `γ·r·√(1-β₂ᵗ)/(1-β₁ᵗ) · m/(√v + ε)` with `r = √((ρₜ-4)(ρₜ-2)ρ∞ / ((ρ∞-4)(ρ∞-2)ρₜ))`, otherwise
/// the un-adapted `γ/(1-β₁ᵗ) · m`. Defaults: betas (0.9, 0.999), eps 1e-8, weight decay 0
/// (L2; decoupled on request).
///
/// State per parameter: `step`, `exp_avg`, `exp_avg_sq`.
///
/// ```
/// use ember_autograd::Variable;
/// use ember_optim::RAdam;
/// use ember_tensor::Tensor;
/// let w = Variable::new(Tensor::from_vec(vec![1.0f64], &[1]), true);
/// let mut opt = RAdam::new(vec![w.clone()], 0.1);
/// w.set_grad(Some(Tensor::from_vec(vec![2.0f64], &[1])));
/// opt.step(); // ρ₁ = 1 ≤ 5: a plain momentum step, lr · m/(1-β₁) = 0.1 · 2
/// assert!((w.data().item::<f64>() - 0.8).abs() < 1e-12);
/// ```
pub struct RAdam {
    core: Core<RAdamAlgo>,
}

impl_optimizer!(RAdam, RAdamAlgo);

options!(RAdam {
    /// Term added to the denominator (default 1e-8). **Panics** when negative.
    eps: f64,
    /// Weight decay (default 0). **Panics** when negative.
    weight_decay: f64,
    /// Decoupled (AdamW-style) weight decay instead of L2 (default false).
    decoupled_weight_decay: bool,
    /// Maximizes the objective instead of minimizing it (default false).
    maximize: bool,
});

impl RAdam {
    /// Coefficients of the running averages. **Panics** unless both are in `[0, 1)`.
    #[must_use]
    #[track_caller]
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Self {
        self.core.set_default("beta1", beta1);
        self.core.set_default("beta2", beta2);
        self
    }
}
