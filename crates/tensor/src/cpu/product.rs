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

/// The CPU product of checked operands (`batch` the broadcast batch dims).
pub(crate) fn matmul(
    op: &'static str,
    a: &Tensor,
    b: &Tensor,
    batch: &[usize],
    (m, k, n): (usize, usize, usize),
) -> Result<Tensor> {
    let (a, b) = (gemm_operand(a), gemm_operand(b));
    let mut sa: Dims = batch.into();
    sa.extend_from_slice(&[m, k]);
    let mut sb: Dims = batch.into();
    sb.extend_from_slice(&[k, n]);
    let la = a.layout.broadcast_to(op, &sa)?;
    let lb = b.layout.broadcast_to(op, &sb)?;
    let mut out: Dims = batch.into();
    out.extend_from_slice(&[m, n]);
    crate::shape::checked_numel(op, &out)?;
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
    let wt = Layout {
        shape: SmallVec::from_slice(&[in_f, out_f]),
        strides: SmallVec::from_slice(&[w.strides()[1], w.strides()[0]]),
        offset: w.layout.offset,
    };
    with_numeric!(OP, x.dtype, T, {
        let v = matmul_tensors::<T>(&x, &x.layout, &w, &wt, (rows, in_f, out_f), bias)?;
        Ok(Tensor::from_vec_unchecked(v, &[rows, out_f]))
    })
}
