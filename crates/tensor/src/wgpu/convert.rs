//! The 16-bit floats (F16, BF16) on the GPU: storage packed two elements per u32 word (element `2k`
//! in the low half of word `k`, as the host's little-endian `u16` array), and the conversions of
//! `shaders/half.wgsl`, bit for bit those of the `half` crate on the CPU (round to nearest even,
//! subnormals, infinities, -0, NaN quieted with its top payload bits kept).
//!
//! Every conversion is one dispatch reading any strided layout: `narrow` packs F32 (or the other
//! 16-bit dtype, or the same one for `contiguous()`) into a dense 16-bit tensor, one invocation per
//! output word so no two invocations write one word; `widen` unpacks into dense F32 (or Bool).
//! Other dtypes go through F32 as the CPU's casts do (`from_f64(x.to_f64())` with the 16-bit
//! `from_f64` rounding through `f32`): I64, F64 and Bool -> F32 -> 16-bit, and 16-bit -> F32 -> I64
//! or F64, by the existing casts of `copy.rs`.

use super::meta::Meta;
use super::pipeline::KernelSpec;
use super::{copy, groups_for, shaders, storage, strided_meta, tensor, GpuStorage};
use crate::{DType, Result, Tensor};

/// The kind code of `dtype` in `half.wgsl` (`SRC`, `DST`).
fn kind(dtype: DType) -> f64 {
    match dtype {
        DType::F16 => 1.0,
        DType::BF16 => 2.0,
        DType::Bool => 3.0,
        // F32: one word of f32 bits (callers pass no other dtype)
        _ => 0.0,
    }
}

/// One dispatch of `entry` (`widen` or `narrow`) converting `t` (F32, F16 or BF16, any layout) to
/// a dense tensor of `dst`.
fn run(op: &'static str, entry: &'static str, t: &Tensor, dst: DType) -> Result<Tensor> {
    let src = storage(t);
    let ctx = src.ctx();
    let n = t.numel();
    let out = GpuStorage::new(ctx, op, dst, n)?;
    if n > 0 {
        let meta = Meta::words(&strided_meta(op, t.shape(), &[&t.layout])?);
        let invocations = if entry == "narrow" { n.div_ceil(2) } else { n };
        let source = shaders::half;
        let spec = KernelSpec {
            checked: true,
            module: "half",
            source: &source,
            entry,
            constants: &[("SRC", kind(t.dtype())), ("DST", kind(dst))],
            read_only: &[true, false, true],
        };
        ctx.dispatch(&spec, &[src.try_buffer()?, out.buffer(), &meta], ctx.grid(op, groups_for(invocations))?);
    }
    Ok(tensor(out, t.shape()))
}

/// A dense copy of the 16-bit tensor `t` (the raw bits, NaN payloads included).
pub(crate) fn contiguous(t: &Tensor) -> Result<Tensor> {
    run("contiguous", "narrow", t, t.dtype())
}

/// `t` converted to `dtype`, one of the two being a 16-bit float (as the CPU: through `f32`).
pub(crate) fn cast(t: &Tensor, dtype: DType) -> Result<Tensor> {
    let op = "to_dtype";
    let src = t.dtype();
    if dtype.is_half() {
        if src == DType::F32 || src.is_half() {
            return run(op, "narrow", t, dtype);
        }
        return run(op, "narrow", &copy::cast(t, DType::F32)?, dtype);
    }
    match dtype {
        // Bool straight from the bits: a subnormal is nonzero even where f32 math flushes it.
        DType::F32 | DType::Bool => run(op, "widen", t, dtype),
        _ => copy::cast(&run(op, "widen", t, DType::F32)?, dtype),
    }
}

/// The packed bytes of the host 16-bit elements `bits` (padded to whole words).
pub(crate) fn pack(bits: &[u16]) -> Vec<u8> {
    let mut b: Vec<u8> = bytemuck::cast_slice(bits).to_vec();
    b.resize(b.len().next_multiple_of(4), 0);
    b
}

/// The first `n` 16-bit elements of `bytes` read back from a packed buffer.
pub(crate) fn unpack(bytes: &[u8], n: usize) -> Vec<u16> {
    bytemuck::pod_collect_to_vec(&bytes[..2 * n])
}
