//! The fused cross-entropy on the GPU (`shaders/cross_entropy.wgsl`, `cross_entropy_backward.wgsl`):
//! the forward in one single-workgroup dispatch (rows spread over its 256 invocations, partial sums
//! tree-reduced), the backward in one dispatch of one invocation per logit. The forward's check of
//! the targets comes back as one status word, read after the dispatch (the loss's only readback),
//! unless the host already knows every target is a class (targets uploaded from host memory).

use super::meta::{Binding, Meta};
use super::pipeline::KernelSpec;
use super::{check_u32, elem_bytes, groups_for, known_within, shaders, storage, tensor, GpuStorage};
use crate::ops::cross_entropy::{out_of_bounds, CrossEntropyOpts};
use crate::{DType, Result, Tensor};

/// `meta[4]` when there are no class weights (the kernels' `NO_WEIGHT`).
const NO_WEIGHT: u32 = u32::MAX;

/// The kernels' metadata (see `cross_entropy.wgsl`, its `info`), with the status word 0.
fn meta(
    op: &'static str,
    x: &Tensor,
    t: &Tensor,
    w: Option<&Tensor>,
    o: &CrossEntropyOpts,
    g: u32,
) -> Result<Vec<u32>> {
    let (n, c) = (x.shape()[0], x.shape()[1]);
    check_u32(op, n * c)?;
    let ig = o.ignore_index as u64;
    Ok(vec![
        check_u32(op, n)?,
        check_u32(op, c)?,
        check_u32(op, x.layout().offset)?,
        check_u32(op, t.layout().offset)?,
        match w {
            Some(w) => check_u32(op, w.layout().offset)?,
            None => NO_WEIGHT,
        },
        ig as u32,
        (ig >> 32) as u32,
        u32::from(o.mean),
        g,
        0,
    ])
}

/// The pipeline of one of the two kernels for `dtype`.
fn spec(dtype: DType, backward: bool, read_only: &'static [bool]) -> KernelSpec<'static> {
    static NAMES: [&str; 4] =
        ["cross_entropy (F32)", "cross_entropy (F64)", "cross_entropy_backward (F32)", "cross_entropy_backward (F64)"];
    fn fwd32() -> String {
        shaders::plain(shaders::CROSS_ENTROPY, DType::F32)
    }
    fn fwd64() -> String {
        shaders::plain(shaders::CROSS_ENTROPY, DType::F64)
    }
    fn bwd32() -> String {
        shaders::plain(shaders::CROSS_ENTROPY_BACKWARD, DType::F32)
    }
    fn bwd64() -> String {
        shaders::plain(shaders::CROSS_ENTROPY_BACKWARD, DType::F64)
    }
    let sources: [&'static dyn Fn() -> String; 4] = [&fwd32, &fwd64, &bwd32, &bwd64];
    let k = 2 * usize::from(backward) + usize::from(dtype == DType::F64);
    KernelSpec {
        checked: true,
        module: NAMES[k],
        source: sources[k],
        entry: if backward { "backward" } else { "forward" },
        constants: &[],
        read_only,
    }
}

/// The loss (0-d) and statistics `[loss, total, Σ w, ε, lse...]` of logits `x` `[N, C]`.
pub(crate) fn forward(
    x: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    o: &CrossEntropyOpts,
) -> Result<(Tensor, Tensor)> {
    let op = "cross_entropy";
    let dtype = x.dtype();
    let ctx = storage(x).ctx().clone();
    ctx.require(op, dtype)?;
    let (x, t) = (x.try_contiguous()?, target.try_contiguous()?);
    let w = weight.map(Tensor::try_contiguous).transpose()?;
    let (n, c) = (x.shape()[0], x.shape()[1]);
    let stats = GpuStorage::new(&ctx, op, dtype, n + 4)?;
    // ε goes in stats[3], where the kernel reads it (and the backward finds it).
    let eps = o.label_smoothing;
    let eps_bytes = if dtype == DType::F64 { eps.to_le_bytes().to_vec() } else { (eps as f32).to_le_bytes().to_vec() };
    ctx.queue.write_buffer(stats.buffer(), 3 * elem_bytes(dtype), &eps_bytes);
    // read-write (the kernel writes the status word), so a buffer of its own, not arena metadata
    let meta = ctx.upload_words(op, &meta(op, &x, &t, w.as_ref(), o, 0)?)?;
    let xb = storage(&x).buffer();
    let wb = w.as_ref().map_or(xb, |w| storage(w).buffer());
    let spec = spec(dtype, false, &[true, true, true, false, false]);
    ctx.dispatch(&spec, &[xb, storage(&t).buffer(), wb, stats.buffer(), &meta], [1, 1, 1]);
    // Targets uploaded from the host with every value a class skip the readback (the step stays
    // one submission); the kernel's own check still keeps any other index from being read.
    let status = if known_within(&t, 0, c as i64) { None } else { Some(ctx.read(&meta, 9 * 4, 4)) };
    ctx.release(meta);
    let bad = match status {
        Some(s) => u32::from_le_bytes(s?[..4].try_into().expect("4 bytes")) as usize,
        None => 0,
    };
    if bad > 0 {
        let value = t.try_narrow(0, bad - 1, 1)?.to_vec::<i64>()[0];
        return Err(out_of_bounds(value, c, o.ignore_index));
    }
    let stats = tensor(stats, &[n + 4]);
    Ok((stats.try_narrow(0, 0, 1)?.try_reshape(&[] as &[usize])?, stats))
}

/// The gradient with respect to the logits `x` (see `Tensor::cross_entropy_fused_backward`).
pub(crate) fn backward(
    x: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    stats: &Tensor,
    grad: &Tensor,
    o: &CrossEntropyOpts,
) -> Result<Tensor> {
    let op = "cross_entropy_backward";
    let dtype = x.dtype();
    let ctx = storage(x).ctx().clone();
    ctx.require(op, dtype)?;
    let (x, t, stats) = (x.try_contiguous()?, target.try_contiguous()?, stats.try_contiguous()?);
    let w = weight.map(Tensor::try_contiguous).transpose()?;
    let (n, c) = (x.shape()[0], x.shape()[1]);
    let dx = GpuStorage::new(&ctx, op, dtype, n * c)?;
    if n * c == 0 {
        return Ok(tensor(dx, &[n, c]));
    }
    let mut words = meta(op, &x, &t, w.as_ref(), o, check_u32(op, grad.layout().offset)?)?;
    // The backward has no status: its last word is where the statistics start.
    words[9] = check_u32(op, stats.layout().offset)?;
    let meta = Meta::words(&words);
    let xb = storage(&x).buffer();
    let wb = w.as_ref().map_or(xb, |w| storage(w).buffer());
    let spec = spec(dtype, true, &[true, true, true, true, true, true, false]);
    let grid = ctx.grid(op, groups_for(n * c))?;
    let bufs: &[&dyn Binding] =
        &[xb, storage(&t).buffer(), wb, storage(&stats).buffer(), &meta, storage(grad).buffer(), dx.buffer()];
    ctx.dispatch(&spec, bufs, grid);
    Ok(tensor(dx, &[n, c]))
}
