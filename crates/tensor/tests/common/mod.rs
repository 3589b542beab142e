//! Test harness shared by the parity tests: loads PyTorch fixtures (written by
//! `scripts/fixtures/`) and compares Ember's results with them.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};

use ember_tensor::{DType, Tensor};

/// One fixture family: every case's inputs, outputs and (optionally) gradients.
pub struct Fixtures {
    family: String,
    map: HashMap<String, Tensor>,
    checked: RefCell<BTreeSet<String>>,
}

impl Fixtures {
    /// Loads `tests/fixtures/<family>.safetensors`.
    pub fn load(family: &str) -> Fixtures {
        let path = format!("{}/tests/fixtures/{family}.safetensors", env!("CARGO_MANIFEST_DIR"));
        let map = ember_tensor::io::load(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}")).into_iter().collect();
        Fixtures { family: family.into(), map, checked: RefCell::new(BTreeSet::new()) }
    }

    fn list(&self, case: &str, kind: &str) -> Vec<Tensor> {
        let mut v = Vec::new();
        while let Some(t) = self.map.get(&format!("{case}/{kind}{}", v.len())) {
            v.push(t.clone());
        }
        v
    }

    /// The inputs of `case`, in order.
    pub fn inputs(&self, case: &str) -> Vec<Tensor> {
        let v = self.list(case, "in");
        assert!(!v.is_empty(), "{}: no fixture case '{case}'", self.family);
        v
    }

    /// The reference outputs of `case`.
    pub fn outputs(&self, case: &str) -> Vec<Tensor> {
        self.list(case, "out")
    }

    /// A named extra tensor of `case` (`gout0`, `grad1`, ...), if present.
    pub fn get(&self, case: &str, key: &str) -> Option<Tensor> {
        self.map.get(&format!("{case}/{key}")).cloned()
    }

    /// Runs `f` on the inputs of `case` and compares each output with PyTorch's within `tol`
    /// (relative and absolute). Integer and Bool outputs must match exactly.
    #[track_caller]
    pub fn check(&self, case: &str, tol: f64, f: impl Fn(&[Tensor]) -> Vec<Tensor>) {
        let ins = self.inputs(case);
        let want = self.outputs(case);
        let got = f(&ins);
        assert_eq!(got.len(), want.len(), "{}/{case}: {} outputs, PyTorch gave {}", self.family, got.len(), want.len());
        for (j, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_close(g, w, tol, &format!("{}/{case}/out{j}", self.family));
        }
        // The same case on the GPU, when one is usable: inputs uploaded, outputs compared with
        // PyTorch's (f32 kernels may round differently: at least 1e-5; f64 at least 1e-9).
        if let Some(dev) = gpu_for_fixtures() {
            let on_gpu: Vec<Tensor> = ins.iter().map(|t| t.to(&dev)).collect();
            let f = std::panic::AssertUnwindSafe(&f);
            match std::panic::catch_unwind(|| f(&on_gpu)) {
                // (a closure that ignores its arguments and computes on captured CPU tensors gives
                // CPU results: nothing to compare; the GPU-vs-CPU op tables check result devices)
                Ok(got) if got.iter().all(|g| g.device() == dev) => {
                    for (j, (g, w)) in got.iter().zip(&want).enumerate() {
                        let floor = if w.dtype() == DType::F64 { 1e-9 } else { 1e-5 };
                        assert_close(g, w, tol.max(floor), &format!("{}/{case}/out{j} on {dev}", self.family));
                    }
                }
                Ok(_) => {}
                // a case whose closure builds CPU constants cannot run on the GPU as written
                Err(e) => {
                    let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
                    assert!(msg.contains("same device"), "{}/{case} on {dev}: {msg}", self.family);
                }
            }
        }
        self.checked.borrow_mut().insert(case.to_string());
    }

    /// Like [`check`](Self::check) for a single-output op.
    #[track_caller]
    pub fn check1(&self, case: &str, tol: f64, f: impl Fn(&[Tensor]) -> Tensor) {
        self.check(case, tol, |x| vec![f(x)]);
    }

    /// Marks `case` as exercised by a test that compares it by other means.
    pub fn mark(&self, case: &str) {
        self.checked.borrow_mut().insert(case.to_string());
    }

    /// Every case name in the file.
    pub fn cases(&self) -> BTreeSet<String> {
        self.map.keys().filter_map(|k| k.split_once('/').map(|(c, _)| c.to_string())).collect()
    }

    /// Fails if some case of the file was never checked: no fixture goes silently unused.
    #[track_caller]
    pub fn finish(&self) {
        let done = self.checked.borrow();
        let missing: Vec<_> = self.cases().into_iter().filter(|c| !done.contains(c)).collect();
        assert!(missing.is_empty(), "{}: fixture cases never checked: {missing:?}", self.family);
    }
}

/// The GPU to rerun fixture cases on: the first adapter, when one exists and runs f64 shaders
/// (lavapipe does). `EMBER_FIXTURES_GPU=0` turns the rerun off.
pub fn gpu_for_fixtures() -> Option<ember_tensor::Device> {
    static DEV: std::sync::OnceLock<Option<ember_tensor::Device>> = std::sync::OnceLock::new();
    *DEV.get_or_init(|| {
        if std::env::var("EMBER_FIXTURES_GPU").is_ok_and(|v| v == "0") {
            return None;
        }
        let dev = ember_tensor::Device::gpu().ok()?;
        let probe = Tensor::from_vec(vec![1.0f64], &[1]).to(&dev);
        probe.try_add(&probe).ok().map(|_| dev)
    })
}

/// Closeness of a result to PyTorch's: the shared helper of every crate's tests.
pub use ember_testutil::assert_close;
