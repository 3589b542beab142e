//! Is `x @ W^T` (a Linear layer's product, the weight read column-major) as fast as the same
//! product with a row-major right operand? Times both, alternating, best of five runs, three
//! rounds, for the Linear shapes of the mlp-step, bert and transformer-step workloads.
//!
//! `cargo run --release -p ember-bench --example linear_t`

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

fn main() {
    // (rows of x, in, out)
    for (m, k, n) in [
        (128, 784, 512),
        (128, 512, 512),
        (1280, 384, 384),
        (1280, 384, 1536),
        (1280, 1536, 384),
        (2048, 128, 512),
        (2048, 512, 128),
    ] {
        let x = Tensor::randn(&[m, k]);
        let w = Tensor::randn(&[n, k]);
        let wt = w.t().contiguous();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            a.push(best(10, || drop(x.matmul(&w.t()))));
            b.push(best(10, || drop(x.matmul(&wt))));
        }
        let gf = |ms: f64| 2.0 * (m * k * n) as f64 / ms / 1e6;
        let (ma, mb) = (a.iter().cloned().fold(f64::MAX, f64::min), b.iter().cloned().fold(f64::MAX, f64::min));
        println!(
            "{m:>5}x{k:<5}x{n:<5} x @ W^T {a:>6.3?} ms ({:>5.0} GFLOP/s)   x @ dense {b:>6.3?} ms ({:>5.0} GFLOP/s)",
            gf(ma),
            gf(mb)
        );
    }
}
