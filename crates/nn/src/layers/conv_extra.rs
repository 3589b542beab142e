//! More convolution layers: `ConvTranspose1d` and `Conv3d`, with PyTorch's parameter layouts and
//! default initialisation (uniform in `±1/√fan_in`, the bias too).
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_nn::{Conv3d, ConvTranspose1d, Module};
//! use ember_tensor::Tensor;
//! let up = ConvTranspose1d::new(4, 2, 3).stride(2).padding(1).output_padding(1);
//! assert_eq!(up.forward(&Variable::from(Tensor::randn(&[2, 4, 5]))).shape(), vec![2, 2, 10]);
//! let c = Conv3d::new(1, 3, 3).padding(1);
//! assert_eq!(c.forward(&Variable::from(Tensor::randn(&[1, 1, 4, 5, 5]))).shape(), vec![1, 3, 4, 5, 5]);
//! ```

use ember_autograd::Variable;
use ember_tensor::Result;

use crate::functional::{self as F, Size3};
use crate::module::{forward_or_panic, layer_error};
use crate::{Module, TrainingFlag};

use super::conv::conv_common;

/// `[d, h, w]` of an int or a triple (the builders' argument).
fn size3(s: impl Into<Size3>) -> [usize; 3] {
    s.into().0
}

/// A 1-d transposed convolution, PyTorch's `nn.ConvTranspose1d`: weight `[in, out / groups, k]`,
/// bias `[out]`; the output length is `(L - 1) stride - 2 padding + dilation (k - 1) +
/// output_padding + 1`.
#[derive(Debug)]
pub struct ConvTranspose1d {
    training: TrainingFlag,
    /// `[in_channels, out_channels / groups, kernel_size]`.
    pub weight: Variable,
    /// `[out_channels]`, if the layer has a bias.
    pub bias: Option<Variable>,
    in_channels: usize,
    out_channels: usize,
    kernel_size: usize,
    stride: usize,
    padding: usize,
    output_padding: usize,
    dilation: usize,
    groups: usize,
}

impl ConvTranspose1d {
    /// Sets the extra length added to one end of the output.
    #[must_use]
    pub fn output_padding(mut self, p: usize) -> ConvTranspose1d {
        self.output_padding = p;
        self
    }

    /// Checked forward: an input that does not fit gives an error naming the layer and shapes.
    pub fn try_forward(&self, x: &Variable) -> Result<Variable> {
        F::try_conv_transpose1d(
            x,
            &self.weight,
            self.bias.as_ref(),
            self.stride,
            self.padding,
            self.output_padding,
            self.groups,
            self.dilation,
        )
        .map_err(|e| layer_error("ConvTranspose1d", &(self.in_channels, self.out_channels, self.kernel_size), e))
    }
}

/// A 3-d convolution over `[N, C_in, D, H, W]` (or `[C_in, D, H, W]`), PyTorch's `nn.Conv3d`:
/// weight `[out, in / groups, kd, kh, kw]`, bias `[out]`. Sizes take an int or a triple.
#[derive(Debug)]
pub struct Conv3d {
    training: TrainingFlag,
    /// `[out_channels, in_channels / groups, kd, kh, kw]`.
    pub weight: Variable,
    /// `[out_channels]`, if the layer has a bias.
    pub bias: Option<Variable>,
    in_channels: usize,
    out_channels: usize,
    kernel_size: [usize; 3],
    stride: [usize; 3],
    padding: [usize; 3],
    dilation: [usize; 3],
    groups: usize,
}

impl Conv3d {
    /// Checked forward: an input that does not fit gives an error naming the layer and shapes.
    pub fn try_forward(&self, x: &Variable) -> Result<Variable> {
        F::try_conv3d(x, &self.weight, self.bias.as_ref(), self.stride, self.padding, self.dilation, self.groups)
            .map_err(|e| layer_error("Conv3d", &(self.in_channels, self.out_channels, self.kernel_size), e))
    }
}

conv_common!(ConvTranspose1d, usize, std::convert::identity, true, [output_padding]);
conv_common!(Conv3d, impl Into<Size3>, size3, false, []);
