//! The BERT workload's activation and LayerNorm ops, each timed against the kernel it replaced
//! (reproduced here: the scalar loops or the composite tensor ops), alternating the two, best of
//! five runs, three rounds: the activations and their gradients on 1280 x 1536 (32 x 40 tokens,
//! FFN 1536), LayerNorm forward and backward on 1280 x 384.
//!
//! `cargo run --release -p ember-bench --example act_ops`

use ember::prelude::*;
use std::time::Instant;

fn best(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut b = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        b = b.min(t.elapsed().as_secs_f64() / reps as f64);
    }
    b * 1e3
}

fn pair(name: &str, mut old: impl FnMut(), mut new: impl FnMut()) {
    let (mut o, mut n) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        o.push(best(5, &mut old));
        n.push(best(5, &mut new));
    }
    println!("{name:<28} before {o:>6.2?} ms   after {n:>6.2?} ms");
}

/// The scalar kernels the F32 ops ran before (`cpu/elementwise.rs`'s `map`: chunks of 16K
/// elements in parallel above 64K), reproduced over `xs`.
fn old_map(xs: &[f32], f: impl Fn(f32) -> f32 + Sync + Send) -> Vec<f32> {
    use rayon::prelude::*;
    let mut out = vec![0.0f32; xs.len()];
    out.par_chunks_mut(1 << 14).zip(xs.par_chunks(1 << 14)).for_each(|(o, x)| {
        for (o, &x) in o.iter_mut().zip(x) {
            *o = f(x);
        }
    });
    out
}

fn old_sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn main() {
    let x = Tensor::randn(&[1280, 1536]);
    let g = Tensor::randn(&[1280, 1536]);
    let xs = x.to_vec::<f32>();
    use ember::tensor::cpu::math::erf;
    use ember::tensor::ActGrad;
    let r = std::f64::consts::FRAC_1_SQRT_2;
    // forward: the scalar kernels before (an f64 erf per element for GELU) against the ops now
    pair(
        "gelu forward",
        || drop(old_map(&xs, |x| (0.5 * x as f64 * (1.0 + erf(x as f64 * r))) as f32)),
        || drop(x.gelu()),
    );
    pair("exp", || drop(old_map(&xs, f32::exp)), || drop(x.exp()));
    pair("tanh", || drop(old_map(&xs, f32::tanh)), || drop(x.tanh()));
    pair("sigmoid", || drop(old_map(&xs, old_sigmoid)), || drop(x.sigmoid()));
    pair("silu", || drop(old_map(&xs, |x| x * old_sigmoid(x))), || drop(x.silu()));
    pair(
        "gelu tanh form forward",
        || {
            // the composite of `F::gelu_tanh` before
            let inner = (&x + &(x.powf(3.0) * 0.044_715)).mul_scalar((2.0 / std::f64::consts::PI).sqrt());
            drop(&x * &((inner.tanh() + 1.0) * 0.5));
        },
        || drop(x.gelu_tanh()),
    );
    // backward: the composite rules before against one fused pass
    pair(
        "gelu backward",
        || {
            let cdf = (x.mul_scalar(r).erf() + 1.0) * 0.5;
            let pdf = (&x * &x).mul_scalar(-0.5).exp().mul_scalar(1.0 / (2.0 * std::f64::consts::PI).sqrt());
            drop(&g * &(cdf + &x * &pdf));
        },
        || drop(Tensor::activation_backward(ActGrad::Gelu, &x, &g)),
    );
    pair(
        "silu backward",
        || {
            let s = x.sigmoid();
            drop(&g * &(&s * &((&x * &(1.0 - &s)) + 1.0)));
        },
        || drop(Tensor::activation_backward(ActGrad::Silu, &x, &g)),
    );
    let t = x.tanh();
    pair(
        "tanh backward",
        || drop(&g * &(1.0 - &(&t * &t))),
        || drop(Tensor::activation_backward(ActGrad::TanhFromOutput, &t, &g)),
    );
    // attention, BERT's shape: 32 x 12 heads x 40 tokens x 32, an additive padding mask [32, 1, 1, 40]
    let (q, k, v) =
        (Tensor::randn(&[32, 12, 40, 32]), Tensor::randn(&[32, 12, 40, 32]), Tensor::randn(&[32, 12, 40, 32]));
    let lens: Vec<f32> =
        (0..32).flat_map(|i| (0..40).map(move |j| if j < 40 - 5 * (i % 4) { 0.0 } else { f32::MIN })).collect();
    let mask = Tensor::from_vec(lens, &[32, 1, 1, 40]);
    let scale = 1.0 / 32f64.sqrt();
    pair(
        "attention forward",
        // the composite the models ran before: matmul, scale, mask, softmax, matmul
        || drop((&q.matmul(&k.transpose(-1, -2)).mul_scalar(scale) + &mask).softmax(-1).matmul(&v)),
        || drop(Tensor::attention(&q, &k, &v, Some(&mask), false, scale, false)),
    );
    let (_, probs) = Tensor::attention(&q, &k, &v, Some(&mask), false, scale, true);
    let probs = probs.expect("probs");
    let go = Tensor::randn(&[32, 12, 40, 32]);
    pair(
        "attention backward",
        || {
            // the composite rules: matmul and softmax gradients
            let dv = probs.transpose(-1, -2).matmul(&go);
            let dp = go.matmul(&v.transpose(-1, -2));
            let ds = (&probs * &(&dp - &(&dp * &probs).sum_dims(&[3], true))).mul_scalar(scale);
            drop((ds.matmul(&k), ds.transpose(-1, -2).matmul(&q), dv));
        },
        || drop(Tensor::attention_backward(&go, &q, &k, &v, &probs, scale)),
    );
    let h = Tensor::randn(&[1280, 384]);
    let gh = Tensor::randn(&[1280, 384]);
    let w = Tensor::randn(&[384]);
    let b = Tensor::randn(&[384]);
    pair(
        "layer_norm forward",
        || {
            let m = h.mean_dims(&[1], true);
            let xc = &h - &m;
            let inv = (&xc * &xc).mean_dims(&[1], true).add_scalar(1e-12).rsqrt();
            drop(&(&xc * &inv) * &w + &b);
        },
        || drop(h.norm_rows(Some(&w), Some(&b), 384, 1e-12, true)),
    );
    let (_, mean, rstd) = h.norm_rows(Some(&w), Some(&b), 384, 1e-12, true);
    pair(
        "layer_norm backward",
        || {
            // the composite rule: x̂ from the saved statistics, then dx, dw, db
            let xhat = &(&h - &mean.reshape(&[1280, 1])) * &rstd.reshape(&[1280, 1]);
            let gy = &gh * &w;
            let proj = (&gy * &xhat).mean_dims(&[1], true);
            let inner = &(&gy - &(&xhat * &proj)) - &gy.mean_dims(&[1], true);
            drop(&inner * &rstd.reshape(&[1280, 1]));
            drop((&gh * &xhat).sum_dims(&[0], false));
            drop(gh.sum_dims(&[0], false));
        },
        || drop(Tensor::norm_rows_backward(&gh, &h, Some(&w), &mean, &rstd, true)),
    );
}
