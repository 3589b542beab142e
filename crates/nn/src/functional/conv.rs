//! Linear maps of the input, as `torch.nn.functional`: `linear`, `bilinear`, `embedding` (a lookup,
//! i.e. a linear map of one-hot rows) and the convolutions `conv1d`, `conv2d`, `conv_transpose2d`.
//!
//! Spatial arguments take an int or a pair, as PyTorch's: anything `Into<Size2>` (`3`, `[3, 5]`,
//! `(3, 5)`). Every function has a `try_*` form returning an error that names the op and shapes.
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_nn::functional as F;
//! use ember_tensor::Tensor;
//! let x = Variable::from(Tensor::ones(&[1, 1, 4, 4]));
//! let w = Variable::from(Tensor::ones(&[2, 1, 3, 3]));
//! let y = F::conv2d(&x, &w, None, 1, 1, 1, 1);
//! assert_eq!(y.shape(), vec![1, 2, 4, 4]);
//! assert_eq!(y.to_vec::<f32>()[5], 9.0); // an interior pixel sums the full 3x3 window
//! ```

use ember_autograd::{autocast_inputs, Conv2dOpts, Variable};
use ember_tensor::{DType, Error, Result, Tensor};

use super::checked::{bail, ok};

/// A spatial size given as an int (both dims) or a pair, as PyTorch's `_size_2_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size2(pub [usize; 2]);

impl From<usize> for Size2 {
    fn from(v: usize) -> Size2 {
        Size2([v, v])
    }
}

impl From<[usize; 2]> for Size2 {
    fn from(v: [usize; 2]) -> Size2 {
        Size2(v)
    }
}

impl From<(usize, usize)> for Size2 {
    fn from((a, b): (usize, usize)) -> Size2 {
        Size2([a, b])
    }
}

/// `input @ weight^T + bias`, PyTorch's `F.linear` (`weight` is `[out, in]`).
///
/// **Panics** when the input's last dim is not `in`; see [`try_linear`].
#[must_use]
#[track_caller]
pub fn linear(input: &Variable, weight: &Variable, bias: Option<&Variable>) -> Variable {
    ok(try_linear(input, weight, bias))
}

/// Checked form of [`linear`].
pub fn try_linear(input: &Variable, weight: &Variable, bias: Option<&Variable>) -> Result<Variable> {
    input.try_linear(weight, bias)
}

/// `y[.., o] = Σ_ij x1[.., i] W[o, i, j] x2[.., j] + b[o]`, PyTorch's `F.bilinear`: `weight` is
/// `[out, in1, in2]`, the inputs `[.., in1]` and `[.., in2]` with the same leading dims.
///
/// **Panics** on shapes that do not fit; see [`try_bilinear`].
#[must_use]
#[track_caller]
pub fn bilinear(input1: &Variable, input2: &Variable, weight: &Variable, bias: Option<&Variable>) -> Variable {
    ok(try_bilinear(input1, input2, weight, bias))
}

/// Checked form of [`bilinear`].
pub fn try_bilinear(
    input1: &Variable,
    input2: &Variable,
    weight: &Variable,
    bias: Option<&Variable>,
) -> Result<Variable> {
    if let Some(a) = autocast_inputs("bilinear", &[Some(input1), Some(input2), Some(weight), bias]) {
        return try_bilinear(a.var(0), a.var(1), a.var(2), a.opt(3));
    }
    let (s1, s2, ws) = (input1.shape(), input2.shape(), weight.shape());
    if ws.len() != 3 {
        return bail("bilinear", format!("weight must be 3-d [out, in1, in2], got shape {ws:?}"));
    }
    let (out, in1, in2) = (ws[0], ws[1], ws[2]);
    if s1.is_empty() || s2.is_empty() || s1[..s1.len() - 1] != s2[..s2.len() - 1] {
        return bail(
            "bilinear",
            format!("input1 of shape {s1:?} and input2 of shape {s2:?} must have the same leading dims"),
        );
    }
    if s1[s1.len() - 1] != in1 || s2[s2.len() - 1] != in2 {
        return bail(
            "bilinear",
            format!("inputs of shapes {s1:?} and {s2:?} do not fit a weight of shape {ws:?} (expected [.., {in1}] and [.., {in2}])"),
        );
    }
    if let Some(b) = bias {
        if b.shape() != [out] {
            return bail(
                "bilinear",
                format!("bias of shape {:?} given for {out} outputs; expected [{out}]", b.shape()),
            );
        }
    }
    let a = input1.try_reshape(&[-1, in1 as isize])?;
    let b = input2.try_reshape(&[-1, in2 as isize])?;
    let n = a.shape()[0] as isize;
    // [B, in1] @ [in1, out * in2] -> [B, out, in2], then a batched product with x2: [B, out]
    let wt = weight.permute(&[1, 0, 2]).reshape(&[in1 as isize, (out * in2) as isize]);
    let t = a.try_matmul(&wt)?.reshape(&[n, out as isize, in2 as isize]);
    let mut y = t.try_matmul(&b.unsqueeze(2))?.squeeze(2);
    if let Some(bias) = bias {
        y = y.try_add(bias)?;
    }
    let mut shape = s1[..s1.len() - 1].to_vec();
    shape.push(out);
    y.try_reshape(&shape)
}

/// Rows of `weight` (`[num_embeddings, dim]`) picked by `input`, an I64 Variable of indices of any
/// shape; PyTorch's `F.embedding`. The result has shape `input.shape + [dim]`.
///
/// **Panics** on a non-I64 input or an index outside `0..num_embeddings`; see [`try_embedding`].
#[must_use]
#[track_caller]
pub fn embedding(input: &Variable, weight: &Variable) -> Variable {
    ok(try_embedding(input, weight))
}

/// Checked form of [`embedding`].
pub fn try_embedding(input: &Variable, weight: &Variable) -> Result<Variable> {
    embedding_impl(&input.data(), weight, None)
}

/// The embedding lookup with an optional `padding_idx` row that receives no gradient.
pub(crate) fn embedding_impl(indices: &Tensor, weight: &Variable, padding_idx: Option<usize>) -> Result<Variable> {
    let op = "embedding";
    let wd = weight.data();
    if wd.rank() != 2 {
        return bail(op, format!("weight must be 2-d [num_embeddings, embedding_dim], got shape {:?}", wd.shape()));
    }
    if indices.dtype() != DType::I64 {
        return bail(
            op,
            format!("expected an I64 tensor of indices, got {} (of shape {:?})", indices.dtype(), indices.shape()),
        );
    }
    let out = Tensor::try_embedding(&wd, indices).map_err(|e| match e {
        Error::IndexOutOfRange { index, size, .. } => Error::InvalidArgument {
            op,
            msg: format!("index {index} is out of range for num_embeddings {size} (valid indices are 0..{size})"),
        },
        other => other,
    })?;
    let idx = indices.reshape(&[-1]);
    let pad_mask = padding_idx.map(|p| idx.eq_scalar(p as f64).unsqueeze(1));
    Ok(Variable::record(op, &[weight], out, move |ctx| {
        // d out / d W: the upstream rows added into a zero table at their indices (repeats
        // accumulate); the padding row gets nothing
        let w = &ctx.inputs[0];
        let dim = w.shape()[1] as isize;
        let mut g = ctx.grad.reshape(&[-1, dim]);
        if let Some(mask) = &pad_mask {
            g = g.masked_fill(mask, 0.0);
        }
        vec![Some(Variable::from(w.data().zeros_like()).index_add(0, &idx, &g))]
    }))
}

/// 1-d convolution of `[N, C, L]` (or `[C, L]`) by `weight` `[out, C / groups, k]`, PyTorch's
/// `F.conv1d`.
///
/// **Panics** on shapes that do not fit; see [`try_conv1d`].
#[must_use]
#[track_caller]
#[allow(clippy::too_many_arguments)]
pub fn conv1d(
    input: &Variable,
    weight: &Variable,
    bias: Option<&Variable>,
    stride: usize,
    padding: usize,
    dilation: usize,
    groups: usize,
) -> Variable {
    ok(try_conv1d(input, weight, bias, stride, padding, dilation, groups))
}

/// Checked form of [`conv1d`].
#[allow(clippy::too_many_arguments)]
pub fn try_conv1d(
    input: &Variable,
    weight: &Variable,
    bias: Option<&Variable>,
    stride: usize,
    padding: usize,
    dilation: usize,
    groups: usize,
) -> Result<Variable> {
    let (xr, wr) = (input.rank(), weight.rank());
    let one_d_error = || {
        let (x, w, b) = (input.data(), weight.data(), bias.map(|b| b.data()));
        // the 1-d checks fail before any arithmetic: only run on the error path, for a 1-d message
        x.try_conv1d(&w, b.as_ref(), stride, padding, dilation, groups).err()
    };
    if !(xr == 2 || xr == 3) || wr != 3 {
        return Err(one_d_error().unwrap_or_else(|| Error::InvalidArgument {
            op: "conv1d",
            msg: format!(
                "expected a 2-d or 3-d input and a 3-d weight, got {:?} and {:?}",
                input.shape(),
                weight.shape()
            ),
        }));
    }
    // a 2-d convolution over a height of 1: the views carry the gradients
    let o = Conv2dOpts { stride: [1, stride], padding: [0, padding], dilation: [1, dilation], groups };
    match input.unsqueeze(-2).try_conv2d(&weight.unsqueeze(-2), bias, o) {
        Ok(y) => Ok(y.squeeze(-2)),
        Err(e) => Err(one_d_error().unwrap_or(e)),
    }
}

/// 2-d convolution of `[N, C, H, W]` (or `[C, H, W]`) by `weight` `[out, C / groups, kh, kw]`,
/// PyTorch's `F.conv2d`.
///
/// **Panics** on shapes that do not fit; see [`try_conv2d`].
#[must_use]
#[track_caller]
#[allow(clippy::too_many_arguments)]
pub fn conv2d(
    input: &Variable,
    weight: &Variable,
    bias: Option<&Variable>,
    stride: impl Into<Size2>,
    padding: impl Into<Size2>,
    dilation: impl Into<Size2>,
    groups: usize,
) -> Variable {
    ok(try_conv2d(input, weight, bias, stride, padding, dilation, groups))
}

/// Checked form of [`conv2d`].
#[allow(clippy::too_many_arguments)]
pub fn try_conv2d(
    input: &Variable,
    weight: &Variable,
    bias: Option<&Variable>,
    stride: impl Into<Size2>,
    padding: impl Into<Size2>,
    dilation: impl Into<Size2>,
    groups: usize,
) -> Result<Variable> {
    let o = Conv2dOpts { stride: stride.into().0, padding: padding.into().0, dilation: dilation.into().0, groups };
    input.try_conv2d(weight, bias, o)
}

/// 2-d transposed convolution ("deconvolution") of `[N, C_in, H, W]` (or unbatched) by `weight`
/// `[C_in, C_out / groups, kh, kw]`, PyTorch's `F.conv_transpose2d` (same argument order).
///
/// **Panics** on shapes that do not fit; see [`try_conv_transpose2d`].
#[must_use]
#[track_caller]
#[allow(clippy::too_many_arguments)]
pub fn conv_transpose2d(
    input: &Variable,
    weight: &Variable,
    bias: Option<&Variable>,
    stride: impl Into<Size2>,
    padding: impl Into<Size2>,
    output_padding: impl Into<Size2>,
    groups: usize,
    dilation: impl Into<Size2>,
) -> Variable {
    ok(try_conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups, dilation))
}

/// Checked form of [`conv_transpose2d`].
#[allow(clippy::too_many_arguments)]
pub fn try_conv_transpose2d(
    input: &Variable,
    weight: &Variable,
    bias: Option<&Variable>,
    stride: impl Into<Size2>,
    padding: impl Into<Size2>,
    output_padding: impl Into<Size2>,
    groups: usize,
    dilation: impl Into<Size2>,
) -> Result<Variable> {
    let (s, p, op, d) = (stride.into().0, padding.into().0, output_padding.into().0, dilation.into().0);
    input.try_conv_transpose2d(weight, bias, s, p, op, groups, d)
}
