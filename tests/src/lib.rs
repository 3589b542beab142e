//! Cross-crate tests of Ember live in `tests/tests/`; this library holds helpers they share.

/// Asserts that two float slices agree within `rtol * |want| + atol`, naming the first mismatch.
pub fn assert_close(got: &[f64], want: &[f64], rtol: f64, atol: f64, ctx: &str) {
    assert_eq!(got.len(), want.len(), "{ctx}: length {} vs {}", got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ok = (g - w).abs() <= atol + rtol * w.abs() || (g.is_nan() && w.is_nan()) || g == w;
        assert!(ok, "{ctx}: element {i}: got {g}, want {w}");
    }
}
