//! Dtype conversion on the CPU.

use rayon::prelude::*;

use crate::{DType, Element};

/// Elements per parallel piece of a large 16-bit conversion.
const PIECE: usize = 1 << 14;

/// Whether a conversion of `n` elements runs in parallel pieces: when large, and when the pool
/// has more than one thread (with one, handing the work to it costs two context switches and
/// gains nothing).
fn parallel(n: usize) -> bool {
    n >= 4 * PIECE && rayon::current_num_threads() > 1
}

/// Converts each element from `S` to `D` through `f64`, as PyTorch's casts do (float to int truncates
/// toward zero; nonzero becomes `true`). Callers never pass `S == D` (that is a no-op share).
///
/// Between `F32` and `F16`/`BF16` (what autocast and mixed precision do on every step), the
/// `half` crate's slice conversions run instead, in parallel pieces when large: `f32` to a 16-bit
/// type rounds to nearest even once from the exact value, as the route through `f64` does (an
/// `f32` is exact in `f64`), and widening is exact either way, so the results are the same.
///
/// `OutOfMemory` when the output cannot be allocated.
pub fn cast_slice<S: Element, D: Element>(src: &[S]) -> crate::Result<Vec<D>> {
    use half::slice::HalfFloatSliceExt;
    use half::{bf16, f16};
    // SAFETY (every arm): the dtype tags say `S` and `D` are the slice types of the closure.
    unsafe {
        match (S::DTYPE, D::DTYPE) {
            (DType::F32, DType::F16) => convert(src, |s: &[f32], d: &mut [f16]| d.convert_from_f32_slice(s)),
            (DType::F32, DType::BF16) => convert(src, |s: &[f32], d: &mut [bf16]| d.convert_from_f32_slice(s)),
            (DType::F16, DType::F32) => convert(src, |s: &[f16], d: &mut [f32]| s.convert_to_f32_slice(d)),
            (DType::BF16, DType::F32) => convert(src, |s: &[bf16], d: &mut [f32]| s.convert_to_f32_slice(d)),
            _ => super::alloc::try_collect("to_dtype", src.len(), src.iter().map(|&x| D::from_f64(x.to_f64()))),
        }
    }
}

/// `src` (`S`, the same type as `A`) converted by `f` (a slice of `A` into a slice of `B` of the
/// same length) into a new vector of `D` (the same type as `B`), in parallel pieces when large.
///
/// # Safety
/// `S` is `A` and `D` is `B`.
unsafe fn convert<S: Element, D: Element, A: Sync, B: Send>(
    src: &[S],
    f: impl Fn(&[A], &mut [B]) + Sync,
) -> crate::Result<Vec<D>> {
    let mut out = super::alloc::try_filled::<D>("to_dtype", src.len(), D::ZERO)?;
    // SAFETY: the caller's contract: the same types, so the same size, alignment and validity.
    let (s, d) = unsafe {
        (
            std::slice::from_raw_parts(src.as_ptr().cast::<A>(), src.len()),
            std::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<B>(), out.len()),
        )
    };
    if parallel(s.len()) {
        s.par_chunks(PIECE).zip(d.par_chunks_mut(PIECE)).for_each(|(s, d)| f(s, d));
    } else {
        f(s, d);
    }
    Ok(out)
}
