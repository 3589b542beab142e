//! The optimizer part of API.md's canonical program compiles with the concrete types alone.

use ember_autograd::Variable;
use ember_tensor::Tensor;

#[test]
fn training_loop_without_the_trait_in_scope() {
    let w = Variable::new(Tensor::from_vec(vec![1.0f32, -1.0], &[2]), true);
    let mut opt = ember_optim::Adam::new(vec![w.clone()], 1e-3);
    let loss = (&w * &w).sum();
    opt.zero_grad();
    loss.backward();
    opt.step();
    opt.set_lr(opt.lr() / 2.0);
    assert_eq!(opt.lr(), 5e-4);
    let got = w.data().to_vec::<f32>();
    assert!((got[0] - 0.999).abs() < 1e-6 && (got[1] + 0.999).abs() < 1e-6);
}

#[test]
fn optimizers_and_schedulers_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<ember_optim::Sgd>();
    check::<ember_optim::Adam>();
    check::<ember_optim::AdamW>();
    check::<ember_optim::RmsProp>();
    check::<ember_optim::Adagrad>();
    check::<ember_optim::Adadelta>();
    check::<ember_optim::Adamax>();
    check::<ember_optim::NAdam>();
    check::<ember_optim::RAdam>();
    check::<ember_optim::LambdaLr>();
    check::<ember_optim::OneCycleLr>();
    check::<ember_optim::ReduceLrOnPlateau>();
}
