//! The GPU form of [`FusedMap::run_foreach`](crate::FusedMap::run_foreach): every tuple in ONE
//! dispatch of the map's ordinary kernel (`fused_map.rs`) over packed buffers. Each input role
//! (all tuples' input `k`) is one dense buffer: when the role's tensors already lie back to back
//! in one storage (the outputs of the last foreach run: an optimizer's parameters and state after
//! its first step) that storage is bound as it is; otherwise they are copied into a fresh buffer
//! with buffer-to-buffer copies (no dispatch). The outputs are dense buffers of the total length,
//! and each tuple's outputs are views into them, back to back, so the next run binds them as they
//! are. Per step of an optimizer this is one dispatch and one copy per gradient.

use super::{elem_bytes, storage, tensor, GpuStorage};
use crate::ops::fused_expr::Flat;
use crate::shape::Layout;
use crate::{Result, Tensor};

/// Runs `flat` on every tuple of `tuples` (checked: one device and float dtype, one shape per
/// tuple) in one dispatch. `Ok(None)` when the kernel would need more storage bindings than the
/// adapter allows.
pub(crate) fn run(
    op: &'static str,
    key: &str,
    flat: &Flat,
    tuples: &[Vec<Tensor>],
    values: &[f64],
) -> Result<Option<Vec<Vec<Tensor>>>> {
    let total: usize = tuples.iter().map(|t| t[0].numel()).sum();
    let mut packed = Vec::with_capacity(tuples[0].len());
    for k in 0..tuples[0].len() {
        let role: Vec<&Tensor> = tuples.iter().map(|t| &t[k]).collect();
        packed.push(pack(op, &role, total)?);
    }
    let Some(outs) = super::fused_map::run(op, key, flat, &packed, values)? else { return Ok(None) };
    let mut result: Vec<Vec<Tensor>> = tuples.iter().map(|_| Vec::with_capacity(outs.len())).collect();
    for o in &outs {
        let mut offset = 0;
        for (r, t) in result.iter_mut().zip(tuples) {
            let layout = Layout { offset, ..Layout::contiguous(t[0].shape()) };
            r.push(Tensor::from_parts(o.storage.clone(), layout));
            offset += t[0].numel();
        }
    }
    Ok(Some(result))
}

/// The tensors of one role as one dense tensor of `total` elements: their own storage when they
/// lie back to back in it, else a fresh buffer they are copied into.
fn pack(op: &'static str, role: &[&Tensor], total: usize) -> Result<Tensor> {
    let first = role[0];
    let mut next = first.layout.offset;
    let in_place = role.iter().all(|t| {
        let here = t.is_contiguous() && t.shares_storage(first) && t.layout.offset == next;
        next += t.numel();
        here
    });
    if in_place {
        let layout = Layout { offset: first.layout.offset, ..Layout::contiguous(&[total]) };
        return Ok(Tensor::from_parts(first.storage.clone(), layout));
    }
    let ctx = storage(first).ctx().clone();
    let dst = GpuStorage::new(&ctx, op, first.dtype(), total)?;
    let eb = elem_bytes(first.dtype());
    let mut at = 0u64;
    for t in role {
        // a strided tensor is made dense first (one copy kernel); a dense one is copied directly
        let t = if t.is_contiguous() { (*t).clone() } else { t.try_contiguous()? };
        let bytes = t.numel() as u64 * eb;
        ctx.copy_buffer(storage(&t).buffer(), t.layout.offset as u64 * eb, dst.buffer(), at, bytes);
        at += bytes;
    }
    Ok(tensor(dst, &[total]))
}
