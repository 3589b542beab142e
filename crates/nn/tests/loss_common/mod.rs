//! Shared helpers of the loss tests: the PyTorch fixture file and float comparison.
#![allow(dead_code)]

use std::collections::HashMap;

use ember_tensor::Tensor;

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

/// Closeness of a result to PyTorch's: the shared helper of every crate's tests.
pub use ember_testutil::assert_close as close;
