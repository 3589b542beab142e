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
    match (S::DTYPE, D::DTYPE) {
        (DType::F32, DType::F16) => narrow::<S, D, half::f16>(src),
        (DType::F32, DType::BF16) => narrow::<S, D, half::bf16>(src),
        (DType::F16, DType::F32) => widen::<S, D, half::f16>(src),
        (DType::BF16, DType::F32) => widen::<S, D, half::bf16>(src),
        _ => super::alloc::try_collect("to_dtype", src.len(), src.iter().map(|&x| D::from_f64(x.to_f64()))),
    }
}

/// Reinterprets `s` as a slice of `U`.
///
/// # Safety
/// `T` and `U` are the same type.
unsafe fn same<T, U>(s: &[T]) -> &[U] {
    // SAFETY: the caller's contract: same type, so same size, alignment and validity.
    unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<U>(), s.len()) }
}

/// Reinterprets `s` as a mutable slice of `U`.
///
/// # Safety
/// `T` and `U` are the same type.
unsafe fn same_mut<T, U>(s: &mut [T]) -> &mut [U] {
    // SAFETY: as in `same`.
    unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<U>(), s.len()) }
}

/// `f32` (`S`) to the 16-bit type `H` (`D`), rounding to nearest even.
fn narrow<S: Element, D: Element, H>(src: &[S]) -> crate::Result<Vec<D>>
where
    [H]: half::slice::HalfFloatSliceExt,
    H: Send + Sync,
{
    use half::slice::HalfFloatSliceExt;
    let mut out = super::alloc::try_filled::<D>("to_dtype", src.len(), D::ZERO)?;
    // SAFETY: `cast_slice` calls this only with `S` = f32 and `D` = `H` (their dtype tags).
    let (s, d) = unsafe { (same::<S, f32>(src), same_mut::<D, H>(&mut out)) };
    if parallel(s.len()) {
        d.par_chunks_mut(PIECE).zip(s.par_chunks(PIECE)).for_each(|(d, s)| d.convert_from_f32_slice(s));
    } else {
        d.convert_from_f32_slice(s);
    }
    Ok(out)
}

/// The 16-bit type `H` (`S`) to `f32` (`D`), exactly.
fn widen<S: Element, D: Element, H>(src: &[S]) -> crate::Result<Vec<D>>
where
    [H]: half::slice::HalfFloatSliceExt,
    H: Send + Sync,
{
    use half::slice::HalfFloatSliceExt;
    let mut out = super::alloc::try_filled::<D>("to_dtype", src.len(), D::ZERO)?;
    // SAFETY: `cast_slice` calls this only with `S` = `H` and `D` = f32 (their dtype tags).
    let (s, d) = unsafe { (same::<S, H>(src), same_mut::<D, f32>(&mut out)) };
    if parallel(s.len()) {
        s.par_chunks(PIECE).zip(d.par_chunks_mut(PIECE)).for_each(|(s, d)| s.convert_to_f32_slice(d));
    } else {
        s.convert_to_f32_slice(d);
    }
    Ok(out)
}
