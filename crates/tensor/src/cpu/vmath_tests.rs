//! Accuracy of the f32 kernels of `vmath` over dense ranges, against f64 references (each test
//! prints its worst error, `cargo test -p ember-tensor vmath -- --nocapture`), through the
//! run-time chosen SIMD path and through the baseline (no FMA) path, plus the special values.

use super::*;

/// The error of `got` in units of the last place of the f32 nearest `want`.
fn ulps(got: f32, want: f64) -> f64 {
    let w = (want as f32).abs();
    let ulp = if w == 0.0 { f32::from_bits(1) } else { f32::from_bits(w.to_bits() + 1) - w };
    (got as f64 - want).abs() / ulp as f64
}

/// Every f32 step of `step` in `[lo, hi]`, plus the range's ends.
fn grid(lo: f32, hi: f32, step: f32) -> Vec<f32> {
    let n = ((hi - lo) / step) as usize;
    (0..=n).map(move |i| lo + i as f32 * step).chain([lo, hi]).collect()
}

/// A binary kernel at `g = 1`: the derivative itself, as a unary kernel.
#[derive(Clone, Copy)]
struct Grad<K>(K);

impl<K: Binary> Unary for Grad<K> {
    fn f<M: Fm>(x: f32) -> f32 {
        K::f::<M>(1.0, x)
    }
}

/// `K` over `xs` by the dispatched SIMD loop and by the baseline loop.
fn both<K: Unary>(k: K, xs: &[f32]) -> [Vec<f32>; 2] {
    let simd = map(xs, k).unwrap();
    let mut base = Vec::with_capacity(xs.len());
    run1::<K, Plain>(xs, &mut base.spare_capacity_mut()[..xs.len()]);
    // SAFETY: run1 wrote every element
    unsafe { base.set_len(xs.len()) };
    [simd, base]
}

/// Worst `err(got, x)` over the grid, on both paths: `(error, at)`.
fn worst<K: Unary>(k: K, xs: &[f32], err: impl Fn(f32, f32) -> f64) -> (f64, f32) {
    let mut w = (0.0, 0.0);
    for got in both(k, xs) {
        for (&x, &y) in xs.iter().zip(&got) {
            let e = err(y, x);
            if e > w.0 || e.is_nan() {
                w = (e, x);
            }
        }
    }
    w
}

fn worst_ulps<K: Unary>(k: K, reference: impl Fn(f64) -> f64, xs: &[f32]) -> (f64, f32) {
    worst(k, xs, |y, x| ulps(y, reference(x as f64)))
}

/// `|got - want| / max(|want|, floor)`, worst over the grid.
fn worst_rel<K: Unary>(k: K, reference: impl Fn(f64) -> f64, xs: &[f32], floor: f64) -> (f64, f32) {
    worst(k, xs, |y, x| {
        let w = reference(x as f64);
        (y as f64 - w).abs() / w.abs().max(floor)
    })
}

/// Values every kernel must handle: zeros, subnormals, the largest finite, infinities, NaN.
fn specials() -> Vec<f32> {
    vec![
        0.0,
        -0.0,
        f32::from_bits(1),
        -f32::from_bits(1),
        f32::MIN_POSITIVE / 3.0,
        -f32::MIN_POSITIVE / 3.0,
        f32::MIN_POSITIVE,
        1e-30,
        -1e-30,
        1e30,
        -1e30,
        f32::MAX,
        f32::MIN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
    ]
}

/// The kernel on the special values agrees with `reference` (computed in f64, rounded): NaN where
/// it gives NaN, else within `ulp_bound` ulp (signed zeros compared by sign too).
fn check_specials<K: Unary>(name: &str, k: K, reference: impl Fn(f64) -> f64, ulp_bound: f64) {
    let xs = specials();
    for got in both(k, &xs) {
        for (&x, &y) in xs.iter().zip(&got) {
            let want = reference(x as f64);
            if want.is_nan() {
                assert!(y.is_nan(), "{name}({x}) = {y}, want NaN");
            } else if want.is_infinite() {
                assert_eq!(y as f64, want, "{name}({x})");
            } else {
                assert!(ulps(y, want) <= ulp_bound, "{name}({x}) = {y:e}, want {want:e}");
                if want == 0.0 {
                    assert_eq!(y.is_sign_negative(), (want as f32).is_sign_negative(), "{name}({x}) = {y}: sign");
                }
            }
        }
    }
}

fn sigmoid64(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn erf64(x: f64) -> f64 {
    libm::erf(x)
}

fn gelu64(x: f64) -> f64 {
    // x Φ(x) with Φ from erfc, accurate in the left tail too
    0.5 * x * libm::erfc(-x * std::f64::consts::FRAC_1_SQRT_2)
}

fn gelu_grad64(x: f64) -> f64 {
    0.5 * libm::erfc(-x * std::f64::consts::FRAC_1_SQRT_2)
        + x * (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

#[test]
fn exp_within_2_ulp() {
    let (e, at) = worst_ulps(Exp, f64::exp, &grid(-87.0, 88.5, 1e-3));
    println!("exp: worst {e:.2} ulp at {at}");
    assert!(e <= 2.0, "exp: {e} ulp at {at}");
    // results in the subnormal range: within 1 unit of the smallest subnormal... of their ulp
    let (e, at) = worst(Exp, &grid(-103.0, -87.5, 1e-3), |y, x| (y as f64 - (x as f64).exp()).abs() / 1.4e-45);
    assert!(e <= 2.0, "exp (subnormal results): {e} at {at}");
    check_specials("exp", Exp, |x| if x > 89.0 { f64::INFINITY } else { x.exp() }, 1.0);
}

#[test]
fn sigmoid_tanh_silu_within_4_ulp() {
    let xs = grid(-30.0, 30.0, 7e-4);
    let (e, at) = worst_ulps(Sigmoid, sigmoid64, &xs);
    println!("sigmoid: worst {e:.2} ulp at {at}");
    assert!(e <= 4.0, "sigmoid: {e} ulp at {at}");
    let (e, at) = worst_ulps(Sigmoid, sigmoid64, &grid(-87.0, -30.0, 1e-3));
    assert!(e <= 4.0, "sigmoid (left tail): {e} ulp at {at}");
    let (e, at) = worst_ulps(Tanh, f64::tanh, &xs);
    println!("tanh: worst {e:.2} ulp at {at}");
    assert!(e <= 4.0, "tanh: {e} ulp at {at}");
    let (e, at) = worst_ulps(Silu, |x| x * sigmoid64(x), &xs);
    println!("silu: worst {e:.2} ulp at {at}");
    assert!(e <= 4.0, "silu: {e} ulp at {at}");
    // beyond -88 the f32 sigmoid flushes to 0 (below the smallest normal result)
    check_specials("sigmoid", Sigmoid, |x| if x < -88.0 { 0.0 } else { sigmoid64(x) }, 1.0);
    check_specials("tanh", Tanh, f64::tanh, 1.0);
    check_specials(
        "silu",
        Silu,
        |x| {
            if x < -88.0 {
                // x * 0 (NaN for -inf, as x * sigmoid(x) in PyTorch)
                x * 0.0
            } else {
                x * sigmoid64(x)
            }
        },
        1.0,
    );
}

#[test]
fn gelu_erf_form_relative_error() {
    let (e, at) = worst_rel(Gelu, gelu64, &grid(-4.0, 4.0, 1e-4), f64::MIN_POSITIVE);
    println!("gelu on [-4, 4]: worst relative error {e:.2e} at {at}");
    assert!(e < 6e-7, "gelu: {e} at {at}");
    // far into the left tail (gelu(-13) is -8e-38) and up to 30
    let (e, at) = worst_rel(Gelu, gelu64, &grid(-13.0, 30.0, 1e-3), f64::MIN_POSITIVE);
    println!("gelu on [-13, 30]: worst relative error {e:.2e} at {at}");
    assert!(e < 1e-6, "gelu: {e} at {at}");
    let (e, at) = worst_rel(Grad(GeluBackward), gelu_grad64, &grid(-12.0, 30.0, 1e-4), 1.0);
    println!("gelu': worst error relative to max(|gelu'|, 1) {e:.2e} at {at}");
    assert!(e < 1e-6, "gelu': {e} at {at}");
    // -inf * Φ(-inf) = -inf * 0 is NaN, as PyTorch's x * 0.5 * (1 + erf(x / √2))
    check_specials("gelu", Gelu, |x| if x.is_infinite() && x < 0.0 { f64::NAN } else { gelu64(x) }, 1.0);
    let _ = erf64(0.0);
}

#[test]
fn gelu_tanh_and_silu_gradients() {
    let k = (2.0 / std::f64::consts::PI).sqrt();
    let gt = |x: f64| 0.5 * x * (1.0 + (k * (x + 0.044715 * x * x * x)).tanh());
    let (e, at) = worst_rel(GeluTanh, gt, &grid(-4.0, 4.0, 1e-4), 1e-3);
    println!("gelu (tanh form): worst error relative to max(|y|, 1e-3) {e:.2e} at {at}");
    assert!(e < 2e-6, "gelu_tanh: {e} at {at}");
    // the derivatives against central differences of the f64 references
    let h = 1e-5;
    let (e, at) =
        worst_rel(Grad(GeluTanhBackward), |x| (gt(x + h) - gt(x - h)) / (2.0 * h), &grid(-8.0, 8.0, 1e-3), 1.0);
    assert!(e < 1e-6, "gelu_tanh': {e} at {at}");
    let s = |x: f64| x * sigmoid64(x);
    let (e, at) = worst_rel(Grad(SiluBackward), |x| (s(x + h) - s(x - h)) / (2.0 * h), &grid(-30.0, 30.0, 1e-3), 1.0);
    assert!(e < 1e-6, "silu': {e} at {at}");
    // from the outputs
    let ys = grid(-1.0, 1.0, 1e-3);
    let (e, at) = worst_rel(Grad(TanhBackward), |t| 1.0 - t * t, &ys, 1.0);
    assert!(e < 2e-7, "tanh': {e} at {at}");
    let (e, at) = worst_rel(Grad(SigmoidBackward), |s| s * (1.0 - s), &ys, 1.0);
    assert!(e < 2e-7, "sigmoid': {e} at {at}");
}

#[test]
fn zip_covers_every_element_and_scales_by_the_gradient() {
    // above and below the parallel threshold, with a tail shorter than a SIMD block
    for n in [70_001usize, 37] {
        let x: Vec<f32> = (0..n).map(|i| (i % 101) as f32 / 10.0 - 5.0).collect();
        let g: Vec<f32> = (0..n).map(|i| (i % 7) as f32 - 3.0).collect();
        let z = zip(&g, &x, SiluBackward).unwrap();
        let d = map(&x, Grad(SiluBackward)).unwrap();
        assert_eq!(z.len(), n);
        assert!(z.iter().zip(&d).zip(&g).all(|((&z, &d), &g)| (z - g * d).abs() <= 1e-6 * (g * d).abs().max(1.0)));
    }
}
