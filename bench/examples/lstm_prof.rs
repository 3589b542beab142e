//! Profiling helper: the `lstm-step` workload split into its phases (forward, backward, gradient
//! clipping, Adam), each timed over the steps; the median per phase is printed.
//!
//! `cargo run --release -p ember-bench --example lstm_prof -- [steps]`

use std::time::Instant;

use ember::prelude::*;

fn main() {
    ember::tensor::tune_malloc();
    let steps: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(20);
    let emb = nn::Embedding::new(65, 64);
    let lstm = nn::Lstm::new(64, 256).num_layers(2).batch_first(true);
    let head = nn::Linear::new(256, 65);
    let params: Vec<Variable> =
        emb.parameters().into_iter().chain(lstm.parameters()).chain(head.parameters()).collect();
    let mut opt = optim::Adam::new(params.clone(), 2e-3);
    let x = Variable::from(Tensor::randint(0, 65, &[32, 64]));
    let y = Variable::from(Tensor::randint(0, 65, &[32 * 64]));
    let names = ["embedding", "lstm forward", "head + loss", "backward", "clip", "adam", "step"];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for s in 0..steps + 2 {
        let mut lap = Vec::with_capacity(names.len());
        let t0 = Instant::now();
        let mut t = Instant::now();
        let mut mark = |lap: &mut Vec<f64>| {
            lap.push(t.elapsed().as_secs_f64() * 1e3);
            t = Instant::now();
        };
        let e = emb.forward(&x);
        mark(&mut lap);
        let h = lstm.forward(&e);
        mark(&mut lap);
        let loss = nn::functional::cross_entropy(&head.forward(&h).reshape(&[32 * 64, 65]), &y);
        mark(&mut lap);
        opt.zero_grad();
        loss.backward();
        mark(&mut lap);
        optim::clip_grad_norm(&params, 1.0, 2.0);
        mark(&mut lap);
        opt.step();
        std::hint::black_box(loss.data().to_vec::<f32>());
        mark(&mut lap);
        lap.push(t0.elapsed().as_secs_f64() * 1e3);
        if s >= 2 {
            for (k, v) in lap.into_iter().enumerate() {
                times[k].push(v);
            }
        }
    }
    for (name, mut v) in names.iter().zip(times) {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!("{name:>14}: median {:8.3} ms (min {:.3}, max {:.3})", v[v.len() / 2], v[0], v[v.len() - 1]);
    }
}
