//! GPU indexing (`shaders/index.wgsl`): `index_select` (and `embedding`), `gather`, and the
//! accumulating `scatter_add` (and `index_add`, `embedding_backward`) with atomics.
//!
//! Bounds are checked by the kernel: an index outside `0..size` is never used as an address, and
//! the smallest row-major position holding one is recorded in a 4-byte flag. The host reads the
//! flag back after the dispatch (one small readback, so these ops synchronise with the GPU) and,
//! when set, reads that one index to return the CPU's `Error::IndexOutOfRange`. Checking on the
//! host instead would download the whole index tensor; the flag costs 4 bytes whatever its size.
//! Indices whose range the host already knows (uploaded from host memory: `GpuStorage`'s bounds)
//! skip the readback, so an embedding lookup of uploaded token ids does not synchronise.

use super::meta::{Binding, Meta};
use super::pipeline::KernelSpec;
use super::{check_u32, copy, elem_bytes, groups_for, known_within, shaders, storage, tensor, GpuStorage};
use crate::shape::{contiguous_strides, Layout};
use crate::{DType, Error, Result, Tensor};

fn spec<'a>(entry: &'static str, source: &'a dyn Fn() -> String) -> KernelSpec<'a> {
    KernelSpec {
        checked: true,
        module: "index",
        source,
        entry,
        constants: &[],
        read_only: &[true, true, false, true, false],
    }
}

fn source() -> String {
    shaders::elementwise(shaders::INDEX, DType::F32)
}

/// Dispatches `entry` over `total` invocations with the bounds flag, then checks the flag against
/// `index` (the layout the kernel walked, row-major) and the indexed size `n`.
#[allow(clippy::too_many_arguments)]
fn run(
    op: &'static str,
    entry: &'static str,
    src: &Tensor,
    index: &Tensor,
    out: &GpuStorage,
    info: &[u32],
    total: usize,
    n: usize,
) -> Result<()> {
    let ctx = out.ctx();
    let info = Meta::words(info);
    let flag = ctx.upload_words(op, &[u32::MAX])?;
    let spec = spec(entry, &source);
    let bufs: &[&dyn Binding] = &[storage(src).buffer(), storage(index).buffer(), out.buffer(), &info, &flag];
    ctx.dispatch(&spec, bufs, ctx.grid(op, groups_for(total))?);
    if known_within(index, 0, n as i64) {
        // Indices uploaded from host memory, all in range: no readback, no synchronisation.
        ctx.release(flag);
        return Ok(());
    }
    let word = ctx.read(&flag, 0, 4);
    ctx.release(flag);
    let word = word?;
    let p = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
    if p == u32::MAX {
        return Ok(());
    }
    let l = index.layout();
    let (mut rem, mut at) = (p as usize, l.offset);
    for d in (0..l.rank()).rev() {
        at += rem % l.shape[d] * l.strides[d];
        rem /= l.shape[d];
    }
    let b = ctx.read(storage(index).buffer(), at as u64 * 8, 8)?;
    let value = i64::from_le_bytes(b[..8].try_into().expect("8 bytes read"));
    Err(Error::IndexOutOfRange { op, index: value, size: n })
}

fn words(dtype: DType) -> &'static str {
    if elem_bytes(dtype) == 8 {
        "w2"
    } else {
        "w1"
    }
}

/// `src.index_select(dim, index)` for checked operands (`index` 0-d or 1-d I64, `src` of rank >= 1);
/// `None` when the output is empty but indices need checking (the caller's host path handles it).
pub(crate) fn index_select(op: &'static str, src: &Tensor, dim: usize, index: &Tensor) -> Result<Option<Tensor>> {
    let shape = src.shape();
    let (outer, n, inner) = (shape[..dim].iter().product::<usize>(), shape[dim], shape[dim + 1..].iter().product());
    let k = index.numel();
    let mut out_shape = shape.to_vec();
    out_shape[dim] = k;
    let total = outer * k * inner;
    let ctx = storage(src).ctx().clone();
    let out = GpuStorage::new(&ctx, op, src.dtype(), total)?;
    if total == 0 {
        return Ok(if k == 0 { Some(tensor(out, &out_shape)) } else { None });
    }
    let src = src.try_contiguous()?;
    let il = index.layout();
    let info = [
        check_u32(op, total)?,
        check_u32(op, k)?,
        check_u32(op, n)?,
        check_u32(op, inner)?,
        check_u32(op, src.layout.offset)?,
        check_u32(op, il.offset)?,
        check_u32(op, il.strides.first().copied().unwrap_or(0))?,
    ];
    let entry = if words(src.dtype()) == "w2" { "index_select_w2" } else { "index_select_w1" };
    run(op, entry, &src, index, &out, &info, total, n)?;
    Ok(Some(tensor(out, &out_shape)))
}

/// The metadata of the gather / scatter kernels: `[total, rank, dim, n, offsets a, idx, b, shape,
/// strides of a, idx, b]` over `index`'s shape.
fn strided_info(op: &'static str, dim: usize, n: usize, a: &Layout, index: &Layout, b: &Layout) -> Result<Vec<u32>> {
    let r = index.rank();
    let mut info = vec![check_u32(op, index.numel())?, r as u32, dim as u32, check_u32(op, n)?];
    for l in [a, index, b] {
        info.push(check_u32(op, l.offset)?);
    }
    for &s in index.shape.iter() {
        info.push(check_u32(op, s)?);
    }
    for l in [a, index, b] {
        for &s in l.strides.iter() {
            info.push(check_u32(op, s)?);
        }
    }
    Ok(info)
}

/// `src.gather(dim, index)` for checked, non-empty operands of one rank >= 1 (`src` read through
/// its strides).
pub(crate) fn gather(src: &Tensor, dim: usize, index: &Tensor) -> Result<Tensor> {
    let op = "gather";
    let ctx = storage(src).ctx().clone();
    let total = index.numel();
    let out = GpuStorage::new(&ctx, op, src.dtype(), total)?;
    let ol = Layout::contiguous(index.shape());
    let info = strided_info(op, dim, src.shape()[dim], src.layout(), index.layout(), &ol)?;
    let entry = if words(src.dtype()) == "w2" { "gather_w2" } else { "gather_w1" };
    run(op, entry, src, index, &out, &info, total, src.shape()[dim])?;
    Ok(tensor(out, index.shape()))
}

/// `dst.scatter_add(dim, index, src)` for checked operands of one rank >= 1 (F32 or I64): a copy
/// of `dst` with the values of `src` (read through its strides over `index`'s shape) added at
/// `index` along `dim`. `None` for other dtypes (F64 has no 64-bit atomics in WGSL).
pub(crate) fn scatter_add(
    op: &'static str,
    dst: &Tensor,
    dim: usize,
    index: &Tensor,
    src: &Tensor,
) -> Result<Option<Tensor>> {
    let entry = match dst.dtype() {
        DType::F32 => "scatter_add_f32",
        DType::I64 => "scatter_add_i64",
        _ => return Ok(None),
    };
    let out = copy::contiguous(dst)?;
    if index.numel() == 0 {
        return Ok(Some(out));
    }
    let n = dst.shape()[dim];
    let ol = Layout { shape: dst.shape().into(), strides: contiguous_strides(dst.shape()), offset: 0 };
    let info = strided_info(op, dim, n, src.layout(), index.layout(), &ol)?;
    let st = storage(&out);
    run(op, entry, src, index, st, &info, index.numel(), n)?;
    Ok(Some(out))
}

/// `dst.index_add(dim, index, source)` for checked operands (`index` 0-d or 1-d, `source` of
/// `dst`'s shape with `index.numel()` at `dim`): a `scatter_add` with the index broadcast to
/// `source`'s shape (stride 0 outside `dim`, no copy).
pub(crate) fn index_add(
    op: &'static str,
    dst: &Tensor,
    dim: usize,
    index: &Tensor,
    source: &Tensor,
) -> Result<Option<Tensor>> {
    let il = index.layout();
    let mut strides = smallvec::smallvec![0; source.rank()];
    strides[dim] = il.strides.first().copied().unwrap_or(0);
    let view = index.with_layout(Layout { shape: source.shape().into(), strides, offset: il.offset });
    scatter_add(op, dst, dim, &view, source)
}
