//! Autocast: mixed precision inside a closure, PyTorch's `torch.autocast("cpu", dtype)`.
//!
//! While [`autocast`] runs its closure on a thread, the ops on PyTorch's CPU autocast
//! "lower precision" list cast their floating inputs to the autocast dtype (`F16` or `BF16`):
//! here `matmul` (and so `mm`, `bmm`), `linear` and `conv2d`. Every other op runs in its inputs'
//! dtype, as on PyTorch's CPU: softmax, log_softmax, layer_norm, sum and mean of a BF16 tensor
//! stay BF16 there (checked by the fixture of scripts/fixtures/autocast.py; CUDA's lists differ).
//! PyTorch's CPU "fp32" list (losses such as `nll_loss`, `cross_entropy`, `mse_loss`) is not
//! applied yet: a loss of a 16-bit input here computes in f32 internally and returns the 16-bit
//! dtype. The lists are PyTorch's `aten/src/ATen/autocast_mode.cpp` (`KERNEL_CPU(...,
//! lower_precision_fp)` and `KERNEL_CPU(..., fp32)`) and the table "CPU Ops that can autocast to
//! bfloat16" of PyTorch's AMP documentation
//! (<https://pytorch.org/docs/stable/amp.html#cpu-ops-that-can-autocast-to-bfloat16>).
//!
//! The casts are ordinary [`Variable::to_dtype`] nodes: the gradient flows back through them
//! and arrives at each leaf in the leaf's own dtype.

use std::cell::Cell;

use ember_tensor::DType;

use crate::Variable;

thread_local! {
    static AUTOCAST: Cell<Option<DType>> = const { Cell::new(None) };
}

/// Restores the previous autocast state when dropped (also when the closure panics).
struct Restore(Option<DType>);

impl Drop for Restore {
    fn drop(&mut self) {
        AUTOCAST.with(|a| a.set(self.0));
    }
}

/// Runs `f` with autocast to the 16-bit float `dtype` on this thread (see the module docs);
/// nests (the innermost dtype applies) and the previous state comes back when `f` returns or
/// panics.
///
/// **Panics** when `dtype` is not `F16` or `BF16`.
///
/// ```
/// use ember_autograd::{autocast, Variable};
/// use ember_tensor::{DType, Tensor};
/// let x = Variable::new(Tensor::randn(&[2, 3]), true);
/// let w = Variable::new(Tensor::randn(&[4, 3]), true);
/// let y = autocast(DType::BF16, || x.linear(&w, None));
/// assert_eq!(y.dtype(), DType::BF16);
/// y.sum().backward();
/// assert_eq!(w.grad().unwrap().dtype(), DType::F32);
/// ```
#[track_caller]
pub fn autocast<R>(dtype: DType, f: impl FnOnce() -> R) -> R {
    assert!(dtype.is_half(), "autocast: the dtype must be F16 or BF16, got {dtype}");
    let _restore = Restore(AUTOCAST.with(|a| a.replace(Some(dtype))));
    f()
}

/// The autocast dtype active on this thread, if any.
pub fn autocast_dtype() -> Option<DType> {
    AUTOCAST.with(|a| a.get())
}

/// `v` cast to the autocast dtype when autocast is on and `v` is floating (lower-precision ops).
pub(crate) fn low(v: &Variable) -> Variable {
    match autocast_dtype() {
        Some(d) if v.dtype().is_float() && v.dtype() != d => v.to_dtype(d),
        _ => v.clone(),
    }
}
