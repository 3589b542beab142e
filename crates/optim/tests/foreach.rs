//! The multi-tensor ("foreach") steps: Adam, AdamW (with and without amsgrad) and SGD with
//! momentum (and Nesterov) update all parameters of a group in one fused pass (one GPU dispatch).
//! Several parameters of odd sizes in ONE group must end exactly where the same parameters end
//! when each is alone in its own group (the per-tensor path), bit for bit, on the CPU and on the
//! GPU, in F32 and F64; a group whose parameters differ in dtype or step count is split.

use ember_autograd::Variable;
use ember_optim::*;
use ember_tensor::{DType, Device, Tensor};

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

type Build = fn(Vec<ParamGroup>) -> Box<dyn Optimizer>;

fn builds() -> Vec<(&'static str, Build)> {
    vec![
        ("adam", |g| Box::new(Adam::with_groups(g, 0.01))),
        ("adam amsgrad l2 maximize", |g| {
            Box::new(Adam::with_groups(g, 0.01).amsgrad(true).weight_decay(0.1).maximize(true))
        }),
        ("adamw", |g| Box::new(AdamW::with_groups(g, 0.01))),
        ("adamw amsgrad", |g| Box::new(AdamW::with_groups(g, 0.01).amsgrad(true))),
        ("sgd momentum", |g| Box::new(Sgd::with_groups(g, 0.05).momentum(0.9).dampening(0.1).weight_decay(0.01))),
        ("sgd nesterov", |g| Box::new(Sgd::with_groups(g, 0.05).momentum(0.9).nesterov(true))),
    ]
}

/// Runs 3 steps with the parameters in one group (`together`) or one group each; returns the
/// parameters after each step.
fn run(build: Build, init: &[Tensor], dev: Device, together: bool) -> Vec<Vec<Tensor>> {
    let ps: Vec<Variable> = init.iter().map(|t| Variable::new(t.to(&dev), true)).collect();
    let groups = if together {
        vec![ParamGroup::new(ps.clone())]
    } else {
        ps.iter().map(|p| ParamGroup::new(vec![p.clone()])).collect()
    };
    let mut opt = build(groups);
    (0..3)
        .map(|k| {
            for (j, p) in ps.iter().enumerate() {
                let n = p.data().numel();
                let g = Tensor::from_vec(values(n, 100 * k + j as u64), p.data().shape()).to_dtype(p.data().dtype());
                p.set_grad(Some(g.to(&dev)));
            }
            opt.step();
            ps.iter().map(|p| p.data()).collect()
        })
        .collect()
}

/// Parameters of odd sizes (one above the CPU's parallel threshold) of `dtype`, one 2-d.
fn params(dtype: DType) -> Vec<Tensor> {
    let mut v: Vec<Tensor> = [1usize, 13, 257, 70_001, 31]
        .iter()
        .enumerate()
        .map(|(k, &n)| Tensor::from_vec(values(n, k as u64), &[n]).to_dtype(dtype))
        .collect();
    v.push(Tensor::from_vec(values(15, 9), &[3, 5]).to_dtype(dtype));
    v
}

fn check(dev: Device, dtypes: &[DType]) {
    for &dtype in dtypes {
        for (name, build) in builds() {
            let init = params(dtype);
            let (many, one) = (run(build, &init, dev, true), run(build, &init, dev, false));
            for (k, (a, b)) in many.iter().zip(&one).enumerate() {
                for (j, (x, y)) in a.iter().zip(b).enumerate() {
                    assert_eq!((x.shape(), x.dtype(), x.device()), (y.shape(), dtype, dev), "{name}");
                    assert_eq!(
                        x.to_vec::<f64>(),
                        y.to_vec::<f64>(),
                        "{name} {dtype} on {dev}: p{j} after step {}",
                        k + 1
                    );
                }
            }
        }
    }
}

#[test]
fn foreach_steps_equal_per_tensor_steps_on_the_cpu() {
    check(Device::Cpu, &[DType::F32, DType::F64]);
}

#[test]
fn a_group_of_mixed_dtypes_and_step_counts_is_split_and_still_exact() {
    // an F64 parameter among F32 ones, and one that joins after the first step
    let (a, b) = (Tensor::from_vec(values(9, 1), &[9]), Tensor::from_vec(values(5, 2), &[5]).to_dtype(DType::F32));
    let c = Tensor::from_vec(values(7, 3), &[7]).to_dtype(DType::F32);
    let vars: Vec<Variable> = [&a, &b, &c].iter().map(|t| Variable::new((*t).clone(), true)).collect();
    let alone: Vec<Variable> = [&a, &b, &c].iter().map(|t| Variable::new((*t).clone(), true)).collect();
    let mut opt = Adam::with_groups(vec![ParamGroup::new(vars.clone())], 0.01);
    let mut opts: Vec<Adam> = alone.iter().map(|v| Adam::new(vec![v.clone()], 0.01)).collect();
    for k in 0..3u64 {
        for (j, (v, w)) in vars.iter().zip(&alone).enumerate() {
            // the last parameter has no gradient in the first step: its step count lags
            let g = (k > 0 || j < 2).then(|| {
                Tensor::from_vec(values(v.data().numel(), 10 * k + j as u64), v.data().shape())
                    .to_dtype(v.data().dtype())
            });
            v.set_grad(g.clone());
            w.set_grad(g);
        }
        opt.step();
        opts.iter_mut().for_each(Adam::step);
        for (j, (v, w)) in vars.iter().zip(&alone).enumerate() {
            assert_eq!(v.data().to_vec::<f64>(), w.data().to_vec::<f64>(), "p{j} after step {}", k + 1);
        }
    }
}

#[test]
fn foreach_steps_equal_per_tensor_steps_on_the_gpu() {
    let dev = match Device::gpu() {
        Ok(d) => d,
        Err(e) if std::env::var("EMBER_REQUIRE_GPU").is_ok_and(|v| v == "1") => panic!("no GPU: {e}"),
        Err(_) => return println!("skipping GPU test: no adapter (set EMBER_REQUIRE_GPU=1 to fail instead)"),
    };
    let f64_ok = Tensor::from_vec(vec![1.0f64], &[1]).to(&dev).try_to_dtype(DType::F32).is_ok();
    check(dev, if f64_ok { &[DType::F32, DType::F64] } else { &[DType::F32] });
}
