//! Transfers (upload, download), `contiguous()` and dtype casts on the GPU (`shaders/copy.wgsl`).

use super::pipeline::KernelSpec;
use super::{context, elem_bytes, groups_for, shaders, storage, strided_meta, tensor, GpuStorage};
use crate::storage::CpuStorage;
use crate::{DType, Error, Result, Tensor};

/// Copies a CPU tensor to GPU `index`.
pub(crate) fn upload(t: &Tensor, index: usize) -> Result<Tensor> {
    let ctx = context::get(index)?;
    let n = t.numel();
    let s = GpuStorage::new(&ctx, "to", t.dtype(), n)?;
    if n > 0 {
        let t = t.contiguous();
        let bytes: Vec<u8> = match t.dtype() {
            DType::F32 => bytemuck::cast_slice(&t.cpu_data::<f32>()).to_vec(),
            DType::F64 => bytemuck::cast_slice(&t.cpu_data::<f64>()).to_vec(),
            DType::I64 => bytemuck::cast_slice(&t.cpu_data::<i64>()).to_vec(),
            DType::Bool => {
                let w: Vec<u32> = t.cpu_data::<bool>().iter().map(|&b| u32::from(b)).collect();
                bytemuck::cast_slice(&w).to_vec()
            }
            d @ (DType::F16 | DType::BF16) => return Err(Error::UnsupportedDType { op: "to", dtype: d }),
        };
        ctx.queue.write_buffer(s.buffer(), 0, &bytes);
    }
    Ok(tensor(s, t.shape()))
}

/// Copies a GPU tensor back to host memory (a contiguous CPU tensor).
pub(crate) fn download(t: &Tensor) -> Result<Tensor> {
    let t = if t.is_contiguous() { t.clone() } else { contiguous(t)? };
    let s = storage(&t);
    let eb = elem_bytes(t.dtype());
    let n = t.numel();
    let bytes = s.ctx().read(s.try_buffer()?, t.layout.offset as u64 * eb, n as u64 * eb)?;
    let data = match t.dtype() {
        DType::F32 => CpuStorage::F32(bytemuck::pod_collect_to_vec(&bytes)),
        DType::F64 => CpuStorage::F64(bytemuck::pod_collect_to_vec(&bytes)),
        DType::I64 => CpuStorage::I64(bytemuck::pod_collect_to_vec(&bytes)),
        DType::Bool => {
            let w: Vec<u32> = bytemuck::pod_collect_to_vec(&bytes);
            CpuStorage::Bool(w.into_iter().map(|x| x != 0).collect())
        }
        d @ (DType::F16 | DType::BF16) => return Err(Error::UnsupportedDType { op: "to", dtype: d }),
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
    let out = GpuStorage::new(ctx, op, dst, n)?;
    if n > 0 {
        let meta = ctx.upload_words(op, &strided_meta(op, t.shape(), &[&t.layout])?)?;
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
        ctx.release(meta);
    }
    Ok(tensor(out, t.shape()))
}

/// A contiguous copy of a GPU tensor (strided gather).
pub(crate) fn contiguous(t: &Tensor) -> Result<Tensor> {
    gather("contiguous", t, t.dtype())
}

/// A GPU tensor converted to `dtype` (float to int truncates toward zero, nonzero to true).
pub(crate) fn cast(t: &Tensor, dtype: DType) -> Result<Tensor> {
    gather("to_dtype", t, dtype)
}
