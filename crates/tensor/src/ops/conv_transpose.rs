//! Transposed 2-d convolution (`conv_transpose2d`, PyTorch's layouts and arguments) and its
//! backward kernels.
//!
//! `conv_transpose2d(x, W)` is the input gradient of the convolution `conv2d(·, W)` whose output
//! has `x`'s shape: a GEMM then col2im. Its own input gradient is that forward convolution of the
//! upstream gradient, and its weight gradient the convolution's weight gradient with the roles of
//! input and output swapped.

use super::conv::{check_bias, check_pair, expect_shape, input4, kern, room, shown, user_shape, weight4, ConvParams};
use crate::op_desc::ConvGeom;
use crate::tensor::ok;
use crate::{Result, Tensor};

/// The convolution that a transposed convolution of an input of (user) shape `xs` by a weight of
/// shape `ws` (`[C_in, C_out / groups, kH, kW]`) is the input gradient of: its "input" is the
/// transposed convolution's output, its "output" the transposed convolution's input.
fn transpose_geom(
    op: &'static str,
    xs: &[usize],
    ws: &[usize],
    p: &ConvParams,
    output_padding: [usize; 2],
) -> Result<(ConvGeom, bool)> {
    p.check(op, 2)?;
    let ([n, cin, h, w], unbatched) = input4(op, xs, 2)?;
    let [wcin, cout_g, kh, kw] = weight4(op, ws, 2)?;
    let g = p.groups;
    if wcin != cin {
        crate::bail!(
            op,
            "weight of shape {ws:?} expects input of shape {xs:?} to have {wcin} channels, but got {cin} channels"
        );
    }
    if cin % g != 0 {
        crate::bail!(op, "groups={g} must divide in_channels {cin} (input of shape {xs:?})");
    }
    if kh == 0 || kw == 0 {
        crate::bail!(op, "kernel size must be positive, got weight of shape {ws:?}");
    }
    for i in 0..2 {
        if output_padding[i] >= p.stride[i] && output_padding[i] >= p.dilation[i] {
            crate::bail!(
                op,
                "output padding must be smaller than either stride or dilation, got output_padding {:?}, stride {:?}, dilation {:?}",
                shown(output_padding, 2),
                shown(p.stride, 2),
                shown(p.dilation, 2)
            );
        }
    }
    // in 128 bits: stride, padding and dilation come from the user, and no term can wrap there
    let out = |i: usize, size: usize, k: usize| {
        (size as i128 - 1) * p.stride[i] as i128 - 2 * p.padding[i] as i128
            + p.dilation[i] as i128 * (k as i128 - 1)
            + output_padding[i] as i128
            + 1
    };
    let (oh, ow) = (out(0, h, kh), out(1, w, kw));
    if oh > isize::MAX as i128 || ow > isize::MAX as i128 {
        crate::bail!(
            op,
            "computed output size [{oh}, {ow}] overflows (input of shape {xs:?}, weight of shape {ws:?}, stride {:?}, padding {:?}, dilation {:?})",
            shown(p.stride, 2),
            shown(p.padding, 2),
            shown(p.dilation, 2)
        );
    }
    if oh <= 0 || ow <= 0 {
        crate::bail!(
            op,
            "computed output size [{oh}, {ow}] is too small (input of shape {xs:?}, weight of shape {ws:?}, padding {:?})",
            shown(p.padding, 2)
        );
    }
    let geom = ConvGeom {
        n,
        c: cout_g * g,
        h: oh as usize,
        w: ow as usize,
        o: cin,
        kh,
        kw,
        oh: h,
        ow: w,
        stride: p.stride,
        padding: p.padding,
        dilation: p.dilation,
        groups: g,
    };
    Ok((geom, unbatched))
}

/// # Transposed convolutions
impl Tensor {
    /// 2-d transposed convolution ("deconvolution") of an input `[N, C_in, H, W]` (or unbatched
    /// `[C_in, H, W]`) with `weight` `[C_in, C_out / groups, kH, kW]`, plus `bias` `[C_out]`: the
    /// result is `[N, C_out, H_out, W_out]` with
    /// `H_out = (H - 1) stride - 2 padding + dilation (kH - 1) + output_padding + 1`.
    ///
    /// The gradient of [`Tensor::conv2d`] with respect to its input, computed as a GEMM then col2im.
    ///
    /// **Panics** on wrong ranks, a channel count that does not match the weight, groups that do
    /// not divide the channels, a zero stride or dilation, `output_padding` not smaller than stride
    /// or dilation, an empty output, a bias that is not `[C_out]`, or mismatched dtypes; see
    /// [`Tensor::try_conv_transpose2d`].
    ///
    /// ```
    /// # use ember_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0], &[1, 1, 1, 2]);
    /// let w = Tensor::ones(&[1, 1, 2, 2]);
    /// let y = x.conv_transpose2d(&w, None, [1, 1], [0, 0], [0, 0], 1, [1, 1]);
    /// assert_eq!(y.shape(), &[1, 1, 2, 3]);
    /// assert_eq!(y.to_vec::<f32>(), vec![1.0, 3.0, 2.0, 1.0, 3.0, 2.0]);
    /// ```
    #[must_use]
    #[track_caller]
    #[allow(clippy::too_many_arguments)]
    pub fn conv_transpose2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        stride: [usize; 2],
        padding: [usize; 2],
        output_padding: [usize; 2],
        groups: usize,
        dilation: [usize; 2],
    ) -> Tensor {
        ok(self.try_conv_transpose2d(weight, bias, stride, padding, output_padding, groups, dilation))
    }

    /// Checked form of [`Tensor::conv_transpose2d`].
    #[allow(clippy::too_many_arguments)]
    pub fn try_conv_transpose2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        stride: [usize; 2],
        padding: [usize; 2],
        output_padding: [usize; 2],
        groups: usize,
        dilation: [usize; 2],
    ) -> Result<Tensor> {
        const OP: &str = "conv_transpose2d";
        check_pair(OP, self, weight)?;
        let p = ConvParams { stride, padding, dilation, groups };
        let (g, unbatched) = transpose_geom(OP, self.shape(), weight.shape(), &p, output_padding)?;
        room(OP, self, &g)?;
        check_bias(OP, self, bias, g.c)?;
        let x4 = self.try_reshape(&[g.n, g.o, g.oh, g.ow])?;
        let y = kern::backward_input(OP, &x4, weight, bias, &g)?;
        y.try_reshape(&user_shape([g.n, g.c, g.h, g.w], 2, unbatched))
    }

    /// The gradient of [`Tensor::conv_transpose2d`] with respect to its input, of shape
    /// `input_shape`, given the upstream gradient `grad_out` and the weight: the forward
    /// convolution `conv2d(grad_out, weight)` with the same stride, padding, dilation and groups.
    ///
    /// **Panics** when `grad_out` does not have the output shape of that transposed convolution,
    /// or on the errors [`Tensor::conv_transpose2d`] lists; see
    /// [`Tensor::try_conv_transpose2d_backward_input`].
    #[must_use]
    #[track_caller]
    #[allow(clippy::too_many_arguments)]
    pub fn conv_transpose2d_backward_input(
        grad_out: &Tensor,
        weight: &Tensor,
        input_shape: &[usize],
        stride: [usize; 2],
        padding: [usize; 2],
        output_padding: [usize; 2],
        groups: usize,
        dilation: [usize; 2],
    ) -> Tensor {
        ok(Tensor::try_conv_transpose2d_backward_input(
            grad_out,
            weight,
            input_shape,
            stride,
            padding,
            output_padding,
            groups,
            dilation,
        ))
    }

    /// Checked form of [`Tensor::conv_transpose2d_backward_input`].
    #[allow(clippy::too_many_arguments)]
    pub fn try_conv_transpose2d_backward_input(
        grad_out: &Tensor,
        weight: &Tensor,
        input_shape: &[usize],
        stride: [usize; 2],
        padding: [usize; 2],
        output_padding: [usize; 2],
        groups: usize,
        dilation: [usize; 2],
    ) -> Result<Tensor> {
        const OP: &str = "conv_transpose2d_backward_input";
        check_pair(OP, grad_out, weight)?;
        let p = ConvParams { stride, padding, dilation, groups };
        let (g, unbatched) = transpose_geom(OP, input_shape, weight.shape(), &p, output_padding)?;
        room(OP, grad_out, &g)?;
        expect_shape(OP, grad_out, &user_shape([g.n, g.c, g.h, g.w], 2, unbatched))?;
        let dy4 = grad_out.try_reshape(&[g.n, g.c, g.h, g.w])?;
        kern::forward(OP, &dy4, weight, None, &g)?.try_reshape(input_shape)
    }

    /// The gradient of [`Tensor::conv_transpose2d`] with respect to its weight, of shape
    /// `weight_shape` (`[C_in, C_out / groups, kH, kW]`), given the upstream gradient `grad_out`
    /// and the transposed convolution's input: `input @ im2col(grad_out)^T` summed over the batch.
    ///
    /// **Panics** when `grad_out` does not have the output shape of that transposed convolution,
    /// or on the errors [`Tensor::conv_transpose2d`] lists; see
    /// [`Tensor::try_conv_transpose2d_backward_weight`].
    #[must_use]
    #[track_caller]
    #[allow(clippy::too_many_arguments)]
    pub fn conv_transpose2d_backward_weight(
        grad_out: &Tensor,
        input: &Tensor,
        weight_shape: &[usize],
        stride: [usize; 2],
        padding: [usize; 2],
        output_padding: [usize; 2],
        groups: usize,
        dilation: [usize; 2],
    ) -> Tensor {
        ok(Tensor::try_conv_transpose2d_backward_weight(
            grad_out,
            input,
            weight_shape,
            stride,
            padding,
            output_padding,
            groups,
            dilation,
        ))
    }

    /// Checked form of [`Tensor::conv_transpose2d_backward_weight`].
    #[allow(clippy::too_many_arguments)]
    pub fn try_conv_transpose2d_backward_weight(
        grad_out: &Tensor,
        input: &Tensor,
        weight_shape: &[usize],
        stride: [usize; 2],
        padding: [usize; 2],
        output_padding: [usize; 2],
        groups: usize,
        dilation: [usize; 2],
    ) -> Result<Tensor> {
        const OP: &str = "conv_transpose2d_backward_weight";
        check_pair(OP, grad_out, input)?;
        let p = ConvParams { stride, padding, dilation, groups };
        let (g, unbatched) = transpose_geom(OP, input.shape(), weight_shape, &p, output_padding)?;
        room(OP, grad_out, &g)?;
        expect_shape(OP, grad_out, &user_shape([g.n, g.c, g.h, g.w], 2, unbatched))?;
        let dy4 = grad_out.try_reshape(&[g.n, g.c, g.h, g.w])?;
        let x4 = input.try_reshape(&[g.n, g.o, g.oh, g.ow])?;
        kern::backward_weight(OP, &x4, &dy4, &g)
    }
}
