//! Accuracy of the f32 kernels of `vmath` over dense ranges, against f64 references (each test
//! prints its worst error, `cargo test -p ember-tensor vmath -- --nocapture`).

use super::*;
use crate::cpu::math::erf as erf64;

/// The error of `got` in units of the last place of the f32 nearest `want`.
fn ulps(got: f32, want: f64) -> f64 {
    let w = (want as f32).abs();
    let ulp = if w == 0.0 { f32::from_bits(1) } else { f32::from_bits(w.to_bits() + 1) - w };
    (got as f64 - want).abs() / ulp as f64
}

/// Every f32 step of `step` in `[lo, hi]`, plus the range's ends.
fn grid(lo: f32, hi: f32, step: f32) -> impl Iterator<Item = f32> {
    let n = ((hi - lo) / step) as usize;
    (0..=n).map(move |i| lo + i as f32 * step).chain([lo, hi])
}

/// Worst ulp error of `f` against `reference` over the grid, through the vectorised `map`.
fn worst_ulps(f: impl Fn(f32) -> f32 + Copy + Sync + Send, reference: impl Fn(f64) -> f64, xs: Vec<f32>) -> (f64, f32) {
    let got = map(&xs, f).unwrap();
    xs.iter().zip(&got).map(|(&x, &y)| (ulps(y, reference(x as f64)), x)).fold((0.0, 0.0), |a, b| {
        if b.0 > a.0 {
            b
        } else {
            a
        }
    })
}

#[test]
fn exp_within_2_ulp() {
    let (e, at) = worst_ulps(exp, f64::exp, grid(-87.0, 88.5, 1e-3).collect());
    println!("exp: worst {e:.2} ulp at {at}");
    assert!(e <= 2.0, "exp: {e} ulp at {at}");
    let special = map(&[f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -200.0, 200.0, 0.0], exp).unwrap();
    assert!(special[0].is_nan());
    assert_eq!(&special[1..], &[f32::INFINITY, 0.0, 0.0, f32::INFINITY, 1.0]);
}

#[test]
fn sigmoid_tanh_silu_within_4_ulp() {
    let xs: Vec<f32> = grid(-30.0, 30.0, 7e-4).collect();
    let (e, at) = worst_ulps(sigmoid, |x| 1.0 / (1.0 + (-x).exp()), xs.clone());
    println!("sigmoid: worst {e:.2} ulp at {at}");
    assert!(e <= 4.0, "sigmoid: {e} ulp at {at}");
    let (e, at) = worst_ulps(tanh, f64::tanh, xs.clone());
    println!("tanh: worst {e:.2} ulp at {at}");
    assert!(e <= 4.0, "tanh: {e} ulp at {at}");
    let (e, at) = worst_ulps(silu, |x| x / (1.0 + (-x).exp()), xs);
    println!("silu: worst {e:.2} ulp at {at}");
    assert!(e <= 4.0, "silu: {e} ulp at {at}");
    let t = map(&[f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0], tanh).unwrap();
    assert!(t[0].is_nan());
    assert_eq!(&t[1..], &[1.0, -1.0, -0.0]);
    assert_eq!(map(&[f32::INFINITY, f32::NEG_INFINITY], sigmoid).unwrap(), vec![1.0, 0.0]);
}

/// `|got - want| / max(|want|, floor)`, worst over the grid.
fn worst_rel(
    f: impl Fn(f32) -> f32 + Copy + Sync + Send,
    reference: impl Fn(f64) -> f64,
    xs: Vec<f32>,
    floor: f64,
) -> (f64, f32) {
    let got = map(&xs, f).unwrap();
    xs.iter()
        .zip(&got)
        .map(|(&x, &y)| {
            let w = reference(x as f64);
            ((y as f64 - w).abs() / w.abs().max(floor), x)
        })
        .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a })
}

fn gelu64(x: f64) -> f64 {
    0.5 * x * (1.0 + erf64(x * std::f64::consts::FRAC_1_SQRT_2))
}

fn gelu_grad64(x: f64) -> f64 {
    0.5 * (1.0 + erf64(x * std::f64::consts::FRAC_1_SQRT_2))
        + x * (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

#[test]
fn gelu_erf_form_relative_error() {
    // relative to the value itself where |x| <= 4 (gelu(-4) is -1.3e-4)
    let (e, at) = worst_rel(gelu, gelu64, grid(-4.0, 4.0, 1e-4).collect(), 0.0);
    println!("gelu on [-4, 4]: worst relative error {e:.2e} at {at}");
    assert!(e < 6e-7, "gelu: {e} at {at}");
    // down to -5.5 (where the f64 reference's 1 + erf still holds 8 digits; gelu(-5.5) is -1e-7)
    let (e, at) = worst_rel(gelu, gelu64, grid(-5.5, 30.0, 1e-3).collect(), 0.0);
    println!("gelu on [-5.5, 30]: worst relative error {e:.2e} at {at}");
    assert!(e < 6e-7, "gelu: {e} at {at}");
    let (e, at) = worst_rel(gelu_grad, gelu_grad64, grid(-12.0, 30.0, 1e-4).collect(), 1.0);
    println!("gelu': worst error relative to max(|gelu'|, 1) {e:.2e} at {at}");
    assert!(e < 1e-6, "gelu': {e} at {at}");
    let s = map(&[f32::NAN, f32::INFINITY, 0.0, -0.0], gelu).unwrap();
    assert!(s[0].is_nan());
    assert_eq!(&s[1..], &[f32::INFINITY, 0.0, -0.0]);
}

#[test]
fn gelu_tanh_and_silu_gradients() {
    let k = (2.0 / std::f64::consts::PI).sqrt();
    let gt = |x: f64| 0.5 * x * (1.0 + (k * (x + 0.044715 * x * x * x)).tanh());
    let (e, at) = worst_rel(gelu_tanh, gt, grid(-4.0, 4.0, 1e-4).collect(), 1e-3);
    println!("gelu (tanh form): worst error relative to max(|y|, 1e-3) {e:.2e} at {at}");
    assert!(e < 2e-6, "gelu_tanh: {e} at {at}");
    // the derivatives against central differences of the f64 references
    let h = 1e-5;
    let (e, at) =
        worst_rel(gelu_tanh_grad, |x| (gt(x + h) - gt(x - h)) / (2.0 * h), grid(-8.0, 8.0, 1e-3).collect(), 1.0);
    assert!(e < 1e-6, "gelu_tanh': {e} at {at}");
    let s = |x: f64| x / (1.0 + (-x).exp());
    let (e, at) = worst_rel(silu_grad, |x| (s(x + h) - s(x - h)) / (2.0 * h), grid(-30.0, 30.0, 1e-3).collect(), 1.0);
    assert!(e < 1e-6, "silu': {e} at {at}");
}

#[test]
fn zip_and_rows_cover_every_element() {
    let a: Vec<f32> = (0..70_000).map(|i| i as f32).collect();
    let b: Vec<f32> = (0..70_000).map(|i| (i % 7) as f32).collect();
    let z = zip(&a, &b, |x, y| x - y).unwrap();
    assert!(z.iter().enumerate().all(|(i, &v)| v == (i - i % 7) as f32));
    let r = rows_par(1000, 70, |i, row| {
        for (j, o) in row.iter_mut().enumerate() {
            o.write((i * 70 + j) as f32);
        }
    });
    assert!(r.iter().enumerate().all(|(i, &v)| v == i as f32));
}
