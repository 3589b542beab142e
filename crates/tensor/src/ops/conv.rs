//! Convolutions with PyTorch's layouts and arguments: `conv1d` (`[N, C, L]`) and `conv2d`
//! (`[N, C, H, W]`), batched or unbatched, with stride, zero padding, dilation and groups; and the
//! public backward kernels the autograd layer calls (`conv2d_backward_input`, ...).
//!
//! A 1-d convolution is run as a 2-d one of height 1. Shapes are checked here; the kernels
//! (im2col + GEMM) live in `cpu/conv.rs`.

use crate::op_desc::ConvGeom;
use crate::shape::Dims;
use crate::tensor::ok;
use crate::{Error, Result, Tensor};

/// Stride, padding, dilation and groups of a convolution, in 2-d form (a 1-d convolution has
/// height stride 1, padding 0, dilation 1).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConvParams {
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
}

impl ConvParams {
    /// The 2-d form of 1-d parameters.
    pub fn d1(stride: usize, padding: usize, dilation: usize, groups: usize) -> ConvParams {
        ConvParams { stride: [1, stride], padding: [0, padding], dilation: [1, dilation], groups }
    }

    /// Checks groups, stride and dilation are positive, naming `op`.
    pub fn check(&self, op: &'static str, spatial: usize) -> Result<()> {
        if self.groups == 0 {
            crate::bail!(op, "groups must be positive, got 0");
        }
        if self.stride.contains(&0) {
            crate::bail!(op, "stride must be positive, got {:?}", shown(self.stride, spatial));
        }
        if self.dilation.contains(&0) {
            crate::bail!(op, "dilation must be positive, got {:?}", shown(self.dilation, spatial));
        }
        Ok(())
    }
}

/// The user-facing part of a 2-d parameter: both entries for 2-d, the width for 1-d.
pub(crate) fn shown(a: [usize; 2], spatial: usize) -> Vec<usize> {
    a[2 - spatial..].to_vec()
}

/// A batched `[n, c, h, w]` form of an input shape of rank `spatial + 1` (unbatched) or
/// `spatial + 2`, and whether it was unbatched.
pub(crate) fn input4(op: &'static str, shape: &[usize], spatial: usize) -> Result<([usize; 4], bool)> {
    let r = shape.len();
    if r != spatial + 1 && r != spatial + 2 {
        crate::bail!(
            op,
            "expected {}D (unbatched) or {}D (batched) input, got input of shape {shape:?}",
            spatial + 1,
            spatial + 2
        );
    }
    let unbatched = r == spatial + 1;
    let s = if unbatched { &shape[1..] } else { &shape[2..] };
    let (n, c) = if unbatched { (1, shape[0]) } else { (shape[0], shape[1]) };
    let (h, w) = if spatial == 1 { (1, s[0]) } else { (s[0], s[1]) };
    Ok(([n, c, h, w], unbatched))
}

/// The `[out, in, kh, kw]` form of a weight shape of rank `spatial + 2`.
pub(crate) fn weight4(op: &'static str, shape: &[usize], spatial: usize) -> Result<[usize; 4]> {
    if shape.len() != spatial + 2 {
        crate::bail!(op, "expected {}D weight, got weight of shape {shape:?}", spatial + 2);
    }
    Ok(if spatial == 1 { [shape[0], shape[1], 1, shape[2]] } else { [shape[0], shape[1], shape[2], shape[3]] })
}

/// The user's shape of a batched `[n, c, h, w]` result: height dropped for 1-d, batch dropped for
/// an unbatched input.
pub(crate) fn user_shape(d: [usize; 4], spatial: usize, unbatched: bool) -> Dims {
    let mut s: Dims = if unbatched { Dims::new() } else { Dims::from_slice(&[d[0]]) };
    s.push(d[1]);
    if spatial == 2 {
        s.push(d[2]);
    }
    s.push(d[3]);
    s
}

/// Checks that `b` shares `a`'s device and dtype, naming `op`.
pub(crate) fn check_pair(op: &'static str, a: &Tensor, b: &Tensor) -> Result<()> {
    a.same_device(op, b)?;
    a.same_dtype(op, b)
}

/// Checks a bias: same device and dtype as `x`, shape `[channels]`.
pub(crate) fn check_bias(op: &'static str, x: &Tensor, bias: Option<&Tensor>, channels: usize) -> Result<()> {
    if let Some(b) = bias {
        check_pair(op, x, b)?;
        if b.shape() != [channels] {
            crate::bail!(
                op,
                "bias of shape {:?} given for {channels} output channels; expected [{channels}]",
                b.shape()
            );
        }
    }
    Ok(())
}

/// The geometry of a forward convolution of an input of (user) shape `xs` by a weight of shape
/// `ws`, after checking channels, groups and that the dilated kernel fits the padded input.
fn geom(op: &'static str, xs: &[usize], ws: &[usize], p: &ConvParams, spatial: usize) -> Result<(ConvGeom, bool)> {
    p.check(op, spatial)?;
    let ([n, c, h, w], unbatched) = input4(op, xs, spatial)?;
    let [o, cg, kh, kw] = weight4(op, ws, spatial)?;
    let g = p.groups;
    if o % g != 0 {
        crate::bail!(op, "groups={g} must divide out_channels {o} (weight of shape {ws:?})");
    }
    if c % g != 0 {
        crate::bail!(op, "groups={g} must divide in_channels {c} (input of shape {xs:?})");
    }
    if cg * g != c {
        crate::bail!(
            op,
            "given groups={g}, weight of shape {ws:?} expects input of shape {xs:?} to have {} channels, but got {c} channels",
            cg * g
        );
    }
    if kh == 0 || kw == 0 {
        crate::bail!(op, "kernel size must be positive, got weight of shape {ws:?}");
    }
    let [sh, sw] = p.stride;
    // checked: padding, dilation and kernel sizes come from the user and may be anything
    let (Some([eh, ew]), Some([ph2, pw2])) = (span2(p.dilation, [kh, kw]), padded2([h, w], p.padding)) else {
        crate::bail!(
            op,
            "padding {:?}, dilation {:?} and kernel size {:?} overflow the output size computation (input of shape {xs:?})",
            shown(p.padding, spatial),
            shown(p.dilation, spatial),
            shown([kh, kw], spatial)
        );
    };
    if ph2 < eh || pw2 < ew {
        crate::bail!(
            op,
            "padded input size per channel {:?} is smaller than the dilated kernel size {:?}: kernel size can't be greater than actual input size (input of shape {xs:?}, weight of shape {ws:?})",
            shown([ph2, pw2], spatial),
            shown([eh, ew], spatial)
        );
    }
    let (oh, ow) = ((ph2 - eh) / sh + 1, (pw2 - ew) / sw + 1);
    let geom = ConvGeom {
        n,
        c,
        h,
        w,
        o,
        kh,
        kw,
        oh,
        ow,
        stride: p.stride,
        padding: p.padding,
        dilation: p.dilation,
        groups: g,
    };
    Ok((geom, unbatched))
}

/// The dilated kernel extents `dilation * (k - 1) + 1`, or `None` on overflow.
pub(crate) fn span2(dilation: [usize; 2], k: [usize; 2]) -> Option<[usize; 2]> {
    let one = |i: usize| dilation[i].checked_mul(k[i].checked_sub(1)?)?.checked_add(1);
    Some([one(0)?, one(1)?])
}

/// The padded sizes `size + 2 * padding`, or `None` on overflow.
pub(crate) fn padded2(size: [usize; 2], padding: [usize; 2]) -> Option<[usize; 2]> {
    let one = |i: usize| padding[i].checked_mul(2)?.checked_add(size[i]);
    Some([one(0)?, one(1)?])
}

/// Checks, before a kernel runs, that the buffers a convolution of geometry `g` needs can be had
/// for `op`: its `[n, o, oh, ow]` and `[n, c, h, w]` sides (one of them the result) and the im2col
/// column matrix `[c * kh * kw, oh * ow]` of one sample; an overflow or a refusal is an `Err`
/// naming `op` (see `cpu::alloc::try_probe`), never an abort inside the kernel.
pub(crate) fn room(op: &'static str, like: &Tensor, g: &ConvGeom) -> Result<()> {
    use crate::cpu::alloc::try_room;
    let cols = crate::shape::checked_numel(op, &[g.c, g.kh, g.kw])?;
    let l = crate::shape::checked_numel(op, &[g.oh, g.ow])?;
    try_room(op, like, &[g.n, g.o, g.oh, g.ow], like.dtype())?;
    try_room(op, like, &[g.n, g.c, g.h, g.w], like.dtype())?;
    try_room(op, like, &[cols, l], like.dtype())
}

/// Fails unless `t` has `want` as its shape, naming `op`.
pub(crate) fn expect_shape(op: &'static str, t: &Tensor, want: &[usize]) -> Result<()> {
    if t.shape() != want {
        return Err(Error::ShapeMismatch { op, lhs: t.shape().to_vec(), rhs: want.to_vec() });
    }
    Ok(())
}

/// Dispatch of the convolution family to its backends (`cpu/conv.rs`, `wgpu/conv.rs`).
pub(crate) mod kern {
    use super::*;

    /// The convolution `[n, c, h, w] * [o, c/groups, kh, kw] (+ bias) -> [n, o, oh, ow]`.
    pub fn forward(op: &'static str, x: &Tensor, w: &Tensor, bias: Option<&Tensor>, g: &ConvGeom) -> Result<Tensor> {
        x.backend().conv(op, x, w, bias, g)
    }

    /// The transposed convolution `[n, o, oh, ow] -> [n, c, h, w]` (col2im of `W^T @ dy`), plus a
    /// per-channel `init` (a bias of `c` values).
    pub fn backward_input(
        op: &'static str,
        dy: &Tensor,
        w: &Tensor,
        init: Option<&Tensor>,
        g: &ConvGeom,
    ) -> Result<Tensor> {
        dy.backend().conv_backward_input(op, dy, w, init, g)
    }

    /// The weight gradient `[o, c/groups, kh, kw]` of `dy` `[n, o, oh, ow]` and `x` `[n, c, h, w]`.
    pub fn backward_weight(op: &'static str, dy: &Tensor, x: &Tensor, g: &ConvGeom) -> Result<Tensor> {
        Ok(backward_weights(op, dy, x, g, false)?.0)
    }

    /// [`backward_weight`] and with `with_bias` the bias gradient `[o]` together.
    pub fn backward_weights(
        op: &'static str,
        dy: &Tensor,
        x: &Tensor,
        g: &ConvGeom,
        with_bias: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        dy.backend().conv_backward_weight(op, dy, x, g, with_bias)
    }
}

fn conv_nd(
    op: &'static str,
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    p: &ConvParams,
    s: usize,
) -> Result<Tensor> {
    check_pair(op, x, w)?;
    let (g, unbatched) = geom(op, x.shape(), w.shape(), p, s)?;
    check_bias(op, x, bias, g.o)?;
    room(op, x, &g)?;
    let x4 = x.try_reshape(&[g.n, g.c, g.h, g.w])?;
    let w4 = w.try_reshape(&[g.o, g.c / g.groups, g.kh, g.kw])?;
    let y = kern::forward(op, &x4, &w4, bias, &g)?;
    y.try_reshape(&user_shape([g.n, g.o, g.oh, g.ow], s, unbatched))
}

fn backward_input_nd(
    op: &'static str,
    dy: &Tensor,
    w: &Tensor,
    xs: &[usize],
    p: &ConvParams,
    s: usize,
) -> Result<Tensor> {
    check_pair(op, dy, w)?;
    let (g, unbatched) = geom(op, xs, w.shape(), p, s)?;
    expect_shape(op, dy, &user_shape([g.n, g.o, g.oh, g.ow], s, unbatched))?;
    room(op, dy, &g)?;
    let dy4 = dy.try_reshape(&[g.n, g.o, g.oh, g.ow])?;
    let w4 = w.try_reshape(&[g.o, g.c / g.groups, g.kh, g.kw])?;
    kern::backward_input(op, &dy4, &w4, None, &g)?.try_reshape(xs)
}

/// The weight gradient of a convolution over `s` spatial dims (and with `with_bias` its bias
/// gradient).
fn backward_weight_nd(
    op: &'static str,
    dy: &Tensor,
    x: &Tensor,
    ws: &[usize],
    p: &ConvParams,
    (s, with_bias): (usize, bool),
) -> Result<(Tensor, Option<Tensor>)> {
    check_pair(op, dy, x)?;
    let (g, unbatched) = geom(op, x.shape(), ws, p, s)?;
    expect_shape(op, dy, &user_shape([g.n, g.o, g.oh, g.ow], s, unbatched))?;
    room(op, dy, &g)?;
    let dy4 = dy.try_reshape(&[g.n, g.o, g.oh, g.ow])?;
    let x4 = x.try_reshape(&[g.n, g.c, g.h, g.w])?;
    let (dw, db) = kern::backward_weights(op, &dy4, &x4, &g, with_bias)?;
    Ok((dw.try_reshape(ws)?, db))
}

/// # Convolutions
impl Tensor {
    /// 2-d convolution (cross-correlation, as PyTorch) of an input `[N, C, H, W]` (or unbatched
    /// `[C, H, W]`) with `weight` `[O, C / groups, kH, kW]`, plus `bias` `[O]`: the result is
    /// `[N, O, H_out, W_out]` with `H_out = (H + 2 padding - dilation (kH - 1) - 1) / stride + 1`.
    ///
    /// F32 and F64, computed by im2col and a GEMM per sample and group.
    ///
    /// **Panics** on wrong ranks, a channel count that does not match the weight, groups that do
    /// not divide the channels, a zero stride or dilation, a kernel larger than the padded input,
    /// a bias that is not `[O]`, or mismatched dtypes; see [`Tensor::try_conv2d`].
    ///
    /// ```
    /// # use ember_tensor::Tensor;
    /// let x = Tensor::arange(0.0, 16.0, 1.0).reshape(&[1, 1, 4, 4]);
    /// let w = Tensor::ones(&[1, 1, 2, 2]);
    /// let y = x.conv2d(&w, None, [2, 2], [0, 0], [1, 1], 1);
    /// assert_eq!(y.shape(), &[1, 1, 2, 2]);
    /// assert_eq!(y.to_vec::<f32>(), vec![10.0, 18.0, 42.0, 50.0]);
    /// ```
    #[must_use]
    #[track_caller]
    pub fn conv2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        groups: usize,
    ) -> Tensor {
        ok(self.try_conv2d(weight, bias, stride, padding, dilation, groups))
    }

    /// Checked form of [`Tensor::conv2d`].
    pub fn try_conv2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        groups: usize,
    ) -> Result<Tensor> {
        conv_nd("conv2d", self, weight, bias, &ConvParams { stride, padding, dilation, groups }, 2)
    }

    /// 1-d convolution of an input `[N, C, L]` (or unbatched `[C, L]`) with `weight`
    /// `[O, C / groups, K]`, plus `bias` `[O]`: `[N, O, L_out]`, as [`Tensor::conv2d`] of height 1.
    ///
    /// **Panics** on the errors [`Tensor::conv2d`] lists; see [`Tensor::try_conv1d`].
    #[must_use]
    #[track_caller]
    pub fn conv1d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        stride: usize,
        padding: usize,
        dilation: usize,
        groups: usize,
    ) -> Tensor {
        ok(self.try_conv1d(weight, bias, stride, padding, dilation, groups))
    }

    /// Checked form of [`Tensor::conv1d`].
    pub fn try_conv1d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        stride: usize,
        padding: usize,
        dilation: usize,
        groups: usize,
    ) -> Result<Tensor> {
        conv_nd("conv1d", self, weight, bias, &ConvParams::d1(stride, padding, dilation, groups), 1)
    }

    /// The gradient of [`Tensor::conv2d`] with respect to its input, of shape `input_shape`, given
    /// the upstream gradient `grad_out` (the convolution's output shape) and the weight: a
    /// transposed convolution, `col2im(W^T @ grad_out)`.
    ///
    /// **Panics** when `grad_out` does not have the output shape of that convolution, or on the
    /// errors [`Tensor::conv2d`] lists; see [`Tensor::try_conv2d_backward_input`].
    #[must_use]
    #[track_caller]
    pub fn conv2d_backward_input(
        grad_out: &Tensor,
        weight: &Tensor,
        input_shape: &[usize],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        groups: usize,
    ) -> Tensor {
        ok(Tensor::try_conv2d_backward_input(grad_out, weight, input_shape, stride, padding, dilation, groups))
    }

    /// Checked form of [`Tensor::conv2d_backward_input`].
    pub fn try_conv2d_backward_input(
        grad_out: &Tensor,
        weight: &Tensor,
        input_shape: &[usize],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        groups: usize,
    ) -> Result<Tensor> {
        let p = ConvParams { stride, padding, dilation, groups };
        backward_input_nd("conv2d_backward_input", grad_out, weight, input_shape, &p, 2)
    }

    /// The gradient of [`Tensor::conv2d`] with respect to its weight, of shape `weight_shape`,
    /// given the upstream gradient `grad_out` and the convolution's input: `grad_out @ im2col(x)^T`
    /// summed over the batch.
    ///
    /// **Panics** when `grad_out` does not have the output shape of that convolution, or on the
    /// errors [`Tensor::conv2d`] lists; see [`Tensor::try_conv2d_backward_weight`].
    #[must_use]
    #[track_caller]
    pub fn conv2d_backward_weight(
        grad_out: &Tensor,
        input: &Tensor,
        weight_shape: &[usize],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        groups: usize,
    ) -> Tensor {
        ok(Tensor::try_conv2d_backward_weight(grad_out, input, weight_shape, stride, padding, dilation, groups))
    }

    /// Checked form of [`Tensor::conv2d_backward_weight`].
    pub fn try_conv2d_backward_weight(
        grad_out: &Tensor,
        input: &Tensor,
        weight_shape: &[usize],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        groups: usize,
    ) -> Result<Tensor> {
        let p = ConvParams { stride, padding, dilation, groups };
        Ok(backward_weight_nd("conv2d_backward_weight", grad_out, input, weight_shape, &p, (2, false))?.0)
    }

    /// [`Tensor::conv2d_backward_weight`] and the bias gradient (`grad_out` summed over every dim
    /// but the channels, shape `[O]`) together, as `(weight gradient, bias gradient)`. On the GPU
    /// both come from one product (the bias gradient is its column against ones).
    ///
    /// **Panics** on the errors of [`Tensor::conv2d_backward_weight`]; see
    /// [`Tensor::try_conv2d_backward_weight_bias`].
    ///
    /// ```
    /// # use ember_tensor::Tensor;
    /// let x = Tensor::ones(&[2, 1, 3, 3]);
    /// let dy = Tensor::ones(&[2, 1, 2, 2]);
    /// let (dw, db) = Tensor::conv2d_backward_weight_bias(&dy, &x, &[1, 1, 2, 2], [1, 1], [0, 0], [1, 1], 1);
    /// assert_eq!(dw.to_vec::<f32>(), vec![8.0; 4]);
    /// assert_eq!(db.to_vec::<f32>(), vec![8.0]);
    /// ```
    #[must_use]
    #[track_caller]
    pub fn conv2d_backward_weight_bias(
        grad_out: &Tensor,
        input: &Tensor,
        weight_shape: &[usize],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        groups: usize,
    ) -> (Tensor, Tensor) {
        ok(Tensor::try_conv2d_backward_weight_bias(grad_out, input, weight_shape, stride, padding, dilation, groups))
    }

    /// Checked form of [`Tensor::conv2d_backward_weight_bias`].
    pub fn try_conv2d_backward_weight_bias(
        grad_out: &Tensor,
        input: &Tensor,
        weight_shape: &[usize],
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
        groups: usize,
    ) -> Result<(Tensor, Tensor)> {
        let p = ConvParams { stride, padding, dilation, groups };
        let op = "conv2d_backward_weight_bias";
        let (dw, db) = backward_weight_nd(op, grad_out, input, weight_shape, &p, (2, true))?;
        Ok((dw, db.expect("asked for")))
    }

    /// The gradient of [`Tensor::conv1d`] with respect to its input (see
    /// [`Tensor::conv2d_backward_input`]). **Panics** on bad shapes; see
    /// [`Tensor::try_conv1d_backward_input`].
    #[must_use]
    #[track_caller]
    pub fn conv1d_backward_input(
        grad_out: &Tensor,
        weight: &Tensor,
        input_shape: &[usize],
        stride: usize,
        padding: usize,
        dilation: usize,
        groups: usize,
    ) -> Tensor {
        ok(Tensor::try_conv1d_backward_input(grad_out, weight, input_shape, stride, padding, dilation, groups))
    }

    /// Checked form of [`Tensor::conv1d_backward_input`].
    pub fn try_conv1d_backward_input(
        grad_out: &Tensor,
        weight: &Tensor,
        input_shape: &[usize],
        stride: usize,
        padding: usize,
        dilation: usize,
        groups: usize,
    ) -> Result<Tensor> {
        let p = ConvParams::d1(stride, padding, dilation, groups);
        backward_input_nd("conv1d_backward_input", grad_out, weight, input_shape, &p, 1)
    }

    /// The gradient of [`Tensor::conv1d`] with respect to its weight (see
    /// [`Tensor::conv2d_backward_weight`]). **Panics** on bad shapes; see
    /// [`Tensor::try_conv1d_backward_weight`].
    #[must_use]
    #[track_caller]
    pub fn conv1d_backward_weight(
        grad_out: &Tensor,
        input: &Tensor,
        weight_shape: &[usize],
        stride: usize,
        padding: usize,
        dilation: usize,
        groups: usize,
    ) -> Tensor {
        ok(Tensor::try_conv1d_backward_weight(grad_out, input, weight_shape, stride, padding, dilation, groups))
    }

    /// Checked form of [`Tensor::conv1d_backward_weight`].
    pub fn try_conv1d_backward_weight(
        grad_out: &Tensor,
        input: &Tensor,
        weight_shape: &[usize],
        stride: usize,
        padding: usize,
        dilation: usize,
        groups: usize,
    ) -> Result<Tensor> {
        let p = ConvParams::d1(stride, padding, dilation, groups);
        Ok(backward_weight_nd("conv1d_backward_weight", grad_out, input, weight_shape, &p, (1, false))?.0)
    }
}
