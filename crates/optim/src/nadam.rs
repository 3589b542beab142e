//! [`NAdam`]: Adam with Nesterov momentum and PyTorch's momentum-decay schedule.

use ember_tensor::Tensor;

use crate::core::{decay, ema_sq, impl_optimizer, lerp, Algo, Core, ParamState};
use crate::group::{hyper, options};

hyper!(NAdamHyper {
    lr: f64 = 0.0,
    beta1: f64 = 0.9,
    beta2: f64 = 0.999,
    eps: f64 = 1e-8,
    weight_decay: f64 = 0.0,
    momentum_decay: f64 = 4e-3,
    decoupled_weight_decay: bool = false,
    maximize: bool = false,
});

pub(crate) struct NAdamAlgo;

impl Algo for NAdamAlgo {
    const NAME: &'static str = "NAdam";
    type H = NAdamHyper;
    const SLOTS: &'static [&'static str] = &["exp_avg", "exp_avg_sq"];
    const REQUIRED: &'static [&'static str] = &["exp_avg", "exp_avg_sq"];
    const SCALARS: &'static [(&'static str, f64)] = &[("mu_product", 1.0)];

    fn defaults(lr: f64) -> NAdamHyper {
        NAdamHyper { lr, ..NAdamHyper::default() }
    }

    fn update(h: &NAdamHyper, p: &Tensor, g: Tensor, st: &mut ParamState) -> Tensor {
        let t = st.step as f64;
        let g = if h.maximize { g.neg() } else { g };
        let (p, g) = decay(p, g, h.lr, h.weight_decay, h.decoupled_weight_decay);
        let bias_correction2 = 1.0 - h.beta2.powf(t);
        // The momentum schedule μₜ = β₁(1 - ½·0.96^(t·ψ)) and its running product.
        let mu = h.beta1 * (1.0 - 0.5 * 0.96f64.powf(t * h.momentum_decay));
        let mu_next = h.beta1 * (1.0 - 0.5 * 0.96f64.powf((t + 1.0) * h.momentum_decay));
        let mu_product = st.scalars[0] * mu;
        st.scalars[0] = mu_product;
        let m = lerp(&st.take_or_zeros(0, &p), &g, 1.0 - h.beta1);
        let v = ema_sq(&st.take_or_zeros(1, &p), &g, h.beta2);
        let denom = v.div_scalar(bias_correction2).sqrt().add_scalar(h.eps);
        // PyTorch's two addcdiv steps, fused: θ - (c_g·g + c_m·m)/denom.
        let c_g = h.lr * (1.0 - mu) / (1.0 - mu_product);
        let c_m = h.lr * mu_next / (1.0 - mu_product * mu_next);
        let out = p.sub(&g.mul_scalar(c_g).add(&m.mul_scalar(c_m)).div(&denom));
        st.put(0, m);
        st.put(1, v);
        out
    }
}

/// NAdam, PyTorch's `torch.optim.NAdam`: Adam with Nesterov momentum, whose coefficient follows
/// `μₜ = β₁(1 - ½·0.96^(t·momentum_decay))`:
/// `θ ← θ - γ(1-μₜ)/(1-∏μ) · g/d - γμₜ₊₁/(1-∏μ·μₜ₊₁) · m/d` with `d = √(v/(1-β₂ᵗ)) + ε`.
/// Defaults: betas (0.9, 0.999), eps 1e-8, weight decay 0 (L2; decoupled on request),
/// momentum_decay 4e-3 (PyTorch's default lr is 2e-3).
///
/// State per parameter: `step`, `mu_product`, `exp_avg`, `exp_avg_sq`.
///
/// ```
/// use ember_autograd::Variable;
/// use ember_optim::NAdam;
/// use ember_tensor::Tensor;
/// let w = Variable::new(Tensor::from_vec(vec![0.0f32, 0.0], &[2]), true);
/// let mut opt = NAdam::new(vec![w.clone()], 0.01).momentum_decay(4e-3);
/// w.set_grad(Some(Tensor::from_vec(vec![1.0f32, -1.0], &[2])));
/// opt.step();
/// let got = w.data().to_vec::<f32>();
/// assert!(got[0] < 0.0 && got[1] > 0.0 && (got[0] + got[1]).abs() < 1e-7);
/// ```
pub struct NAdam {
    core: Core<NAdamAlgo>,
}

impl_optimizer!(NAdam, NAdamAlgo);

options!(NAdam {
    /// Term added to the denominator (default 1e-8). **Panics** when negative.
    eps: f64,
    /// Weight decay (default 0). **Panics** when negative.
    weight_decay: f64,
    /// Momentum decay ψ of the μ schedule (default 4e-3). **Panics** when negative.
    momentum_decay: f64,
    /// Decoupled (AdamW-style) weight decay instead of L2 (default false).
    decoupled_weight_decay: bool,
    /// Maximizes the objective instead of minimizing it (default false).
    maximize: bool,
});

impl NAdam {
    /// Coefficients of the running averages. **Panics** unless both are in `[0, 1)`.
    #[must_use]
    #[track_caller]
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Self {
        self.core.set_default("beta1", beta1);
        self.core.set_default("beta2", beta2);
        self
    }
}
