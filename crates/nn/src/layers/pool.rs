//! Pooling layers: `MaxPool2d`, `AvgPool2d`, `AdaptiveAvgPool2d` (no parameters), with PyTorch's
//! defaults: the stride defaults to the kernel size, no padding.
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_nn::{AvgPool2d, MaxPool2d, Module};
//! use ember_tensor::Tensor;
//! let x = Variable::from(Tensor::randn(&[2, 3, 8, 8]));
//! assert_eq!(MaxPool2d::new(2).forward(&x).shape(), vec![2, 3, 4, 4]);
//! assert_eq!(AvgPool2d::new(3).stride(1).padding(1).forward(&x).shape(), vec![2, 3, 8, 8]);
//! ```

use std::fmt;

use ember_autograd::Variable;
use ember_tensor::Result;

use crate::functional::{self as F, Size2};
use crate::module::{forward_or_panic, layer_error};
use crate::Module;

fn pair(v: [usize; 2]) -> String {
    if v[0] == v[1] {
        v[0].to_string()
    } else {
        format!("({}, {})", v[0], v[1])
    }
}

/// 2-d max pooling, PyTorch's `nn.MaxPool2d`.
#[derive(Clone, Copy)]
pub struct MaxPool2d {
    kernel_size: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    ceil_mode: bool,
}

impl MaxPool2d {
    /// Max pooling over `kernel_size` windows (an int or `[kh, kw]`), stride = kernel size.
    pub fn new(kernel_size: impl Into<Size2>) -> MaxPool2d {
        let k = kernel_size.into().0;
        MaxPool2d { kernel_size: k, stride: k, padding: [0, 0], dilation: [1, 1], ceil_mode: false }
    }

    /// Sets the stride.
    #[must_use]
    pub fn stride(mut self, s: impl Into<Size2>) -> MaxPool2d {
        self.stride = s.into().0;
        self
    }

    /// Sets the implicit padding (with -inf), at most half the kernel.
    #[must_use]
    pub fn padding(mut self, p: impl Into<Size2>) -> MaxPool2d {
        self.padding = p.into().0;
        self
    }

    /// Sets the dilation (spacing between window taps).
    #[must_use]
    pub fn dilation(mut self, d: impl Into<Size2>) -> MaxPool2d {
        self.dilation = d.into().0;
        self
    }

    /// Rounds the output size up instead of down.
    #[must_use]
    pub fn ceil_mode(mut self, on: bool) -> MaxPool2d {
        self.ceil_mode = on;
        self
    }

    /// Checked forward: an input that does not fit gives an error naming the layer and shapes.
    pub fn try_forward(&self, x: &Variable) -> Result<Variable> {
        F::try_max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)
            .map_err(|e| layer_error("MaxPool2d", self, e))
    }
}

impl fmt::Debug for MaxPool2d {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MaxPool2d(kernel_size={}, stride={}, padding={}, dilation={}, ceil_mode={})",
            pair(self.kernel_size),
            pair(self.stride),
            pair(self.padding),
            pair(self.dilation),
            if self.ceil_mode { "True" } else { "False" }
        )
    }
}

impl Module for MaxPool2d {
    #[track_caller]
    fn forward(&self, x: &Variable) -> Variable {
        forward_or_panic(self.try_forward(x))
    }
}

/// 2-d average pooling, PyTorch's `nn.AvgPool2d` (padding counted in the divisor by default).
#[derive(Clone, Copy)]
pub struct AvgPool2d {
    kernel_size: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    ceil_mode: bool,
    count_include_pad: bool,
}

impl AvgPool2d {
    /// Average pooling over `kernel_size` windows (an int or `[kh, kw]`), stride = kernel size.
    pub fn new(kernel_size: impl Into<Size2>) -> AvgPool2d {
        let k = kernel_size.into().0;
        AvgPool2d { kernel_size: k, stride: k, padding: [0, 0], ceil_mode: false, count_include_pad: true }
    }

    /// Sets the stride.
    #[must_use]
    pub fn stride(mut self, s: impl Into<Size2>) -> AvgPool2d {
        self.stride = s.into().0;
        self
    }

    /// Sets the implicit zero padding, at most half the kernel.
    #[must_use]
    pub fn padding(mut self, p: impl Into<Size2>) -> AvgPool2d {
        self.padding = p.into().0;
        self
    }

    /// Rounds the output size up instead of down.
    #[must_use]
    pub fn ceil_mode(mut self, on: bool) -> AvgPool2d {
        self.ceil_mode = on;
        self
    }

    /// Whether padded zeros count in the divisor (PyTorch's default: true).
    #[must_use]
    pub fn count_include_pad(mut self, on: bool) -> AvgPool2d {
        self.count_include_pad = on;
        self
    }

    /// Checked forward: an input that does not fit gives an error naming the layer and shapes.
    pub fn try_forward(&self, x: &Variable) -> Result<Variable> {
        F::try_avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)
            .map_err(|e| layer_error("AvgPool2d", self, e))
    }
}

impl fmt::Debug for AvgPool2d {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AvgPool2d(kernel_size={}, stride={}, padding={})",
            pair(self.kernel_size),
            pair(self.stride),
            pair(self.padding)
        )
    }
}

impl Module for AvgPool2d {
    #[track_caller]
    fn forward(&self, x: &Variable) -> Variable {
        forward_or_panic(self.try_forward(x))
    }
}

/// Adaptive average pooling to a fixed output size, PyTorch's `nn.AdaptiveAvgPool2d`.
#[derive(Clone, Copy)]
pub struct AdaptiveAvgPool2d {
    output_size: [usize; 2],
}

impl AdaptiveAvgPool2d {
    /// Pools any `H x W` to `output_size` (an int or `[h, w]`).
    pub fn new(output_size: impl Into<Size2>) -> AdaptiveAvgPool2d {
        AdaptiveAvgPool2d { output_size: output_size.into().0 }
    }

    /// Checked forward: an input that does not fit gives an error naming the layer and shapes.
    pub fn try_forward(&self, x: &Variable) -> Result<Variable> {
        F::try_adaptive_avg_pool2d(x, self.output_size).map_err(|e| layer_error("AdaptiveAvgPool2d", self, e))
    }
}

impl fmt::Debug for AdaptiveAvgPool2d {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AdaptiveAvgPool2d(output_size={})", pair(self.output_size))
    }
}

impl Module for AdaptiveAvgPool2d {
    #[track_caller]
    fn forward(&self, x: &Variable) -> Variable {
        forward_or_panic(self.try_forward(x))
    }
}
