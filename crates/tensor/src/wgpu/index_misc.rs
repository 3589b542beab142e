//! GPU `one_hot`, `masked_select`, `flip` and `repeat` (`shaders/index_misc.wgsl`; the copies of
//! `flip` and `repeat` run the strided copy of [`super::join`]).
//!
//! `one_hot` checks bounds in the kernel with a 4-byte flag ([`check_flag`], as `wgpu/index.rs`);
//! `masked_select` counts per workgroup, scans the counts on the GPU, reads back the total (4
//! bytes: the output size is data dependent), then compacts in row-major order.

use super::join::{copy_into, gather_view};
use super::meta::{Binding, Meta};
use super::pipeline::KernelSpec;
use super::{check_u32, elem_bytes, groups_for, known_within, shaders, storage, strided_meta_k, tensor, GpuStorage};
use crate::shape::{Dims, Layout};
use crate::{DType, Error, Result, Tensor};

/// The module of `index_misc.wgsl` with the strided indexing library.
fn source() -> String {
    shaders::elementwise(shaders::INDEX_MISC, DType::F32)
}

/// The kernel `entry` of the module with bindings `read_only`.
fn spec<'a>(entry: &'static str, source: &'a dyn Fn() -> String, read_only: &'a [bool]) -> KernelSpec<'a> {
    KernelSpec { checked: true, module: "index_misc", source, entry, constants: &[], read_only }
}

/// Reads the bounds flag `flag` (released here) written by a kernel over `index` (row-major
/// positions), unless the host knows `index` is within `0..n` (no readback then): `Ok` when unset, else the CPU's `Error::IndexOutOfRange` for the flagged index of an
/// indexed size `n`, read back alone.
pub(crate) fn check_flag(op: &'static str, flag: ::wgpu::Buffer, index: &Tensor, n: usize) -> Result<()> {
    let ctx = storage(index).ctx().clone();
    if known_within(index, 0, n as i64) {
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
    Err(index_error(op, index, p as usize, n)?)
}

/// The CPU's `Error::IndexOutOfRange` for the element at row-major position `p` of `index` (read
/// back alone), for an indexed size `n`.
fn index_error(op: &'static str, index: &Tensor, p: usize, n: usize) -> Result<Error> {
    let l = index.layout();
    let (mut rem, mut at) = (p, l.offset);
    for d in (0..l.rank()).rev() {
        at += rem % l.shape[d] * l.strides[d];
        rem /= l.shape[d];
    }
    let b = storage(index).ctx().read(storage(index).buffer(), at as u64 * 8, 8)?;
    let value = i64::from_le_bytes(b[..8].try_into().expect("8 bytes read"));
    Ok(Error::IndexOutOfRange { op, index: value, size: n })
}

/// `t.one_hot(num_classes)` for an I64 GPU tensor, with the CPU's errors (`-1` infers the largest
/// value + 1 with a GPU `max`, one 8-byte readback).
pub(crate) fn one_hot(t: &Tensor, num_classes: i64) -> Result<Tensor> {
    let op = "one_hot";
    let n = t.numel();
    let classes = if num_classes == -1 {
        if n == 0 {
            crate::bail!(op, "can not infer the total number of classes from an empty tensor");
        }
        // The storage's bounds are exact for a tensor over all of it (a view may hold fewer values).
        let whole = t.is_contiguous() && t.layout().offset == 0 && t.numel() == storage(t).len();
        let m = match storage(t).bounds() {
            Some((_, max)) if whole => max,
            _ => t.try_max()?.try_to(&crate::Device::Cpu)?.to_vec::<i64>()[0],
        };
        m.max(-1).saturating_add(1) as usize
    } else if num_classes < 0 {
        crate::bail!(op, "num_classes must be -1 or non-negative, got {num_classes}");
    } else {
        num_classes as usize
    };
    let total = n.checked_mul(classes).ok_or_else(|| Error::InvalidArgument {
        op,
        msg: "the result would have more elements than fit in memory".into(),
    })?;
    let mut shape: Dims = t.shape().into();
    shape.push(classes);
    if n > 0 && classes == 0 {
        // Every index is out of range: the first one is the CPU's error.
        return Err(index_error(op, t, 0, 0)?);
    }
    let ctx = storage(t).ctx().clone();
    let out = GpuStorage::new(&ctx, op, DType::I64, total)?;
    if total > 0 {
        let t = t.try_contiguous()?;
        let info =
            ctx.upload_words(op, &[check_u32(op, total)?, check_u32(op, classes)?, check_u32(op, t.layout.offset)?])?;
        let flag = ctx.upload_words(op, &[u32::MAX])?;
        let spec = spec("one_hot", &source, &[true, true, false, false]);
        ctx.dispatch(&spec, &[storage(&t).buffer(), &info, &flag, out.buffer()], ctx.grid(op, groups_for(total))?);
        check_flag(op, flag, &t, classes)?;
    }
    Ok(tensor(out, &shape))
}

/// `t.masked_select(mask)` for checked GPU operands broadcasting to `shape`: a 1-d tensor of the
/// selected values in row-major order.
pub(crate) fn masked_select(t: &Tensor, mask: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let op = "masked_select";
    let ctx = storage(t).ctx().clone();
    let n: usize = shape.iter().product();
    if n == 0 {
        return Ok(tensor(GpuStorage::new(&ctx, op, t.dtype(), 0)?, &[0]));
    }
    let (lt, lm) = (t.layout().broadcast_to(op, shape)?, mask.layout().broadcast_to(op, shape)?);
    let meta = strided_meta_k::<2>(op, shape, &[&lt, &lm])?;
    let groups = groups_for(n);
    let info = Meta::words(&meta);
    let counts = ctx.acquire(op, (groups as u64 + 1) * 4)?;
    let mbuf = storage(mask).buffer();
    let rw3 = [true, true, false];
    ctx.dispatch(&spec("mask_count", &source, &rw3), &[mbuf, &info, &counts], ctx.grid(op, groups)?);
    ctx.dispatch(&spec("mask_scan", &source, &rw3), &[mbuf, &info, &counts], [1, 1, 1]);
    let total = ctx.read(&counts, groups as u64 * 4, 4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
    let result = total.and_then(|total| {
        let total = total as usize;
        let out = GpuStorage::new(&ctx, op, t.dtype(), total)?;
        if total > 0 {
            let entry = if elem_bytes(t.dtype()) == 8 { "mask_compact_w2" } else { "mask_compact_w1" };
            let bufs: &[&dyn Binding] = &[mbuf, &info, &counts, out.buffer(), storage(t).buffer()];
            ctx.dispatch(&spec(entry, &source, &[true, true, false, false, true]), bufs, ctx.grid(op, groups)?);
        }
        Ok(tensor(out, &[total]))
    });
    ctx.release(counts);
    result
}

/// A copy of a GPU tensor of rank >= 1 reversed along every dim `d` with `flip[d]`: the strided
/// copy reading flipped dims from their last element with negated (wrapping u32) strides.
pub(crate) fn flip(t: &Tensor, flip: &[bool]) -> Result<Tensor> {
    let op = "flip";
    let ctx = storage(t).ctx().clone();
    let n = t.numel();
    let out = GpuStorage::new(&ctx, op, t.dtype(), n)?;
    if n > 0 {
        // Every address the kernel ends on lies in the storage, so wrapping u32 arithmetic is exact.
        check_u32(op, storage(t).len())?;
        let l = t.layout();
        let dense = crate::shape::contiguous_strides(&l.shape);
        let mut base = l.offset;
        let mut dims: Vec<(u32, u32, u32)> = Vec::new();
        for d in 0..l.rank() {
            if l.shape[d] == 1 {
                continue;
            }
            let st = check_u32(op, l.strides[d])?;
            let st = if flip[d] {
                base += (l.shape[d] - 1) * l.strides[d];
                st.wrapping_neg()
            } else {
                st
            };
            dims.push((l.shape[d] as u32, st, dense[d] as u32));
        }
        let mut meta = vec![check_u32(op, n)?, dims.len() as u32, check_u32(op, base)?, 0];
        meta.extend(dims.iter().map(|d| d.0));
        meta.extend(dims.iter().map(|d| d.1));
        meta.extend(dims.iter().map(|d| d.2));
        copy_into(op, t, &out, &meta, n)?;
    }
    Ok(tensor(out, t.shape()))
}

/// `t.repeat(repeats)` on the GPU (`repeats.len() >= rank`): the CPU's view `[r0, s0, r1, s1, ..]`
/// with stride-0 repeat dims, copied out.
pub(crate) fn repeat(t: &Tensor, repeats: &[usize]) -> Result<Tensor> {
    let l = t.layout();
    let lead = repeats.len() - l.rank();
    let (mut shape, mut strides, mut out_shape) = (Dims::new(), Dims::new(), Dims::new());
    for (i, &r) in repeats.iter().enumerate() {
        let (s, st) = if i < lead { (1, 0) } else { (l.shape[i - lead], l.strides[i - lead]) };
        shape.extend_from_slice(&[r, s]);
        strides.extend_from_slice(&[0, st]);
        out_shape.push(r.checked_mul(s).ok_or_else(|| Error::InvalidArgument {
            op: "repeat",
            msg: format!("repeats {repeats:?} of shape {:?} overflow", l.shape),
        })?);
    }
    gather_view("repeat", t, &Layout { shape, strides, offset: l.offset }, &out_shape)
}
