//! Helpers of the GPU tests: the device (or a skip), random inputs, and tolerant comparison.
#![allow(dead_code)]

use ember_tensor::{Device, Tensor};

/// The GPU to test on, or `None` (after printing why) when there is none and
/// `EMBER_REQUIRE_GPU=1` is not set; with it set, a missing GPU fails the test.
pub fn gpu() -> Option<Device> {
    match Device::gpu() {
        Ok(d) => Some(d),
        Err(e) => {
            if std::env::var("EMBER_REQUIRE_GPU").is_ok_and(|v| v == "1") {
                panic!("EMBER_REQUIRE_GPU=1 but no GPU is usable: {e}");
            }
            println!("skipping GPU test: no adapter (set EMBER_REQUIRE_GPU=1 to fail instead)");
            None
        }
    }
}

/// True when the GPU runs f64 shaders.
pub fn has_f64(dev: Device) -> bool {
    let x = Tensor::from_vec(vec![1.0f64], &[1]).to(&dev);
    x.try_to_dtype(ember_tensor::DType::F32).is_ok()
}

/// A small deterministic generator (xorshift), independent of Ember's global RNG.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
    }

    pub fn vec(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }
}

/// Asserts `got` matches `want` elementwise within `atol + rtol * |want|` (NaNs must match, infinities
/// must be equal).
pub fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = if w.is_nan() {
            g.is_nan()
        } else if w.is_infinite() {
            g == w
        } else {
            (g - w).abs() <= tol + tol * w.abs()
        };
        assert!(ok, "{what}: element {i}: gpu {g} vs cpu {w} (tol {tol})");
    }
}
