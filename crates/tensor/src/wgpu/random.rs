//! Random tensors generated on the GPU (`shaders/random.wgsl`): Philox4x32-10, counter-based, keyed
//! by 64 bits drawn from the process-wide generator. Seeded runs therefore repeat exactly on a
//! device, and a random tensor for a GPU tensor (`rand_like`, dropout masks) needs no upload. The
//! values differ from the CPU stream's (as PyTorch's CUDA generator differs from its CPU one).

use super::meta::Meta;
use super::pipeline::KernelSpec;
use super::{check_u32, context, groups_for, shaders, tensor, GpuStorage};
use crate::random::with_generator;
use crate::{DType, Error, Result, Tensor};

/// A tensor of `shape` and float `dtype` on GPU `index`: uniform in `[0, 1)`, or standard normal
/// when `normal`.
pub(crate) fn random(shape: &[usize], dtype: DType, index: usize, normal: bool) -> Result<Tensor> {
    let op = if normal { "randn" } else { "rand" };
    if !dtype.is_float() {
        return Err(Error::UnsupportedDType { op, dtype });
    }
    let ctx = context::get(index)?;
    ctx.require(op, dtype)?;
    let n: usize = shape.iter().product();
    let out = GpuStorage::new(&ctx, op, dtype, n)?;
    if n > 0 {
        let key = with_generator(|g| g.next_u64());
        let info = Meta::words(&[check_u32(op, n)?, key as u32, (key >> 32) as u32]);
        let module = format!("random ({dtype})");
        let source = move || shaders::elementwise(shaders::RANDOM, dtype);
        let spec = KernelSpec {
            checked: true,
            module: &module,
            source: &source,
            entry: if normal { "normal" } else { "uniform" },
            constants: &[],
            read_only: &[false, true],
        };
        ctx.dispatch(&spec, &[out.buffer(), &info], ctx.grid(op, groups_for(n))?);
    }
    Ok(tensor(out, shape))
}
