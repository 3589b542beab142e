//! Optimizers vs torch.optim: from the same weights and the same gradient sequence, every step
//! gives PyTorch's weights (f32 relative tolerance 1e-4).

mod common;

use common::{assert_close, f64s, Fx};
use ember_autograd::Variable;
use ember_optim::*;

type Build = fn(Vec<Variable>) -> Box<dyn Optimizer>;

/// The Rust twin of each case of `opt_cases()` in scripts/fixtures/fam_optim.py.
fn build(case: &str) -> Build {
    match case {
        "sgd" => |p| Box::new(Sgd::new(p, 0.1)),
        "sgd_momentum" => |p| Box::new(Sgd::new(p, 0.1).momentum(0.9)),
        "sgd_nesterov" => |p| Box::new(Sgd::new(p, 0.1).momentum(0.9).nesterov(true)),
        "sgd_dampening_wd" => |p| Box::new(Sgd::new(p, 0.1).momentum(0.9).dampening(0.3).weight_decay(0.05)),
        "sgd_maximize" => |p| Box::new(Sgd::new(p, 0.05).momentum(0.5).weight_decay(0.01).maximize(true)),
        "sgd_nesterov_wd_max" => {
            |p| Box::new(Sgd::new(p, 0.05).nesterov(true).momentum(0.9).weight_decay(0.1).maximize(true))
        }
        "sgd_momentum_skip" => |p| Box::new(Sgd::new(p, 0.1).momentum(0.9)),
        "adam" => |p| Box::new(Adam::new(p, 0.01)),
        "adam_betas_eps" => |p| Box::new(Adam::new(p, 0.02).betas(0.8, 0.99).eps(1e-6)),
        "adam_wd" => |p| Box::new(Adam::new(p, 0.01).weight_decay(0.1)),
        "adam_amsgrad" => |p| Box::new(Adam::new(p, 0.01).amsgrad(true).weight_decay(0.05)),
        "adam_maximize" => |p| Box::new(Adam::new(p, 0.01).maximize(true)),
        "adam_decoupled" => |p| Box::new(Adam::new(p, 0.01).weight_decay(0.1).decoupled_weight_decay(true)),
        "adam_skip" => |p| Box::new(Adam::new(p, 0.01)),
        "adam_f64" => |p| Box::new(Adam::new(p, 0.01).weight_decay(0.01).amsgrad(true)),
        "adamw" => |p| Box::new(AdamW::new(p, 0.01)),
        "adamw_amsgrad_wd" => |p| Box::new(AdamW::new(p, 0.01).weight_decay(0.1).amsgrad(true)),
        "rmsprop" => |p| Box::new(RmsProp::new(p, 0.01)),
        "rmsprop_centered_momentum" => |p| Box::new(RmsProp::new(p, 0.01).centered(true).momentum(0.9)),
        "rmsprop_alpha_wd" => |p| Box::new(RmsProp::new(p, 0.01).alpha(0.9).weight_decay(0.1).eps(1e-6)),
        "rmsprop_momentum_max" => |p| Box::new(RmsProp::new(p, 0.01).momentum(0.5).maximize(true)),
        "adagrad" => |p| Box::new(Adagrad::new(p, 0.1)),
        "adagrad_decay" => {
            |p| Box::new(Adagrad::new(p, 0.1).lr_decay(0.1).weight_decay(0.05).initial_accumulator_value(0.1).eps(1e-8))
        }
        "adadelta" => |p| Box::new(Adadelta::new(p, 1.0)),
        "adadelta_rho_wd" => |p| Box::new(Adadelta::new(p, 0.5).rho(0.8).weight_decay(0.1).eps(1e-5).maximize(true)),
        "adamax" => |p| Box::new(Adamax::new(p, 0.01)),
        "adamax_wd" => |p| Box::new(Adamax::new(p, 0.01).weight_decay(0.1).betas(0.8, 0.95)),
        "nadam" => |p| Box::new(NAdam::new(p, 0.01)),
        "nadam_wd_md" => |p| Box::new(NAdam::new(p, 0.01).weight_decay(0.1).momentum_decay(0.01)),
        "nadam_decoupled" => |p| Box::new(NAdam::new(p, 0.01).weight_decay(0.1).decoupled_weight_decay(true)),
        "radam" => |p| Box::new(RAdam::new(p, 0.01)),
        "radam_rect" => |p| Box::new(RAdam::new(p, 0.01).betas(0.9, 0.8)),
        "radam_wd_decoupled" => {
            |p| Box::new(RAdam::new(p, 0.01).betas(0.9, 0.8).weight_decay(0.1).decoupled_weight_decay(true))
        }
        "radam_wd" => |p| Box::new(RAdam::new(p, 0.01).betas(0.9, 0.8).weight_decay(0.1)),
        "sgd_groups" => |p| {
            let groups =
                vec![ParamGroup::new(p[..2].to_vec()).lr(0.05).momentum(0.5), ParamGroup::new(p[2..].to_vec())];
            Box::new(Sgd::with_groups(groups, 0.1).momentum(0.9))
        },
        "adam_groups" => |p| {
            let groups = vec![
                ParamGroup::new(p[..1].to_vec()).lr(0.001),
                ParamGroup::new(p[1..].to_vec()).weight_decay(0.1).betas(0.5, 0.9),
            ];
            Box::new(Adam::with_groups(groups, 0.01))
        },
        other => panic!("fixture case {other} has no Rust twin in tests/parity.rs"),
    }
}

/// The case's parameters (initial weights) and, per parameter, its gradients, masks and the
/// weights after each step.
pub struct Case {
    pub params: Vec<Variable>,
    pub grads: Vec<ember_tensor::Tensor>,
    pub masks: Vec<Vec<i64>>,
    pub after: Vec<ember_tensor::Tensor>,
    pub steps: usize,
}

pub fn load_case(fx: &Fx, case: &str) -> Case {
    let n = (0..).take_while(|j| fx.try_get(&format!("{case}/p{j}/init")).is_some()).count();
    let params = (0..n).map(|j| Variable::new(fx.get(&format!("{case}/p{j}/init")), true)).collect();
    let grads: Vec<_> = (0..n).map(|j| fx.get(&format!("{case}/p{j}/grads"))).collect();
    let masks = (0..n).map(|j| fx.get(&format!("{case}/p{j}/mask")).to_vec::<i64>()).collect();
    let after = (0..n).map(|j| fx.get(&format!("{case}/p{j}/after"))).collect();
    let steps = grads[0].shape()[0];
    Case { params, grads, masks, after, steps }
}

/// Feeds step `k`'s gradients (None where the mask says so).
pub fn feed(c: &Case, k: usize) {
    for (j, p) in c.params.iter().enumerate() {
        let g = (c.masks[j][k] != 0).then(|| c.grads[j].select(0, k as i64).contiguous());
        p.set_grad(g);
    }
}

#[test]
fn every_optimizer_case_matches_pytorch() {
    let fx = Fx::load();
    let cases = fx.cases("");
    assert!(cases.len() >= 30, "only {} optimizer cases in the fixture", cases.len());
    for case in &cases {
        let c = load_case(&fx, case);
        let mut opt = build(case)(c.params.clone());
        for k in 0..c.steps {
            feed(&c, k);
            opt.step();
            for (j, p) in c.params.iter().enumerate() {
                let want = c.after[j].select(0, k as i64);
                assert_eq!(p.dtype(), want.dtype(), "{case}: dtype of p{j}");
                assert_close(&format!("{case}: p{j} after step {}", k + 1), &f64s(&p.data()), &f64s(&want), 1e-4, 1e-6);
            }
        }
    }
}

/// The same cases with the parameters and gradients on the GPU (the fused updates run as
/// generated kernels there). Skipped without an adapter unless `EMBER_REQUIRE_GPU=1`; F64 cases
/// are skipped on adapters without f64 shaders.
#[test]
fn every_optimizer_case_matches_pytorch_on_the_gpu() {
    use ember_tensor::{DType, Device, Tensor};
    let dev = match Device::gpu() {
        Ok(d) => d,
        Err(e) if std::env::var("EMBER_REQUIRE_GPU").is_ok_and(|v| v == "1") => panic!("no GPU: {e}"),
        Err(_) => return println!("skipping GPU test: no adapter (set EMBER_REQUIRE_GPU=1 to fail instead)"),
    };
    let f64_ok = Tensor::from_vec(vec![1.0f64], &[1]).to(&dev).try_to_dtype(DType::F32).is_ok();
    let fx = Fx::load();
    let mut ran = 0;
    for case in &fx.cases("") {
        let mut c = load_case(&fx, case);
        if c.params.iter().any(|p| p.dtype() == DType::F64) && !f64_ok {
            continue;
        }
        c.params = c.params.iter().map(|p| Variable::new(p.data().to(&dev), true)).collect();
        c.grads = c.grads.iter().map(|g| g.to(&dev)).collect();
        let mut opt = build(case)(c.params.clone());
        for k in 0..c.steps {
            feed(&c, k);
            opt.step();
            for (j, p) in c.params.iter().enumerate() {
                assert_eq!(p.device(), dev, "{case}: p{j} left the GPU");
                let want = c.after[j].select(0, k as i64);
                let what = format!("{case} (gpu): p{j} after step {}", k + 1);
                assert_close(&what, &f64s(&p.data()), &f64s(&want), 1e-4, 1e-6);
            }
        }
        ran += 1;
    }
    assert!(ran >= 25, "only {ran} optimizer cases ran on the GPU");
}

#[test]
fn group_lrs_and_hyperparameters() {
    let fx = Fx::load();
    let c = load_case(&fx, "sgd_groups");
    let opt = build("sgd_groups")(c.params.clone());
    assert_eq!(opt.num_param_groups(), 2);
    assert_eq!(opt.group_lrs(), vec![0.05, 0.1]);
    assert_eq!(opt.hyper(0, "momentum"), Some(0.5));
    assert_eq!(opt.hyper(1, "momentum"), Some(0.9));
    assert_eq!(opt.lr(), 0.05);
    let mut opt = opt;
    opt.set_lr(0.3);
    assert_eq!(opt.group_lrs(), vec![0.3, 0.3]);
    assert_eq!(opt.params().len(), 3);
}
