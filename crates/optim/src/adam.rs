//! [`Adam`] and [`AdamW`]: adaptive moment estimation, with L2 or decoupled weight decay.

use ember_tensor::Tensor;

use crate::core::{decay, impl_optimizer, Algo, Core, ParamState};
use crate::fused;
use crate::group::{hyper, options};

hyper!(AdamHyper {
    lr: f64 = 0.0,
    beta1: f64 = 0.9,
    beta2: f64 = 0.999,
    eps: f64 = 1e-8,
    weight_decay: f64 = 0.0,
    amsgrad: bool = false,
    maximize: bool = false,
    decoupled_weight_decay: bool = false,
});

/// Adam's update of parameters of one group with one step count (PyTorch's `_multi_tensor_adam`
/// for `foreach`, `_single_tensor_adam` for one): one fused multi-tensor pass.
fn adam_update(h: &AdamHyper, items: Vec<(Tensor, Tensor, &mut ParamState)>) -> Vec<Tensor> {
    let Some(first) = items.first() else { return Vec::new() };
    let t = first.2.step as f64;
    let bias_correction1 = 1.0 - h.beta1.powf(t);
    let bias_correction2 = 1.0 - h.beta2.powf(t);
    let step_size = h.lr / bias_correction1;
    // PyTorch's `θ - step_size · m / (√v/√bc₂ + ε)`, with √bc₂ moved out of the denominator.
    let bc2_sqrt = bias_correction2.sqrt();
    // decoupled decay `θ(1 - γλ)` is a factor of the fused rule (1 leaves θ as it is)
    let decoupled = h.decoupled_weight_decay && h.weight_decay != 0.0;
    let k = if decoupled { 1.0 - h.lr * h.weight_decay } else { 1.0 };
    // amsgrad's running maximum starts at zero, so its first value is `v` itself, as PyTorch's
    let slots = if h.amsgrad { 3 } else { 2 };
    let mut states = Vec::with_capacity(items.len());
    let mut tuples = Vec::with_capacity(items.len());
    for (p, g, st) in items {
        let g = if h.maximize { g.neg() } else { g };
        let (p, g) = if decoupled { (p, g) } else { decay(&p, g, h.lr, h.weight_decay, false) };
        let mut tuple = Vec::with_capacity(2 + slots);
        tuple.extend((0..slots).map(|i| st.take_or_zeros(i, &p)));
        tuple.splice(0..0, [p, g]);
        tuples.push(tuple);
        states.push(st);
    }
    let scalars = [h.beta1, h.beta2, step_size * bc2_sqrt, h.eps * bc2_sqrt, k];
    let outs = fused::adam(tuples, h.amsgrad, scalars);
    outs.into_iter()
        .zip(states)
        .map(|(out, st)| {
            let mut out = out.into_iter();
            let p = out.next().expect("the new parameter");
            for (i, b) in out.enumerate() {
                st.put(i, b);
            }
            p
        })
        .collect()
}

pub(crate) struct AdamAlgo;

impl Algo for AdamAlgo {
    const NAME: &'static str = "Adam";
    type H = AdamHyper;
    const SLOTS: &'static [&'static str] = &["exp_avg", "exp_avg_sq", "max_exp_avg_sq"];
    const REQUIRED: &'static [&'static str] = &["exp_avg", "exp_avg_sq"];

    fn defaults(lr: f64) -> AdamHyper {
        AdamHyper { lr, ..AdamHyper::default() }
    }

    fn update(h: &AdamHyper, p: &Tensor, g: Tensor, st: &mut ParamState) -> Tensor {
        adam_update(h, vec![(p.clone(), g, st)]).pop().expect("one parameter")
    }

    fn update_many(h: &AdamHyper, items: Vec<(Tensor, Tensor, &mut ParamState)>) -> Vec<Tensor> {
        adam_update(h, items)
    }
}

pub(crate) struct AdamWAlgo;

impl Algo for AdamWAlgo {
    const NAME: &'static str = "AdamW";
    type H = AdamHyper;
    const SLOTS: &'static [&'static str] = AdamAlgo::SLOTS;
    const REQUIRED: &'static [&'static str] = AdamAlgo::REQUIRED;

    fn defaults(lr: f64) -> AdamHyper {
        AdamHyper { lr, weight_decay: 1e-2, decoupled_weight_decay: true, ..AdamHyper::default() }
    }

    fn update(h: &AdamHyper, p: &Tensor, g: Tensor, st: &mut ParamState) -> Tensor {
        adam_update(h, vec![(p.clone(), g, st)]).pop().expect("one parameter")
    }

    fn update_many(h: &AdamHyper, items: Vec<(Tensor, Tensor, &mut ParamState)>) -> Vec<Tensor> {
        adam_update(h, items)
    }
}

/// Adam, PyTorch's `torch.optim.Adam`: `m ← β₁m + (1-β₁)g`, `v ← β₂v + (1-β₂)g²`,
/// `θ ← θ - γ/(1-β₁ᵗ) · m / (√v/√(1-β₂ᵗ) + ε)`, with `amsgrad` (use the running maximum of `v`),
/// L2 weight decay (added to the gradient; decoupled with `decoupled_weight_decay(true)`, which
/// is [`AdamW`]) and `maximize`. Defaults: betas (0.9, 0.999), eps 1e-8, weight decay 0.
///
/// State per parameter: `step`, `exp_avg`, `exp_avg_sq`, `max_exp_avg_sq` (amsgrad).
///
/// ```
/// use ember_autograd::Variable;
/// use ember_optim::Adam;
/// use ember_tensor::Tensor;
/// let w = Variable::new(Tensor::from_vec(vec![1.0f64, -1.0], &[2]), true);
/// let mut opt = Adam::new(vec![w.clone()], 0.1).betas(0.9, 0.99);
/// w.set_grad(Some(Tensor::from_vec(vec![3.0f64, -0.5], &[2])));
/// opt.step();
/// // the first Adam step moves every weight by about lr against the gradient's sign
/// let got = w.data().to_vec::<f64>();
/// assert!((got[0] - 0.9).abs() < 1e-6 && (got[1] + 0.9).abs() < 1e-6);
/// ```
pub struct Adam {
    core: Core<AdamAlgo>,
}

impl_optimizer!(Adam, AdamAlgo);

/// AdamW, PyTorch's `torch.optim.AdamW`: Adam with decoupled weight decay
/// `θ ← θ(1 - γλ)` before the Adam step. Defaults: betas (0.9, 0.999), eps 1e-8,
/// **weight decay 0.01**.
///
/// ```
/// use ember_autograd::Variable;
/// use ember_optim::{AdamW, Optimizer};
/// use ember_tensor::Tensor;
/// let w = Variable::new(Tensor::from_vec(vec![2.0f64], &[1]), true);
/// let mut opt = AdamW::new(vec![w.clone()], 0.1);
/// assert_eq!(opt.hyper(0, "weight_decay"), Some(0.01));
/// w.set_grad(Some(Tensor::from_vec(vec![1.0f64], &[1])));
/// opt.step();
/// let want = 2.0 * (1.0 - 0.1 * 0.01) - 0.1 / (1.0 + 1e-8);
/// assert!((w.data().item::<f64>() - want).abs() < 1e-12);
/// ```
pub struct AdamW {
    core: Core<AdamWAlgo>,
}

impl_optimizer!(AdamW, AdamWAlgo);

macro_rules! adam_options {
    ($ty:ident) => {
        impl $ty {
            /// Coefficients of the running averages of the gradient and its square. **Panics**
            /// unless both are in `[0, 1)`.
            #[must_use]
            #[track_caller]
            pub fn betas(mut self, beta1: f64, beta2: f64) -> Self {
                self.core.set_default("beta1", beta1);
                self.core.set_default("beta2", beta2);
                self
            }
        }
        options!($ty {
            /// Term added to the denominator for numerical stability. **Panics** when negative.
            eps: f64,
            /// Weight decay. **Panics** when negative.
            weight_decay: f64,
            /// The AMSGrad variant (default false).
            amsgrad: bool,
            /// Maximizes the objective instead of minimizing it (default false).
            maximize: bool,
        });
    };
}

adam_options!(Adam);
adam_options!(AdamW);

options!(Adam {
    /// Decoupled weight decay as AdamW (default false: L2 added to the gradient).
    decoupled_weight_decay: bool,
});
