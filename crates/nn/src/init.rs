//! Parameter initialisation, as `torch.nn.init` (draws come from Ember's seeded generator).
//!
//! ```
//! use ember_nn::init;
//! // a Conv2d(4, 8, 3) weight: fan_in = 4 * 3 * 3, PyTorch's default bound 1/sqrt(36)
//! assert_eq!(init::fans(&[8, 4, 3, 3]), (36, 72));
//! let w = init::kaiming_uniform_default(&[8, 4, 3, 3]);
//! assert!(w.to_vec::<f32>().iter().all(|v| v.abs() <= 1.0 / 6.0));
//! ```

use ember_tensor::Tensor;

/// `fan_in` and `fan_out` of a weight of `shape` ([out, in, k...]), as PyTorch computes them.
pub fn fans(shape: &[usize]) -> (usize, usize) {
    let receptive: usize = shape.iter().skip(2).product();
    let fan_in = shape.get(1).copied().unwrap_or(1) * receptive;
    let fan_out = shape.first().copied().unwrap_or(1) * receptive;
    (fan_in, fan_out)
}

/// F32 samples uniform in `[lo, hi)`.
pub fn uniform(shape: &[usize], lo: f64, hi: f64) -> Tensor {
    &Tensor::rand(shape) * (hi - lo) + lo
}

/// F32 samples from `N(mean, std^2)`.
pub fn normal(shape: &[usize], mean: f64, std: f64) -> Tensor {
    &Tensor::randn(shape) * std + mean
}

/// PyTorch's `kaiming_uniform_(w, a=sqrt(5))`, the default init of Linear and Conv weights:
/// uniform in `±1/sqrt(fan_in)`.
pub fn kaiming_uniform_default(shape: &[usize]) -> Tensor {
    let (fan_in, _) = fans(shape);
    let bound = if fan_in > 0 { 1.0 / (fan_in as f64).sqrt() } else { 0.0 };
    uniform(shape, -bound, bound)
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
pub fn bias_uniform(len: usize, fan_in: usize) -> Tensor {
    let bound = if fan_in > 0 { 1.0 / (fan_in as f64).sqrt() } else { 0.0 };
    uniform(&[len], -bound, bound)
}
