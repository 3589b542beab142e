//! Optimizer state save/load: a run interrupted by save → new optimizer → load continues exactly
//! as the uninterrupted run; mismatched or corrupt files are errors that change nothing.

use std::path::PathBuf;

use ember_autograd::Variable;
use ember_optim::*;
use ember_tensor::{Error, Tensor};

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("ember-optim-{}-{name}.safetensors", std::process::id()))
}

/// Deterministic pseudo-random values (a local generator: the global RNG is shared by the tests
/// running in parallel).
fn pseudo(seed: u64, shape: &[usize]) -> Tensor {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let n = shape.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    Tensor::from_vec(v, shape)
}

fn params(seed: u64) -> Vec<Variable> {
    [vec![3, 4], vec![5], vec![2, 3]]
        .iter()
        .enumerate()
        .map(|(j, s)| Variable::new(pseudo(seed * 10 + j as u64, s), true))
        .collect()
}

/// Gradient of step `k` for parameter `j` (a fixed pseudo-random sequence).
fn grad(j: usize, k: usize, like: &Tensor) -> Tensor {
    pseudo(1000 + 10 * k as u64 + j as u64, like.shape())
}

fn run<O: Optimizer>(opt: &mut O, ps: &[Variable], steps: std::ops::Range<usize>) {
    for k in steps {
        for (j, p) in ps.iter().enumerate() {
            // parameter 2 skips step 1: its state must stay behind the others'
            p.set_grad((!(j == 2 && k == 1)).then(|| grad(j, k, &p.data())));
        }
        opt.step();
    }
}

fn roundtrip<O: Optimizer>(name: &str, make: impl Fn(Vec<Variable>) -> O) {
    let straight = params(7);
    let mut a = make(straight.clone());
    run(&mut a, &straight, 0..6);

    let first = params(7);
    let mut b = make(first.clone());
    run(&mut b, &first, 0..3);
    let path = tmp(name);
    b.save_state(&path).unwrap();
    // A fresh process: new Variables holding the weights, a new optimizer with another lr.
    let resumed: Vec<Variable> = first.iter().map(|p| Variable::new(p.data(), true)).collect();
    let mut c = make(resumed.clone());
    c.set_lr(123.0);
    c.load_state(&path).unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!(c.group_lrs(), b.group_lrs(), "{name}: lr restored");
    run(&mut c, &resumed, 3..6);
    for (j, (x, y)) in straight.iter().zip(&resumed).enumerate() {
        assert_eq!(x.data().to_vec::<f32>(), y.data().to_vec::<f32>(), "{name}: p{j} after resuming");
    }
}

#[test]
fn resume_is_exact_for_every_optimizer() {
    roundtrip("sgd", |p| Sgd::new(p, 0.1).momentum(0.9).nesterov(true).weight_decay(0.01));
    roundtrip("adam", |p| Adam::new(p, 0.01).amsgrad(true).weight_decay(0.1));
    roundtrip("adamw", |p| AdamW::new(p, 0.01));
    roundtrip("rmsprop", |p| RmsProp::new(p, 0.01).centered(true).momentum(0.9));
    roundtrip("adagrad", |p| Adagrad::new(p, 0.1).lr_decay(0.01).initial_accumulator_value(0.1));
    roundtrip("adadelta", |p| Adadelta::new(p, 1.0));
    roundtrip("adamax", |p| Adamax::new(p, 0.01));
    roundtrip("nadam", |p| NAdam::new(p, 0.01).weight_decay(0.1));
    roundtrip("radam", |p| RAdam::new(p, 0.01).betas(0.9, 0.8));
    roundtrip("groups", |p| {
        let g = vec![ParamGroup::new(p[..1].to_vec()).lr(0.02), ParamGroup::new(p[1..].to_vec()).betas(0.5, 0.9)];
        Adam::with_groups(g, 0.01)
    });
}

#[test]
fn state_dict_layout() {
    let ps = params(3);
    let mut opt = Adam::new(ps.clone(), 0.01).amsgrad(true);
    run(&mut opt, &ps, 0..2);
    let sd = opt.state_dict();
    let get = |k: &str| sd.iter().find(|(n, _)| n == k).unwrap_or_else(|| panic!("no {k}")).1.clone();
    assert_eq!(get("optimizer").to_vec::<i64>(), b"Adam".iter().map(|&b| b as i64).collect::<Vec<_>>());
    assert_eq!(get("param_groups.0.params").to_vec::<i64>(), vec![0, 1, 2]);
    assert_eq!(get("param_groups.0.lr").item::<f64>(), 0.01);
    assert_eq!(get("param_groups.0.amsgrad").item::<f64>(), 1.0);
    assert_eq!(get("state.0.step").item::<i64>(), 2);
    assert_eq!(get("state.2.step").item::<i64>(), 1); // skipped step 1
    assert_eq!(get("state.1.exp_avg").shape(), &[5]);
    assert_eq!(get("state.1.max_exp_avg_sq").shape(), &[5]);
}

fn load_err<O: Optimizer>(opt: &mut O, entries: &[(String, Tensor)]) -> String {
    let before = opt.state_dict();
    let e = opt.load_state_dict(entries).unwrap_err();
    assert!(matches!(e, Error::Parse(_)), "{e:?}");
    // nothing changed
    let after = opt.state_dict();
    assert_eq!(before.len(), after.len());
    for ((n, a), (m, b)) in before.iter().zip(&after) {
        assert_eq!(n, m);
        assert_eq!(a.to_vec::<f64>(), b.to_vec::<f64>(), "{n} changed by a failed load");
    }
    e.to_string()
}

fn edited(sd: &[(String, Tensor)], f: impl Fn(&str, &Tensor) -> Option<Tensor>) -> Vec<(String, Tensor)> {
    sd.iter().filter_map(|(k, t)| f(k, t).map(|t| (k.clone(), t))).collect()
}

#[test]
fn mismatched_state_is_an_error() {
    let ps = params(5);
    let mut adam = Adam::new(ps.clone(), 0.01);
    run(&mut adam, &ps, 0..2);
    let sd = adam.state_dict();
    let mut target = Adam::new(params(5), 0.5);

    // another optimizer's file
    let e = load_err(&mut Sgd::new(params(5), 0.1).momentum(0.9), &sd);
    assert!(e.contains("Sgd: load_state") && e.contains("state of a Adam optimizer, not of a Sgd"), "{e}");
    // another number of parameters
    let e = load_err(&mut Adam::new(params(5)[..2].to_vec(), 0.1), &sd);
    assert!(e.contains("Adam: load_state") && e.contains("3 parameters in the file but 2"), "{e}");
    // another number of groups
    let ps2 = params(5);
    let mut two = Adam::with_groups(vec![ParamGroup::new(ps2[..1].to_vec()), ParamGroup::new(ps2[1..].to_vec())], 0.1);
    let e = load_err(&mut two, &sd);
    assert!(e.contains("1 parameter groups, this optimizer has 2"), "{e}");
    // wrong shapes
    let shapes: Vec<Variable> =
        [vec![4, 3], vec![5], vec![2, 3]].iter().map(|s| Variable::new(Tensor::zeros(s), true)).collect();
    let e = load_err(&mut Adam::new(shapes, 0.1), &sd);
    assert!(e.contains("state.0.exp_avg") && e.contains("[3, 4]") && e.contains("[4, 3]"), "{e}");
    // not an optimizer state
    let e = load_err(&mut target, &edited(&sd, |k, t| (k != "optimizer").then(|| t.clone())));
    assert!(e.contains("not an optimizer state"), "{e}");
    // a missing buffer
    let e = load_err(&mut target, &edited(&sd, |k, t| (k != "state.1.exp_avg_sq").then(|| t.clone())));
    assert!(e.contains("missing entry 'state.1.exp_avg_sq'"), "{e}");
    // an unknown entry
    let mut extra = sd.clone();
    extra.push(("state.0.momentum_buffer".into(), Tensor::zeros(&[3, 4])));
    let e = load_err(&mut target, &extra);
    assert!(e.contains("unknown state entry 'state.0.momentum_buffer'"), "{e}");
    let mut extra = sd.clone();
    extra.push(("weights".into(), Tensor::zeros(&[1])));
    assert!(load_err(&mut target, &extra).contains("unexpected entry 'weights'"));
    // a parameter index out of range
    let mut extra = sd.clone();
    extra.push(("state.9.step".into(), Tensor::scalar(1i64)));
    assert!(load_err(&mut target, &extra).contains("parameter 9, but this optimizer has 3"));
    // an invalid hyperparameter
    let bad = edited(&sd, |k, t| Some(if k == "param_groups.0.beta1" { Tensor::scalar(1.5f64) } else { t.clone() }));
    let e = load_err(&mut target, &bad);
    assert!(e.contains("invalid beta parameter at index 0: 1.5"), "{e}");
    let bad = edited(&sd, |k, t| Some(if k == "state.0.step" { Tensor::scalar(-2.0f64) } else { t.clone() }));
    assert!(load_err(&mut target, &bad).contains("must be a step count, got -2"));
    let bad = edited(&sd, |k, t| Some(if k == "param_groups.0.lr" { Tensor::zeros(&[2]) } else { t.clone() }));
    assert!(load_err(&mut target, &bad).contains("'param_groups.0.lr' must be a 0-d number"));
    assert_eq!(target.lr(), 0.5);
}

#[test]
fn corrupt_or_missing_files_are_errors() {
    let ps = params(9);
    let mut opt = RmsProp::new(ps.clone(), 0.01).momentum(0.9);
    run(&mut opt, &ps, 0..2);
    let path = tmp("corrupt");
    opt.save_state(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    for cut in [0, 7, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let e = opt.load_state(&path).unwrap_err().to_string();
        assert!(e.contains("RmsProp: load_state"), "cut {cut}: {e}");
    }
    std::fs::remove_file(&path).ok();
    let e = opt.load_state(tmp("does-not-exist")).unwrap_err();
    assert!(matches!(e, Error::Io(_)) && e.to_string().contains("RmsProp: load_state"), "{e}");
    // a fresh optimizer's state (no steps yet) loads too
    let fresh = Adagrad::new(params(1), 0.1);
    let mut other = Adagrad::new(params(1), 0.2);
    other.load_state_dict(&fresh.state_dict()).unwrap();
    assert_eq!(other.lr(), 0.1);
}
