//! GPU pooling (`shaders/pool.wgsl`): max pool with indices and average pools (fixed and adaptive)
//! by the host's window plan, one invocation per output element; the backward kernels gather, one
//! invocation per input element: the average pools' over the windows covering it, the max pool's
//! over the covering windows whose saved index names it (no zero fill, no scatter, no atomics).
//! The max pool's backward from indices alone (no windows known) is the index kernels' atomic
//! `scatter_add` into zero planes (`backend.rs`).

use super::conv::dense;
use super::meta::{Binding, Meta};
use super::pipeline::KernelSpec;
use super::{check_u32, groups_for, shaders, storage, tensor, GpuStorage};
use crate::op_desc::Pool2dPlan;
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
        let x = dense(x)?;
        let mut info = vec![total, oh, ow, plan.in_h, plan.in_w, plan.step[0], plan.step[1], x.layout.offset];
        for w in plan.rows.iter().chain(&plan.cols) {
            info.extend([w.start, w.end, w.divisor]);
        }
        // The first tap of a window must be addressable as a u32 plane index.
        check_u32(op, (plan.in_h + 1) * (plan.in_w + 1))?;
        let info: Vec<u32> = info.into_iter().map(|v| check_u32(op, v)).collect::<Result<_>>()?;
        let info = Meta::words(&info);
        let module = format!("pool ({dtype})");
        let source = move || shaders::elementwise(shaders::POOL, dtype);
        let entry = if max { "max_pool" } else { "avg_pool" };
        let spec = KernelSpec {
            checked: true,
            module: &module,
            source: &source,
            entry,
            constants: &[],
            read_only: &[true, false, false, true],
        };
        // The average pool binds the (empty, still 256-byte) index buffer it does not write.
        let bufs: &[&dyn Binding] = &[storage(&x).buffer(), vals.buffer(), idxs.buffer(), &info];
        ctx.dispatch(&spec, bufs, ctx.grid(op, groups_for(total))?);
    }
    let v = tensor(vals, &plan.out_shape);
    Ok((v, if max { Some(tensor(idxs, &plan.out_shape)) } else { None }))
}

/// The (first, last + 1) window of `windows` covering each of `len` input positions (`(0, 0)` for
/// none); the kernel still checks each window of the range.
fn covering(windows: &[crate::op_desc::PoolWindow], len: usize) -> Vec<[usize; 2]> {
    let mut r = vec![[usize::MAX, 0]; len];
    for (o, w) in windows.iter().enumerate() {
        for c in &mut r[w.start.min(len)..w.end.min(len)] {
            c[0] = c[0].min(o);
            c[1] = o + 1;
        }
    }
    r.into_iter().map(|[a, b]| if b == 0 { [0, 0] } else { [a, b] }).collect()
}

/// The input gradient of a pool by `plan` of a float GPU `grad_out` (of `plan.out_shape`), by the
/// backward gathers of `pool.wgsl`, one invocation per input element. With a max pool's `indices`
/// (`max_pool_backward`) each input element sums, in output order, the gradient of the covering
/// windows whose index names it (as the CPU); without (`avg_pool_backward`, fixed or adaptive
/// windows) it sums `grad / divisor` over the windows covering it, in the CPU's order.
pub(crate) fn pool_backward(
    op: &'static str,
    grad_out: &Tensor,
    indices: Option<&Tensor>,
    plan: &Pool2dPlan,
    input_shape: &[usize],
) -> Result<Tensor> {
    let dtype = grad_out.dtype();
    let ctx = storage(grad_out).ctx().clone();
    ctx.require(op, dtype)?;
    let (oh, ow) = (plan.rows.len(), plan.cols.len());
    let total = plan.planes * plan.in_h * plan.in_w;
    let out = GpuStorage::new(&ctx, op, dtype, total)?;
    if total > 0 {
        let g = dense(grad_out)?;
        let idxs = indices.map(dense).transpose()?;
        let step = if idxs.is_some() { plan.step } else { [0, 0] };
        let mut info = vec![total, oh, ow, plan.in_h, plan.in_w, step[0], step[1], g.layout.offset];
        for w in plan.rows.iter().chain(&plan.cols) {
            info.extend([w.start, w.end, w.divisor]);
        }
        for c in covering(&plan.rows, plan.in_h).into_iter().chain(covering(&plan.cols, plan.in_w)) {
            info.extend(c);
        }
        info.push(idxs.as_ref().map_or(0, |i| i.layout.offset));
        check_u32(op, plan.planes * oh * ow)?;
        let info: Vec<u32> = info.into_iter().map(|v| check_u32(op, v)).collect::<Result<_>>()?;
        let info = Meta::words(&info);
        let module = format!("pool ({dtype})");
        let source = move || shaders::elementwise(shaders::POOL, dtype);
        let spec = KernelSpec {
            checked: true,
            module: &module,
            source: &source,
            entry: if idxs.is_some() { "max_pool_backward" } else { "avg_pool_backward" },
            constants: &[],
            read_only: &[true, false, false, true],
        };
        // The average pool binds an empty index buffer it does not read.
        let none = match &idxs {
            Some(_) => None,
            None => Some(GpuStorage::new(&ctx, op, DType::I64, 0)?),
        };
        let ib = match (&idxs, &none) {
            (Some(i), _) => storage(i).buffer(),
            (None, Some(e)) => e.buffer(),
            (None, None) => unreachable!("one of them is set"),
        };
        let bufs: &[&dyn Binding] = &[storage(&g).buffer(), out.buffer(), ib, &info];
        ctx.dispatch(&spec, bufs, ctx.grid(op, groups_for(total))?);
    }
    Ok(tensor(out, input_shape))
}
