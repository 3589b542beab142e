//! [`Sgd`]: stochastic gradient descent with momentum, dampening, Nesterov and weight decay.

use ember_tensor::Tensor;

use crate::core::{effective_grad, impl_optimizer, Algo, Core, ParamState};
use crate::fused;
use crate::group::{hyper, options};

hyper!(SgdHyper {
    lr: f64 = 0.0,
    momentum: f64 = 0.0,
    dampening: f64 = 0.0,
    weight_decay: f64 = 0.0,
    nesterov: bool = false,
    maximize: bool = false,
});

pub(crate) struct SgdAlgo;

impl Algo for SgdAlgo {
    const NAME: &'static str = "Sgd";
    type H = SgdHyper;
    const SLOTS: &'static [&'static str] = &["momentum_buffer"];
    const REQUIRED: &'static [&'static str] = &[];

    fn defaults(lr: f64) -> SgdHyper {
        SgdHyper { lr, ..SgdHyper::default() }
    }

    fn check(h: &SgdHyper) -> Result<(), String> {
        if h.nesterov && (h.momentum <= 0.0 || h.dampening != 0.0) {
            return Err(format!(
                "Nesterov momentum requires a momentum and zero dampening (momentum {}, dampening {})",
                h.momentum, h.dampening
            ));
        }
        Ok(())
    }

    fn update(h: &SgdHyper, p: &Tensor, g: Tensor, st: &mut ParamState) -> Tensor {
        Self::update_many(h, vec![(p.clone(), g, st)]).pop().expect("one parameter")
    }

    fn update_many(h: &SgdHyper, items: Vec<(Tensor, Tensor, &mut ParamState)>) -> Vec<Tensor> {
        let mut out: Vec<Option<Tensor>> = vec![None; items.len()];
        // parameters with a momentum buffer: every later step, all in one fused multi-tensor pass
        let (mut fused_at, mut tuples, mut states) = (Vec::new(), Vec::new(), Vec::new());
        for (j, (p, g, st)) in items.into_iter().enumerate() {
            let mut d = effective_grad(g, &p, h.maximize, h.weight_decay);
            if h.momentum != 0.0 {
                if let Some(b) = st.slots[0].take() {
                    fused_at.push(j);
                    tuples.push(vec![p, d, b]);
                    states.push(st);
                    continue;
                }
                // The first buffer is the gradient itself (no dampening), as PyTorch.
                let buf = d.clone();
                if h.nesterov {
                    d = d.add(&buf.mul_scalar(h.momentum));
                }
                st.put(0, buf);
            }
            out[j] = Some(p.sub(&d.mul_scalar(h.lr)));
        }
        if !tuples.is_empty() {
            let new = fused::sgd_momentum(tuples, h.lr, h.momentum, h.dampening, h.nesterov);
            for ((j, st), mut pb) in fused_at.into_iter().zip(states).zip(new) {
                st.put(0, pb.pop().expect("the new buffer"));
                out[j] = pb.pop();
            }
        }
        out.into_iter().map(|p| p.expect("every parameter updated")).collect()
    }
}

/// Stochastic gradient descent, PyTorch's `torch.optim.SGD`: with momentum `μ`, dampening `τ`,
/// weight decay `λ` and learning rate `γ`,
/// `g ← ∇ + λθ`, `b ← μb + (1 - τ)g` (the first `b` is `g`), `g ← g + μb` (Nesterov) or `g ← b`,
/// `θ ← θ - γg`; `maximize` ascends instead.
///
/// State per parameter: `momentum_buffer` (only with momentum).
///
/// ```
/// use ember_autograd::Variable;
/// use ember_optim::Sgd;
/// use ember_tensor::Tensor;
/// let w = Variable::new(Tensor::from_vec(vec![1.0f32], &[1]), true);
/// let mut opt = Sgd::new(vec![w.clone()], 0.5).momentum(0.5).nesterov(true);
/// for _ in 0..2 {
///     w.set_grad(Some(Tensor::from_vec(vec![1.0f32], &[1])));
///     opt.step();
/// }
/// // b = 1, step 1 - 0.5 (1 + 0.5); then b = 1.5, step 0.5 (1 + 0.75)
/// assert_eq!(w.data().to_vec::<f32>(), vec![1.0 - 0.75 - 0.875]);
/// ```
pub struct Sgd {
    core: Core<SgdAlgo>,
}

impl_optimizer!(Sgd, SgdAlgo);

options!(Sgd {
    /// Momentum factor (default 0). **Panics** when negative.
    momentum: f64,
    /// Dampening of the momentum (default 0).
    dampening: f64,
    /// Nesterov momentum (default false); needs a momentum and zero dampening, checked by
    /// [`Sgd::validate`] and at `step`.
    nesterov: bool,
    /// L2 penalty added to the gradient (default 0). **Panics** when negative.
    weight_decay: f64,
    /// Maximizes the objective instead of minimizing it (default false).
    maximize: bool,
});
