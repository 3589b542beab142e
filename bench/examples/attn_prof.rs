//! Profiling helper: the fused attention forward and backward on BERT's shape in a loop.
//!
//! `cargo run --release -p ember-bench --example attn_prof -- [fwd|bwd]`

use ember::prelude::*;

fn main() {
    let bwd = std::env::args().any(|a| a == "bwd");
    let (q, k, v) =
        (Tensor::randn(&[32, 12, 40, 32]), Tensor::randn(&[32, 12, 40, 32]), Tensor::randn(&[32, 12, 40, 32]));
    let mask = Tensor::zeros(&[32, 1, 1, 40]);
    let (_, p) = Tensor::attention(&q, &k, &v, Some(&mask), false, 0.17, true);
    let p = p.expect("probs");
    let t = std::time::Instant::now();
    for _ in 0..200 {
        if bwd {
            drop(Tensor::attention_backward(&q, &q, &k, &v, &p, 0.17));
        } else {
            drop(Tensor::attention(&q, &k, &v, Some(&mask), false, 0.17, false));
        }
    }
    println!("{:.3} ms per call", t.elapsed().as_secs_f64() / 200.0 * 1e3);
}
