//! The update rules that run as one fused pass over memory per parameter, written as
//! [`FusedMap`] expressions (ember-tensor evaluates them: a vectorised CPU loop or one generated
//! GPU kernel). Each map is built once per process; hyperparameters are its scalars, so a changing
//! learning rate reuses the compiled kernel. Operations are written in the order of the
//! equivalent tensor-op composite, so the CPU results equal it bit for bit.

use std::sync::OnceLock;

use ember_tensor::{Expr, FusedMap, Tensor};

/// `N` inputs and `S` scalars as expressions.
fn vars<const N: usize, const S: usize>() -> ([Expr; N], [Expr; S]) {
    (std::array::from_fn(Expr::input), std::array::from_fn(Expr::scalar))
}

/// The Adam step (`amsgrad` keeps the running maximum of `v`, which starts at zero):
/// `m' = m + (g - m)(1-β₁)`, `v' = vβ₂ + g²(1-β₂)`, `v̂ = max(v̂, v')` (amsgrad) or `v'`,
/// `θ' = θ - m' / (√v̂ + eps) · scale`. The caller folds the bias corrections into `scale` and `eps`.
///
/// The buffers are taken by value: when each is the only handle to its storage (an optimizer's
/// own state), the new values are written over them. Returns `(θ', [m', v', v̂'])`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn adam(
    p: Tensor,
    g: Tensor,
    bufs: Vec<Tensor>,
    beta1: f64,
    beta2: f64,
    scale: f64,
    eps: f64,
) -> (Tensor, Vec<Tensor>) {
    static MAPS: [OnceLock<FusedMap>; 2] = [OnceLock::new(), OnceLock::new()];
    let amsgrad = bufs.len() == 3;
    let map = MAPS[usize::from(amsgrad)].get_or_init(|| {
        let ([p, g, m, v, vmax], [w1, b2, w2, sc, ep]) = vars::<5, 5>();
        let m2 = &m + &((&g - &m) * &w1);
        let v2 = &v * &b2 + &(&g * &g * &w2);
        let used = if amsgrad { vmax.max(&v2) } else { v2.clone() };
        let p2 = &p - &(&m2 / &(used.sqrt() + &ep) * &sc);
        let mut outs = vec![p2, m2, v2];
        if amsgrad {
            outs.push(used);
        }
        FusedMap::new(if amsgrad { "adam_amsgrad_step" } else { "adam_step" }, 2 + bufs.len(), 5, &outs)
    });
    let mut ins = vec![p, g];
    ins.extend(bufs);
    let mut out = map.run_owned(ins, &[1.0 - beta1, beta2, 1.0 - beta2, scale, eps]);
    let p2 = out.remove(0);
    (p2, out)
}

/// One step of SGD with momentum after the first: `b' = bμ + g(1-τ)`, `d = g + b'μ` (Nesterov)
/// or `b'`, `θ' = θ - d · lr`. Returns `(θ', b')`; `b` is written over when it is the only handle.
pub(crate) fn sgd_momentum(
    p: Tensor,
    g: Tensor,
    b: Tensor,
    lr: f64,
    momentum: f64,
    dampening: f64,
    nesterov: bool,
) -> (Tensor, Tensor) {
    static MAPS: [OnceLock<FusedMap>; 2] = [OnceLock::new(), OnceLock::new()];
    let map = MAPS[usize::from(nesterov)].get_or_init(|| {
        let ([p, g, b], [mu, keep, rate]) = vars::<3, 3>();
        let b2 = &b * &mu + &(&g * &keep);
        let d = if nesterov { &g + &(&b2 * &mu) } else { b2.clone() };
        let name = if nesterov { "sgd_nesterov_step" } else { "sgd_momentum_step" };
        FusedMap::new(name, 3, 3, &[&p - &(&d * &rate), b2])
    });
    let mut out = map.run_owned(vec![p, g, b], &[momentum, 1.0 - dampening, lr]);
    let b2 = out.pop().expect("two outputs");
    (out.pop().expect("two outputs"), b2)
}

/// The RMSprop step: `v' = vα + g²(1-α)`; centered: `ḡ' = lerp(ḡ, g, 1-α)` and
/// `avg = √(v' - ḡ'²) + eps`, else `√v' + eps`; with momentum `b' = bμ + g/avg`, `θ' = θ - b'·lr`,
/// else `θ' = θ - g/avg · lr`. `bufs` are `[v]`, then `ḡ` (centered), then `b` (momentum);
/// returns `(θ', new bufs in the same order)`.
pub(crate) fn rmsprop(
    p: Tensor,
    g: Tensor,
    bufs: Vec<Tensor>,
    centered: bool,
    momentum: bool,
    [alpha, lr, eps, mu]: [f64; 4],
) -> (Tensor, Vec<Tensor>) {
    static MAPS: [OnceLock<FusedMap>; 8] = [const { OnceLock::new() }; 8];
    // PyTorch's lerp takes one of two forms by its weight (see `core::lerp`): chosen per run on
    // the host, a second map for the other form
    let w = 1.0 - alpha;
    let low = w < 0.5;
    let index = usize::from(centered) * 4 + usize::from(centered && low) * 2 + usize::from(momentum);
    let map = MAPS[index].get_or_init(|| {
        // inputs: θ, g, v, then ḡ and b where present
        let ([p, g, v], [alpha, one_minus_alpha, lerp_w, lr, eps, mu]) = vars::<3, 6>();
        let mut next = 3;
        let mut input = || {
            next += 1;
            Expr::input(next - 1)
        };
        let v2 = &v * &alpha + &(&g * &g * &one_minus_alpha);
        let mut outs = vec![v2.clone()];
        let avg = if centered {
            let ga = input();
            // `a + (b - a)w` for w < 0.5, else `b - (b - a)(1 - w)`; lerp_w is w or 1 - w
            let ga2 = if low { &ga + &((&g - &ga) * &lerp_w) } else { &g - &((&g - &ga) * &lerp_w) };
            outs.push(ga2.clone());
            (&v2 - &(&ga2 * &ga2)).sqrt()
        } else {
            v2.sqrt()
        };
        let avg = avg + &eps;
        let p2 = if momentum {
            let b2 = &input() * &mu + &(&g / &avg);
            outs.push(b2.clone());
            &p - &(&b2 * &lr)
        } else {
            &p - &(&g / &avg * &lr)
        };
        outs.insert(0, p2);
        FusedMap::new("rmsprop_step", next, 6, &outs)
    });
    let mut ins = vec![p, g];
    ins.extend(bufs);
    let lerp_w = if low { w } else { 1.0 - w };
    let mut out = map.run_owned(ins, &[alpha, w, lerp_w, lr, eps, mu]);
    let p2 = out.remove(0);
    (p2, out)
}

/// The Adagrad step: `s' = s + g²`, `θ' = θ - g/(√s' + eps) · clr`. Returns `(θ', s')`; `s` is
/// written over when it is the only handle.
pub(crate) fn adagrad(p: Tensor, g: Tensor, sum: Tensor, clr: f64, eps: f64) -> (Tensor, Tensor) {
    static MAP: OnceLock<FusedMap> = OnceLock::new();
    let map = MAP.get_or_init(|| {
        let ([p, g, s], [clr, eps]) = vars::<3, 2>();
        let s2 = &s + &(&g * &g);
        FusedMap::new("adagrad_step", 3, 2, &[&p - &(&g / &(s2.sqrt() + &eps) * &clr), s2])
    });
    let mut out = map.run_owned(vec![p, g, sum], &[clr, eps]);
    let s2 = out.pop().expect("two outputs");
    (out.pop().expect("two outputs"), s2)
}
