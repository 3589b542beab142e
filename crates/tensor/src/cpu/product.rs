//! The CPU `matmul` and `linear` of operands checked by `ops/matmul.rs`: strided views handed to the
//! GEMM of [`super::matmul`], copied only when neither inner stride is 1.

use smallvec::SmallVec;

use super::matmul::matmul_tensors;
use crate::shape::{Dims, Layout};
use crate::{Result, Tensor};

/// `t` itself, or a contiguous copy when its last two dims are both strided (neither stride is 0
/// or 1 while the sizes exceed 1): such a matrix would be read with poor locality.
fn gemm_operand(t: &Tensor) -> Tensor {
    let r = t.rank();
    let (sh, st) = (t.shape(), t.strides());
    if r >= 2 && sh[r - 2] > 1 && sh[r - 1] > 1 && st[r - 2] > 1 && st[r - 1] > 1 {
        t.contiguous()
    } else {
        t.clone()
    }
}

/// The layouts of `a` broadcast to `batch + [m, k]` and `b` to `batch + [k, n]`, and the output
/// shape `batch + [m, n]` (checked to fit in memory).
pub(super) fn product_layouts(
    op: &'static str,
    a: &Tensor,
    b: &Tensor,
    batch: &[usize],
    (m, k, n): (usize, usize, usize),
) -> Result<(Layout, Layout, Dims)> {
    let with = |x: usize, y: usize| -> Dims { batch.iter().copied().chain([x, y]).collect() };
    let la = a.layout.broadcast_to(op, &with(m, k))?;
    let lb = b.layout.broadcast_to(op, &with(k, n))?;
    let out = with(m, n);
    crate::shape::checked_numel(op, &out)?;
    Ok((la, lb, out))
}

/// The `[in, out]` view of a linear layer's weight layout `[out, in]` (its transpose, no copy).
pub(super) fn transposed(w: &Layout) -> Layout {
    Layout {
        shape: SmallVec::from_slice(&[w.shape[1], w.shape[0]]),
        strides: SmallVec::from_slice(&[w.strides[1], w.strides[0]]),
        offset: w.offset,
    }
}

/// The CPU product of checked operands (`batch` the broadcast batch dims).
pub(crate) fn matmul(
    op: &'static str,
    a: &Tensor,
    b: &Tensor,
    batch: &[usize],
    (m, k, n): (usize, usize, usize),
) -> Result<Tensor> {
    let (a, b) = (gemm_operand(a), gemm_operand(b));
    let (la, lb, out) = product_layouts(op, &a, &b, batch, (m, k, n))?;
    with_numeric!(op, a.dtype, T, {
        let v = matmul_tensors::<T>(&a, &la, &b, &lb, (m, k, n), None)?;
        Ok(Tensor::from_vec_unchecked(v, &out))
    })
}

/// The CPU `x @ w^T + bias` of checked operands, `x` of shape `[rows, in]`.
pub(crate) fn linear(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    const OP: &str = "linear";
    let (rows, in_f) = (x.shape()[0], x.shape()[1]);
    let out_f = weight.shape()[0];
    let x = gemm_operand(x);
    let w = gemm_operand(weight);
    let wt = transposed(&w.layout);
    with_numeric!(OP, x.dtype, T, {
        let v = matmul_tensors::<T>(&x, &x.layout, &w, &wt, (rows, in_f, out_f), bias)?;
        Ok(Tensor::from_vec_unchecked(v, &[rows, out_f]))
    })
}
