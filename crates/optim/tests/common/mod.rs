//! Shared helpers of the optim tests: the PyTorch fixture file and float comparison.
#![allow(dead_code)]

use std::collections::HashMap;

use ember_tensor::Tensor;

/// Named tensors of `tests/fixtures/optim.safetensors` (written by scripts/fixtures/fam_optim.py).
pub struct Fx(pub HashMap<String, Tensor>);

impl Fx {
    pub fn load() -> Fx {
        let path = format!("{}/tests/fixtures/optim.safetensors", env!("CARGO_MANIFEST_DIR"));
        Fx(ember_tensor::io::load(&path).unwrap_or_else(|e| panic!("{path}: {e}")).into_iter().collect())
    }

    pub fn get(&self, key: &str) -> Tensor {
        self.0.get(key).unwrap_or_else(|| panic!("fixture {key} missing")).clone()
    }

    pub fn try_get(&self, key: &str) -> Option<Tensor> {
        self.0.get(key).cloned()
    }

    /// The distinct case names under `prefix` (`"sched/"`), or of the optimizer cases (`""`):
    /// the path component before the first `/` after the prefix.
    pub fn cases(&self, prefix: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .0
            .keys()
            .filter_map(|k| k.strip_prefix(prefix))
            .filter(|k| !prefix.is_empty() || !(k.starts_with("sched/") || k.starts_with("clip/")))
            .filter_map(|k| k.split_once('/').map(|(c, _)| c.to_string()))
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// `torch.allclose`, panicking with the worst element: the shared helper of every crate's tests.
pub use ember_testutil::assert_allclose as assert_close;

pub fn f64s(t: &Tensor) -> Vec<f64> {
    t.to_vec::<f64>()
}
