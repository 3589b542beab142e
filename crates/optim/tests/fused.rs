//! The fused updates (Adam/AdamW with and without amsgrad, SGD momentum and Nesterov, RMSprop in
//! every variant, Adagrad) equal, bit for bit on the CPU, the same formulas written as tensor ops,
//! on small (serial) and large (parallel) parameters; state buffers shared with the caller are
//! left as they were.

use ember_autograd::Variable;
use ember_optim::*;
use ember_tensor::{DType, Tensor};

/// Deterministic values in [-1, 1) (an LCG; independent of Ember's generator).
fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        })
        .collect()
}

/// Runs `steps` steps of `opt` on one parameter and returns the parameter after each, with the
/// gradients used.
fn run(p0: &Tensor, grads: &[Tensor], opt: impl FnOnce(Vec<Variable>) -> Box<dyn Optimizer>) -> Vec<Tensor> {
    let w = Variable::new(p0.clone(), true);
    let mut opt = opt(vec![w.clone()]);
    grads
        .iter()
        .map(|g| {
            w.set_grad(Some(g.clone()));
            opt.step();
            w.data()
        })
        .collect()
}

fn same(what: &str, got: &[Tensor], want: &[Tensor]) {
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.dtype(), w.dtype());
        assert_eq!(g.to_vec::<f64>(), w.to_vec::<f64>(), "{what}: step {}", k + 1);
    }
}

/// Parameters and gradients of F32 and F64, small and above the parallel threshold.
fn cases() -> Vec<(Tensor, Vec<Tensor>)> {
    let mut v = Vec::new();
    for (n, dtype) in [(13usize, DType::F32), (70_001, DType::F32), (9, DType::F64)] {
        let p = Tensor::from_vec(values(n, 1), &[n]).to_dtype(dtype);
        let g = (0..3).map(|k| Tensor::from_vec(values(n, 10 + k), &[n]).to_dtype(dtype)).collect();
        v.push((p, g));
    }
    v
}

#[test]
fn adam_and_amsgrad_equal_their_composite() {
    for (p0, grads) in cases() {
        for (amsgrad, wd) in [(false, 0.0), (true, 0.0), (false, 0.1)] {
            let (lr, b1, b2, eps): (f64, f64, f64, f64) = (0.01, 0.9, 0.999, 1e-8);
            let got = run(&p0, &grads, |p| Box::new(AdamW::new(p, lr).weight_decay(wd).amsgrad(amsgrad)));
            let (mut p, mut m, mut v, mut vmax) = (p0.clone(), p0.zeros_like(), p0.zeros_like(), p0.zeros_like());
            let mut want = Vec::new();
            for (t, g) in grads.iter().enumerate() {
                let t = (t + 1) as f64;
                p = p.mul_scalar(1.0 - lr * wd);
                let (bc1, bc2) = (1.0 - b1.powf(t), 1.0 - b2.powf(t));
                let (step_size, bc2s) = (lr / bc1, bc2.sqrt());
                m = m.add(&g.sub(&m).mul_scalar(1.0 - b1));
                v = v.mul_scalar(b2).add(&g.mul(g).mul_scalar(1.0 - b2));
                vmax = vmax.maximum(&v);
                let used = if amsgrad { &vmax } else { &v };
                p = p.sub(&m.div(&used.sqrt().add_scalar(eps * bc2s)).mul_scalar(step_size * bc2s));
                want.push(p.clone());
            }
            same(&format!("adamw amsgrad={amsgrad} wd={wd} {:?}", p0.shape()), &got, &want);
        }
    }
}

#[test]
fn sgd_momentum_and_nesterov_equal_their_composite() {
    for (p0, grads) in cases() {
        for (nesterov, damp) in [(false, 0.0), (false, 0.3), (true, 0.0)] {
            let (lr, mu) = (0.05, 0.9);
            let got = run(&p0, &grads, |p| Box::new(Sgd::new(p, lr).momentum(mu).dampening(damp).nesterov(nesterov)));
            let (mut p, mut b): (Tensor, Option<Tensor>) = (p0.clone(), None);
            let mut want = Vec::new();
            for g in &grads {
                let nb = match &b {
                    None => g.clone(),
                    Some(b) => b.mul_scalar(mu).add(&g.mul_scalar(1.0 - damp)),
                };
                let d = if nesterov { g.add(&nb.mul_scalar(mu)) } else { nb.clone() };
                b = Some(nb);
                p = p.sub(&d.mul_scalar(lr));
                want.push(p.clone());
            }
            same(&format!("sgd nesterov={nesterov} dampening={damp}"), &got, &want);
        }
    }
}

#[test]
fn rmsprop_variants_equal_their_composite() {
    for (p0, grads) in cases() {
        for (centered, mu, alpha) in [(false, 0.0, 0.99), (true, 0.0, 0.99), (false, 0.9, 0.99), (true, 0.5, 0.3)] {
            let (lr, eps) = (0.01, 1e-8);
            let got = run(&p0, &grads, |p| Box::new(RmsProp::new(p, lr).centered(centered).momentum(mu).alpha(alpha)));
            let (mut p, mut sq, mut ga, mut buf) = (p0.clone(), p0.zeros_like(), p0.zeros_like(), p0.zeros_like());
            let mut want = Vec::new();
            let w = 1.0 - alpha;
            for g in &grads {
                sq = sq.mul_scalar(alpha).add(&g.mul(g).mul_scalar(1.0 - alpha));
                let avg = if centered {
                    // PyTorch's lerp: two forms by the weight
                    ga = if w < 0.5 {
                        ga.add(&g.sub(&ga).mul_scalar(w))
                    } else {
                        g.sub(&g.sub(&ga).mul_scalar(1.0 - w))
                    };
                    sq.sub(&ga.mul(&ga)).sqrt()
                } else {
                    sq.sqrt()
                }
                .add_scalar(eps);
                p = if mu > 0.0 {
                    buf = buf.mul_scalar(mu).add(&g.div(&avg));
                    p.sub(&buf.mul_scalar(lr))
                } else {
                    p.sub(&g.div(&avg).mul_scalar(lr))
                };
                want.push(p.clone());
            }
            same(&format!("rmsprop centered={centered} momentum={mu} alpha={alpha}"), &got, &want);
        }
    }
}

#[test]
fn adagrad_equals_its_composite() {
    for (p0, grads) in cases() {
        for init in [0.0, 0.1] {
            let (lr, eps) = (0.1, 1e-10);
            let got = run(&p0, &grads, |p| Box::new(Adagrad::new(p, lr).initial_accumulator_value(init)));
            let (mut p, mut s) = (p0.clone(), p0.full_like(init));
            let mut want = Vec::new();
            for g in &grads {
                s = s.add(&g.mul(g));
                p = p.sub(&g.div(&s.sqrt().add_scalar(eps)).mul_scalar(lr));
                want.push(p.clone());
            }
            same(&format!("adagrad init={init}"), &got, &want);
        }
    }
}

#[test]
fn state_shared_with_the_caller_is_not_overwritten() {
    let w = Variable::new(Tensor::from_vec(vec![1.0f32, -2.0, 3.0], &[3]), true);
    let mut opt = Adam::new(vec![w.clone()], 0.1);
    w.set_grad(Some(Tensor::from_vec(vec![0.5f32, 0.5, -1.0], &[3])));
    opt.step();
    // hold the moment buffers, then step again: the held copies keep their values
    let state = opt.state_dict();
    let held: Vec<(String, Vec<f64>)> = state.iter().map(|(k, t)| (k.clone(), t.to_vec::<f64>())).collect();
    w.set_grad(Some(Tensor::from_vec(vec![1.0f32, 1.0, 1.0], &[3])));
    opt.step();
    for ((k, before), (_, t)) in held.iter().zip(&state) {
        assert_eq!(&t.to_vec::<f64>(), before, "{k} changed under its holder");
    }
}
