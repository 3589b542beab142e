//! The one fallible path for CPU tensor storage: every output buffer of a CPU kernel is reserved
//! here, so an allocation the system cannot satisfy is [`Error::OutOfMemory`] naming the op, the
//! bytes and the device, instead of Rust's default "memory allocation failed" abort.
//!
//! Sizes are checked first ([`crate::shape::checked_bytes`]): a request past `isize::MAX` bytes is
//! an overflow error, anything below that is asked of the allocator with `try_reserve_exact`.
//! (On Linux with overcommit, a request within the address space may still succeed and fault
//! later; what cannot be mapped at all fails here.)

use crate::tensor::ok;
use crate::{Element, Error, Result};

/// The error of a failed CPU allocation of `n` elements of `T` for `op`.
pub(crate) fn oom<T: Element>(op: &'static str, n: usize) -> Error {
    let bytes = (n as u128) * std::mem::size_of::<T>() as u128;
    Error::OutOfMemory(format!("{op}: cannot allocate {bytes} bytes ({n} elements of {}) on cpu", T::DTYPE))
}

/// An empty vector with room for exactly `n` elements, or `OutOfMemory` naming `op`.
pub(crate) fn try_vec<T: Element>(op: &'static str, n: usize) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| oom::<T>(op, n))?;
    Ok(v)
}

/// [`try_vec`] for any element type (kernels' intermediate outputs); the message names the bytes.
pub(crate) fn try_vec_any<T>(op: &'static str, n: usize) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| {
        let bytes = (n as u128) * std::mem::size_of::<T>() as u128;
        Error::OutOfMemory(format!("{op}: cannot allocate {bytes} bytes ({n} elements) on cpu"))
    })?;
    Ok(v)
}

/// An empty vector with room for exactly `n` elements of any type (kernels that write their output
/// into spare capacity); **panics** with the out-of-memory message (never aborts).
#[track_caller]
pub(crate) fn vec_uninit<T>(op: &'static str, n: usize) -> Vec<T> {
    ok(try_vec_any(op, n))
}

/// `n` copies of `x` of any clonable type (kernels' accumulators), reserved fallibly; **panics**
/// with the out-of-memory message (never aborts).
#[track_caller]
pub(crate) fn filled_any<T: Clone>(op: &'static str, n: usize, x: T) -> Vec<T> {
    let mut v = ok(try_vec_any(op, n));
    v.resize(n, x);
    v
}

/// `n` copies of `x`, or `OutOfMemory` naming `op`. Zeros come from the allocator already zeroed
/// (`calloc`: untouched pages are never written), as `vec![0; n]` does.
pub(crate) fn try_filled<T: Element>(op: &'static str, n: usize, x: T) -> Result<Vec<T>> {
    if x == T::ZERO && !(T::DTYPE.is_float() && x.to_f64().is_sign_negative()) {
        return try_zeroed(op, n);
    }
    let mut v = try_vec(op, n)?;
    v.resize(n, x);
    Ok(v)
}

/// [`try_filled`] that panics with the same message (never aborts).
#[track_caller]
pub(crate) fn filled<T: Element>(op: &'static str, n: usize, x: T) -> Vec<T> {
    ok(try_filled(op, n, x))
}

fn try_zeroed<T: Element>(op: &'static str, n: usize) -> Result<Vec<T>> {
    if n == 0 || std::mem::size_of::<T>() == 0 {
        return Ok(vec![T::ZERO; n]);
    }
    let layout = std::alloc::Layout::array::<T>(n).map_err(|_| oom::<T>(op, n))?;
    // SAFETY: the layout has a nonzero size (n > 0, T not zero-sized). Every `Element` (f32, f64,
    // i64, bool) has its zero (0.0, 0, false) as the all-zero bit pattern, so the zeroed block
    // holds `n` valid values; it was allocated by the global allocator with `T`'s layout and
    // exactly `n` elements of capacity, as `Vec::from_raw_parts` requires.
    unsafe {
        let p = std::alloc::alloc_zeroed(layout) as *mut T;
        if p.is_null() {
            return Err(oom::<T>(op, n));
        }
        Ok(Vec::from_raw_parts(p, n, n))
    }
}

/// `n` zero bytes, reserved fallibly and untouched (`calloc`: the pages are mapped lazily, so a
/// large buffer costs nothing until written), or `OutOfMemory` naming `op`.
pub(crate) fn try_zeroed_bytes(op: &'static str, n: usize) -> Result<Vec<u8>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let refused = || Error::OutOfMemory(format!("{op}: cannot allocate {n} bytes on cpu"));
    let layout = std::alloc::Layout::array::<u8>(n).map_err(|_| refused())?;
    // SAFETY: the layout has a nonzero size; a zeroed block of `n` bytes from the global
    // allocator with `u8`'s layout holds `n` valid bytes, as `Vec::from_raw_parts` requires.
    unsafe {
        let p = std::alloc::alloc_zeroed(layout);
        if p.is_null() {
            return Err(refused());
        }
        Ok(Vec::from_raw_parts(p, n, n))
    }
}

/// Collects `n` items of an exact-size iterator into a vector reserved through [`try_vec`].
pub(crate) fn try_collect<T: Element>(op: &'static str, n: usize, it: impl Iterator<Item = T>) -> Result<Vec<T>> {
    let mut v = try_vec(op, n)?;
    v.extend(it.take(n));
    Ok(v)
}

/// Checks, before a kernel whose own buffers are reserved with the panicking forms above runs
/// (pooling, sorting, indexing, convolution), that a buffer of `shape` and `dtype` for `op` can be
/// had: the size is checked ([`crate::shape::checked_bytes`], an overflow names the shape) and a
/// block that large is asked of the allocator and handed straight back. A refusal is
/// `Error::OutOfMemory` naming the op, the bytes and `cpu`, so those ops' `try_*` forms return it
/// instead of panicking. Requests under 1 MiB are not probed (the allocator gives them or the
/// process is already failing everywhere); a probe costs one `mmap`/`munmap` pair, untouched.
pub(crate) fn try_probe(op: &'static str, shape: &[usize], dtype: crate::DType) -> Result<()> {
    let bytes = crate::shape::checked_bytes(op, shape, dtype)?;
    if bytes < 1 << 20 {
        return Ok(());
    }
    let refused = || {
        let n: usize = shape.iter().product();
        Error::OutOfMemory(format!("{op}: cannot allocate {bytes} bytes ({n} elements of {dtype}) on cpu"))
    };
    let layout = std::alloc::Layout::from_size_align(bytes, 64).map_err(|_| refused())?;
    // SAFETY: the layout has a nonzero size (at least 1 MiB); the block, if granted, is freed at
    // once with the same layout and never read or written.
    unsafe {
        // `black_box`: an allocation that is freed unused may otherwise be optimised away
        // (LLVM elides such pairs), and the probe would always succeed
        let p = std::hint::black_box(std::alloc::alloc(layout));
        if p.is_null() {
            return Err(refused());
        }
        std::alloc::dealloc(p, layout);
    }
    Ok(())
}

/// [`try_probe`] for a result on `like`'s device: on the CPU the probe, on a GPU the size check
/// (the GPU's buffer pool returns its own `OutOfMemory`).
pub(crate) fn try_room(op: &'static str, like: &crate::Tensor, shape: &[usize], dtype: crate::DType) -> Result<()> {
    if like.device().is_cpu() {
        try_probe(op, shape, dtype)
    } else {
        crate::shape::checked_bytes(op, shape, dtype).map(|_| ())
    }
}

/// `n` items of `f(0..n)` in a vector reserved fallibly (kernels' plans sized by a user's
/// argument), or `OutOfMemory` naming `op`.
pub(crate) fn try_from_fn<T>(op: &'static str, n: usize, f: impl FnMut(usize) -> T) -> Result<Vec<T>> {
    let mut v = try_vec_any(op, n)?;
    v.extend((0..n).map(f));
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_sizes_fail_without_aborting() {
        // 2^46 f32 = 256 TiB: beyond a 47-bit user address space, so it fails even with overcommit
        let e = try_vec::<f32>("t", 1 << 46).unwrap_err();
        assert!(matches!(e, Error::OutOfMemory(_)), "{e}");
        assert!(e.to_string().contains("281474976710656 bytes"), "{e}");
        assert!(try_filled::<f64>("t", 1 << 46, 0.0).is_err());
        assert!(try_filled::<f64>("t", 1 << 46, 1.0).is_err());
        assert!(try_vec::<i64>("t", usize::MAX / 4).is_err());
    }

    #[test]
    fn ordinary_sizes_work() {
        assert_eq!(try_filled::<f32>("t", 3, 0.0).unwrap(), vec![0.0; 3]);
        assert_eq!(try_filled::<f32>("t", 2, -0.0).unwrap()[0].to_bits(), (-0.0f32).to_bits());
        assert_eq!(try_filled::<i64>("t", 2, 7).unwrap(), vec![7, 7]);
        assert_eq!(try_filled::<bool>("t", 0, true).unwrap(), Vec::<bool>::new());
        assert_eq!(try_collect::<i64>("t", 3, 0..3).unwrap(), vec![0, 1, 2]);
        assert_eq!(try_vec::<f64>("t", 5).unwrap().capacity(), 5);
    }
}
