//! Convolution layers: `Conv1d`, `Conv2d` and `ConvTranspose2d`, with PyTorch's parameter layouts,
//! default initialisation (`kaiming_uniform_(a=√5)`: uniform in `±1/√fan_in`, the bias too) and
//! builder-style options.
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_nn::{Conv2d, Module};
//! use ember_tensor::Tensor;
//! let conv = Conv2d::new(1, 16, 3).padding(1);
//! let y = conv.forward(&Variable::from(Tensor::randn(&[2, 1, 8, 8])));
//! assert_eq!(y.shape(), vec![2, 16, 8, 8]);
//! assert_eq!(conv.weight.shape(), vec![16, 1, 3, 3]);
//! assert_eq!(format!("{conv:?}"), "Conv2d(1, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))");
//! ```

use std::fmt;

use ember_autograd::Variable;
use ember_tensor::{Error, Result};

use crate::functional::{self as F, Size2};
use crate::module::{forward_or_panic, layer_error};
use crate::{init, Module, TrainingFlag};

/// A weight of `shape` and an optional bias of `len`, both uniform in `±1/√fan_in` (PyTorch's
/// `_ConvNd.reset_parameters`).
pub(crate) fn try_conv_params(shape: &[usize], bias_len: Option<usize>) -> Result<(Variable, Option<Variable>)> {
    let (fan_in, _) = init::fans(shape);
    let weight = Variable::new(init::try_kaiming_uniform_default(shape)?, true);
    let bias = match bias_len {
        Some(n) => Some(Variable::new(init::try_bias_uniform(n, fan_in)?, true)),
        None => None,
    };
    Ok((weight, bias))
}

/// [`try_conv_params`] that panics with its error (the builders that re-initialise weights).
#[track_caller]
pub(crate) fn conv_params(shape: &[usize], bias_len: Option<usize>) -> (Variable, Option<Variable>) {
    try_conv_params(shape, bias_len).unwrap_or_else(|e| panic!("{e}"))
}

/// Panics unless `groups` is positive and divides both channel counts, naming the layer.
#[track_caller]
pub(crate) fn check_groups(layer: &str, in_channels: usize, out_channels: usize, groups: usize) {
    if groups == 0 || !in_channels.is_multiple_of(groups) || !out_channels.is_multiple_of(groups) {
        panic!(
            "{layer}: groups={groups} must be positive and divide both in_channels={in_channels} and out_channels={out_channels}"
        );
    }
}

/// A kernel size as a slice of its dims (an int for the 1-d layers, an array for the others).
pub(crate) trait KernelDims {
    /// The dims, `[k]` for an int.
    fn dims(&self) -> &[usize];
}

impl KernelDims for usize {
    fn dims(&self) -> &[usize] {
        std::slice::from_ref(self)
    }
}

impl<const N: usize> KernelDims for [usize; N] {
    fn dims(&self) -> &[usize] {
        self
    }
}

/// A convolution's weight shape: `[out, in / groups, k...]`, or `[in, out / groups, k...]` for a
/// transposed one.
pub(crate) fn weight_shape(
    transposed: bool,
    in_channels: usize,
    out_channels: usize,
    groups: usize,
    kernel: &[usize],
) -> Vec<usize> {
    let mut s =
        if transposed { vec![in_channels, out_channels / groups] } else { vec![out_channels, in_channels / groups] };
    s.extend_from_slice(kernel);
    s
}

/// `[h, w]` of an int or a pair (the convolution builders' argument).
pub(crate) fn size2(s: impl Into<Size2>) -> [usize; 2] {
    s.into().0
}

/// What every convolution layer shares: `new` and `try_new` (the weight laid out as
/// [`weight_shape`] with `$transposed`, the `$extra` fields, such as `output_padding`, zero), the
/// `stride`, `padding` and `dilation` builders (sizes taking `$arg`, stored through `$into`),
/// `groups`, `bias(on)`, and the `Module` impl (its own train/eval flag, `forward` through
/// `try_forward`, `weight` and `bias` as parameters).
macro_rules! conv_common {
    ($T:ident, $arg:ty, $into:path, $transposed:literal, [$($extra:ident),*]) => {
        impl $T {
            /// A layer from `in_channels` to `out_channels` with a `kernel_size` kernel (an int, or one
            /// size per spatial dim for the 2-d and 3-d layers), stride 1, no padding, dilation 1, one
            /// group, with a bias.
            ///
            #[doc = concat!("**Panics** (never aborts) when the weights cannot be allocated; see [`", stringify!($T), "::try_new`].")]
            #[track_caller]
            pub fn new(in_channels: usize, out_channels: usize, kernel_size: $arg) -> $T {
                $T::try_new(in_channels, out_channels, kernel_size).unwrap_or_else(|e| panic!("{e}"))
            }

            #[doc = concat!("[`", stringify!($T), "::new`] returning `Error::OutOfMemory` (or the overflow error naming the")]
            /// shape) when the weights cannot be allocated.
            pub fn try_new(in_channels: usize, out_channels: usize, kernel_size: $arg) -> ember_tensor::Result<$T> {
                use $crate::layers::conv::KernelDims;
                let k = $into(kernel_size);
                let shape = $crate::layers::conv::weight_shape($transposed, in_channels, out_channels, 1, k.dims());
                let (weight, bias) = $crate::layers::conv::try_conv_params(&shape, Some(out_channels))?;
                Ok($T {
                    training: TrainingFlag::new(),
                    weight,
                    bias,
                    in_channels,
                    out_channels,
                    kernel_size: k,
                    stride: $into(1usize),
                    padding: $into(0usize),
                    dilation: $into(1usize),
                    groups: 1,
                    $($extra: $into(0usize),)*
                })
            }

            /// Splits the channels into `groups` (re-initialises the weight to its new shape).
            ///
            /// **Panics** when `groups` does not divide both channel counts.
            #[must_use]
            #[track_caller]
            pub fn groups(mut self, groups: usize) -> $T {
                use $crate::layers::conv::KernelDims;
                let (i, o) = (self.in_channels, self.out_channels);
                $crate::layers::conv::check_groups(stringify!($T), i, o, groups);
                let shape = $crate::layers::conv::weight_shape($transposed, i, o, groups, self.kernel_size.dims());
                let (w, b) = $crate::layers::conv::conv_params(&shape, self.bias.is_some().then_some(o));
                (self.weight, self.bias, self.groups) = (w, b, groups);
                self
            }

            /// Sets the stride (an int, or one per spatial dim for the 2-d and 3-d layers).
            #[must_use]
            pub fn stride(mut self, s: $arg) -> $T {
                self.stride = $into(s);
                self
            }

            /// Sets the zero padding on both sides (an int, or one per spatial dim).
            #[must_use]
            pub fn padding(mut self, p: $arg) -> $T {
                self.padding = $into(p);
                self
            }

            /// Sets the dilation, the spacing between kernel taps (an int, or one per spatial dim).
            #[must_use]
            pub fn dilation(mut self, d: $arg) -> $T {
                self.dilation = $into(d);
                self
            }

            /// With or without a bias (`bias=False` drops it).
            #[must_use]
            pub fn bias(mut self, on: bool) -> $T {
                if !on {
                    self.bias = None;
                } else if self.bias.is_none() {
                    self.bias = $crate::layers::conv::conv_params(&self.weight.shape(), Some(self.out_channels)).1;
                }
                self
            }
        }

        impl Module for $T {
            /// This layer's own train/eval flag, so `eval()` reaches a user module made of such layers.
            fn training_flag(&self) -> Option<&TrainingFlag> {
                Some(&self.training)
            }

            #[track_caller]
            fn forward(&self, x: &Variable) -> Variable {
                forward_or_panic(self.try_forward(x))
            }

            fn own_parameters(&self) -> Vec<(String, Variable)> {
                $crate::module::weight_and_bias(Some(&self.weight), self.bias.as_ref())
            }
        }
    };
}
pub(crate) use conv_common;

/// `(a, b)` as PyTorch prints a tuple, `(a,)` for one element.
fn tuple(v: &[usize]) -> String {
    if v.len() == 1 {
        format!("({},)", v[0])
    } else {
        format!("({})", v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "))
    }
}

/// PyTorch's `extra_repr` of a convolution, minus the leading channels.
fn conv_repr(
    k: &[usize],
    s: &[usize],
    p: &[usize],
    d: &[usize],
    op: Option<&[usize]>,
    groups: usize,
    bias: bool,
) -> String {
    let mut r = format!("kernel_size={}, stride={}", tuple(k), tuple(s));
    if p.iter().any(|&x| x != 0) {
        r += &format!(", padding={}", tuple(p));
    }
    if d.iter().any(|&x| x != 1) {
        r += &format!(", dilation={}", tuple(d));
    }
    if let Some(op) = op.filter(|o| o.iter().any(|&x| x != 0)) {
        r += &format!(", output_padding={}", tuple(op));
    }
    if groups != 1 {
        r += &format!(", groups={groups}");
    }
    if !bias {
        r += ", bias=False";
    }
    r
}

/// A 1-d convolution over `[N, C_in, L]` (or `[C_in, L]`), PyTorch's `nn.Conv1d`: weight
/// `[out, in / groups, k]`, bias `[out]`.
pub struct Conv1d {
    /// `[out_channels, in_channels / groups, kernel_size]`.
    pub weight: Variable,
    /// `[out_channels]`, if the layer has a bias.
    pub bias: Option<Variable>,
    in_channels: usize,
    out_channels: usize,
    kernel_size: usize,
    stride: usize,
    padding: usize,
    dilation: usize,
    groups: usize,
    training: TrainingFlag,
}

impl Conv1d {
    /// Checked forward: an input that does not fit gives an error naming the layer and shapes.
    pub fn try_forward(&self, x: &Variable) -> Result<Variable> {
        F::try_conv1d(x, &self.weight, self.bias.as_ref(), self.stride, self.padding, self.dilation, self.groups)
            .map_err(|e| layer_error("Conv1d", self, e))
    }
}

impl fmt::Debug for Conv1d {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = conv_repr(
            &[self.kernel_size],
            &[self.stride],
            &[self.padding],
            &[self.dilation],
            None,
            self.groups,
            self.bias.is_some(),
        );
        write!(f, "Conv1d({}, {}, {r})", self.in_channels, self.out_channels)
    }
}

/// A 2-d convolution over `[N, C_in, H, W]` (or `[C_in, H, W]`), PyTorch's `nn.Conv2d`: weight
/// `[out, in / groups, kh, kw]`, bias `[out]`. Sizes take an int or a pair (`3`, `[3, 5]`).
pub struct Conv2d {
    /// `[out_channels, in_channels / groups, kh, kw]`.
    pub weight: Variable,
    /// `[out_channels]`, if the layer has a bias.
    pub bias: Option<Variable>,
    in_channels: usize,
    out_channels: usize,
    kernel_size: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
    training: TrainingFlag,
}

impl Conv2d {
    /// Checked forward: an input that does not fit gives an error naming the layer and shapes.
    pub fn try_forward(&self, x: &Variable) -> Result<Variable> {
        F::try_conv2d(x, &self.weight, self.bias.as_ref(), self.stride, self.padding, self.dilation, self.groups)
            .map_err(|e| layer_error("Conv2d", self, e))
    }
}

impl fmt::Debug for Conv2d {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = conv_repr(
            &self.kernel_size,
            &self.stride,
            &self.padding,
            &self.dilation,
            None,
            self.groups,
            self.bias.is_some(),
        );
        write!(f, "Conv2d({}, {}, {r})", self.in_channels, self.out_channels)
    }
}

/// A 2-d transposed convolution, PyTorch's `nn.ConvTranspose2d`: weight
/// `[in, out / groups, kh, kw]`, bias `[out]`; the output size is
/// `(H - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1`.
pub struct ConvTranspose2d {
    /// `[in_channels, out_channels / groups, kh, kw]`.
    pub weight: Variable,
    /// `[out_channels]`, if the layer has a bias.
    pub bias: Option<Variable>,
    in_channels: usize,
    out_channels: usize,
    kernel_size: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    output_padding: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
    training: TrainingFlag,
}

impl ConvTranspose2d {
    /// Sets the extra size added to one side of the output (an int or `[oh, ow]`).
    #[must_use]
    pub fn output_padding(mut self, p: impl Into<Size2>) -> ConvTranspose2d {
        self.output_padding = p.into().0;
        self
    }

    /// Checked forward: an input that does not fit gives an error naming the layer and shapes.
    pub fn try_forward(&self, x: &Variable) -> Result<Variable> {
        F::try_conv_transpose2d(
            x,
            &self.weight,
            self.bias.as_ref(),
            self.stride,
            self.padding,
            self.output_padding,
            self.groups,
            self.dilation,
        )
        .map_err(|e: Error| layer_error("ConvTranspose2d", self, e))
    }
}

impl fmt::Debug for ConvTranspose2d {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = conv_repr(
            &self.kernel_size,
            &self.stride,
            &self.padding,
            &self.dilation,
            Some(&self.output_padding),
            self.groups,
            self.bias.is_some(),
        );
        write!(f, "ConvTranspose2d({}, {}, {r})", self.in_channels, self.out_channels)
    }
}

conv_common!(Conv1d, usize, std::convert::identity, false, []);
conv_common!(Conv2d, impl Into<Size2>, size2, false, []);
conv_common!(ConvTranspose2d, impl Into<Size2>, size2, true, [output_padding]);
