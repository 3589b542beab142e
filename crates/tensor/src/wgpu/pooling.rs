//! GPU pooling (`shaders/pool.wgsl`): max pool with indices and average pools (fixed and adaptive)
//! by the host's window plan, one invocation per output element; the max pool's backward is the
//! index kernels' atomic `scatter_add` into zero planes.

use super::pipeline::KernelSpec;
use super::{check_u32, groups_for, shaders, storage, tensor, GpuStorage};
use crate::ops::pool::Pool2dPlan;
use crate::{DType, Result, Tensor};

/// Max (`max`, with I64 plane indices) or average pool of a float GPU tensor by `plan`.
pub(crate) fn pool(op: &'static str, x: &Tensor, plan: &Pool2dPlan, max: bool) -> Result<(Tensor, Option<Tensor>)> {
    let dtype = x.dtype();
    let ctx = storage(x).ctx().clone();
    ctx.require(op, dtype)?;
    let (oh, ow) = (plan.rows.len(), plan.cols.len());
    let total = plan.planes * oh * ow;
    let vals = GpuStorage::new(&ctx, op, dtype, total)?;
    let idxs = GpuStorage::new(&ctx, op, DType::I64, if max { total } else { 0 })?;
    if total > 0 {
        let x = x.try_contiguous()?;
        let mut info = vec![total, oh, ow, plan.in_h, plan.in_w, plan.step[0], plan.step[1], x.layout.offset];
        for w in plan.rows.iter().chain(&plan.cols) {
            info.extend([w.start, w.end, w.divisor]);
        }
        // The first tap of a window must be addressable as a u32 plane index.
        check_u32(op, (plan.in_h + 1) * (plan.in_w + 1))?;
        let info: Vec<u32> = info.into_iter().map(|v| check_u32(op, v)).collect::<Result<_>>()?;
        let info = ctx.upload_words(op, &info)?;
        let module = format!("pool ({dtype})");
        let source = move || shaders::elementwise(shaders::POOL, dtype);
        let entry = if max { "max_pool" } else { "avg_pool" };
        let spec = KernelSpec {
            module: &module,
            source: &source,
            entry,
            constants: &[],
            read_only: &[true, false, false, true],
        };
        // The average pool binds the (empty, still 256-byte) index buffer it does not write.
        let bufs = [storage(&x).buffer(), vals.buffer(), idxs.buffer(), &info];
        ctx.dispatch(&spec, &bufs, ctx.grid(op, groups_for(total))?);
        ctx.release(info);
    }
    let v = tensor(vals, &plan.out_shape);
    Ok((v, if max { Some(tensor(idxs, &plan.out_shape)) } else { None }))
}
