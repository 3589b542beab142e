//! [`RmsProp`]: gradients scaled by a running root-mean-square, optionally centered, with momentum.

use ember_tensor::Tensor;

use crate::core::{effective_grad, impl_optimizer, Algo, Core, ParamState};
use crate::fused;
use crate::group::{hyper, options};

hyper!(RmsPropHyper {
    lr: f64 = 0.0,
    alpha: f64 = 0.99,
    eps: f64 = 1e-8,
    weight_decay: f64 = 0.0,
    momentum: f64 = 0.0,
    centered: bool = false,
    maximize: bool = false,
});

pub(crate) struct RmsPropAlgo;

impl Algo for RmsPropAlgo {
    const NAME: &'static str = "RmsProp";
    type H = RmsPropHyper;
    const SLOTS: &'static [&'static str] = &["square_avg", "momentum_buffer", "grad_avg"];
    const REQUIRED: &'static [&'static str] = &["square_avg"];

    fn defaults(lr: f64) -> RmsPropHyper {
        RmsPropHyper { lr, ..RmsPropHyper::default() }
    }

    fn update(h: &RmsPropHyper, p: &Tensor, g: Tensor, st: &mut ParamState) -> Tensor {
        let g = effective_grad(g, p, h.maximize, h.weight_decay);
        // one fused pass over memory; the buffers in the map's order: square_avg, grad_avg
        // (centered), momentum_buffer (momentum)
        let momentum = h.momentum > 0.0;
        let slots: Vec<usize> =
            [Some(0), h.centered.then_some(2), momentum.then_some(1)].into_iter().flatten().collect();
        let bufs = slots.iter().map(|&i| st.take_or_zeros(i, p)).collect();
        let (out, bufs) = fused::rmsprop(p.clone(), g, bufs, h.centered, momentum, [h.alpha, h.lr, h.eps, h.momentum]);
        for (&i, b) in slots.iter().zip(bufs) {
            st.put(i, b);
        }
        out
    }
}

/// RMSprop, PyTorch's `torch.optim.RMSprop`: `v ← αv + (1-α)g²`; centered: `ḡ ← αḡ + (1-α)g`
/// and `v ← v - ḡ²`; then `b ← μb + g/(√v + ε)`, `θ ← θ - γb` (without momentum
/// `θ ← θ - γg/(√v + ε)`). Defaults: alpha 0.99, eps 1e-8, weight decay 0, momentum 0, not
/// centered (PyTorch's default lr is 0.01).
///
/// State per parameter: `step`, `square_avg`, `momentum_buffer` (momentum), `grad_avg` (centered).
///
/// ```
/// use ember_autograd::Variable;
/// use ember_optim::RmsProp;
/// use ember_tensor::Tensor;
/// let w = Variable::new(Tensor::from_vec(vec![0.0f64], &[1]), true);
/// let mut opt = RmsProp::new(vec![w.clone()], 0.01).alpha(0.0).eps(0.0);
/// w.set_grad(Some(Tensor::from_vec(vec![-4.0f64], &[1])));
/// opt.step(); // alpha 0: v = g², the step is lr * sign(g)
/// assert!((w.data().item::<f64>() - 0.01).abs() < 1e-15);
/// ```
pub struct RmsProp {
    core: Core<RmsPropAlgo>,
}

impl_optimizer!(RmsProp, RmsPropAlgo);

options!(RmsProp {
    /// Smoothing constant of the squared-gradient average (default 0.99). **Panics** when negative.
    alpha: f64,
    /// Term added to the denominator (default 1e-8). **Panics** when negative.
    eps: f64,
    /// L2 penalty added to the gradient (default 0). **Panics** when negative.
    weight_decay: f64,
    /// Momentum factor (default 0). **Panics** when negative.
    momentum: f64,
    /// Centered RMSprop: normalizes by an estimate of the gradient's variance (default false).
    centered: bool,
    /// Maximizes the objective instead of minimizing it (default false).
    maximize: bool,
});
