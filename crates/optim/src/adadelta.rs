//! [`Adadelta`]: step sizes from running averages of squared gradients and squared updates.

use ember_tensor::Tensor;

use crate::core::{effective_grad, ema_sq, impl_optimizer, Algo, Core, ParamState};
use crate::group::{hyper, options};

hyper!(AdadeltaHyper {
    lr: f64 = 0.0,
    rho: f64 = 0.9,
    eps: f64 = 1e-6,
    weight_decay: f64 = 0.0,
    maximize: bool = false,
});

pub(crate) struct AdadeltaAlgo;

impl Algo for AdadeltaAlgo {
    const NAME: &'static str = "Adadelta";
    type H = AdadeltaHyper;
    const SLOTS: &'static [&'static str] = &["square_avg", "acc_delta"];
    const REQUIRED: &'static [&'static str] = &["square_avg", "acc_delta"];

    fn defaults(lr: f64) -> AdadeltaHyper {
        AdadeltaHyper { lr, ..AdadeltaHyper::default() }
    }

    fn update(h: &AdadeltaHyper, p: &Tensor, g: Tensor, st: &mut ParamState) -> Tensor {
        let g = effective_grad(g, p, h.maximize, h.weight_decay);
        let sq = ema_sq(&st.take_or_zeros(0, p), &g, h.rho);
        let std = sq.add_scalar(h.eps).sqrt();
        let acc = st.take_or_zeros(1, p);
        let delta = acc.add_scalar(h.eps).sqrt().div(&std).mul(&g);
        st.put(1, ema_sq(&acc, &delta, h.rho));
        st.put(0, sq);
        p.sub(&delta.mul_scalar(h.lr))
    }
}

/// Adadelta, PyTorch's `torch.optim.Adadelta`: `v ← ρv + (1-ρ)g²`,
/// `Δ ← √(u + ε)/√(v + ε) · g`, `u ← ρu + (1-ρ)Δ²`, `θ ← θ - γΔ`. Defaults: rho 0.9,
/// eps 1e-6, weight decay 0 (PyTorch's default lr is 1.0).
///
/// State per parameter: `step`, `square_avg`, `acc_delta`.
///
/// ```
/// use ember_autograd::Variable;
/// use ember_optim::Adadelta;
/// use ember_tensor::Tensor;
/// let w = Variable::new(Tensor::from_vec(vec![0.0f64], &[1]), true);
/// let mut opt = Adadelta::new(vec![w.clone()], 1.0).rho(0.0);
/// w.set_grad(Some(Tensor::from_vec(vec![2.0f64], &[1])));
/// opt.step(); // rho 0: Δ = √ε / √(4 + ε) · 2
/// let want = -(1e-6f64).sqrt() / (4.0 + 1e-6f64).sqrt() * 2.0;
/// assert!((w.data().item::<f64>() - want).abs() < 1e-15);
/// ```
pub struct Adadelta {
    core: Core<AdadeltaAlgo>,
}

impl_optimizer!(Adadelta, AdadeltaAlgo);

options!(Adadelta {
    /// Coefficient of the running averages (default 0.9). **Panics** outside `[0, 1]`.
    rho: f64,
    /// Term added inside the square roots (default 1e-6). **Panics** when negative.
    eps: f64,
    /// L2 penalty added to the gradient (default 0). **Panics** when negative.
    weight_decay: f64,
    /// Maximizes the objective instead of minimizing it (default false).
    maximize: bool,
});
