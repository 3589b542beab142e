//! Shared helpers of the loss tests: the PyTorch fixture file and float comparison.
#![allow(dead_code)]

use std::collections::HashMap;

use ember_tensor::{DType, Tensor};

/// The named tensors of `tests/fixtures/nn_loss.safetensors` (written by
/// `scripts/fixtures/fam_nn_loss.py`).
pub struct Fx(pub HashMap<String, Tensor>);

impl Fx {
    pub fn load() -> Fx {
        let path = format!("{}/tests/fixtures/nn_loss.safetensors", env!("CARGO_MANIFEST_DIR"));
        Fx(ember_tensor::io::load(&path).unwrap_or_else(|e| panic!("{path}: {e}")).into_iter().collect())
    }

    pub fn get(&self, case: &str, key: &str) -> Tensor {
        self.try_get(case, key).unwrap_or_else(|| panic!("fixture {case}/{key} missing"))
    }

    pub fn try_get(&self, case: &str, key: &str) -> Option<Tensor> {
        self.0.get(&format!("{case}/{key}")).cloned()
    }

    pub fn inputs(&self, case: &str) -> Vec<Tensor> {
        (0..).map_while(|i| self.try_get(case, &format!("in{i}"))).collect()
    }

    /// Case names, sorted.
    pub fn cases(&self) -> Vec<String> {
        let mut v: Vec<String> = self.0.keys().filter_map(|k| k.split_once('/').map(|(c, _)| c.to_string())).collect();
        v.sort();
        v.dedup();
        v
    }
}

/// Asserts shape, dtype and values within `tol * (|want| + 1)`; NaN matches NaN, infinities match
/// exactly.
#[track_caller]
pub fn close(got: &Tensor, want: &Tensor, tol: f64, ctx: &str) {
    assert_eq!(got.shape(), want.shape(), "{ctx}: shape");
    assert_eq!(got.dtype(), want.dtype(), "{ctx}: dtype");
    let exact = matches!(want.dtype(), DType::I64 | DType::Bool);
    for (i, (a, b)) in got.to_vec::<f64>().iter().zip(want.to_vec::<f64>()).enumerate() {
        let ok = if exact {
            *a == b
        } else {
            *a == b || (a.is_nan() && b.is_nan()) || (a - b).abs() <= tol * (b.abs() + 1.0)
        };
        assert!(ok, "{ctx}: element {i}: got {a}, PyTorch {b}");
    }
}
