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

/// `|a - b| <= atol + rtol |b|` elementwise, as `torch.allclose`; panics with the worst element.
#[track_caller]
pub fn assert_close(what: &str, got: &[f64], want: &[f64], rtol: f64, atol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length {} vs {}", got.len(), want.len());
    let mut worst = (0.0f64, 0usize);
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        let excess = (a - b).abs() - (atol + rtol * b.abs());
        if excess > worst.0 || a.is_nan() != b.is_nan() {
            worst = (excess.max(f64::MIN_POSITIVE), i);
        }
    }
    if worst.0 > 0.0 {
        let i = worst.1;
        panic!("{what}: element {i}: got {} want {} (rtol {rtol}, atol {atol})", got[i], want[i]);
    }
}

pub fn f64s(t: &Tensor) -> Vec<f64> {
    t.to_vec::<f64>()
}
