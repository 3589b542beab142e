//! GPU joins and strided copies into place (`shaders/join.wgsl`): `cat` (and `stack`) as one
//! strided-copy dispatch per input into its slice of the output, and the copy helper `flip` and
//! `repeat` ([`super::index_misc`]) run with their own source layouts.

use super::meta::Meta;
use super::pipeline::KernelSpec;
use super::{check_u32, elem_bytes, groups_for, shaders, storage, strided_meta_k, tensor, GpuStorage};
use crate::shape::{contiguous_strides, Layout};
use crate::{DType, Result, Tensor};

/// The join module: `join.wgsl` with the strided indexing library.
fn source() -> String {
    shaders::elementwise(shaders::JOIN, DType::F32)
}

/// Copies the `n` elements described by `meta` (strided.wgsl layout: operand 0 the source `src`,
/// operand 1 the destination) from `src`'s storage into `dst`. `n == 0` dispatches nothing.
pub(crate) fn copy_into(op: &'static str, src: &Tensor, dst: &GpuStorage, meta: &[u32], n: usize) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    let ctx = dst.ctx();
    let info = Meta::words(meta);
    let entry = if elem_bytes(src.dtype()) == 8 { "copy_into_w2" } else { "copy_into_w1" };
    let spec = KernelSpec {
        checked: true,
        module: "join",
        source: &source,
        entry,
        constants: &[],
        read_only: &[true, false, true],
    };
    ctx.dispatch(&spec, &[storage(src).buffer(), dst.buffer(), &info], ctx.grid(op, groups_for(n))?);
    Ok(())
}

/// A new contiguous tensor of `shape` holding `view` (a layout over `t`'s storage, e.g. with
/// stride-0 dims) read in row-major order; the result is reshaped to `out_shape`.
pub(crate) fn gather_view(op: &'static str, t: &Tensor, view: &Layout, out_shape: &[usize]) -> Result<Tensor> {
    let ctx = storage(t).ctx().clone();
    let n = view.numel();
    let out = GpuStorage::new(&ctx, op, t.dtype(), n)?;
    if n > 0 {
        let dense = Layout::contiguous(&view.shape);
        let meta = strided_meta_k::<2>(op, &view.shape, &[view, &dense])?;
        copy_into(op, t, &out, &meta, n)?;
    }
    Ok(tensor(out, out_shape))
}

/// `cat` of checked GPU tensors along `dim` into a tensor of `shape` (every input has `shape`'s
/// rank and sizes outside `dim`; empty ones are skipped, as the CPU does).
pub(crate) fn cat(op: &'static str, tensors: &[&Tensor], dim: usize, shape: &[usize]) -> Result<Tensor> {
    let ctx = storage(tensors[0]).ctx().clone();
    let n: usize = shape.iter().product();
    check_u32(op, n)?;
    let out = GpuStorage::new(&ctx, op, tensors[0].dtype(), n)?;
    let strides = contiguous_strides(shape);
    let mut col = 0;
    for t in tensors {
        let size = t.shape().get(dim).copied().unwrap_or(0);
        if t.numel() > 0 && t.rank() == shape.len() {
            let slice = Layout { shape: t.shape().into(), strides: strides.clone(), offset: col * strides[dim] };
            let meta = strided_meta_k::<2>(op, t.shape(), &[t.layout(), &slice])?;
            copy_into(op, t, &out, &meta, t.numel())?;
        }
        col += size;
    }
    Ok(tensor(out, shape))
}
