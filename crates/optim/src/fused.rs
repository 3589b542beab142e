//! The update rules that run as one fused pass over memory, written as [`Formula`]s (Adam, SGD
//! with momentum: a native vectorised CPU loop and one generated GPU kernel, over all parameters
//! of a group at once) or [`FusedMap`] expressions (RMSprop, Adagrad: a CPU block interpreter). Each map is built once per process; hyperparameters are its scalars, so a changing
//! learning rate reuses the compiled kernel. Operations are written in the order of the
//! equivalent tensor-op composite, so the CPU results equal it bit for bit.

use std::sync::OnceLock;

use ember_tensor::{Expr, Formula, FusedMap, MapValue, Tensor};

/// `N` inputs and `S` scalars as expressions.
fn vars<const N: usize, const S: usize>() -> ([Expr; N], [Expr; S]) {
    (std::array::from_fn(Expr::input), std::array::from_fn(Expr::scalar))
}

/// Adam's rule (`amsgrad`: the running maximum `v̂` of `v`, which starts at zero):
/// `m' = m + (g - m)(1-β₁)`, `v' = vβ₂ + g²(1-β₂)`, `v̂' = max(v̂, v')` (amsgrad) or `v'`,
/// `θ' = θk - m' / (√v̂' + eps) · scale`; `k` is AdamW's decoupled decay factor `1 - γλ` (1
/// without it, which leaves θ exactly as it is). Scalars `[1-β₁, β₂, 1-β₂, scale, eps, k]`.
#[inline(always)]
fn adam_rule<V: MapValue>(p: V, g: V, m: V, v: V, vmax: Option<V>, sc: &[V; 6]) -> [V; 4] {
    let [w1, b2, w2, scale, eps, k] = sc.clone();
    let m2 = m.clone() + (g.clone() - m) * w1;
    let v2 = v * b2 + g.clone() * g * w2;
    let used = match vmax {
        Some(vmax) => vmax.max(v2.clone()),
        None => v2.clone(),
    };
    let p2 = p * k - m2.clone() / (used.clone().sqrt() + eps) * scale;
    [p2, m2, v2, used]
}

/// Adam without amsgrad: `[θ, g, m, v]` to `[θ', m', v']`.
struct Adam;

impl Formula<4, 6, 3> for Adam {
    #[inline(always)]
    fn eval<V: MapValue>(&self, [p, g, m, v]: [V; 4], sc: &[V; 6]) -> [V; 3] {
        let [p2, m2, v2, _] = adam_rule(p, g, m, v, None, sc);
        [p2, m2, v2]
    }
}

/// Adam with amsgrad: `[θ, g, m, v, v̂]` to `[θ', m', v', v̂']`.
struct AdamAmsgrad;

impl Formula<5, 6, 4> for AdamAmsgrad {
    #[inline(always)]
    fn eval<V: MapValue>(&self, [p, g, m, v, vmax]: [V; 5], sc: &[V; 6]) -> [V; 4] {
        adam_rule(p, g, m, v, Some(vmax), sc)
    }
}

/// The Adam step of every tuple `[θ, g, m, v]` (`[θ, g, m, v, v̂]` with amsgrad) in one fused
/// multi-tensor pass (one GPU dispatch for all, where the device can). The caller folds the bias
/// corrections into `scale` and `eps`; `k` is the decoupled decay factor (see [`adam_rule`]).
///
/// The buffers are taken by value: when each is the only handle to its storage (an optimizer's
/// own state), the new values are written over them. Returns `[θ', m', v', v̂']` per tuple.
pub(crate) fn adam(
    tuples: Vec<Vec<Tensor>>,
    amsgrad: bool,
    [beta1, beta2, scale, eps, k]: [f64; 5],
) -> Vec<Vec<Tensor>> {
    static MAPS: [OnceLock<FusedMap>; 2] = [OnceLock::new(), OnceLock::new()];
    let map = MAPS[usize::from(amsgrad)].get_or_init(|| {
        if amsgrad {
            FusedMap::from_formula("adam_amsgrad_step", AdamAmsgrad)
        } else {
            FusedMap::from_formula("adam_step", Adam)
        }
    });
    map.run_foreach(tuples, &[1.0 - beta1, beta2, 1.0 - beta2, scale, eps, k])
}

/// SGD with momentum after the first step: `b' = bμ + g(1-τ)`, `d = g + b'μ` (Nesterov) or
/// `b'`, `θ' = θ - d · lr`; scalars `[μ, 1-τ, lr]`, `[θ, g, b]` to `[θ', b']`.
struct SgdMomentum {
    nesterov: bool,
}

impl Formula<3, 3, 2> for SgdMomentum {
    #[inline(always)]
    fn eval<V: MapValue>(&self, [p, g, b]: [V; 3], [mu, keep, rate]: &[V; 3]) -> [V; 2] {
        let b2 = b * mu.clone() + g.clone() * keep.clone();
        let d = if self.nesterov { g + b2.clone() * mu.clone() } else { b2.clone() };
        [p - d * rate.clone(), b2]
    }
}

/// One step of SGD with momentum after the first, for every tuple `[θ, g, b]` in one fused
/// multi-tensor pass; returns `[θ', b']` per tuple (`b` is written over when it is the only
/// handle to its storage).
pub(crate) fn sgd_momentum(
    tuples: Vec<Vec<Tensor>>,
    lr: f64,
    momentum: f64,
    dampening: f64,
    nesterov: bool,
) -> Vec<Vec<Tensor>> {
    static MAPS: [OnceLock<FusedMap>; 2] = [OnceLock::new(), OnceLock::new()];
    let map = MAPS[usize::from(nesterov)].get_or_init(|| {
        let name = if nesterov { "sgd_nesterov_step" } else { "sgd_momentum_step" };
        FusedMap::from_formula(name, SgdMomentum { nesterov })
    });
    map.run_foreach(tuples, &[momentum, 1.0 - dampening, lr])
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
        FusedMap::new("adagrad_step", 3, 2, &[&p - &(&g / &(Expr::sqrt(&s2) + &eps) * &clr), s2])
    });
    let mut out = map.run_owned(vec![p, g, sum], &[clr, eps]);
    let s2 = out.pop().expect("two outputs");
    (out.pop().expect("two outputs"), s2)
}
