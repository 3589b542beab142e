//! Dropout (the masks come from the seeded generator; dropping rate, scaling, gradient, modes)
//! and seeded reproducibility of initialisation. The generator is process-wide, so every test
//! here holds one lock while it seeds and draws.

use std::sync::Mutex;

use ember_autograd::Variable;
use ember_nn::functional as F;
use ember_nn::*;
use ember_tensor::{manual_seed, DType, Tensor};

static RNG: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    RNG.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn drops_at_rate_p_and_scales_the_rest() {
    let _g = lock();
    manual_seed(11);
    let x = Variable::new(Tensor::ones(&[20000]), true);
    let y = Dropout::new(0.3).forward(&x);
    let v = y.to_vec::<f32>();
    let dropped = v.iter().filter(|&&a| a == 0.0).count() as f64 / v.len() as f64;
    assert!((dropped - 0.3).abs() < 0.015, "dropped fraction {dropped}");
    assert!(v.iter().all(|&a| a == 0.0 || (a - 1.0 / 0.7).abs() < 1e-6));
    // the gradient is the same mask and scale
    y.sum().backward();
    assert_eq!(x.grad().unwrap().to_vec::<f32>(), v);
}

#[test]
fn masks_repeat_under_manual_seed() {
    let _g = lock();
    let x = Variable::from(Tensor::ones(&[64]));
    manual_seed(5);
    let a = F::dropout(&x, 0.5, true).to_vec::<f32>();
    manual_seed(5);
    let b = F::dropout(&x, 0.5, true).to_vec::<f32>();
    manual_seed(6);
    let c = F::dropout(&x, 0.5, true).to_vec::<f32>();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn eval_and_edge_probabilities() {
    let _g = lock();
    let x = Variable::new(Tensor::randn(&[4, 5]), true);
    let drop = Dropout::new(0.5);
    drop.eval();
    assert!(drop.forward(&x).same(&x));
    assert!(F::dropout(&x, 0.0, true).same(&x));
    let all = F::dropout(&x, 1.0, true);
    assert_eq!(all.to_vec::<f32>(), vec![0.0; 20]);
    all.sum().backward();
    assert_eq!(x.grad().unwrap().to_vec::<f32>(), vec![0.0; 20]);
    let x64 = Variable::from(Tensor::ones(&[100]).to_dtype(DType::F64));
    let y = F::dropout(&x64, 0.5, true);
    assert_eq!(y.dtype(), DType::F64);
    assert!(y.to_vec::<f64>().iter().all(|&a| a == 0.0 || a == 2.0));
}

#[test]
fn eval_on_a_container_turns_nested_dropout_off() {
    let _g = lock();
    let m = Sequential::new().add(Linear::new(3, 3)).add(Sequential::new().add(Dropout::new(0.9)));
    let x = Variable::from(Tensor::randn(&[8, 3]));
    m.eval();
    let a = m.forward(&x).to_vec::<f32>();
    let b = m.forward(&x).to_vec::<f32>();
    assert_eq!(a, b);
    m.train();
    assert_ne!(m.forward(&x).to_vec::<f32>(), a);
}

#[test]
fn init_repeats_under_manual_seed() {
    let _g = lock();
    let make = || {
        let m = Sequential::new().add(Conv2d::new(2, 3, 3)).add(Embedding::new(4, 2)).add(Bilinear::new(2, 2, 1));
        m.parameters().iter().flat_map(|p| p.to_vec::<f32>()).collect::<Vec<f32>>()
    };
    manual_seed(3);
    let a = make();
    manual_seed(3);
    assert_eq!(a, make());
}
