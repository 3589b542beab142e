//! Transfers (upload, download), `contiguous()` and dtype casts on the GPU (`shaders/copy.wgsl`;
//! the 16-bit floats' packed words in `convert.rs`).

use super::meta::Meta;
use super::pipeline::KernelSpec;
use super::{context, convert, elem_bytes, groups_for, shaders, storage, strided_meta, tensor, GpuStorage};
use crate::storage::CpuStorage;
use crate::{DType, Result, Tensor};

/// Copies a CPU tensor to GPU `index`.
pub(crate) fn upload(t: &Tensor, index: usize) -> Result<Tensor> {
    let ctx = context::get(index)?;
    let n = t.numel();
    let mut s = GpuStorage::new(&ctx, "to", t.dtype(), n)?;
    if n > 0 {
        let t = t.contiguous();
        let bytes: Vec<u8> = match t.dtype() {
            DType::F32 => bytemuck::cast_slice(&t.cpu_data::<f32>()).to_vec(),
            DType::F64 => bytemuck::cast_slice(&t.cpu_data::<f64>()).to_vec(),
            DType::I64 => {
                let v = t.cpu_data::<i64>();
                let bounds = v.iter().fold((i64::MAX, i64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
                s = s.with_bounds(Some(bounds));
                bytemuck::cast_slice(&v).to_vec()
            }
            DType::Bool => {
                let w: Vec<u32> = t.cpu_data::<bool>().iter().map(|&b| u32::from(b)).collect();
                bytemuck::cast_slice(&w).to_vec()
            }
            DType::F16 => convert::pack(bytemuck::cast_slice(&t.cpu_data::<half::f16>())),
            DType::BF16 => convert::pack(bytemuck::cast_slice(&t.cpu_data::<half::bf16>())),
        };
        ctx.queue.write_buffer(s.buffer(), 0, &bytes);
    }
    Ok(tensor(s, t.shape()))
}

/// Copies a GPU tensor back to host memory (a contiguous CPU tensor).
pub(crate) fn download(t: &Tensor) -> Result<Tensor> {
    let half = t.dtype().is_half();
    // Packed 16-bit data is read from a word boundary: an odd offset is copied to offset 0 first.
    let t = if t.is_contiguous() && !(half && t.layout.offset % 2 == 1) { t.clone() } else { contiguous(t)? };
    let s = storage(&t);
    let eb = elem_bytes(t.dtype());
    let n = t.numel();
    let len = if half { n.div_ceil(2) as u64 * 4 } else { n as u64 * eb };
    let bytes = s.ctx().read(s.try_buffer()?, t.layout.offset as u64 * eb, len)?;
    let data = match t.dtype() {
        DType::F32 => CpuStorage::F32(bytemuck::pod_collect_to_vec(&bytes)),
        DType::F64 => CpuStorage::F64(bytemuck::pod_collect_to_vec(&bytes)),
        DType::I64 => CpuStorage::I64(bytemuck::pod_collect_to_vec(&bytes)),
        DType::Bool => {
            let w: Vec<u32> = bytemuck::pod_collect_to_vec(&bytes);
            CpuStorage::Bool(w.into_iter().map(|x| x != 0).collect())
        }
        DType::F16 => CpuStorage::F16(convert::unpack(&bytes, n).into_iter().map(half::f16::from_bits).collect()),
        DType::BF16 => CpuStorage::BF16(convert::unpack(&bytes, n).into_iter().map(half::bf16::from_bits).collect()),
    };
    Ok(Tensor::from_cpu(data, t.shape()))
}

/// A dense copy of `t` converted to `dst` (the same dtype gives `contiguous()`).
fn gather(op: &'static str, t: &Tensor, dst: DType) -> Result<Tensor> {
    let src = storage(t);
    let ctx = src.ctx();
    if t.dtype() != dst {
        ctx.require(op, t.dtype())?;
        ctx.require(op, dst)?;
    }
    let n = t.numel();
    // A same-dtype copy holds a subset of the source's values, so within its bounds.
    let bounds = if t.dtype() == dst { src.bounds() } else { None };
    let out = GpuStorage::new(ctx, op, dst, n)?.with_bounds(bounds);
    if n > 0 {
        let meta = Meta::words(&strided_meta(op, t.shape(), &[&t.layout])?);
        let name = format!("copy ({} -> {dst})", t.dtype());
        let (s, d) = (t.dtype(), dst);
        let source = move || shaders::copy(s, d);
        let spec = KernelSpec {
            checked: true,
            module: &name,
            source: &source,
            entry: "copy",
            constants: &[],
            read_only: &[true, false, true],
        };
        ctx.dispatch(&spec, &[src.buffer(), out.buffer(), &meta], ctx.grid(op, groups_for(n))?);
    }
    Ok(tensor(out, t.shape()))
}

/// A contiguous copy of a GPU tensor (strided gather; 16-bit floats in [`convert`]).
pub(crate) fn contiguous(t: &Tensor) -> Result<Tensor> {
    if t.dtype().is_half() {
        return convert::contiguous(t);
    }
    gather("contiguous", t, t.dtype())
}

/// A GPU tensor converted to `dtype` (float to int truncates toward zero, nonzero to true; to and
/// from the 16-bit floats in [`convert`]).
pub(crate) fn cast(t: &Tensor, dtype: DType) -> Result<Tensor> {
    if t.dtype().is_half() || dtype.is_half() {
        return convert::cast(t, dtype);
    }
    gather("to_dtype", t, dtype)
}
