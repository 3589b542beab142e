//! `ember::prelude::*` brings exactly the names API.md lists, and the facade re-exports the levels.

use ember::prelude::*;
#[allow(unused_imports)]
use ember::prelude::{nn as _, optim as _}; // the crate modules themselves

// Each use below fails to compile if the prelude lacks the name.
#[allow(dead_code)]
fn names_in_scope(t: Tensor, d: DType, dev: Device, v: Variable, m: &dyn Module) -> (Tensor, DType, Device, Variable) {
    let _ = m.parameters();
    let _ = no_grad(|| 1);
    let _ = nn::Linear::new(1, 1);
    (t, d, dev, v)
}
#[allow(dead_code)]
fn optimizer_in_scope(o: &mut dyn Optimizer) {
    o.step();
}

#[test]
fn facade_reexports() {
    // The levels under their API.md paths.
    let _: ember::tensor::Tensor = ember::Tensor::ones(&[1]);
    let v: ember::autograd::Variable = ember::Variable::new(ember::Tensor::ones(&[2]), true);
    let g = ember::autograd::grad(&(&v * &v).sum(), &[&v], false);
    assert_eq!(g[0].data().to_vec::<f32>(), vec![2.0, 2.0]);
    let _: fn(&ember::autograd::Variable, &[&ember::autograd::Variable], bool) -> Vec<ember::Variable> =
        ember::autograd::grad;
    let x = Tensor::from_vec(vec![0.3f64, -1.2], &[2]);
    ember::autograd::gradcheck(|v: &[Variable]| (&v[0] * &v[0]).sum(), &[x]).unwrap();
    let _ = ember::autograd::detect_anomaly;
    let r: ember::Result<()> = Err(ember::Error::Io("x".into()));
    assert!(r.is_err());
    assert!(ember::enable_grad(|| ember::no_grad(|| !ember::autograd::is_grad_enabled())));
    ember::manual_seed(1);
    let a = Tensor::randn(&[3]);
    ember::manual_seed(1);
    assert_eq!(a.to_vec::<f32>(), Tensor::randn(&[3]).to_vec::<f32>());
}

#[test]
fn prelude_is_enough_for_a_model() {
    let m = nn::Sequential::new().add(nn::Linear::new(4, 3)).add(nn::Relu::new());
    let y = m.forward(&Variable::from(Tensor::ones(&[2, 4])));
    assert_eq!((y.shape(), y.dtype(), y.device()), (vec![2, 3], DType::F32, Device::Cpu));
    let names: Vec<String> = m.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["0.weight", "0.bias"]);
}
