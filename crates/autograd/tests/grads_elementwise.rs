//! First-order gradients of the elementwise ops against PyTorch's (the tensor crate's fixtures
//! store PyTorch's input gradients), and finite differences in f64.

mod common;

use common::{tol, x64, Fx};
use ember_autograd::{gradcheck, Variable};

type Un = fn(&Variable) -> Variable;
type Bin = fn(&Variable, &Variable) -> Variable;

const UNARY: [(&str, Un); 21] = [
    ("neg", |x| -x),
    ("abs", Variable::abs),
    ("exp", Variable::exp),
    ("tanh", Variable::tanh),
    ("sigmoid", Variable::sigmoid),
    ("relu", Variable::relu),
    ("gelu", Variable::gelu),
    ("silu", Variable::silu),
    ("softplus", Variable::softplus),
    ("sign", Variable::sign),
    ("floor", Variable::floor),
    ("ceil", Variable::ceil),
    ("sin", Variable::sin),
    ("cos", Variable::cos),
    ("square", Variable::square),
    ("erf", Variable::erf),
    ("log", Variable::log),
    ("sqrt", Variable::sqrt),
    ("rsqrt", Variable::rsqrt),
    ("log1p", Variable::log1p),
    ("recip", Variable::recip),
];

const PARAM: [(&str, Un); 5] = [
    ("powf", |x| x.powf(2.5)),
    ("clamp", |x| x.clamp(Some(-0.5), Some(0.7))),
    ("clamp_min", |x| x.clamp_min(0.1)),
    ("leaky_relu", |x| x.leaky_relu(0.1)),
    ("elu", |x| x.elu(1.0)),
];

const BINARY: [(&str, Bin); 6] = [
    ("add", |a, b| a + b),
    ("sub", |a, b| a - b),
    ("mul", |a, b| a * b),
    ("div", |a, b| a / b),
    ("maximum", Variable::maximum),
    ("minimum", Variable::minimum),
];

#[test]
fn elementwise_grads_match_pytorch() {
    let fx = Fx::load("tensor", "elementwise");
    for sfx in ["f32", "f64"] {
        for (name, f) in UNARY.iter().chain(PARAM.iter()) {
            let case = format!("{name}_{sfx}");
            fx.check_grads(&case, tol(&case), |v| vec![f(&v[0])]);
        }
        for (name, f) in BINARY {
            for case in [format!("{name}_{sfx}"), format!("{name}_bcast_{sfx}")] {
                fx.check_grads(&case, tol(&case), |v| vec![f(&v[0], &v[1])]);
            }
        }
        let case = format!("pow_{sfx}");
        fx.check_grads(&case, tol(&case), |v| vec![v[0].pow(&v[1])]);
        let case = format!("add_bcast3_{sfx}");
        fx.check_grads(&case, tol(&case), |v| vec![&v[0] + &v[1]]);
        let case = format!("scalar_ops_{sfx}");
        fx.check_grads(&case, tol(&case), |v| vec![(2.0 - &v[0] * 3.0) / 4.0 + 1.5]);
        let case = format!("rdiv_{sfx}");
        fx.check_grads(&case, tol(&case), |v| vec![2.0 / &v[0]]);
    }
    fx.finish_grads();
}

#[test]
fn elementwise_gradcheck_f64() {
    for (name, f) in UNARY.iter().chain(PARAM.iter()) {
        let positive = matches!(*name, "log" | "sqrt" | "rsqrt" | "log1p" | "recip" | "powf");
        let x = if positive { x64(&[2, 3], 1, 2.0) } else { x64(&[2, 3], 1, 0.0) };
        gradcheck(|v| f(&v[0]), &[x]).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    for (name, f) in BINARY {
        let (a, b) = (x64(&[3, 1], 2, 0.0), x64(&[4], 3, 2.5));
        gradcheck(|v| f(&v[0], &v[1]), &[a, b]).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    gradcheck(|v| v[0].pow(&v[1]), &[x64(&[3], 4, 2.0), x64(&[3], 5, 0.0)]).unwrap();
}

#[test]
fn second_order_gradcheck_of_elementwise_rules() {
    // the gradient itself, checked against finite differences: rules are differentiable
    for (name, f) in UNARY.iter().chain(PARAM.iter()) {
        if matches!(*name, "sign" | "floor" | "ceil" | "relu" | "abs" | "clamp" | "clamp_min" | "leaky_relu") {
            continue; // piecewise-constant derivative: second derivative is 0 and checked by PyTorch fixtures
        }
        let positive = matches!(*name, "log" | "sqrt" | "rsqrt" | "log1p" | "recip" | "powf");
        let x = if positive { x64(&[4], 6, 2.0) } else { x64(&[4], 6, 0.0) };
        gradcheck(|v| ember_autograd::grad(&f(&v[0]).sum(), &[&v[0]], true).remove(0), &[x])
            .unwrap_or_else(|e| panic!("d2 {name}: {e}"));
    }
}
