//! More convolutions, as `torch.nn.functional`: `conv_transpose1d` (a transposed 2-d convolution
//! over a height of 1) and `conv3d` (a sum over the kernel's depth of 2-d convolutions of depth
//! slices, each slice batch folded into the batch dim).
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_nn::functional as F;
//! use ember_tensor::Tensor;
//! let x = Variable::from(Tensor::ones(&[1, 1, 3, 4, 4]));
//! let w = Variable::from(Tensor::ones(&[2, 1, 3, 3, 3]));
//! let y = F::conv3d(&x, &w, None, 1, 1, 1, 1);
//! assert_eq!(y.shape(), vec![1, 2, 3, 4, 4]);
//! assert_eq!(y.to_vec::<f32>()[16 + 5], 27.0); // the centre voxel sums the full 3x3x3 window
//! ```

use ember_autograd::{autocast_inputs, Variable};
use ember_tensor::{DType, Error, Result, Tensor};

use super::checked::ok;

/// A 3-d size given as an int (every dim) or a triple, as PyTorch's `_size_3_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size3(pub [usize; 3]);

impl From<usize> for Size3 {
    fn from(v: usize) -> Size3 {
        Size3([v, v, v])
    }
}

impl From<[usize; 3]> for Size3 {
    fn from(v: [usize; 3]) -> Size3 {
        Size3(v)
    }
}

/// 1-d transposed convolution, PyTorch's `F.conv_transpose1d(input, weight, bias, stride, padding,
/// output_padding, groups, dilation)`: `input` `[N, C_in, L]` or `[C_in, L]`, `weight`
/// `[C_in, C_out / groups, k]`.
///
/// **Panics** on shapes that do not fit; see [`try_conv_transpose1d`].
#[must_use]
#[track_caller]
#[allow(clippy::too_many_arguments)]
pub fn conv_transpose1d(
    input: &Variable,
    weight: &Variable,
    bias: Option<&Variable>,
    stride: usize,
    padding: usize,
    output_padding: usize,
    groups: usize,
    dilation: usize,
) -> Variable {
    ok(try_conv_transpose1d(input, weight, bias, stride, padding, output_padding, groups, dilation))
}

/// Checked form of [`conv_transpose1d`].
#[allow(clippy::too_many_arguments)]
pub fn try_conv_transpose1d(
    input: &Variable,
    weight: &Variable,
    bias: Option<&Variable>,
    stride: usize,
    padding: usize,
    output_padding: usize,
    groups: usize,
    dilation: usize,
) -> Result<Variable> {
    let (s, ws) = (input.shape(), weight.shape());
    if !(2..=3).contains(&s.len()) || ws.len() != 3 {
        return Err(Error::InvalidArgument {
            op: "conv_transpose1d",
            msg: format!("expected a 2-D or 3-D input and a 3-D weight, got input {s:?} and weight {ws:?}"),
        });
    }
    let batched = s.len() == 3;
    let x = if batched { input.clone() } else { input.unsqueeze(0) };
    let y = x
        .unsqueeze(2)
        .try_conv_transpose2d(
            &weight.unsqueeze(2),
            bias,
            [1, stride],
            [0, padding],
            [0, output_padding],
            groups,
            [1, dilation],
        )
        .map_err(|e| match e {
            Error::OutOfMemory(_) => e,
            e => Error::InvalidArgument {
                op: "conv_transpose1d",
                msg: format!("input of shape {s:?} and weight of shape {ws:?} do not fit: {e}"),
            },
        })?;
    let y = y.squeeze(2);
    Ok(if batched { y } else { y.squeeze(0) })
}

/// 3-d convolution, PyTorch's `F.conv3d(input, weight, bias, stride, padding, dilation, groups)`:
/// `input` `[N, C_in, D, H, W]` or `[C_in, D, H, W]`, `weight` `[C_out, C_in / groups, kd, kh, kw]`.
///
/// **Panics** on shapes that do not fit; see [`try_conv3d`].
#[must_use]
#[track_caller]
pub fn conv3d(
    input: &Variable,
    weight: &Variable,
    bias: Option<&Variable>,
    stride: impl Into<Size3>,
    padding: impl Into<Size3>,
    dilation: impl Into<Size3>,
    groups: usize,
) -> Variable {
    ok(try_conv3d(input, weight, bias, stride, padding, dilation, groups))
}

/// Checked form of [`conv3d`].
pub fn try_conv3d(
    input: &Variable,
    weight: &Variable,
    bias: Option<&Variable>,
    stride: impl Into<Size3>,
    padding: impl Into<Size3>,
    dilation: impl Into<Size3>,
    groups: usize,
) -> Result<Variable> {
    if let Some(a) = autocast_inputs("conv3d", &[Some(input), Some(weight), bias]) {
        return try_conv3d(a.var(0), a.var(1), a.opt(2), stride, padding, dilation, groups);
    }
    let ([sd, sh, sw], [pd, ph, pw], [dd, dh, dw]) = (stride.into().0, padding.into().0, dilation.into().0);
    let (s, ws) = (input.shape(), weight.shape());
    let err = |msg: String| Error::InvalidArgument { op: "conv3d", msg };
    if !(4..=5).contains(&s.len()) || ws.len() != 5 {
        return Err(err(format!("expected a 4-D or 5-D input and a 5-D weight, got input {s:?} and weight {ws:?}")));
    }
    if sd == 0 || sh == 0 || sw == 0 || dd == 0 || dh == 0 || dw == 0 || groups == 0 || ws[2..].contains(&0) {
        return Err(err(format!(
            "stride, dilation, groups and kernel sizes must be positive (input {s:?}, weight {ws:?})"
        )));
    }
    let batched = s.len() == 5;
    let x = if batched { input.clone() } else { input.unsqueeze(0) };
    let xs = x.shape();
    let (n, c, depth) = (xs[0], xs[1], xs[2]);
    let (o, kd) = (ws[0], ws[2]);
    if c != ws[1] * groups {
        return Err(err(format!(
            "weight {ws:?} with groups={groups} expects {} input channels, got input {s:?}",
            ws[1] * groups
        )));
    }
    // checked: padding, dilation and kernel sizes come from the user
    let (Some(span), Some(padded)) =
        (dd.checked_mul(kd - 1).and_then(|v| v.checked_add(1)), pd.checked_mul(2).and_then(|v| v.checked_add(depth)))
    else {
        return Err(err(format!(
            "padding {pd}, dilation {dd} and kernel depth {kd} overflow the output size computation (input {s:?})"
        )));
    };
    if padded < span {
        return Err(err(format!(
            "the kernel's depth span {span} (kernel {kd}, dilation {dd}) exceeds the padded input depth {padded} (input {s:?})"
        )));
    }
    if let Some(b) = bias {
        if b.shape() != [o] {
            return Err(err(format!("bias of shape {:?} given for {o} output channels; expected [{o}]", b.shape())));
        }
    }
    let x = x.try_pad_dim(2, pd, pd)?;
    let d_out = (padded - span) / sd + 1;
    // 16-bit inputs: the per-depth partial sums and the bias add run in f32 and round once at the
    // end, as PyTorch's single conv3d kernel accumulates in f32
    let dtype = x.dtype();
    let wide = |v: Variable| if dtype.is_half() { v.to_dtype(DType::F32) } else { v };
    let mut acc: Option<Variable> = None;
    for k in 0..kd {
        let idx: Vec<i64> = (0..d_out).map(|i| (i * sd + k * dd) as i64).collect();
        let slab = x.try_index_select(2, &Tensor::from_vec(idx, &[d_out]).to(&x.device()))?; // [N, C, Do, H, W]
        let sl = slab.shape();
        let slab =
            slab.permute(&[0, 2, 1, 3, 4]).reshape(&[(n * d_out) as isize, c as isize, sl[3] as isize, sl[4] as isize]);
        let y = slab
            .try_conv2d(
                &weight.select(2, k as i64),
                None,
                ember_autograd::Conv2dOpts { stride: [sh, sw], padding: [ph, pw], dilation: [dh, dw], groups },
            )
            .map_err(|e| match e {
                Error::OutOfMemory(_) => e,
                e => err(format!("input of shape {s:?} and weight of shape {ws:?} do not fit: {e}")),
            })?;
        let y = wide(y);
        acc = Some(match acc {
            Some(a) => &a + &y,
            None => y,
        });
    }
    let y = acc.expect("kernel depth is at least 1");
    let ys = y.shape();
    let mut y =
        y.reshape(&[n as isize, d_out as isize, o as isize, ys[2] as isize, ys[3] as isize]).permute(&[0, 2, 1, 3, 4]);
    if let Some(b) = bias {
        y = &y + &wide(b.reshape(&[1, o as isize, 1, 1, 1]));
    }
    let y = y.to_dtype(dtype);
    Ok(if batched { y } else { y.squeeze(0) })
}
