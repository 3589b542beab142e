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

/// What a table case returns, flattened to tensors for comparison.
pub trait Outs {
    fn into_outs(self) -> Vec<Tensor>;
}

impl Outs for Tensor {
    fn into_outs(self) -> Vec<Tensor> {
        vec![self]
    }
}

impl Outs for (Tensor, Tensor) {
    fn into_outs(self) -> Vec<Tensor> {
        vec![self.0, self.1]
    }
}

impl Outs for Vec<Tensor> {
    fn into_outs(self) -> Vec<Tensor> {
        self
    }
}

/// The closure of a table case: the op applied to its inputs (on one device).
pub type Run = Box<dyn Fn(&[Tensor]) -> ember_tensor::Result<Vec<Tensor>>>;

/// One row of a GPU/CPU parity table: `run` is applied to `inputs` on the CPU and to GPU copies of
/// them; results (values, shapes, dtypes, devices) or error messages must agree. A `native` case
/// must not take the host fallback.
pub struct Case {
    pub name: String,
    pub native: bool,
    pub inputs: Vec<Tensor>,
    pub run: Run,
}

/// Builds a [`Case`]: `case!(native, "name", [inputs..], |t| expr returning Result<impl Outs>)`.
#[macro_export]
macro_rules! case {
    ($native:expr, $name:expr, [$($inp:expr),* $(,)?], |$t:ident| $body:expr) => {
        gpu_util::Case {
            name: $name.to_string(),
            native: $native,
            inputs: vec![$($inp),*],
            run: Box::new(move |$t: &[ember_tensor::Tensor]| $body.map(gpu_util::Outs::into_outs)),
        }
    };
}

/// Total host fallbacks so far in this process.
pub fn fallback_total() -> usize {
    ember_tensor::host_fallbacks().iter().map(|&(_, n)| n).sum()
}

/// Runs every case on the CPU and on `dev` and compares. F64 cases are skipped on adapters without
/// f64 shaders. Returns the number of cases run.
pub fn run_table(dev: Device, cases: &[Case]) -> usize {
    let f64_ok = has_f64(dev);
    let mut ran = 0;
    for c in cases {
        if !f64_ok && c.inputs.iter().any(|t| t.dtype() == ember_tensor::DType::F64) {
            continue;
        }
        let want = (c.run)(&c.inputs);
        let on_gpu: Vec<Tensor> = c.inputs.iter().map(|t| t.to(&dev)).collect();
        let before = fallback_total();
        let got = (c.run)(&on_gpu);
        if c.native {
            assert_eq!(
                fallback_total(),
                before,
                "{}: ran through the host fallback: {:?}",
                c.name,
                ember_tensor::host_fallbacks()
            );
        }
        match (want, got) {
            (Ok(want), Ok(got)) => {
                assert_eq!(want.len(), got.len(), "{}: number of outputs", c.name);
                for (k, (w, g)) in want.iter().zip(&got).enumerate() {
                    let what = format!("{} (output {k})", c.name);
                    assert_eq!(g.device(), dev, "{what}: device");
                    assert_eq!(g.shape(), w.shape(), "{what}: shape");
                    assert_eq!(g.dtype(), w.dtype(), "{what}: dtype");
                    let tol = match w.dtype() {
                        ember_tensor::DType::F32 => 1e-4,
                        ember_tensor::DType::F64 => 1e-10,
                        _ => 0.0,
                    };
                    ember_testutil::assert_allclose(&what, &g.to_vec::<f64>(), &w.to_vec::<f64>(), tol, tol);
                }
            }
            (Err(w), Err(g)) => assert_eq!(g.to_string(), w.to_string(), "{}: error", c.name),
            (Ok(_), Err(g)) => panic!("{}: CPU succeeded but the GPU failed: {g}", c.name),
            (Err(w), Ok(_)) => panic!("{}: CPU failed ({w}) but the GPU succeeded", c.name),
        }
        ran += 1;
    }
    ran
}
