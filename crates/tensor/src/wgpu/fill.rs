//! Filling a new GPU tensor with one value (`shaders/fill.wgsl`): `zeros`, `ones`, `full` and the
//! scalar operands of binary ops, created on the device without an upload.

use super::context::{self, Context};
use super::meta::Meta;
use super::pipeline::KernelSpec;
use super::{check_u32, shaders, tensor, GpuStorage};
use crate::{DType, Result, Tensor};

/// The 32-bit words of `v` converted to `dtype` as the CPU's `Element::from_f64` does.
pub(crate) fn words(v: f64, dtype: DType) -> [u32; 2] {
    let split = |b: u64| [b as u32, (b >> 32) as u32];
    match dtype {
        DType::F32 => [(v as f32).to_bits(), 0],
        DType::F64 => split(v.to_bits()),
        DType::I64 => split((v as i64) as u64),
        DType::Bool => [u32::from(v != 0.0), 0],
        DType::F16 => [u32::from(half::f16::from_f32(v as f32).to_bits()), 0],
        DType::BF16 => [u32::from(half::bf16::from_f32(v as f32).to_bits()), 0],
    }
}

/// Fills of at most this many 32-bit words are uploaded instead of dispatched.
const SMALL_WORDS: u32 = 1024;

/// A tensor of `shape` filled with `v` (converted to `dtype`) on GPU `index`.
pub(crate) fn full(shape: &[usize], v: f64, dtype: DType, index: usize) -> Result<Tensor> {
    let ctx = context::get(index)?;
    let n: usize = shape.iter().product();
    let out = GpuStorage::new(&ctx, "full", dtype, n)?;
    fill_buffer(&ctx, out.buffer(), n, v, dtype)?;
    Ok(tensor(out, shape))
}

/// Writes `n` elements of `v` (converted to `dtype`) into `buf`: uploaded when small, else one
/// dispatch of `fill.wgsl` (also how a pending `full` of the fusion is computed).
pub(crate) fn fill_buffer(ctx: &Context, buf: &::wgpu::Buffer, n: usize, v: f64, dtype: DType) -> Result<()> {
    let op = "full";
    if n == 0 {
        return Ok(());
    }
    let wpe: u32 = if matches!(dtype, DType::F64 | DType::I64) { 2 } else { 1 };
    let n_words = check_u32(op, n)?.checked_mul(wpe).ok_or_else(|| crate::Error::InvalidArgument {
        op,
        msg: format!("{n} elements exceed the GPU kernels' 32-bit indexing"),
    })?;
    let [mut w0, w1] = words(v, dtype);
    // 16-bit floats: two elements per word (the unused half of an odd count's last word too)
    let n_words = if dtype.is_half() {
        w0 |= w0 << 16;
        n_words.div_ceil(2)
    } else {
        n_words
    };
    if n_words <= SMALL_WORDS {
        // Scalars and other tiny tensors (the operand of every `x * 0.9`): written by the
        // queue with the next submission, which costs far less than a dispatch of its own.
        let data: Vec<u32> = (0..n_words).map(|i| if i % wpe == 1 { w1 } else { w0 }).collect();
        ctx.queue.write_buffer(buf, 0, bytemuck::cast_slice(&data));
        return Ok(());
    }
    let meta = Meta::words(&[n_words, wpe, w0, w1]);
    let source = || shaders::FILL.to_string();
    let spec = KernelSpec {
        checked: true,
        module: "fill",
        source: &source,
        entry: "fill",
        constants: &[],
        read_only: &[false, true],
    };
    ctx.dispatch(&spec, &[buf, &meta], ctx.grid(op, n_words.div_ceil(256))?);
    Ok(())
}
