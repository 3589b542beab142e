//! GPU kernels for [`BinaryOp`] (`shaders/binary.wgsl`): both operands read through their broadcast
//! strides, so views and broadcasting need no copy.

use super::meta::Meta;
use super::pipeline::KernelSpec;
use super::{groups_for, shaders, storage, strided_meta, tensor, GpuStorage};
use crate::op_desc::BinaryOp;
use crate::{DType, Error, Result, Tensor};

/// Runs `op` on two GPU tensors of one dtype (F32, F64, I64), broadcast to `shape`.
pub(crate) fn binary(op: BinaryOp, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let name = op.name();
    let (sa, sb) = (storage(a), storage(b));
    let ctx = sa.ctx();
    let dtype = a.dtype();
    ctx.require(name, dtype)?;
    let (entry, float) = match dtype {
        DType::F32 | DType::F64 => ("binary_float", dtype),
        // Integer true division is promoted to F32 by Tensor::binary before reaching a backend.
        DType::I64 if op != BinaryOp::Div => ("binary_i64", DType::F32),
        d => return Err(Error::UnsupportedDType { op: name, dtype: d }),
    };
    let la = a.layout.broadcast_to(name, shape)?;
    let lb = b.layout.broadcast_to(name, shape)?;
    let n: usize = shape.iter().product();
    let out = GpuStorage::new(ctx, name, dtype, n)?;
    if n > 0 {
        let meta = Meta::words(&strided_meta(name, shape, &[&la, &lb])?);
        let module = format!("binary ({float})");
        let source = move || shaders::binary(float);
        let spec = KernelSpec {
            checked: true,
            module: &module,
            source: &source,
            entry,
            constants: &[("OP", f64::from(op.index()))],
            read_only: &[true, true, false, true],
        };
        ctx.dispatch(&spec, &[sa.buffer(), sb.buffer(), out.buffer(), &meta], ctx.grid(name, groups_for(n))?);
    }
    Ok(tensor(out, shape))
}
