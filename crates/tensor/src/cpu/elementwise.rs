//! Elementwise loops shared by the unary, binary and comparison kernels: contiguous fast paths,
//! strided broadcasting walks, and rayon-parallel chunks for large tensors.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::alloc::try_vec_any;
use super::strided::for_each_offset;
use crate::shape::Layout;
use crate::{Element, Result, Tensor};

/// Elementwise work above this many elements is split across threads.
pub const PAR_THRESHOLD: usize = 1 << 16;
const CHUNK: usize = 1 << 14;

/// True when elementwise work of `work` elements is split across rayon's pool: at least
/// [`PAR_THRESHOLD`] elements, and a pool of more than one thread. With one thread
/// (`RAYON_NUM_THREADS=1`) a parallel loop only hands the work to the pool's one worker and
/// waits for it: two context switches per op, and a quarter of a one-thread mlp-step-amp
/// profile. Every kernel that asks this splits its work into the same pieces either way (or, in
/// the reductions, into pieces whose sums do not depend on the split), so a one-thread pool gets
/// the results it got before.
pub fn par_worth(work: usize) -> bool {
    work >= PAR_THRESHOLD && rayon::current_num_threads() > 1
}

/// `f(scratch, i)` for every `i < n`: over rayon's pool (a scratch per split, as
/// `for_each_init`) when it has more than one thread, else on the calling thread with one scratch
/// (see [`par_worth`] for why).
pub fn for_each_init<S>(n: usize, init: impl Fn() -> S + Sync + Send, f: impl Fn(&mut S, usize) + Sync + Send) {
    if rayon::current_num_threads() > 1 {
        (0..n).into_par_iter().for_each_init(init, f);
    } else {
        let mut scratch = init();
        (0..n).for_each(|i| f(&mut scratch, i));
    }
}

/// A vector of `n` elements produced in parallel chunks of [`CHUNK`]: `fill(start, chunk)` writes
/// elements `start..start + chunk.len()`. The output is never zero-filled first (that memset was a
/// tenth of a CNN training step).
///
/// # Safety
/// `fill` must write every element of every chunk it is given.
pub(crate) unsafe fn par_filled<O: Send>(
    n: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<O>]) + Sync + Send,
) -> Result<Vec<O>> {
    let mut out = try_vec_any::<O>("elementwise", n)?;
    out.spare_capacity_mut()[..n].par_chunks_mut(CHUNK).enumerate().for_each(|(c, o)| fill(c * CHUNK, o));
    // SAFETY: the chunks cover `..n` exactly and `fill` writes every element of each chunk (its
    // contract; every caller zips the chunk with input slices of the chunk's own length).
    unsafe { out.set_len(n) };
    Ok(out)
}

/// `f` applied to every element of `a`, in row-major order.
pub fn map<A: Element, O: Element>(a: &Tensor, f: impl Fn(A) -> O + Sync + Send) -> Result<Vec<O>> {
    let data = a.try_cpu_data::<A>()?;
    map_slice(&data, f)
}

/// `f` applied to every element of a dense slice, in parallel for large inputs.
pub fn map_slice<A: Copy + Sync, O: Send + Copy + Default>(
    data: &[A],
    f: impl Fn(A) -> O + Sync + Send,
) -> Result<Vec<O>> {
    if par_worth(data.len()) {
        // SAFETY: each chunk is zipped with the input slice of its own length, so every element
        // is written.
        unsafe {
            par_filled(data.len(), |start, o| {
                let end = start + o.len();
                for (o, &x) in o.iter_mut().zip(&data[start..end]) {
                    o.write(f(x));
                }
            })
        }
    } else {
        Ok(data.iter().map(|&x| f(x)).collect())
    }
}

/// `f(a, b)` for every element of the broadcast of `a` and `b` to `shape` (row-major result).
pub fn zip_map<A: Element, B: Element, O: Element>(
    a: &Tensor,
    b: &Tensor,
    shape: &[usize],
    f: impl Fn(A, B) -> O + Sync + Send,
) -> Result<Vec<O>> {
    let (da, la) = a.cpu_raw::<A>();
    let (db, lb) = b.cpu_raw::<B>();
    let n: usize = shape.iter().product();
    let same = la.shape.as_slice() == shape && lb.shape.as_slice() == shape;
    if same && la.is_contiguous() && lb.is_contiguous() {
        let xa = &da[la.offset..la.offset + n];
        let xb = &db[lb.offset..lb.offset + n];
        return zip_slices(xa, xb, f);
    }
    if lb.numel() == 1 && la.shape.as_slice() == shape && la.is_contiguous() {
        let y = db[lb.offset];
        return map_slice(&da[la.offset..la.offset + n], |x| f(x, y));
    }
    if la.numel() == 1 && lb.shape.as_slice() == shape && lb.is_contiguous() {
        let x = da[la.offset];
        return map_slice(&db[lb.offset..lb.offset + n], |y| f(x, y));
    }
    let la = la.broadcast_to("zip_map", shape).expect("shapes checked by caller");
    let lb = lb.broadcast_to("zip_map", shape).expect("shapes checked by caller");
    zip_strided(da, &la, db, &lb, f)
}

fn zip_slices<A: Copy + Sync, B: Copy + Sync, O: Send + Copy + Default>(
    xa: &[A],
    xb: &[B],
    f: impl Fn(A, B) -> O + Sync + Send,
) -> Result<Vec<O>> {
    if par_worth(xa.len()) {
        // SAFETY: each chunk is zipped with input slices of its own length (xa and xb are as long
        // as the output), so every element is written.
        unsafe {
            par_filled(xa.len(), |start, o| {
                let end = start + o.len();
                for ((o, &x), &y) in o.iter_mut().zip(&xa[start..end]).zip(&xb[start..end]) {
                    o.write(f(x, y));
                }
            })
        }
    } else {
        Ok(xa.iter().zip(xb).map(|(&x, &y)| f(x, y)).collect())
    }
}

/// The general case: both operands already broadcast to the output shape (stride 0 allowed).
pub fn zip_strided<A: Copy, B: Copy, O>(
    da: &[A],
    la: &Layout,
    db: &[B],
    lb: &Layout,
    f: impl Fn(A, B) -> O,
) -> Result<Vec<O>> {
    let mut out = try_vec_any::<O>("elementwise", la.numel())?;
    for_each_offset(&la.shape, &[&la.strides, &lb.strides], &[la.offset, lb.offset], |[oa, ob], len, [sa, sb]| {
        if sa == 1 && sb == 1 {
            out.extend(da[oa..oa + len].iter().zip(&db[ob..ob + len]).map(|(&x, &y)| f(x, y)));
        } else if sa == 1 && sb == 0 {
            let y = db[ob];
            out.extend(da[oa..oa + len].iter().map(|&x| f(x, y)));
        } else if sa == 0 && sb == 1 {
            let x = da[oa];
            out.extend(db[ob..ob + len].iter().map(|&y| f(x, y)));
        } else {
            for i in 0..len {
                out.push(f(da[oa + i * sa], db[ob + i * sb]));
            }
        }
    });
    Ok(out)
}
