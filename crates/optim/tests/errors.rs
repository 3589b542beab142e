//! Bad inputs: every one is an error (or a panic of the unchecked form) naming the optimizer and
//! the value, as PyTorch's ValueErrors do.

use ember_autograd::Variable;
use ember_optim::*;
use ember_tensor::{DType, Tensor};

fn ps() -> Vec<Variable> {
    vec![Variable::new(Tensor::zeros(&[2]), true), Variable::new(Tensor::zeros(&[3]), true)]
}

fn panic_msg(f: impl FnOnce()) -> String {
    let e = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).expect_err("expected a panic");
    e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string())).unwrap()
}

#[track_caller]
fn has(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "message {msg:?} lacks {p:?}");
    }
}

#[test]
fn negative_lr() {
    has(&Sgd::try_new(ps(), -0.1).unwrap_err().to_string(), &["Sgd", "invalid learning rate: -0.1"]);
    has(&Adam::try_new(ps(), -1.0).unwrap_err().to_string(), &["Adam", "learning rate: -1"]);
    has(&panic_msg(|| drop(RmsProp::new(ps(), -0.5))), &["RmsProp", "learning rate: -0.5"]);
    has(&NAdam::try_new(ps(), f64::NAN).unwrap_err().to_string(), &["NAdam", "learning rate: NaN"]);
}

#[test]
fn out_of_range_options() {
    has(&panic_msg(|| drop(Adam::new(ps(), 0.1).betas(1.0, 0.999))), &["Adam", "beta parameter at index 0: 1"]);
    has(&panic_msg(|| drop(AdamW::new(ps(), 0.1).betas(0.9, -0.1))), &["AdamW", "index 1: -0.1"]);
    has(&panic_msg(|| drop(Adamax::new(ps(), 0.1).betas(0.9, 1.5))), &["Adamax", "index 1: 1.5"]);
    has(&panic_msg(|| drop(RAdam::new(ps(), 0.1).eps(-1e-8))), &["RAdam", "epsilon value: -0.00000001"]);
    has(&panic_msg(|| drop(Adam::new(ps(), 0.1).eps(-1.0))), &["Adam", "invalid epsilon value: -1"]);
    has(&panic_msg(|| drop(Sgd::new(ps(), 0.1).momentum(-0.9))), &["Sgd", "invalid momentum value: -0.9"]);
    has(&panic_msg(|| drop(Sgd::new(ps(), 0.1).weight_decay(-1.0))), &["Sgd", "weight_decay value: -1"]);
    has(&panic_msg(|| drop(RmsProp::new(ps(), 0.1).alpha(-0.1))), &["RmsProp", "alpha value: -0.1"]);
    has(&panic_msg(|| drop(RmsProp::new(ps(), 0.1).momentum(-1.0))), &["RmsProp", "momentum value: -1"]);
    has(&panic_msg(|| drop(Adadelta::new(ps(), 1.0).rho(1.1))), &["Adadelta", "rho value: 1.1"]);
    has(&panic_msg(|| drop(Adagrad::new(ps(), 0.1).lr_decay(-0.1))), &["Adagrad", "lr_decay value: -0.1"]);
    has(
        &panic_msg(|| drop(Adagrad::new(ps(), 0.1).initial_accumulator_value(-1.0))),
        &["Adagrad", "initial_accumulator_value value: -1"],
    );
    has(&panic_msg(|| drop(NAdam::new(ps(), 0.1).momentum_decay(-1.0))), &["NAdam", "momentum_decay value: -1"]);
}

#[test]
fn nesterov_needs_momentum_and_no_dampening() {
    let opt = Sgd::new(ps(), 0.1).nesterov(true);
    has(&opt.validate().unwrap_err().to_string(), &["Sgd", "Nesterov momentum requires a momentum", "momentum 0"]);
    let mut opt = opt;
    has(&panic_msg(|| opt.step()), &["Sgd", "Nesterov"]);
    let opt = Sgd::new(ps(), 0.1).nesterov(true).momentum(0.9).dampening(0.1);
    has(&opt.validate().unwrap_err().to_string(), &["zero dampening", "dampening 0.1"]);
    // the order of the builder calls does not matter
    assert!(Sgd::new(ps(), 0.1).nesterov(true).momentum(0.9).validate().is_ok());
    // in a group: the message names it
    let p = ps();
    let groups = vec![ParamGroup::new(p[..1].to_vec()), ParamGroup::new(p[1..].to_vec()).momentum(0.0)];
    let opt = Sgd::with_groups(groups, 0.1).momentum(0.9).nesterov(true);
    has(&opt.validate().unwrap_err().to_string(), &["Sgd: param group 1: Nesterov"]);
}

#[test]
fn bad_parameter_lists_and_groups() {
    has(&Sgd::try_new(vec![], 0.1).unwrap_err().to_string(), &["Sgd", "empty parameter list"]);
    let p = ps();
    let e = Adam::try_new(vec![p[0].clone(), p[1].clone(), p[0].clone()], 0.1).unwrap_err().to_string();
    has(&e, &["Adam", "parameter 2 appears more than once"]);
    let e = Adam::try_with_groups(vec![ParamGroup::new(p.clone()), ParamGroup::new(vec![p[1].clone()])], 0.1)
        .unwrap_err()
        .to_string();
    has(&e, &["param group 1", "more than one parameter group"]);
    let ints = Variable::new(Tensor::zeros_dtype(&[2], DType::I64), false);
    has(&Sgd::try_new(vec![ints], 0.1).unwrap_err().to_string(), &["Sgd", "parameter 0 has dtype", "floating-point"]);
    let nonleaf = &p[0] * 2.0;
    has(&Sgd::try_new(vec![nonleaf], 0.1).unwrap_err().to_string(), &["non-leaf", "mul"]);
    let e = Adam::try_with_groups(vec![ParamGroup::new(ps()).momentum(0.9)], 0.1).unwrap_err().to_string();
    has(&e, &["Adam", "param group 0", "unknown hyperparameter 'momentum'", "beta1"]);
    let e = Sgd::try_with_groups(vec![ParamGroup::new(ps()).lr(-2.0)], 0.1).unwrap_err().to_string();
    has(&e, &["Sgd", "param group 0", "learning rate: -2"]);
    let mut opt = Sgd::new(ps(), 0.1);
    has(&opt.add_param_group(ParamGroup::new(opt.params())).unwrap_err().to_string(), &["more than once"]);
    opt.add_param_group(ParamGroup::new(ps()).lr(0.5)).unwrap();
    assert_eq!(opt.group_lrs(), vec![0.1, 0.5]);
    assert_eq!(opt.group_params(1).len(), 2);
}

#[test]
fn set_hyper_is_checked() {
    let mut opt = Adam::new(ps(), 0.1);
    has(&opt.set_hyper(0, "beta2", 1.0).unwrap_err().to_string(), &["Adam", "index 1: 1"]);
    has(&opt.set_hyper(3, "lr", 0.1).unwrap_err().to_string(), &["Adam", "param group 3 does not exist"]);
    has(&opt.set_hyper(0, "rho", 0.1).unwrap_err().to_string(), &["unknown hyperparameter 'rho'"]);
    has(&opt.set_hyper(0, "amsgrad", 0.5).unwrap_err().to_string(), &["amsgrad", "0 or 1"]);
    opt.set_hyper(0, "amsgrad", 1.0).unwrap();
    assert_eq!(opt.hyper(0, "amsgrad"), Some(1.0));
    assert_eq!(opt.hyper(0, "momentum"), None);
    has(&panic_msg(|| opt.set_group_lr(2, 0.1)), &["Adam", "param group 2 does not exist"]);
}

#[test]
fn mismatched_gradient_panics_at_step() {
    let p = ps();
    let mut opt = Sgd::new(p.clone(), 0.1);
    p[1].set_grad(Some(Tensor::ones(&[4])));
    has(&panic_msg(|| opt.step()), &["Sgd", "gradient of parameter 1", "[4]", "[3]"]);
    p[1].set_grad(Some(Tensor::ones_dtype(&[3], DType::F64)));
    has(&panic_msg(|| opt.step()), &["Sgd", "parameter 1", "F64", "F32"]);
}

#[test]
fn zero_grad_sets_none_and_skips() {
    let p = ps();
    let mut opt = Adam::new(p.clone(), 0.1);
    p[0].set_grad(Some(Tensor::ones(&[2])));
    opt.step();
    assert_ne!(p[0].data().to_vec::<f32>(), vec![0.0, 0.0]);
    assert_eq!(p[1].data().to_vec::<f32>(), vec![0.0; 3]); // no grad: untouched
    opt.zero_grad();
    assert!(p.iter().all(|v| v.grad().is_none()));
    let sd = opt.state_dict();
    assert!(sd.iter().any(|(k, _)| k == "state.0.step") && !sd.iter().any(|(k, _)| k.starts_with("state.1.")));
}

#[test]
fn a_bad_gradient_changes_no_parameter() {
    let p = ps();
    let mut opt = Sgd::new(p.clone(), 0.1);
    p[0].set_grad(Some(Tensor::ones(&[2])));
    p[1].set_grad(Some(Tensor::ones(&[4])));
    let _ = panic_msg(|| opt.step());
    assert_eq!(p[0].data().to_vec::<f32>(), vec![0.0, 0.0]);
}
