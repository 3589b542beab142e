//! LR schedulers vs torch.optim.lr_scheduler: the rate of every group (and the cycled momentum)
//! after construction and after each of 20 steps.

mod common;

use common::{assert_close, f64s, Fx};
use ember_autograd::Variable;
use ember_optim::*;
use ember_tensor::Tensor;

fn groups() -> Vec<ParamGroup> {
    let a = Variable::new(Tensor::zeros(&[2]), true);
    let b = Variable::new(Tensor::zeros(&[3]), true);
    vec![ParamGroup::new(vec![a]), ParamGroup::new(vec![b]).lr(0.02)]
}

fn sgd() -> Box<dyn Optimizer> {
    Box::new(Sgd::with_groups(groups(), 0.1).momentum(0.9))
}

fn panic_msg(r: std::thread::Result<impl Sized>) -> String {
    let e = r.err().expect("expected a panic");
    e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string())).unwrap()
}

enum Sched {
    Epoch(Box<dyn LrScheduler>),
    Plateau(ReduceLrOnPlateau),
}

/// The Rust twin of each case of `sched_cases()` in scripts/fixtures/fam_optim.py: the optimizer,
/// the scheduler, and the optimizer key whose cycling is recorded.
fn build(case: &str) -> (Box<dyn Optimizer>, Sched, Option<&'static str>) {
    let mut opt = sgd();
    let o = opt.as_mut();
    let s: Box<dyn LrScheduler> = match case {
        "step" => Box::new(StepLr::new(o, 3).gamma(0.5)),
        "multistep" => Box::new(MultiStepLr::new(o, &[2, 5, 5, 9]).gamma(0.3)),
        "exponential" => Box::new(ExponentialLr::new(o, 0.9)),
        "cosine" => Box::new(CosineAnnealingLr::new(o, 7).eta_min(0.001)),
        "cosine_zero" => Box::new(CosineAnnealingLr::new(o, 5)),
        "linear" => Box::new(LinearLr::new(o, 0.25, 1.0, 6)),
        "linear_down" => Box::new(LinearLr::new(o, 1.0, 0.1, 10)),
        "linear_default" => Box::new(LinearLr::new(o, 1.0 / 3.0, 1.0, 5)),
        "lambda" => Box::new(LambdaLr::new(o, |e| 0.9f64.powi(e as i32))),
        "lambda_groups" => Box::new(LambdaLr::with_lambdas(
            o,
            vec![Box::new(|e| 1.0 / (e as f64 + 1.0)), Box::new(|e| if e > 3 { 0.5 } else { 1.0 })],
        )),
        "onecycle_sgd" => {
            let s = OneCycleLr::new(o, 0.5, 20);
            return (opt, Sched::Epoch(Box::new(s)), Some("momentum"));
        }
        "onecycle_adam" => {
            let mut opt: Box<dyn Optimizer> = Box::new(Adam::with_groups(groups(), 0.1));
            let options = OneCycleOptions {
                pct_start: 0.25,
                anneal_strategy: Anneal::Linear,
                three_phase: true,
                div_factor: 10.0,
                final_div_factor: 100.0,
                ..OneCycleOptions::default()
            };
            let s = OneCycleLr::with_options(opt.as_mut(), 0.01, 20, options);
            return (opt, Sched::Epoch(Box::new(s)), Some("beta1"));
        }
        "onecycle_nomom" => {
            let mut opt: Box<dyn Optimizer> = Box::new(Adagrad::with_groups(groups(), 0.1));
            let options = OneCycleOptions { cycle_momentum: false, base_momentum: 0.8, ..OneCycleOptions::default() };
            let s = OneCycleLr::with_options(opt.as_mut(), 0.3, 20, options);
            return (opt, Sched::Epoch(Box::new(s)), None);
        }
        "plateau_min" => {
            let s = ReduceLrOnPlateau::new(o).factor(0.5).patience(2).cooldown(1).min_lr(0.003);
            return (opt, Sched::Plateau(s), None);
        }
        "plateau_max_abs" => {
            let s = ReduceLrOnPlateau::new(o)
                .mode(PlateauMode::Max)
                .threshold_mode(ThresholdMode::Abs)
                .threshold(0.1)
                .patience(1)
                .min_lrs(vec![0.01, 0.0]);
            return (opt, Sched::Plateau(s), None);
        }
        "plateau_default" => {
            let s = ReduceLrOnPlateau::new(o);
            return (opt, Sched::Plateau(s), None);
        }
        other => panic!("fixture case {other} has no Rust twin in tests/schedulers.rs"),
    };
    (opt, Sched::Epoch(s), None)
}

#[test]
fn every_scheduler_case_matches_pytorch() {
    let fx = Fx::load();
    let cases = fx.cases("sched/");
    assert!(cases.len() >= 16, "only {} scheduler cases", cases.len());
    for case in &cases {
        let lrs = fx.get(&format!("sched/{case}/lrs"));
        let (steps, groups) = (lrs.shape()[0] - 1, lrs.shape()[1]);
        let metrics = fx.try_get(&format!("sched/{case}/metrics")).map(|m| f64s(&m));
        let moms = fx.try_get(&format!("sched/{case}/mom"));
        let (mut opt, mut sched, key) = build(case);
        assert_eq!(opt.num_param_groups(), groups);
        let check = |opt: &dyn Optimizer, k: usize| {
            let want = f64s(&lrs.select(0, k as i64));
            assert_close(&format!("{case}: lrs at step {k}"), &opt.group_lrs(), &want, 1e-12, 1e-15);
            if let (Some(m), Some(key)) = (&moms, key) {
                let want = f64s(&m.select(0, k as i64));
                let got: Vec<f64> = (0..groups).map(|g| opt.hyper(g, key).unwrap()).collect();
                assert_close(&format!("{case}: {key} at step {k}"), &got, &want, 1e-12, 1e-15);
            }
        };
        check(opt.as_ref(), 0);
        for k in 0..steps {
            match &mut sched {
                Sched::Epoch(s) => {
                    s.step(opt.as_mut());
                    assert_eq!(s.get_last_lr(), opt.group_lrs());
                    assert_eq!(s.last_epoch(), k as i64 + 1);
                }
                Sched::Plateau(s) => {
                    s.step(opt.as_mut(), metrics.as_ref().unwrap()[k]);
                    assert_eq!(s.get_last_lr(), opt.group_lrs());
                }
            }
            check(opt.as_ref(), k + 1);
        }
    }
}

#[test]
fn schedulers_chain_from_initial_lr() {
    // A second scheduler starts from the base rates the first recorded, as in PyTorch.
    let mut opt = sgd();
    let mut warm = LinearLr::new(opt.as_mut(), 0.5, 1.0, 2);
    assert_eq!(opt.group_lrs(), vec![0.05, 0.01]);
    let mut decay = ExponentialLr::new(opt.as_mut(), 0.5);
    assert_eq!(opt.hyper(0, "initial_lr"), Some(0.1));
    warm.step(opt.as_mut());
    decay.step(opt.as_mut());
    // linear factor 0.75 then the exponential halving, on the current rate
    assert_close("chained", &opt.group_lrs(), &[0.0375, 0.0075], 1e-12, 0.0);
    let lam = LambdaLr::new(opt.as_mut(), |_| 1.0);
    assert_eq!(lam.get_last_lr(), vec![0.1, 0.02]);
}

#[test]
fn one_cycle_past_total_steps_panics() {
    let mut opt = sgd();
    let mut s = OneCycleLr::new(opt.as_mut(), 0.5, 2);
    s.step(opt.as_mut());
    s.step(opt.as_mut());
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.step(opt.as_mut())));
    let msg = panic_msg(r);
    assert!(
        msg.contains("OneCycleLr") && msg.contains("tried to step 3 times") && msg.contains("total steps is 2"),
        "{msg}"
    );
}

#[test]
fn scheduler_argument_errors() {
    let mut opt = sgd();
    let e = LinearLr::try_new(opt.as_mut(), 0.0, 1.0, 5).err().unwrap().to_string();
    assert!(e.contains("LinearLr") && e.contains("start_factor") && e.contains('0'), "{e}");
    let e = LinearLr::try_new(opt.as_mut(), 0.5, 1.5, 5).err().unwrap().to_string();
    assert!(e.contains("end_factor") && e.contains("1.5"), "{e}");
    let e = LambdaLr::try_with_lambdas(opt.as_mut(), vec![Box::new(|_| 1.0)]).err().unwrap().to_string();
    assert!(e.contains("expected 2 lr_lambdas") && e.contains("got 1"), "{e}");
    let e = OneCycleLr::try_with_options(opt.as_mut(), 0.1, 0, OneCycleOptions::default()).err().unwrap().to_string();
    assert!(e.contains("total_steps"), "{e}");
    let o = OneCycleOptions { pct_start: 1.5, ..OneCycleOptions::default() };
    let e = OneCycleLr::try_with_options(opt.as_mut(), 0.1, 10, o).err().unwrap().to_string();
    assert!(e.contains("pct_start") && e.contains("1.5"), "{e}");
    let mut ada = Adagrad::new(vec![Variable::new(Tensor::zeros(&[1]), true)], 0.1);
    let e = OneCycleLr::try_with_options(&mut ada, 0.1, 10, OneCycleOptions::default()).err().unwrap().to_string();
    assert!(e.contains("Adagrad") && e.contains("momentum or beta1"), "{e}");
    let mut adam = Adam::new(vec![Variable::new(Tensor::zeros(&[1]), true)], 0.1);
    let o = OneCycleOptions { max_momentum: 1.2, ..OneCycleOptions::default() };
    let e = OneCycleLr::try_with_options(&mut adam, 0.1, 10, o).err().unwrap().to_string();
    assert!(e.contains("Adam") && e.contains("beta") && e.contains("1.2"), "{e}");
    let r = std::panic::catch_unwind(|| {
        ReduceLrOnPlateau::new(&Sgd::new(vec![Variable::new(Tensor::zeros(&[1]), true)], 0.1)).factor(1.0)
    });
    let msg = panic_msg(r);
    assert!(msg.contains("factor should be < 1.0, got 1"), "{msg}");
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| StepLr::new(opt.as_mut(), 0)));
    let msg = panic_msg(r);
    assert!(msg.contains("StepLr: step_size must be positive"), "{msg}");
}

#[test]
fn scheduler_rejects_an_optimizer_with_other_groups() {
    let mut opt = sgd();
    let mut s = StepLr::new(opt.as_mut(), 2);
    let mut other = Sgd::new(vec![Variable::new(Tensor::zeros(&[1]), true)], 0.1);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.step(&mut other)));
    let msg = panic_msg(r);
    assert!(msg.contains("StepLr: the optimizer has 1 parameter groups, the scheduler was built for 2"), "{msg}");
}
