//! Unary and binary elementwise ops against PyTorch fixtures, f32 and f64.

mod common;

use common::Fixtures;
use ember_tensor::Tensor;

const TOL: f64 = 1e-5;

type Unary = fn(&Tensor) -> Tensor;
type Binary = fn(&Tensor, &Tensor) -> Tensor;

#[test]
fn elementwise_matches_pytorch() {
    let fx = Fixtures::load("elementwise");
    for sfx in ["f32", "f64"] {
        let c = |n: &str| format!("{n}_{sfx}");
        let unary: [(&str, Unary); 21] = [
            ("neg", Tensor::neg),
            ("abs", Tensor::abs),
            ("exp", Tensor::exp),
            ("tanh", Tensor::tanh),
            ("sigmoid", Tensor::sigmoid),
            ("relu", Tensor::relu),
            ("gelu", Tensor::gelu),
            ("silu", Tensor::silu),
            ("softplus", Tensor::softplus),
            ("sign", Tensor::sign),
            ("floor", Tensor::floor),
            ("ceil", Tensor::ceil),
            ("sin", Tensor::sin),
            ("cos", Tensor::cos),
            ("square", Tensor::square),
            ("erf", Tensor::erf),
            ("log", Tensor::log),
            ("sqrt", Tensor::sqrt),
            ("rsqrt", Tensor::rsqrt),
            ("log1p", Tensor::log1p),
            ("recip", Tensor::recip),
        ];
        for (name, f) in unary {
            fx.check1(&c(name), TOL, |x| f(&x[0]));
        }
        fx.check1(&c("round"), TOL, |x| x[0].round());
        fx.check1(&c("powf"), TOL, |x| x[0].powf(2.5));
        fx.check1(&c("clamp"), TOL, |x| x[0].clamp(Some(-0.5), Some(0.7)));
        fx.check1(&c("clamp_min"), TOL, |x| x[0].clamp_min(0.1));
        fx.check1(&c("leaky_relu"), TOL, |x| x[0].leaky_relu(0.1));
        fx.check1(&c("elu"), TOL, |x| x[0].elu(1.0));
        let binary: [(&str, Binary); 6] = [
            ("add", |a, b| a + b),
            ("sub", |a, b| a - b),
            ("mul", |a, b| a * b),
            ("div", |a, b| a / b),
            ("maximum", Tensor::maximum),
            ("minimum", Tensor::minimum),
        ];
        for (name, f) in binary {
            fx.check1(&c(name), TOL, |x| f(&x[0], &x[1]));
            fx.check1(&c(&format!("{name}_bcast")), TOL, |x| f(&x[0], &x[1]));
        }
        fx.check1(&c("pow"), TOL, |x| x[0].pow(&x[1]));
        fx.check1(&c("add_bcast3"), TOL, |x| &x[0] + &x[1]);
        fx.check1(&c("scalar_ops"), TOL, |x| (2.0 - &x[0] * 3.0) / 4.0 + 1.5);
        fx.check1(&c("rdiv"), TOL, |x| 2.0 / &x[0]);
    }
    fx.check1("add_i64", 0.0, |x| &x[0] + &x[1]);
    fx.check1("mul_i64", 0.0, |x| &x[0] * &x[1]);
    fx.check1("div_i64", 1e-6, |x| &x[0] / &x[1]);
    fx.check1("neg_i64", 0.0, |x| -&x[0]);
    fx.finish();
}

#[test]
fn binary_errors_name_the_problem() {
    let a = Tensor::zeros(&[2, 3]);
    let b = Tensor::zeros(&[4]);
    let e = a.try_add(&b).unwrap_err().to_string();
    assert!(e.contains("add") && e.contains("[2, 3]") && e.contains("[4]"), "{e}");
    let i = Tensor::from_vec(vec![1i64, 2, 3], &[3]);
    let e = Tensor::zeros(&[3]).try_mul(&i).unwrap_err().to_string();
    assert!(e.contains("mul") && e.contains("F32") && e.contains("I64"), "{e}");
    let bools = Tensor::from_vec(vec![true], &[1]);
    assert!(bools.try_add(&bools).unwrap_err().to_string().contains("Bool"));
    assert!(Tensor::zeros(&[2]).try_clamp(None, None).is_err());
}

#[test]
#[should_panic(expected = "sub: shape mismatch: [2] vs [3]")]
fn operator_panics_with_message() {
    let _ = Tensor::zeros(&[2]) - Tensor::zeros(&[3]);
}
