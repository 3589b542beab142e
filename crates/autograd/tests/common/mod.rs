//! Shared helpers of the autograd tests: fixture loading, float comparison, and the gradient check
//! against PyTorch's fixtures.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};

use ember_autograd::Variable;
use ember_tensor::Tensor;

/// Named tensors of a fixture file: `krate` is `"autograd"` (this crate's) or `"tensor"` (the
/// tensor crate's families, which hold PyTorch's gradients of every op).
pub struct Fx {
    family: String,
    pub map: HashMap<String, Tensor>,
    checked: RefCell<BTreeSet<String>>,
}

impl Fx {
    pub fn load(krate: &str, family: &str) -> Fx {
        let path = format!("{}/../{krate}/tests/fixtures/{family}.safetensors", env!("CARGO_MANIFEST_DIR"));
        let map = ember_tensor::io::load(&path).unwrap_or_else(|e| panic!("{path}: {e}")).into_iter().collect();
        Fx { family: family.to_string(), map, checked: RefCell::new(BTreeSet::new()) }
    }

    pub fn get(&self, case: &str, key: &str) -> Tensor {
        self.try_get(case, key).unwrap_or_else(|| panic!("fixture {case}/{key} missing"))
    }

    pub fn try_get(&self, case: &str, key: &str) -> Option<Tensor> {
        self.map.get(&format!("{case}/{key}")).cloned()
    }

    pub fn inputs(&self, case: &str) -> Vec<Tensor> {
        let v: Vec<Tensor> = (0..).map_while(|i| self.try_get(case, &format!("in{i}"))).collect();
        assert!(!v.is_empty(), "{}: no fixture case '{case}'", self.family);
        v
    }

    pub fn cases(&self) -> Vec<String> {
        let set: BTreeSet<String> =
            self.map.keys().filter_map(|k| k.split_once('/').map(|(c, _)| c.to_string())).collect();
        set.into_iter().collect()
    }

    /// The cases PyTorch stored gradients for (those with an upstream gradient `gout0`).
    pub fn grad_cases(&self) -> Vec<String> {
        self.cases().into_iter().filter(|c| self.map.contains_key(&format!("{c}/gout0"))).collect()
    }

    /// Checks the forward outputs and first-order gradients of `f` on `case` against PyTorch's:
    /// the inputs become Variables (floats require grad), each returned output is compared with
    /// `out<j>`, `sum(out_j * gout_j)` is backpropagated, and each float input's gradient is
    /// compared with `grad<i>`.
    #[track_caller]
    pub fn check_grads(&self, case: &str, tol: f64, f: impl Fn(&[Variable]) -> Vec<Variable>) {
        let ins = self.inputs(case);
        let vars: Vec<Variable> = ins.iter().map(|t| Variable::new(t.clone(), t.dtype().is_float())).collect();
        let outs = f(&vars);
        let mut loss: Option<Variable> = None;
        for (j, o) in outs.iter().enumerate() {
            if let Some(want) = self.try_get(case, &format!("out{j}")) {
                close(&o.data(), &want, tol, &format!("{}/{case}/out{j}", self.family));
            }
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
                close(&got, &want, tol, &format!("{}/{case}/grad{i}", self.family));
            }
        }
        self.checked.borrow_mut().insert(case.to_string());
    }

    /// Fails if a case holding PyTorch's gradients was never checked: no fixture goes silently unused.
    #[track_caller]
    pub fn finish_grads(&self) {
        let done = self.checked.borrow();
        let missed: Vec<String> = self.grad_cases().into_iter().filter(|c| !done.contains(c)).collect();
        assert!(missed.is_empty(), "{}: gradient cases never checked: {missed:?}", self.family);
    }
}

/// Closeness of a result to PyTorch's: the shared helper of every crate's tests.
pub use ember_testutil::assert_close as close;

/// Tolerance for a fixture case by its dtype suffix.
pub fn tol(case: &str) -> f64 {
    if case.ends_with("f64") {
        1e-9
    } else {
        1e-4
    }
}

/// A random F64 tensor in `[lo - 1.5, lo + 1.5]`, kept at least 0.075 away from `lo` (kinks of
/// relu, abs, ... sit at 0; finite differences disagree there).
pub fn x64(shape: &[usize], seed: u64, lo: f64) -> Tensor {
    let mut g = ember_tensor::Generator::new(seed);
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n)
        .map(|_| {
            let mut x = g.uniform() * 2.0 - 1.0;
            if x.abs() < 0.05 {
                x += 0.1;
            }
            lo + x * 1.5
        })
        .collect();
    Tensor::from_vec(v, shape)
}
