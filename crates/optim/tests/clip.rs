//! Gradient clipping vs torch.nn.utils.clip_grad_norm_ / clip_grad_value_.

mod common;

use common::{assert_close, f64s, Fx};
use ember_autograd::Variable;
use ember_optim::{clip_grad_norm, clip_grad_value, try_clip_grad_norm};
use ember_tensor::Tensor;

fn with_grads(fx: &Fx, case: &str) -> Vec<Variable> {
    let mut vs: Vec<Variable> = (0..3)
        .map(|j| {
            let g = fx.get(&format!("clip/{case}/g{j}"));
            let v = Variable::new(g.zeros_like(), true);
            v.set_grad(Some(g));
            v
        })
        .collect();
    // A parameter without a gradient is skipped, as in PyTorch.
    vs.push(Variable::new(Tensor::zeros(&[2]), true));
    vs
}

#[test]
fn clip_grad_norm_matches_pytorch() {
    let fx = Fx::load();
    let cases: Vec<String> = fx.cases("clip/").into_iter().filter(|c| c.starts_with("norm")).collect();
    assert_eq!(cases.len(), 6);
    for case in &cases {
        let vs = with_grads(&fx, case);
        let max_norm = fx.get(&format!("clip/{case}/max_norm")).item::<f64>();
        let p = fx.get(&format!("clip/{case}/norm_type")).item::<f64>();
        let total = clip_grad_norm(&vs, max_norm, p);
        let want = fx.get(&format!("clip/{case}/total")).item::<f64>();
        assert_close(&format!("{case}: total norm"), &[total], &[want], 1e-5, 0.0);
        for (j, v) in vs.iter().take(3).enumerate() {
            let want = fx.get(&format!("clip/{case}/out{j}"));
            let got = v.grad().unwrap();
            assert_eq!(got.dtype(), want.dtype());
            assert_close(&format!("{case}: grad {j}"), &f64s(&got), &f64s(&want), 1e-5, 1e-7);
        }
        assert!(vs[3].grad().is_none());
    }
}

#[test]
fn clip_grad_value_matches_pytorch() {
    let fx = Fx::load();
    let vs = with_grads(&fx, "value");
    clip_grad_value(&vs, 0.5);
    for (j, v) in vs.iter().take(3).enumerate() {
        let want = fx.get(&format!("clip/value/out{j}"));
        assert_eq!(f64s(&v.grad().unwrap()), f64s(&want), "grad {j}");
    }
}

#[test]
fn clip_edge_cases() {
    // no gradients at all: norm 0, nothing touched
    let v = Variable::new(Tensor::zeros(&[3]), true);
    assert_eq!(clip_grad_norm(std::slice::from_ref(&v), 1.0, 2.0), 0.0);
    assert!(v.grad().is_none());
    // -inf norm: the smallest magnitude; 0 "norm": gradients holding a nonzero (PyTorch's rule)
    let a = Variable::new(Tensor::zeros(&[2]), true);
    let b = Variable::new(Tensor::zeros(&[2]), true);
    a.set_grad(Some(Tensor::from_vec(vec![-3.0f32, 0.5], &[2])));
    b.set_grad(Some(Tensor::from_vec(vec![0.0f32, 0.0], &[2])));
    assert_eq!(clip_grad_norm(&[a.clone(), b.clone()], 10.0, f64::NEG_INFINITY), 0.0);
    assert_eq!(clip_grad_norm(&[a.clone(), b.clone()], 10.0, 0.0), 1.0);
    // non-finite norm: the NaN coefficient propagates, as PyTorch with error_if_nonfinite=False
    a.set_grad(Some(Tensor::from_vec(vec![f32::INFINITY, 1.0], &[2])));
    assert_eq!(clip_grad_norm(std::slice::from_ref(&a), 1.0, 2.0), f64::INFINITY);
    assert_eq!(a.grad().unwrap().to_vec::<f32>()[1], 0.0);
}

#[test]
fn clip_bad_arguments() {
    let v = Variable::new(Tensor::zeros(&[1]), true);
    v.set_grad(Some(Tensor::ones(&[1])));
    let e = try_clip_grad_norm(std::slice::from_ref(&v), 1.0, -1.0).unwrap_err().to_string();
    assert!(e.contains("clip_grad_norm") && e.contains("norm_type") && e.contains("-1"), "{e}");
    let e = try_clip_grad_norm(std::slice::from_ref(&v), 1.0, f64::NAN).unwrap_err().to_string();
    assert!(e.contains("NaN"), "{e}");
    let r = std::panic::catch_unwind(|| clip_grad_value(std::slice::from_ref(&v), -0.5));
    let e = r.unwrap_err();
    let msg = e.downcast_ref::<String>().unwrap();
    assert!(msg.contains("clip_grad_value: clip_value must be >= 0, got -0.5"), "{msg}");
}
