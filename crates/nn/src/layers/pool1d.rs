//! 1-d pooling layers: `MaxPool1d`, `AvgPool1d` over the last dim of `[N, C, L]` or `[C, L]`, with
//! PyTorch's defaults (stride = kernel size, no padding).
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_nn::{AvgPool1d, MaxPool1d, Module};
//! use ember_tensor::Tensor;
//! let x = Variable::from(Tensor::from_vec(vec![1.0f32, 3.0, 2.0, 8.0, 5.0], &[1, 1, 5]));
//! assert_eq!(MaxPool1d::new(2).forward(&x).to_vec::<f32>(), vec![3.0, 8.0]);
//! assert_eq!(AvgPool1d::new(2).forward(&x).to_vec::<f32>(), vec![2.0, 5.0]);
//! ```

use ember_autograd::Variable;
use ember_tensor::{Error, Result};

use crate::module::{forward_or_panic, layer_error};
use crate::Module;

/// `e` with the input's shape added to its message.
fn input_shape(x: &Variable, e: Error) -> Error {
    Error::InvalidArgument { op: "pool1d", msg: format!("input of shape {:?}: {e}", x.shape()) }
}

/// A 1-d pooling layer `$T` running `Variable::$f`: `new` (`$what` over windows, stride = kernel
/// size), the `stride` and `padding` (`$pad` padding) builders, the checked and panicking forwards.
macro_rules! pool1d {
    ($(#[$doc:meta])* $T:ident, $f:ident, $what:literal, $pad:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug)]
        pub struct $T {
            kernel_size: usize,
            stride: usize,
            padding: usize,
        }

        impl $T {
            #[doc = concat!($what, " over windows of `kernel_size`, stride = kernel size.")]
            pub fn new(kernel_size: usize) -> $T {
                $T { kernel_size, stride: kernel_size, padding: 0 }
            }

            /// Sets the stride.
            #[must_use]
            pub fn stride(mut self, s: usize) -> $T {
                self.stride = s;
                self
            }

            #[doc = concat!("Sets the implicit ", $pad, " padding on both sides (at most half the kernel).")]
            #[must_use]
            pub fn padding(mut self, p: usize) -> $T {
                self.padding = p;
                self
            }

            /// Checked forward: an input that does not fit gives an error naming the layer and shapes.
            pub fn try_forward(&self, x: &Variable) -> Result<Variable> {
                x.$f(self.kernel_size, self.stride, self.padding)
                    .map_err(|e| layer_error(stringify!($T), self, input_shape(x, e)))
            }
        }

        impl Module for $T {
            #[track_caller]
            fn forward(&self, x: &Variable) -> Variable {
                forward_or_panic(self.try_forward(x))
            }
        }
    };
}

pool1d!(
    /// 1-d max pooling, PyTorch's `nn.MaxPool1d(kernel_size, stride=kernel_size, padding=0)`.
    MaxPool1d,
    try_max_pool1d,
    "Max",
    "`-inf`"
);

pool1d!(
    /// 1-d average pooling, PyTorch's `nn.AvgPool1d(kernel_size, stride=kernel_size, padding=0)`
    /// (padding counted in the divisor, as PyTorch's default `count_include_pad`).
    AvgPool1d,
    try_avg_pool1d,
    "Mean",
    "zero"
);
