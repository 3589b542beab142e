//! GPU kernels of the fused optimizer updates (`shaders/fused.wgsl`): the Adam and SGD-momentum
//! steps on F32 in one dispatch each (F64 runs as the composite of elementwise kernels, in
//! `ops/fused.rs`).

use super::pipeline::KernelSpec;
use super::{check_u32, shaders, storage, tensor, GpuStorage};
use crate::{Result, Tensor};

/// [`Tensor::adam_step`] for F32 GPU operands of one shape and device (checked by the caller).
#[allow(clippy::too_many_arguments)]
pub(crate) fn adam_step(
    p: &Tensor,
    g: &Tensor,
    m: &Tensor,
    v: &Tensor,
    beta1: f64,
    beta2: f64,
    scale: f64,
    eps: f64,
) -> Result<(Tensor, Tensor, Tensor)> {
    let op = "adam_step";
    let ctx = storage(p).ctx().clone();
    let n = p.numel();
    let outs = [(); 3].map(|_| GpuStorage::new(&ctx, op, p.dtype(), n));
    let [po, mo, vo] = outs;
    let (po, mo, vo) = (po?, mo?, vo?);
    if n > 0 {
        let ins = [p, g, m, v].map(|t| t.try_contiguous());
        let [pi, gi, mi, vi] = ins;
        let ins = [pi?, gi?, mi?, vi?];
        let mut info = vec![check_u32(op, n)?];
        for t in &ins {
            info.push(check_u32(op, t.layout.offset)?);
        }
        let bits = |x: f64| (x as f32).to_bits();
        info.extend([bits(1.0 - beta1), bits(beta2), bits(1.0 - beta2), bits(scale), bits(eps)]);
        let info = ctx.upload_words(op, &info)?;
        let [a, b, c, d] = ins.each_ref().map(|t| storage(t).buffer());
        let bufs = [a, b, c, d, po.buffer(), mo.buffer(), vo.buffer(), &info];
        ctx.dispatch(
            &spec("adam", &[true, true, true, true, false, false, false, true]),
            &bufs,
            ctx.grid(op, super::groups_for(n))?,
        );
        ctx.release(info);
    }
    let s = p.shape();
    Ok((tensor(po, s), tensor(mo, s), tensor(vo, s)))
}

/// [`Tensor::sgd_momentum_step`] for F32 GPU operands of one shape and device (checked by the
/// caller).
pub(crate) fn sgd_momentum_step(
    p: &Tensor,
    g: &Tensor,
    b: &Tensor,
    lr: f64,
    momentum: f64,
    dampening: f64,
    nesterov: bool,
) -> Result<(Tensor, Tensor)> {
    let op = "sgd_momentum_step";
    let ctx = storage(p).ctx().clone();
    let n = p.numel();
    let (po, bo) = (GpuStorage::new(&ctx, op, p.dtype(), n)?, GpuStorage::new(&ctx, op, p.dtype(), n)?);
    if n > 0 {
        let ins = [p, g, b].map(|t| t.try_contiguous());
        let [pi, gi, bi] = ins;
        let ins = [pi?, gi?, bi?];
        let mut info = vec![check_u32(op, n)?];
        for t in &ins {
            info.push(check_u32(op, t.layout.offset)?);
        }
        let bits = |x: f64| (x as f32).to_bits();
        info.extend([u32::from(nesterov), bits(momentum), bits(1.0 - dampening), bits(lr)]);
        let info = ctx.upload_words(op, &info)?;
        let [a, gb, c] = ins.each_ref().map(|t| storage(t).buffer());
        let bufs = [a, gb, c, po.buffer(), bo.buffer(), &info];
        ctx.dispatch(&spec("sgd", &[true, true, true, false, false, true]), &bufs, ctx.grid(op, super::groups_for(n))?);
        ctx.release(info);
    }
    let s = p.shape();
    Ok((tensor(po, s), tensor(bo, s)))
}

/// The pipeline of `fused.wgsl`'s `entry`, its bindings in order (`true` = read-only).
fn spec(entry: &'static str, read_only: &'static [bool]) -> KernelSpec<'static> {
    fn source() -> String {
        shaders::FUSED.to_string()
    }
    KernelSpec { checked: true, module: "fused", source: &source, entry, constants: &[], read_only }
}
