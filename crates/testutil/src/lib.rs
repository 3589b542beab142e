//! Closeness checks shared by Ember's tests: one definition of "close" for every crate's tests
//! (PyTorch fixtures, GPU-vs-CPU parity, reference loops), and the panic-message checks of the
//! error tests. A dev-dependency only, never published.
#![warn(missing_docs)]

use ember_tensor::{DType, Tensor};

/// Asserts that `got` matches `want` (PyTorch's result, or a reference): equal shapes and dtypes;
/// integers and bools exactly; floats within `tol · (|want| + 1)`, NaN where `want` is NaN and
/// equal infinities. Panics naming `ctx`, the element and both values.
///
/// ```
/// use ember_tensor::Tensor;
/// let t = Tensor::from_vec(vec![1.0f32, f32::NAN], &[2]);
/// ember_testutil::assert_close(&(&t + 1e-6), &t, 1e-5, "nearly equal");
/// ```
#[track_caller]
pub fn assert_close(got: &Tensor, want: &Tensor, tol: f64, ctx: &str) {
    assert_eq!(got.shape(), want.shape(), "{ctx}: shape");
    assert_eq!(got.dtype(), want.dtype(), "{ctx}: dtype");
    let exact = matches!(want.dtype(), DType::I64 | DType::Bool);
    let (g, w) = (got.to_vec::<f64>(), want.to_vec::<f64>());
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let ok =
            if exact { a == b } else { a == b || (a.is_nan() && b.is_nan()) || (a - b).abs() <= tol * (b.abs() + 1.0) };
        assert!(ok, "{ctx}: element {i} of {:?}: got {a}, want {b} (tol {tol})", want.shape());
    }
}

/// Asserts `|got - want| <= atol + rtol · |want|` elementwise, as `torch.allclose`; NaN matches
/// NaN and an infinity only an equal one. Panics naming `ctx` and the worst element.
///
/// ```
/// ember_testutil::assert_allclose("sums", &[1.0, 2.0001], &[1.0, 2.0], 1e-4, 0.0);
/// ```
#[track_caller]
pub fn assert_allclose(ctx: &str, got: &[f64], want: &[f64], rtol: f64, atol: f64) {
    assert_eq!(got.len(), want.len(), "{ctx}: length {} vs {}", got.len(), want.len());
    let mut worst: Option<(f64, usize)> = None;
    for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
        let excess = if a == b || (a.is_nan() && b.is_nan()) {
            continue;
        } else if a.is_nan() || b.is_nan() || a.is_infinite() || b.is_infinite() {
            f64::INFINITY
        } else {
            (a - b).abs() - (atol + rtol * b.abs())
        };
        if excess > 0.0 && worst.is_none_or(|(w, _)| excess > w) {
            worst = Some((excess, i));
        }
    }
    if let Some((_, i)) = worst {
        panic!("{ctx}: element {i}: got {}, want {} (rtol {rtol}, atol {atol})", got[i], want[i]);
    }
}

/// The message of the panic `f` raises (a `String` or `&str` payload). Panics when `f` returns.
///
/// ```
/// let m = ember_testutil::panic_message(|| panic!("op: bad shape {}", 3));
/// assert_eq!(m, "op: bad shape 3");
/// ```
#[track_caller]
pub fn panic_message(f: impl FnOnce()) -> String {
    let e = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).expect_err("expected a panic");
    e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string())).unwrap()
}

/// Asserts that `msg` contains every one of `needles` (an error naming the op and the values).
#[track_caller]
pub fn assert_mentions(msg: &str, needles: &[&str]) {
    for n in needles {
        assert!(msg.contains(n), "message {msg:?} should mention {n:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allclose_names_the_worst_element_and_treats_nan_and_inf() {
        assert_allclose("ok", &[f64::NAN, f64::INFINITY, 1.0], &[f64::NAN, f64::INFINITY, 1.1], 0.1, 0.0);
        let e = std::panic::catch_unwind(|| assert_allclose("c", &[1.0, 5.0, 2.5], &[1.1, 1.0, 2.0], 0.0, 0.2))
            .unwrap_err();
        let m = e.downcast_ref::<String>().unwrap();
        assert!(m.contains("c: element 1: got 5, want 1"), "{m}");
        assert!(std::panic::catch_unwind(|| assert_allclose("c", &[f64::NAN], &[1.0], 1.0, 1.0)).is_err());
        assert!(
            std::panic::catch_unwind(|| assert_allclose("c", &[f64::INFINITY], &[-f64::INFINITY], 1.0, 1.0)).is_err()
        );
    }

    #[test]
    fn tensors_compare_shape_dtype_and_exact_integers() {
        let f = Tensor::from_vec(vec![1.0f64, 2.0], &[2]);
        assert!(std::panic::catch_unwind(|| assert_close(&f, &f.reshape(&[1, 2]), 1.0, "s")).is_err());
        assert!(std::panic::catch_unwind(|| assert_close(&f, &f.to_dtype(DType::F32), 1.0, "d")).is_err());
        let i = Tensor::from_vec(vec![1i64, 2], &[2]);
        assert!(std::panic::catch_unwind(|| assert_close(&(&i + 1.0), &i, 10.0, "i")).is_err());
        assert_close(&(&f + 1e-7), &f, 1e-6, "f");
    }
}
