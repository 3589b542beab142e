//! Shared helpers of the autograd tests: fixture loading and float comparison.
#![allow(dead_code)]

use std::collections::HashMap;

use ember_autograd::Variable;
use ember_tensor::{DType, Tensor};

/// Named tensors of a fixture file: `dir` is `"autograd"` (this crate's) or `"tensor"` (the tensor
/// crate's families, which hold PyTorch's gradients of every op).
pub struct Fx(pub HashMap<String, Tensor>);

impl Fx {
    pub fn load(krate: &str, family: &str) -> Fx {
        let path = format!("{}/../{krate}/tests/fixtures/{family}.safetensors", env!("CARGO_MANIFEST_DIR"));
        Fx(ember_tensor::io::load(&path).unwrap_or_else(|e| panic!("{path}: {e}")).into_iter().collect())
    }

    pub fn get(&self, case: &str, key: &str) -> Tensor {
        self.0.get(&format!("{case}/{key}")).unwrap_or_else(|| panic!("fixture {case}/{key} missing")).clone()
    }

    pub fn try_get(&self, case: &str, key: &str) -> Option<Tensor> {
        self.0.get(&format!("{case}/{key}")).cloned()
    }

    pub fn inputs(&self, case: &str) -> Vec<Tensor> {
        (0..).map_while(|i| self.try_get(case, &format!("in{i}"))).collect()
    }

    pub fn cases(&self) -> Vec<String> {
        let mut v: Vec<String> = self.0.keys().filter_map(|k| k.split_once('/').map(|(c, _)| c.to_string())).collect();
        v.sort();
        v.dedup();
        v
    }

    /// Checks the first-order gradients of `f` on `case` against PyTorch's: the inputs become
    /// Variables (floats require grad), `sum(out_j * gout_j)` is backpropagated, and each float
    /// input's gradient is compared with `grad<i>`.
    #[track_caller]
    pub fn check_grads(&self, case: &str, tol: f64, f: impl Fn(&[Variable]) -> Vec<Variable>) {
        let ins = self.inputs(case);
        let vars: Vec<Variable> = ins.iter().map(|t| Variable::new(t.clone(), t.dtype().is_float())).collect();
        let outs = f(&vars);
        let mut loss: Option<Variable> = None;
        for (j, o) in outs.iter().enumerate() {
            if let Some(w) = self.try_get(case, &format!("gout{j}")) {
                let term = (o * &Variable::from(w)).sum();
                loss = Some(match loss {
                    None => term,
                    Some(l) => &l + &term,
                });
            }
        }
        let loss = loss.unwrap_or_else(|| panic!("{case}: no gout fixture"));
        loss.backward();
        for (i, v) in vars.iter().enumerate() {
            if let Some(want) = self.try_get(case, &format!("grad{i}")) {
                let got = v.grad().unwrap_or_else(|| want.zeros_like());
                close(&got, &want, tol, &format!("{case}/grad{i}"));
            }
        }
    }
}

/// Asserts shape, dtype and values within `tol * (|want| + 1)`.
#[track_caller]
pub fn close(got: &Tensor, want: &Tensor, tol: f64, ctx: &str) {
    assert_eq!(got.shape(), want.shape(), "{ctx}: shape");
    assert_eq!(got.dtype(), want.dtype(), "{ctx}: dtype");
    let exact = matches!(want.dtype(), DType::I64 | DType::Bool);
    for (i, (a, b)) in got.to_vec::<f64>().iter().zip(want.to_vec::<f64>()).enumerate() {
        let ok = if exact { *a == b } else { *a == b || (a - b).abs() <= tol * (b.abs() + 1.0) };
        assert!(ok, "{ctx}: element {i}: got {a}, PyTorch {b}");
    }
}

/// Tolerance for a fixture case by its dtype suffix.
pub fn tol(case: &str) -> f64 {
    if case.ends_with("f64") {
        1e-9
    } else {
        1e-4
    }
}
