//! GPU `scatter` / `scatter_value` (overwriting; `shaders/scatter.wgsl`): a copy of `dst` with
//! `src`'s values written at `index` along `dim`, every dtype (raw words). Colliding indices are
//! resolved as on the CPU, the last source in row-major order wins: a claim pass keeps the largest
//! index position per output element (`atomicMax`), then only that position writes. Bounds are
//! checked by the kernel with the 4-byte flag of [`super::index_misc::check_flag`].

use super::index_misc::check_flag;
use super::meta::{Binding, Meta};
use super::pipeline::KernelSpec;
use super::{check_u32, copy, elem_bytes, fill, groups_for, shaders, storage};
use crate::shape::{contiguous_strides, Layout};
use crate::{DType, Result, Tensor};

/// The scatter module: `scatter.wgsl` with the strided indexing library.
fn source() -> String {
    shaders::elementwise(shaders::SCATTER, DType::F32)
}

/// `dst.scatter(dim, index, src)` for checked GPU operands of one rank >= 1 (`src` read through
/// its strides over `index`'s shape; an expanded 0-d `src` gives `scatter_value`).
pub(crate) fn scatter(op: &'static str, dst: &Tensor, dim: usize, index: &Tensor, src: &Tensor) -> Result<Tensor> {
    let out = copy::contiguous(dst)?;
    let total = index.numel();
    if total == 0 {
        return Ok(out);
    }
    check_u32(op, total + 1)?;
    let n = dst.shape()[dim];
    let ol = Layout { shape: dst.shape().into(), strides: contiguous_strides(dst.shape()), offset: 0 };
    let r = index.rank();
    let mut info = vec![check_u32(op, total)?, r as u32, dim as u32, check_u32(op, n)?];
    for l in [src.layout(), index.layout(), &ol] {
        info.push(check_u32(op, l.offset)?);
    }
    for &s in index.shape() {
        info.push(check_u32(op, s)?);
    }
    for l in [src.layout(), index.layout(), &ol] {
        for &s in l.strides.iter() {
            info.push(check_u32(op, s)?);
        }
    }
    let st = storage(&out);
    let ctx = st.ctx().clone();
    // One zeroed u32 per output element (a Bool tensor's storage is u32 words).
    let win = fill::full(&[dst.numel()], 0.0, DType::Bool, ctx.index)?;
    let info = Meta::words(&info);
    let flag = ctx.upload_words(op, &[u32::MAX])?;
    let grid = ctx.grid(op, groups_for(total))?;
    let bufs: &[&dyn Binding] =
        &[storage(src).buffer(), storage(index).buffer(), st.buffer(), &info, &flag, storage(&win).buffer()];
    let ro = [true, true, false, true, false, false];
    for entry in ["scatter_claim", if elem_bytes(dst.dtype()) == 8 { "scatter_w2" } else { "scatter_w1" }] {
        let spec =
            KernelSpec { checked: true, module: "scatter", source: &source, entry, constants: &[], read_only: &ro };
        ctx.dispatch(&spec, bufs, grid);
    }
    check_flag(op, flag, index, n)?;
    Ok(out)
}
