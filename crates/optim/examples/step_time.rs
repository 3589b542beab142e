//! Times optimizer steps alone on the CPU (the speed of the fused updates): Adam on one
//! 401,408-element F32 parameter, Adam and SGD with momentum on the four parameters of the
//! benchmark MLP (784x512, 512, 512x10, 10). Prints, per case, the best and the median of
//! `REPS` runs of `STEPS` steps, in µs per step. `cargo run --release -p ember-optim --example
//! step_time`.

use std::time::Instant;

use ember_autograd::Variable;
use ember_optim::{Adam, Optimizer, Sgd};
use ember_tensor::Tensor;

const REPS: usize = 7;
const STEPS: usize = 200;

fn time(name: &str, shapes: &[&[usize]], make: impl Fn(Vec<Variable>) -> Box<dyn Optimizer>) {
    let ps: Vec<Variable> = shapes.iter().map(|s| Variable::new(Tensor::rand(s), true)).collect();
    let gs: Vec<Tensor> = shapes.iter().map(|s| Tensor::rand(s)).collect();
    let mut opt = make(ps.clone());
    let mut per_step = Vec::new();
    for _ in 0..REPS {
        let t0 = Instant::now();
        for _ in 0..STEPS {
            for (p, g) in ps.iter().zip(&gs) {
                p.set_grad(Some(g.clone()));
            }
            opt.step();
        }
        per_step.push(t0.elapsed().as_secs_f64() / STEPS as f64 * 1e6);
    }
    per_step.sort_by(f64::total_cmp);
    println!("{name}: best {:.0} us, median {:.0} us per step", per_step[0], per_step[REPS / 2]);
}

fn main() {
    let mlp: [&[usize]; 4] = [&[784, 512], &[512], &[512, 10], &[10]];
    time("adam-401k", &[&[784, 512]], |p| Box::new(Adam::new(p, 1e-3)));
    time("adam-mlp", &mlp, |p| Box::new(Adam::new(p, 1e-3)));
    time("sgd-momentum-mlp", &mlp, |p| Box::new(Sgd::new(p, 1e-2).momentum(0.9)));
}
