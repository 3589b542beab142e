//! Gradients of gradients, against closed forms and PyTorch fixtures.

mod common;

use common::{close, tol, Fx};
use ember_autograd::{grad, Variable};
use ember_tensor::Tensor;

fn leaf(t: &Tensor) -> Variable {
    Variable::new(t.clone(), true)
}

/// First and second derivative of `sum(f(x))`, as PyTorch's fixture computed them.
fn d2(x: &Tensor, f: impl Fn(&Variable) -> Variable) -> (Tensor, Tensor) {
    let x = leaf(x);
    let g = grad(&f(&x).sum(), &[&x], true).remove(0);
    let h = grad(&g.sum(), &[&x], false).remove(0);
    (g.data(), h.data())
}

#[test]
fn second_derivatives_match_pytorch() {
    let fx = Fx::load("autograd", "autograd");
    type F = fn(&Variable) -> Variable;
    let cases: [(&str, F); 6] = [
        ("cube", |a| a.powf(3.0)),
        ("tanh", |a| a.tanh()),
        ("sigmoid", |a| a.sigmoid()),
        ("exp_log", |a| &a.exp() * &a.log()),
        ("gelu", |a| a.gelu()),
        ("div_sqrt", |a| &a.sqrt() / &(1.0 + &(a * a))),
    ];
    for sfx in ["f32", "f64"] {
        for (name, f) in cases {
            let case = format!("{name}_{sfx}");
            let x = fx.get(&case, "in0");
            let (g, h) = d2(&x, f);
            close(&g, &fx.get(&case, "out0"), tol(&case), &format!("{case} first"));
            close(&h, &fx.get(&case, "out1"), tol(&case), &format!("{case} second"));
        }
    }
}

#[test]
fn closed_forms() {
    let x = Tensor::from_vec(vec![-1.5f64, 0.0, 0.7, 2.0], &[4]);
    let (g, h) = d2(&x, |a| a.powf(3.0));
    let xs = x.to_vec::<f64>();
    for ((gi, hi), xi) in g.to_vec::<f64>().into_iter().zip(h.to_vec::<f64>()).zip(&xs) {
        assert!((gi - 3.0 * xi * xi).abs() < 1e-12);
        assert!((hi - 6.0 * xi).abs() < 1e-12);
    }
    let (_, h) = d2(&x, |a| a.tanh());
    for (hi, xi) in h.to_vec::<f64>().into_iter().zip(&xs) {
        let t = xi.tanh();
        assert!((hi - (-2.0 * t * (1.0 - t * t))).abs() < 1e-12);
    }
}

fn cross_entropy(z: &Variable, y: &Tensor) -> Variable {
    -z.log_softmax(1).gather(1, &y.unsqueeze(1)).mean()
}

#[test]
fn softmax_cross_entropy_hvp() {
    let fx = Fx::load("autograd", "autograd");
    for sfx in ["f32", "f64"] {
        let case = format!("ce_hvp_{sfx}");
        let ins = fx.inputs(&case);
        let z = leaf(&ins[0]);
        let loss = cross_entropy(&z, &ins[1]);
        let g = grad(&loss, &[&z], true).remove(0);
        let h = grad(&(&g * &Variable::from(ins[2].clone())).sum(), &[&z], false).remove(0);
        close(&loss.data(), &fx.get(&case, "out0"), tol(&case), "loss");
        close(&g.data(), &fx.get(&case, "out1"), tol(&case), "grad");
        close(&h.data(), &fx.get(&case, "out2"), tol(&case), "hvp");
    }
}

#[test]
fn gradient_penalty() {
    let fx = Fx::load("autograd", "autograd");
    for sfx in ["f32", "f64"] {
        let case = format!("grad_penalty_{sfx}");
        let ins = fx.inputs(&case);
        let (x, w) = (leaf(&ins[0]), leaf(&ins[1]));
        let out = x.matmul(&w).tanh().sum();
        let gx = grad(&out, &[&x], true).remove(0);
        let pen = (&gx.powf(2.0).sum_dim(1, false).sqrt() - 1.0).powf(2.0).mean();
        let gw = grad(&pen, &[&w], false).remove(0);
        close(&pen.data(), &fx.get(&case, "out0"), tol(&case), "penalty");
        close(&gw.data(), &fx.get(&case, "out1"), tol(&case), "penalty grad");
    }
}

#[test]
fn mlp_hessian_vector_product() {
    let fx = Fx::load("autograd", "autograd");
    for sfx in ["f32", "f64"] {
        let case = format!("mlp_hvp_{sfx}");
        let ins = fx.inputs(&case);
        let a = Variable::from(ins[0].clone());
        let w1 = leaf(&ins[1]);
        let w2 = Variable::from(ins[2].clone());
        let loss = a.matmul(&w1).relu().matmul(&w2).powf(2.0).mean() + w1.sin().powf(2.0).sum();
        let g = grad(&loss, &[&w1], true).remove(0);
        let h = grad(&(&g * &Variable::from(ins[3].clone())).sum(), &[&w1], false).remove(0);
        close(&h.data(), &fx.get(&case, "out0"), tol(&case), "mlp hvp");
    }
}

#[test]
fn backward_with_create_graph_gives_differentiable_grad() {
    let x = leaf(&Tensor::from_vec(vec![3.0f64], &[]));
    let y = x.powf(4.0);
    y.backward_opts(None, false, true).unwrap();
    let g = x.grad_variable().unwrap(); // 4x^3 = 108, recorded
    assert_eq!(g.data().item::<f64>(), 108.0);
    let h = grad(&g, &[&x], false).remove(0); // 12x^2 = 108
    assert_eq!(h.data().item::<f64>(), 108.0);
}
