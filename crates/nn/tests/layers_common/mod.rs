//! Shared helpers of the nn layer tests: fixture loading, float comparison, and the PyTorch
//! reference check of a layer (forward, input and parameter gradients, buffers after the forward).
#![allow(dead_code)]

use std::collections::HashMap;

use ember_autograd::Variable;
use ember_nn::Module;
use ember_tensor::Tensor;

/// The directory of the committed fixtures.
pub fn fixture_path(file: &str) -> String {
    format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"))
}

/// Named tensors of a fixture file.
pub struct Fx(pub HashMap<String, Tensor>);

impl Fx {
    pub fn load(file: &str) -> Fx {
        let path = fixture_path(file);
        Fx(ember_tensor::io::load(&path).unwrap_or_else(|e| panic!("{path}: {e}")).into_iter().collect())
    }

    pub fn get(&self, key: &str) -> Tensor {
        self.0.get(key).unwrap_or_else(|| panic!("fixture {key} missing")).clone()
    }

    pub fn try_get(&self, key: &str) -> Option<Tensor> {
        self.0.get(key).cloned()
    }

    /// Entries under `prefix/`, with the prefix stripped, sorted by name.
    pub fn under(&self, prefix: &str) -> Vec<(String, Tensor)> {
        let p = format!("{prefix}/");
        let mut v: Vec<(String, Tensor)> =
            self.0.iter().filter_map(|(k, t)| k.strip_prefix(&p).map(|n| (n.to_string(), t.clone()))).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

/// Closeness of a result to PyTorch's: the shared helper of every crate's tests.
pub use ember_testutil::assert_close as close;

/// Checks a layer against case `case` of `nn_layers.safetensors`: loads PyTorch's state dict into
/// `m`, sets the mode, runs `call` on the inputs, and compares the output, the gradients of
/// `sum(out * gout)` with respect to the float inputs and every parameter, and the buffers after
/// the forward (BatchNorm's running statistics).
#[track_caller]
pub fn check_layer(fx: &Fx, case: &str, m: &dyn Module, train: bool, call: impl Fn(&[Variable]) -> Variable) {
    let tol = 1e-4;
    m.load_state_dict(&fx.under(&format!("{case}/state"))).unwrap_or_else(|e| panic!("{case}: {e}"));
    if train {
        m.train();
    } else {
        m.eval();
    }
    let ins: Vec<Variable> = (0..)
        .map_while(|i| fx.try_get(&format!("{case}/in{i}")))
        .map(|t| {
            let f = t.dtype().is_float();
            Variable::new(t, f)
        })
        .collect();
    let out = call(&ins);
    close(&out.data(), &fx.get(&format!("{case}/out")), tol, &format!("{case}/out"));
    (&out * &Variable::from(fx.get(&format!("{case}/gout")))).sum().backward();
    for (i, v) in ins.iter().enumerate() {
        if let Some(want) = fx.try_get(&format!("{case}/grad_in{i}")) {
            let got = v.grad().unwrap_or_else(|| panic!("{case}: input {i} got no gradient"));
            close(&got, &want, tol, &format!("{case}/grad_in{i}"));
        }
    }
    let params = m.named_parameters();
    let want_grads = fx.under(&format!("{case}/grad"));
    assert_eq!(params.len(), want_grads.len(), "{case}: number of parameters");
    for (name, p) in &params {
        let want = fx.get(&format!("{case}/grad/{name}"));
        let got = p.grad().unwrap_or_else(|| want.zeros_like());
        close(&got, &want, tol, &format!("{case}/grad/{name}"));
    }
    for (name, b) in m.named_buffers() {
        close(&b.data(), &fx.get(&format!("{case}/after/{name}")), tol, &format!("{case}/after/{name}"));
    }
}

/// One test per case, `name => layer`: the layer's `forward` on `in0` checked by [`check_layer`]
/// against the calling file's `fx()` fixtures (training mode unless the name ends in `_eval`).
#[allow(unused_macros)]
macro_rules! layer_cases {
    ($($name:ident => $make:expr;)*) => {$(
        #[test]
        fn $name() {
            let m = $make;
            let case = stringify!($name);
            check_layer(fx(), case, &m, !case.ends_with("_eval"), |x: &[Variable]| m.forward(&x[0]));
        }
    )*};
}

/// A standard normal F64 tensor of `shape`.
pub fn rn(shape: &[usize]) -> Tensor {
    Tensor::randn_dtype(shape, ember_tensor::DType::F64)
}

/// `sum(y * w)` for a fixed `w` (`sin(1 + 0.7 i)`, not drawn: tests share the generator across
/// threads), so every output element weighs differently.
pub fn weighted(y: &Variable) -> Variable {
    let shape = y.shape();
    let n: usize = shape.iter().product();
    let w: Vec<f64> = (0..n).map(|i| (1.0 + 0.7 * i as f64).sin()).collect();
    (y * &Variable::from(Tensor::from_vec(w, &shape))).sum()
}
