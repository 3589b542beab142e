//! Dtype conversion on the CPU.

use crate::Element;

/// Converts each element from `S` to `D` through `f64`, as PyTorch's casts do (float to int truncates
/// toward zero; nonzero becomes `true`). Callers never pass `S == D` (that is a no-op share).
///
/// `OutOfMemory` when the output cannot be allocated.
pub fn cast_slice<S: Element, D: Element>(src: &[S]) -> crate::Result<Vec<D>> {
    super::alloc::try_collect("to_dtype", src.len(), src.iter().map(|&x| D::from_f64(x.to_f64())))
}
