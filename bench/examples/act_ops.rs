//! The BERT workload's activation and LayerNorm ops, each timed against the kernel it replaced or
//! would replace (reproduced here with tensor ops), alternating the two, best of five runs:
//! GELU forward and backward on 1280 x 1536 (32 x 40 tokens, FFN 1536), LayerNorm forward and
//! backward on 1280 x 384.
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

fn main() {
    let x = Tensor::randn(&[1280, 1536]);
    let g = Tensor::randn(&[1280, 1536]);
    // GELU: the current kernel (an f64 erf per element) and composite gradient against the f32
    // loops of `cpu::vmath` (not yet used by the ops: they do not vectorise yet)
    let (xs, gs) = (x.to_vec::<f32>(), g.to_vec::<f32>());
    use ember::tensor::cpu::vmath;
    pair("gelu forward", || drop(x.gelu()), || drop(vmath::map(&xs, vmath::gelu)));
    pair(
        "gelu backward",
        || {
            let cdf = (x.mul_scalar(std::f64::consts::FRAC_1_SQRT_2).erf() + 1.0) * 0.5;
            let pdf = (&x * &x).mul_scalar(-0.5).exp().mul_scalar(1.0 / (2.0 * std::f64::consts::PI).sqrt());
            drop(&g * &(cdf + &x * &pdf));
        },
        || drop(vmath::zip(&gs, &xs, vmath::gelu_backward)),
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
