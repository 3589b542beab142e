//! Lazy elementwise fusion. A fusable op on GPU tensors (unary, binary with broadcasting, a scalar
//! operand, `full`, the relu gradient) dispatches nothing: its result's storage holds a pending
//! expression ([`Lazy`]) over its operand tensors. An op on a pending operand extends the
//! expression; the first thing that needs the buffer ([`GpuStorage::try_buffer`]: a readback, any
//! other kernel, a view the kernel cannot fold) computes the whole expression in one generated
//! kernel (`fusion_kernel.rs`), and inlined intermediates that are still referenced elsewhere are
//! written by the same dispatch, so nothing is computed twice.
//!
//! Limits, checked when an op is recorded: at most [`MAX_NODES`] nodes per expression (counted as
//! a tree, so a value used twice counts twice: the cost of an element never grows exponentially),
//! and at most [`max_inputs`] distinct input buffers (within the adapter's binding limit); an op
//! that would pass them first computes its pending operands. A pending operand is inlined only when
//! read element for element (same element count, contiguous, no broadcast); otherwise it is
//! computed first and read through its strides. `EMBER_GPU_FUSION=0` turns fusion off.

use std::cell::Cell;
use std::sync::{Arc, OnceLock};

use smallvec::SmallVec;

use super::context::{self, lock, Context};
use super::{check_u32, elem_bytes, fill, fusion_kernel, groups_for, storage, GpuStorage};
use crate::op_desc::{BinaryOp, UnaryOp};
use crate::shape::Layout;
use crate::storage::Storage;
use crate::{DType, Result, Tensor};

/// The most nodes (ops and input reads; constants are free) one fused expression holds.
pub(crate) const MAX_NODES: usize = 64;

/// The most distinct input buffers of one fused kernel (fewer where the adapter allows fewer
/// storage bindings: inputs, at least one output, the metadata and the values must fit).
pub(crate) fn max_inputs(ctx: &Context) -> usize {
    (ctx.limits.max_storage_buffers_per_shader_stage as usize).saturating_sub(4).clamp(1, 16)
}

/// One pending op.
#[derive(Clone, Copy, Debug)]
pub(crate) enum LazyOp {
    /// Every element `v` (converted to the dtype): `full`, and the scalar of `x * 0.9`.
    Full(f64),
    /// A unary op of `args[0]`.
    Unary(UnaryOp),
    /// A binary op of `args[0]` and `args[1]`.
    Binary(BinaryOp),
    /// The relu gradient: `args[0]` (the gradient) where `args[1]` (relu's output) is not `<= 0`.
    ReluGrad,
}

/// A pending expression node: the storage of one tensor that is not computed yet.
#[derive(Debug)]
pub(crate) struct Lazy {
    pub op: LazyOp,
    /// The operands, each seen through its layout broadcast to this node's shape.
    pub args: SmallVec<[Tensor; 2]>,
    /// Nodes of the expression this node would inline (a tree count).
    pub nodes: usize,
    /// The distinct input buffers it would read (storage addresses).
    pub leaves: SmallVec<[usize; 8]>,
}

thread_local! {
    static OVERRIDE: Cell<Option<bool>> = const { Cell::new(None) };
}

/// True unless `EMBER_GPU_FUSION=0` (read once).
fn env_enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("EMBER_GPU_FUSION").map_or(true, |v| v.trim() != "0"))
}

/// Whether ops recorded on this thread now are fused.
pub(crate) fn enabled() -> bool {
    OVERRIDE.with(Cell::get).unwrap_or_else(env_enabled)
}

/// Runs `f` with fusion turned on or off for the ops this thread records (restored after, also on
/// a panic).
pub(crate) fn with_fusion<R>(on: bool, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<bool>);
    impl Drop for Restore {
        fn drop(&mut self) {
            OVERRIDE.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(OVERRIDE.with(|c| c.replace(Some(on))));
    f()
}

/// The storage address of `t`, the identity of a buffer or a pending node.
pub(crate) fn addr(t: &Tensor) -> usize {
    Arc::as_ptr(&t.storage) as usize
}

/// The pending expression of `t`, if its buffer is not computed yet.
pub(crate) fn pending(t: &Tensor) -> Option<Arc<Lazy>> {
    let s = storage(t);
    if !s.is_pending() {
        return None;
    }
    lock(&s.lazy).clone()
}

/// True when `t` reads its storage element for element (the element index of the consumer is the
/// storage index), so a pending storage can be inlined.
pub(crate) fn reads_in_order(t: &Tensor) -> bool {
    t.layout.offset == 0 && t.layout.is_contiguous() && t.numel() == t.storage.len()
}

fn fusable_dtype(ctx: &Context, dtype: DType) -> bool {
    match dtype {
        DType::F32 | DType::I64 => true,
        DType::F64 => ctx.has_f64(),
        _ => false,
    }
}

/// Records `op` over `args` (layouts already broadcast to `shape`) as a pending tensor, computing
/// pending operands first where the limits ask for it.
fn record(
    ctx: &Arc<Context>,
    op: LazyOp,
    args: SmallVec<[Tensor; 2]>,
    shape: &[usize],
    dtype: DType,
) -> Result<Tensor> {
    let name = "fused elementwise";
    let n: usize = shape.iter().product();
    // What computing it will need, checked now so errors surface at the op, as without fusion.
    let bytes = (n as u64).saturating_mul(elem_bytes(dtype));
    ctx.size_class(name, bytes)?;
    ctx.grid(name, groups_for(check_u32(name, n)? as usize))?;
    let (mut nodes, mut leaves) = count(&args)?;
    if nodes > MAX_NODES || leaves.len() > max_inputs(ctx) {
        for a in &args {
            if pending(a).is_some_and(|l| !matches!(l.op, LazyOp::Full(_))) {
                storage(a).try_buffer()?;
            }
        }
        (nodes, leaves) = count(&args)?;
    }
    let lazy = Lazy { op, args, nodes, leaves };
    let s = GpuStorage::pending(ctx, dtype, n, lazy);
    Ok(Tensor::from_parts(Arc::new(Storage::Device(Box::new(s))), Layout::contiguous(shape)))
}

/// The node count and distinct input buffers of a node over `args`; pending operands that cannot
/// be inlined (a view, a broadcast) are computed here.
fn count(args: &[Tensor]) -> Result<(usize, SmallVec<[usize; 8]>)> {
    let mut nodes = 1;
    let mut leaves: SmallVec<[usize; 8]> = SmallVec::new();
    let add = |leaves: &mut SmallVec<[usize; 8]>, a: usize| {
        if !leaves.contains(&a) {
            leaves.push(a);
        }
    };
    for a in args {
        match pending(a) {
            // a constant is a value slot, not work: it does not count
            Some(l) if matches!(l.op, LazyOp::Full(_)) => {}
            Some(l) if reads_in_order(a) => {
                nodes += l.nodes;
                for &x in &l.leaves {
                    add(&mut leaves, x);
                }
            }
            p => {
                if p.is_some() {
                    storage(a).try_buffer()?;
                }
                nodes += 1;
                add(&mut leaves, addr(a));
            }
        }
    }
    Ok((nodes, leaves))
}

/// `op(x)` as a pending tensor, or `None` where fusion does not apply (then the op dispatches its
/// own kernel, which also reports unsupported dtypes).
pub(crate) fn unary(op: UnaryOp, x: &Tensor) -> Result<Option<Tensor>> {
    let ctx = storage(x).ctx().clone();
    let dtype = x.dtype();
    if !enabled() || x.numel() == 0 || !fusable_dtype(&ctx, dtype) || (dtype == DType::I64 && !op.keeps_int()) {
        return Ok(None);
    }
    record(&ctx, LazyOp::Unary(op), SmallVec::from_iter([x.clone()]), x.shape(), dtype).map(Some)
}

/// `op(a, b)` broadcast to `shape` as a pending tensor, or `None` where fusion does not apply.
pub(crate) fn binary(op: BinaryOp, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Option<Tensor>> {
    let ctx = storage(a).ctx().clone();
    let dtype = a.dtype();
    let n: usize = shape.iter().product();
    if !enabled() || n == 0 || !fusable_dtype(&ctx, dtype) || (dtype == DType::I64 && op == BinaryOp::Div) {
        return Ok(None);
    }
    let name = op.name();
    let la = Tensor::from_parts(a.storage.clone(), a.layout.broadcast_to(name, shape)?);
    let lb = Tensor::from_parts(b.storage.clone(), b.layout.broadcast_to(name, shape)?);
    record(&ctx, LazyOp::Binary(op), SmallVec::from_iter([la, lb]), shape, dtype).map(Some)
}

/// The relu gradient (`grad` where `out > 0` or NaN, else 0) as a pending tensor, for floats.
pub(crate) fn relu_grad(grad: &Tensor, out: &Tensor) -> Result<Option<Tensor>> {
    let ctx = storage(grad).ctx().clone();
    let dtype = grad.dtype();
    if !enabled() || grad.numel() == 0 || dtype == DType::I64 || !fusable_dtype(&ctx, dtype) {
        return Ok(None);
    }
    let shape = grad.shape().to_vec();
    let o = Tensor::from_parts(out.storage.clone(), out.layout.broadcast_to("relu_backward", &shape)?);
    record(&ctx, LazyOp::ReluGrad, SmallVec::from_iter([grad.clone(), o]), &shape, dtype).map(Some)
}

/// A pending tensor of `shape` filled with `v`, or `None` where fusion does not apply (Bool, empty).
pub(crate) fn full(shape: &[usize], v: f64, dtype: DType, index: usize) -> Result<Option<Tensor>> {
    let n: usize = shape.iter().product();
    if !enabled() || n == 0 || !matches!(dtype, DType::F32 | DType::F64 | DType::I64) {
        return Ok(None);
    }
    let ctx = context::get(index)?;
    // A full reads nothing: the checks of `record` without its counting.
    ctx.size_class("full", (n as u64).saturating_mul(elem_bytes(dtype)))?;
    check_u32("full", n)?;
    let lazy = Lazy { op: LazyOp::Full(v), args: SmallVec::new(), nodes: 1, leaves: SmallVec::new() };
    let s = GpuStorage::pending(&ctx, dtype, n, lazy);
    Ok(Some(Tensor::from_parts(Arc::new(Storage::Device(Box::new(s))), Layout::contiguous(shape))))
}

/// Computes the pending expression of `s` into a new buffer (a no-op once computed).
pub(crate) fn realize(s: &GpuStorage) -> Result<()> {
    let mut guard = lock(&s.lazy);
    if !s.is_pending() {
        return Ok(());
    }
    let lazy = guard.clone().expect("a storage without a buffer holds a pending expression");
    let ctx = s.ctx();
    let buf = ctx.acquire("fused elementwise", (s.len() as u64) * elem_bytes(s.dtype()))?;
    let done = match lazy.op {
        LazyOp::Full(v) => fill::fill_buffer(ctx, &buf, s.len(), v, s.dtype()),
        _ => fusion_kernel::run(ctx, &lazy, s.dtype(), s.len(), &buf),
    };
    if let Err(e) = done {
        ctx.release(buf);
        return Err(e);
    }
    s.set_buffer(buf);
    *guard = None;
    Ok(())
}
