//! Pooling, as `torch.nn.functional`: `max_pool2d`, `avg_pool2d`, `adaptive_avg_pool2d`, over the
//! last two dims of `[N, C, H, W]` or `[C, H, W]`.
//!
//! Each has a checked `try_*` form: the forward runs the tensor kernel's checked path once and
//! records the op with its backward rule here (the tensor crate's backward kernels; a second
//! derivative through a pool reports an error, as the Variable methods do).
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_nn::functional as F;
//! use ember_tensor::Tensor;
//! let x = Variable::from(Tensor::from_vec((0..16).map(|v| v as f32).collect(), &[1, 1, 4, 4]));
//! let y = F::max_pool2d(&x, 2, 2, 0, 1, false);
//! assert_eq!(y.to_vec::<f32>(), vec![5.0, 7.0, 13.0, 15.0]);
//! let a = F::adaptive_avg_pool2d(&x, 1);
//! assert_eq!(a.to_vec::<f32>(), vec![7.5]);
//! ```

use ember_autograd::Variable;
use ember_tensor::Result;

use super::checked::ok;
use super::Size2;

/// 2-d max pooling, PyTorch's `F.max_pool2d(input, kernel_size, stride, padding, dilation,
/// ceil_mode)` (pass `stride = kernel_size` for PyTorch's default). The gradient goes to each
/// window's maximum (the first one on ties).
///
/// **Panics** on a bad rank, a window larger than the padded input, or padding over half the
/// kernel; see [`try_max_pool2d`].
#[must_use]
#[track_caller]
pub fn max_pool2d(
    input: &Variable,
    kernel_size: impl Into<Size2>,
    stride: impl Into<Size2>,
    padding: impl Into<Size2>,
    dilation: impl Into<Size2>,
    ceil_mode: bool,
) -> Variable {
    ok(try_max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode))
}

/// Checked form of [`max_pool2d`].
pub fn try_max_pool2d(
    input: &Variable,
    kernel_size: impl Into<Size2>,
    stride: impl Into<Size2>,
    padding: impl Into<Size2>,
    dilation: impl Into<Size2>,
    ceil_mode: bool,
) -> Result<Variable> {
    let (k, s, p, d) = (kernel_size.into().0, stride.into().0, padding.into().0, dilation.into().0);
    input.try_max_pool2d(k, s, p, d, ceil_mode)
}

/// 2-d average pooling, PyTorch's `F.avg_pool2d(input, kernel_size, stride, padding, ceil_mode,
/// count_include_pad)` (PyTorch's defaults: `stride = kernel_size`, `0`, `false`, `true`).
///
/// **Panics** as [`max_pool2d`]; see [`try_avg_pool2d`].
#[must_use]
#[track_caller]
pub fn avg_pool2d(
    input: &Variable,
    kernel_size: impl Into<Size2>,
    stride: impl Into<Size2>,
    padding: impl Into<Size2>,
    ceil_mode: bool,
    count_include_pad: bool,
) -> Variable {
    ok(try_avg_pool2d(input, kernel_size, stride, padding, ceil_mode, count_include_pad))
}

/// Checked form of [`avg_pool2d`].
pub fn try_avg_pool2d(
    input: &Variable,
    kernel_size: impl Into<Size2>,
    stride: impl Into<Size2>,
    padding: impl Into<Size2>,
    ceil_mode: bool,
    count_include_pad: bool,
) -> Result<Variable> {
    let (k, s, p) = (kernel_size.into().0, stride.into().0, padding.into().0);
    input.try_avg_pool2d(k, s, p, ceil_mode, count_include_pad)
}

/// Adaptive average pooling to `output_size` (an int or `[h, w]`), PyTorch's
/// `F.adaptive_avg_pool2d`.
///
/// **Panics** on a bad rank or an empty plane; see [`try_adaptive_avg_pool2d`].
#[must_use]
#[track_caller]
pub fn adaptive_avg_pool2d(input: &Variable, output_size: impl Into<Size2>) -> Variable {
    ok(try_adaptive_avg_pool2d(input, output_size))
}

/// Checked form of [`adaptive_avg_pool2d`].
pub fn try_adaptive_avg_pool2d(input: &Variable, output_size: impl Into<Size2>) -> Result<Variable> {
    input.try_adaptive_avg_pool2d(output_size.into().0)
}
