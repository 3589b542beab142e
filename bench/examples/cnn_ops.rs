//! The CPU time of each tensor op of the `cnn-step` workload (forward and backward, no autograd),
//! best of three runs of 20: where a training step's time goes, op by op.
//!
//! `cargo run --release -p ember-bench --example cnn_ops [-- --layouts | --exp]`; `--exp` times
//! batch-wide against per-sample products (why convolutions run per sample); `--layouts` instead times
//! one product with its operands row- and column-major (the `gemm` crate packs a column-major
//! right operand two to three times slower, which is why the convolution weight gradient is
//! computed as `col @ dy^T` rather than `dy @ col^T`).

use ember::prelude::*;
use std::time::Instant;

fn time(name: &str, reps: usize, mut f: impl FnMut()) {
    f();
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        best = best.min(t.elapsed().as_secs_f64() / reps as f64);
    }
    println!("{name:<32} {:>8.3} ms", best * 1e3);
}

fn layouts() {
    let a = Tensor::randn(&[32, 12544]);
    let b = Tensor::randn(&[12544, 144]);
    let bt = Tensor::randn(&[144, 12544]);
    let at = Tensor::randn(&[12544, 32]);
    time("32x12544x144, B row-major", 20, || drop(a.matmul(&b)));
    time("32x12544x144, B column-major", 20, || drop(a.matmul(&bt.t())));
    time("32x12544x144, A column-major", 20, || drop(at.t().matmul(&b)));
    time("144x12544x32, both row-major", 20, || drop(bt.matmul(&at)));
    let x = Tensor::randn(&[128, 784]);
    let w = Tensor::randn(&[512, 784]);
    let wt = w.t().contiguous();
    time("x @ w.t(), 128x784x512 (view)", 20, || drop(x.matmul(&w.t())));
    time("x @ w.t(), 128x784x512 (dense)", 20, || drop(x.matmul(&wt)));
}

fn main() {
    if std::env::args().any(|a| a == "--mlp") {
        mlp_products();
        return;
    }
    if std::env::args().any(|a| a == "--phases") {
        phases();
        return;
    }
    if std::env::args().any(|a| a == "--exp") {
        per_sample_products();
        return;
    }
    if std::env::args().any(|a| a == "--layouts") {
        layouts();
        return;
    }
    let x = Tensor::randn(&[64, 1, 28, 28]);
    let w1 = Tensor::randn(&[16, 1, 3, 3]);
    let b1 = Tensor::randn(&[16]);
    let h1 = Tensor::randn(&[64, 16, 14, 14]);
    let w2 = Tensor::randn(&[32, 16, 3, 3]);
    let b2 = Tensor::randn(&[32]);
    let y1 = Tensor::randn(&[64, 16, 28, 28]);
    let y2 = Tensor::randn(&[64, 32, 14, 14]);
    let r = 20;
    let (s, p, d) = ([1, 1], [1, 1], [1, 1]);
    time("conv1 forward", r, || drop(x.conv2d(&w1, Some(&b1), s, p, d, 1)));
    time("conv1 weight grad", r, || drop(Tensor::conv2d_backward_weight(&y1, &x, &[16, 1, 3, 3], s, p, d, 1)));
    time("conv2 forward", r, || drop(h1.conv2d(&w2, Some(&b2), s, p, d, 1)));
    time("conv2 input grad", r, || drop(Tensor::conv2d_backward_input(&y2, &w2, &[64, 16, 14, 14], s, p, d, 1)));
    time("conv2 weight grad", r, || drop(Tensor::conv2d_backward_weight(&y2, &h1, &[32, 16, 3, 3], s, p, d, 1)));
    time("conv1 bias grad (sum)", r, || drop(y1.sum_dims(&[0, 2, 3], false)));
    time("relu 64x16x28x28", r, || drop(y1.relu()));
    let out = y1.relu();
    time("relu grad 64x16x28x28", r, || drop(Tensor::relu_backward(&y1, &out)));
    let (pv, pi) = y1.max_pool2d_with_indices([2, 2], [2, 2], [0, 0], [1, 1], false);
    time("max pool 1 forward", r, || drop(y1.max_pool2d_with_indices([2, 2], [2, 2], [0, 0], [1, 1], false)));
    time("max pool 1 grad", r, || drop(Tensor::max_pool2d_backward(&pv, &pi, &[64, 16, 28, 28])));
    let a = Tensor::randn(&[64, 1568]);
    let wl = Tensor::randn(&[128, 1568]);
    let g = Tensor::randn(&[64, 128]);
    time("linear1 forward", r, || drop(a.linear(&wl, None)));
    time("linear1 weight grad", r, || drop(g.t().matmul(&a)));
    time("linear1 input grad", r, || drop(g.matmul(&wl)));
}

/// `--exp`: conv2's three products (64 samples, 16->32 channels, 14x14, 3x3) as one batch-wide
/// product against 64 single-threaded per-sample products spread over rayon's pool.
fn per_sample_products() {
    use rayon::prelude::*;
    let w = Tensor::randn(&[32, 144]);
    let col = Tensor::randn(&[144, 12544]);
    let cols: Vec<Tensor> = (0..64).map(|_| Tensor::randn(&[144, 196])).collect();
    let wt = Tensor::randn(&[144, 32]);
    let dys: Vec<Tensor> = (0..64).map(|_| Tensor::randn(&[32, 196])).collect();
    let dy = Tensor::randn(&[32, 12544]);
    let dyts: Vec<Tensor> = (0..64).map(|_| Tensor::randn(&[196, 32])).collect();
    let cols2: Vec<Tensor> = (0..64).map(|_| Tensor::randn(&[288, 196])).collect();
    let w16 = Tensor::randn(&[16, 288]);
    for _ in 0..3 {
        time("fwd big 32x144x12544", 20, || drop(w.matmul(&col)));
        time("fwd 64 x par small 32x144x196", 20, || cols.par_iter().for_each(|c| drop(w.matmul(c))));
        time("igrad big 144x32x12544", 20, || drop(wt.matmul(&dy)));
        time("igrad 64 x par small 144x32x196", 20, || dys.par_iter().for_each(|c| drop(wt.matmul(c))));
        time("fwd as col^T @ W^T 64 x par", 20, || cols.par_iter().for_each(|c| drop(c.t().matmul(&wt))));
        time("igrad as dy^T @ W 64 x par", 20, || dyts.par_iter().for_each(|c| drop(c.matmul(&w))));
        time("igrad as conv 64 x par 16x288x196", 20, || cols2.par_iter().for_each(|c| drop(w16.matmul(c))));
        time("wgrad 64 x par small 144x196x32", 20, || cols.par_iter().zip(&dyts).for_each(|(c, d)| drop(c.matmul(d))));
    }
}

/// `--phases`: the cnn-step and mlp-step workloads split into forward (with the loss), backward and
/// optimizer step; each the minimum over 60 steps.
fn phases() {
    let cnn = ember_bench::workloads::cnn_model();
    let opt = optim::Sgd::new(cnn.parameters(), 0.01).momentum(0.9);
    split("cnn-step", &cnn, opt, &[64, 1, 28, 28]);
    let mlp = ember_bench::workloads::mlp_model();
    let opt = optim::Adam::new(mlp.parameters(), 1e-3);
    split("mlp-step", &mlp, opt, &[128, 784]);
}

fn split(name: &str, model: &nn::Sequential, mut opt: impl optim::Optimizer, shape: &[usize]) {
    let x = Variable::from(Tensor::randn(shape));
    let y = Variable::from(Tensor::randint(0, 10, &[shape[0]]));
    let mut best = [f64::MAX; 4];
    for _ in 0..60 {
        let t0 = Instant::now();
        let loss = nn::functional::cross_entropy(&model.forward(&x), &y);
        let t1 = Instant::now();
        opt.zero_grad();
        loss.backward();
        let t2 = Instant::now();
        opt.step();
        let t3 = Instant::now();
        for (b, d) in best.iter_mut().zip([t1 - t0, t2 - t1, t3 - t2, t3 - t0]) {
            *b = b.min(d.as_secs_f64());
        }
    }
    for (part, b) in ["forward + loss", "zero_grad + backward", "optimizer step", "whole step"].iter().zip(best) {
        println!("{name} {part:<24} {:>8.3} ms", b * 1e3);
    }
}

/// `--mlp`: the products of one mlp-step (Linear 784-512-512-10, batch 128), each timed alone.
fn mlp_products() {
    let x = Tensor::randn(&[128, 784]);
    let w1 = Tensor::randn(&[512, 784]);
    let h = Tensor::randn(&[128, 512]);
    let w2 = Tensor::randn(&[512, 512]);
    let g = Tensor::randn(&[128, 512]);
    let r = 20;
    time("fwd1 x @ w1.t() 128x784x512", r, || drop(x.matmul(&w1.t())));
    time("fwd2 h @ w2.t() 128x512x512", r, || drop(h.matmul(&w2.t())));
    time("dW2 g.t() @ h 512x128x512", r, || drop(g.t().matmul(&h)));
    time("dh g @ w2 128x512x512", r, || drop(g.matmul(&w2)));
    time("dW1 g.t() @ x 512x128x784", r, || drop(g.t().matmul(&x)));
    let split_n = |a: &Tensor, b: &Tensor| {
        let n = b.shape()[1];
        let h = n / 2;
        rayon::join(|| drop(a.matmul(&b.narrow(1, 0, h))), || drop(a.matmul(&b.narrow(1, h, n - h))));
    };
    let split_m = |a: &Tensor, b: &Tensor| {
        let m = a.shape()[0];
        let h = m / 2;
        rayon::join(|| drop(a.narrow(0, 0, h).matmul(b)), || drop(a.narrow(0, h, m - h).matmul(b)));
    };
    time("fwd1 split n", r, || split_n(&x, &w1.t()));
    time("fwd2 split n", r, || split_n(&h, &w2.t()));
    time("dW2 split n", r, || split_n(&g.t(), &h));
    time("dW2 split m", r, || split_m(&g.t(), &h));
    time("dh split n", r, || split_n(&g, &w2));
    time("dW1 split n", r, || split_n(&g.t(), &x));
    time("dW1 split m", r, || split_m(&g.t(), &x));
    for n in [256usize, 1024, 2048] {
        let a = Tensor::randn(&[n, n]);
        let b = Tensor::randn(&[n, n]);
        let reps = if n > 1000 { 3 } else { 20 };
        time(&format!("matmul {n}"), reps, || drop(a.matmul(&b)));
        time(&format!("matmul {n} split n"), reps, || split_n(&a, &b));
        time(&format!("matmul {n} split m"), reps, || split_m(&a, &b));
    }
    // one Adam step (ember-optim's fused update) on a 512x784 weight
    let w = Variable::new(Tensor::randn(&[512, 784]), true);
    w.set_grad(Some(Tensor::randn(&[512, 784])));
    let mut opt = optim::Adam::new(vec![w.clone()], 1e-3);
    time("adam 512x784", r, || opt.step());
}
