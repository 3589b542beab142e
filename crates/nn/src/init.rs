//! Parameter initialisation, as `torch.nn.init` (draws come from Ember's seeded generator).
//!
//! ```
//! use ember_nn::init;
//! // a Conv2d(4, 8, 3) weight: fan_in = 4 * 3 * 3, PyTorch's default bound 1/sqrt(36)
//! assert_eq!(init::fans(&[8, 4, 3, 3]), (36, 72));
//! let w = init::kaiming_uniform_default(&[8, 4, 3, 3]);
//! assert!(w.to_vec::<f32>().iter().all(|v| v.abs() <= 1.0 / 6.0));
//! ```

use ember_tensor::{Result, Tensor};

/// `fan_in` and `fan_out` of a weight of `shape` ([out, in, k...]), as PyTorch computes them.
/// Saturating: fans only set a bound, and a shape whose product overflows fails where its storage
/// is reserved, with an error naming the shape.
pub fn fans(shape: &[usize]) -> (usize, usize) {
    let receptive = shape.iter().skip(2).fold(1usize, |a, &s| a.saturating_mul(s));
    let fan_in = shape.get(1).copied().unwrap_or(1).saturating_mul(receptive);
    let fan_out = shape.first().copied().unwrap_or(1).saturating_mul(receptive);
    (fan_in, fan_out)
}

/// Unwraps an initialiser's result, panicking with its message (an out-of-memory or overflow
/// error; Rust's default would abort).
#[track_caller]
fn ok(r: Result<Tensor>) -> Tensor {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// F32 samples uniform in `[lo, hi)`.
///
/// **Panics** (never aborts) when the storage cannot be allocated; see [`try_uniform`].
#[track_caller]
pub fn uniform(shape: &[usize], lo: f64, hi: f64) -> Tensor {
    ok(try_uniform(shape, lo, hi))
}

/// [`uniform`] returning `Error::OutOfMemory` (or the overflow error naming the shape) instead of
/// panicking; scaled in place, so the one buffer is all it allocates.
pub fn try_uniform(shape: &[usize], lo: f64, hi: f64) -> Result<Tensor> {
    let mut t = Tensor::try_rand(shape)?;
    t.try_mul_scalar_(hi - lo)?.try_add_scalar_(lo)?;
    Ok(t)
}

/// F32 samples from `N(mean, std^2)`.
///
/// **Panics** (never aborts) when the storage cannot be allocated; see [`try_normal`].
#[track_caller]
pub fn normal(shape: &[usize], mean: f64, std: f64) -> Tensor {
    ok(try_normal(shape, mean, std))
}

/// [`normal`] returning `Error::OutOfMemory` (or the overflow error) instead of panicking.
pub fn try_normal(shape: &[usize], mean: f64, std: f64) -> Result<Tensor> {
    let mut t = Tensor::try_randn(shape)?;
    t.try_mul_scalar_(std)?.try_add_scalar_(mean)?;
    Ok(t)
}

/// PyTorch's `kaiming_uniform_(w, a=sqrt(5))`, the default init of Linear and Conv weights:
/// uniform in `±1/sqrt(fan_in)`.
#[track_caller]
pub fn kaiming_uniform_default(shape: &[usize]) -> Tensor {
    ok(try_kaiming_uniform_default(shape))
}

/// [`kaiming_uniform_default`] returning `Error::OutOfMemory` (or the overflow error) instead of
/// panicking.
pub fn try_kaiming_uniform_default(shape: &[usize]) -> Result<Tensor> {
    let (fan_in, _) = fans(shape);
    let bound = if fan_in > 0 { 1.0 / (fan_in as f64).sqrt() } else { 0.0 };
    try_uniform(shape, -bound, bound)
}

/// `kaiming_uniform_` with ReLU gain (`nonlinearity='relu'`, fan_in mode).
pub fn kaiming_uniform_relu(shape: &[usize]) -> Tensor {
    let (fan_in, _) = fans(shape);
    let bound = (6.0 / fan_in.max(1) as f64).sqrt();
    uniform(shape, -bound, bound)
}

/// `xavier_uniform_` (Glorot), gain 1.
pub fn xavier_uniform(shape: &[usize]) -> Tensor {
    let (fan_in, fan_out) = fans(shape);
    let bound = (6.0 / (fan_in + fan_out).max(1) as f64).sqrt();
    uniform(shape, -bound, bound)
}

/// The bias init of Linear and Conv: uniform in `±1/sqrt(fan_in)`.
#[track_caller]
pub fn bias_uniform(len: usize, fan_in: usize) -> Tensor {
    ok(try_bias_uniform(len, fan_in))
}

/// [`bias_uniform`] returning `Error::OutOfMemory` instead of panicking.
pub fn try_bias_uniform(len: usize, fan_in: usize) -> Result<Tensor> {
    let bound = if fan_in > 0 { 1.0 / (fan_in as f64).sqrt() } else { 0.0 };
    try_uniform(&[len], -bound, bound)
}
