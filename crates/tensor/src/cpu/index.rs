//! CPU kernels for the indexing family: `index_select index_add gather scatter scatter_add`.
//!
//! Every kernel first checks each index against the size of the indexed dimension (a pass over the
//! I64 index), so the loops that follow never read or write outside their buffers. Large outputs are
//! split into runs of whole rows (dim 0 of the output) on rayon's pool.

use rayon::prelude::*;

use super::elementwise::par_worth;
use super::strided::for_each_offset;
use crate::op_desc::ScatterMode;
use crate::shape::{contiguous_strides, Dims};
use crate::{Element, Error, Numeric, Result, Tensor};

/// Fails naming `op` at the first index outside `0..size`. Negative indices are out of range too, as
/// in PyTorch's `gather`, `scatter` and `index_select`.
pub fn check_range(op: &'static str, idx: &[i64], size: usize) -> Result<()> {
    // A negative index casts to a huge unsigned value, so one comparison covers both ends.
    match idx.iter().find(|&&i| i as u64 >= size as u64) {
        Some(&index) => Err(Error::IndexOutOfRange { op, index, size }),
        None => Ok(()),
    }
}

/// Splits the first `rows * row_len` elements of `out` into runs of whole rows and calls
/// `f(first_row, run)` on each; on rayon's pool when `work` (element-operations) is large.
pub(crate) fn par_rows<O: Send>(
    out: &mut [O],
    row_len: usize,
    rows: usize,
    work: usize,
    f: impl Fn(usize, &mut [O]) + Sync + Send,
) {
    if row_len == 0 || rows == 0 {
        return;
    }
    let out = &mut out[..rows * row_len];
    if !par_worth(work) || rows < 2 {
        f(0, out);
        return;
    }
    let per = rows.div_ceil(rayon::current_num_threads() * 4).max(1);
    out.par_chunks_mut(per * row_len).enumerate().for_each(|(c, run)| f(c * per, run));
}

/// Sizes before, at and after `dim`: `(outer, size, inner)`.
pub(crate) fn split_at_dim(shape: &[usize], dim: usize) -> (usize, usize, usize) {
    (shape[..dim].iter().product(), shape[dim], shape[dim + 1..].iter().product())
}

/// `src.index_select(dim, index)` for a checked `src` of rank >= 1 and a 0-d or 1-d I64 `index`;
/// `op` names the caller in errors (`index_select`, `embedding`).
pub fn index_select(op: &'static str, src: &Tensor, dim: usize, index: &Tensor) -> Result<Tensor> {
    let idx = index.cpu_data::<i64>();
    let (outer, n, inner) = split_at_dim(src.shape(), dim);
    check_range(op, &idx, n)?;
    let k = idx.len();
    let mut shape: Dims = src.shape().into();
    shape[dim] = k;
    Ok(with_dtype!(src.dtype(), T, {
        let data = src.cpu_data::<T>();
        let mut out = super::alloc::filled("index_select", outer * k * inner, T::default());
        par_rows(&mut out, inner, outer * k, outer * k * inner, |r0, run| {
            let (mut o, mut j) = (r0 / k, r0 % k);
            if inner == 1 {
                for d in run.iter_mut() {
                    *d = data[o * n + idx[j] as usize];
                    j += 1;
                    if j == k {
                        j = 0;
                        o += 1;
                    }
                }
            } else {
                for d in run.chunks_exact_mut(inner) {
                    let s = (o * n + idx[j] as usize) * inner;
                    d.copy_from_slice(&data[s..s + inner]);
                    j += 1;
                    if j == k {
                        j = 0;
                        o += 1;
                    }
                }
            }
        });
        Tensor::from_vec_unchecked(out, &shape)
    }))
}

/// `dst.index_add(dim, index, source)` for checked operands (`source` is `dst`'s shape with
/// `index.numel()` at `dim`). Each output row sums its sources in increasing source order, so the
/// result does not depend on the thread count.
pub fn index_add(op: &'static str, dst: &Tensor, dim: usize, index: &Tensor, source: &Tensor) -> Result<Tensor> {
    let idx = index.cpu_data::<i64>();
    let (outer, n, inner) = split_at_dim(dst.shape(), dim);
    check_range(op, &idx, n)?;
    let k = idx.len();
    // Bucket the source rows by target row (CSR): order[starts[r]..starts[r + 1]] go to row r.
    let mut starts = vec![0usize; n + 1];
    for &i in idx.iter() {
        starts[i as usize + 1] += 1;
    }
    for r in 0..n {
        starts[r + 1] += starts[r];
    }
    let mut fill = starts.clone();
    let mut order = vec![0usize; k];
    for (j, &i) in idx.iter().enumerate() {
        order[fill[i as usize]] = j;
        fill[i as usize] += 1;
    }
    Ok(with_numeric!(op, dst.dtype(), T, {
        let mut out = dst.cpu_data::<T>().into_owned();
        let src = source.cpu_data::<T>();
        let work = outer * (n + k) * inner;
        par_rows(&mut out, inner, outer * n, work, |r0, run| {
            add_rows::<T>(run, r0, n, k, inner, &starts, &order, &src)
        });
        Tensor::from_vec_unchecked(out, dst.shape())
    }))
}

#[allow(clippy::too_many_arguments)]
fn add_rows<T: Numeric>(
    run: &mut [T],
    r0: usize,
    n: usize,
    k: usize,
    inner: usize,
    starts: &[usize],
    order: &[usize],
    src: &[T],
) {
    let (mut o, mut r) = (r0 / n, r0 % n);
    for d in run.chunks_exact_mut(inner) {
        for &j in &order[starts[r]..starts[r + 1]] {
            let s = (o * k + j) * inner;
            for (d, &x) in d.iter_mut().zip(&src[s..s + inner]) {
                *d += x;
            }
        }
        r += 1;
        if r == n {
            r = 0;
            o += 1;
        }
    }
}

/// `src.gather(dim, index)` for a checked `src` of rank >= 1 and an I64 `index` of the same rank
/// whose sizes outside `dim` do not exceed `src`'s. Reads `src` through its strides (no copy).
pub fn gather(src: &Tensor, dim: usize, index: &Tensor) -> Result<Tensor> {
    let idx = index.cpu_data::<i64>();
    check_range("gather", &idx, src.shape()[dim])?;
    let shape = index.shape();
    Ok(with_dtype!(src.dtype(), T, Tensor::from_vec_unchecked(gather_typed::<T>(src, dim, shape, &idx), shape)))
}

fn gather_typed<T: Element>(src: &Tensor, dim: usize, shape: &[usize], idx: &[i64]) -> Vec<T> {
    let (data, l) = src.cpu_raw::<T>();
    let sd = l.strides[dim];
    // The walk over the index's shape moves through `src` along every dim but `dim`.
    let mut strides = l.strides.clone();
    strides[dim] = 0;
    let mut out = super::alloc::filled("gather", idx.len(), T::default());
    let row: usize = shape[1..].iter().product();
    par_rows(&mut out, row, shape[0], idx.len(), |r0, run| {
        let mut sub: Dims = shape.into();
        sub[0] = run.len() / row;
        let idx = &idx[r0 * row..];
        let mut p = 0;
        for_each_offset(&sub, &[&strides], &[l.offset + r0 * strides[0]], |[o], len, [st]| {
            for t in 0..len {
                run[p + t] = data[o + t * st + idx[p + t] as usize * sd];
            }
            p += len;
        });
    });
    out
}

/// `dst.scatter(dim, index, src)` (or `scatter_add`) for checked operands of one rank: `index`'s
/// sizes do not exceed `src`'s, nor `dst`'s outside `dim`. `src` is read through its strides, so an
/// expanded scalar serves `scatter_value`.
pub fn scatter(
    op: &'static str,
    dst: &Tensor,
    dim: usize,
    index: &Tensor,
    src: &Tensor,
    mode: ScatterMode,
) -> Result<Tensor> {
    let idx = index.cpu_data::<i64>();
    check_range(op, &idx, dst.shape()[dim])?;
    let shape = index.shape();
    Ok(match mode {
        ScatterMode::Set => with_dtype!(dst.dtype(), T, {
            let out = scatter_typed::<T>(dst, dim, shape, &idx, src, |d, s| *d = s);
            Tensor::from_vec_unchecked(out, dst.shape())
        }),
        ScatterMode::Add => with_numeric!(op, dst.dtype(), T, {
            let out = scatter_typed::<T>(dst, dim, shape, &idx, src, |d, s| *d += s);
            Tensor::from_vec_unchecked(out, dst.shape())
        }),
    })
}

fn scatter_typed<T: Element>(
    dst: &Tensor,
    dim: usize,
    shape: &[usize],
    idx: &[i64],
    src: &Tensor,
    f: impl Fn(&mut T, T) + Sync + Send,
) -> Vec<T> {
    let mut out = dst.cpu_data::<T>().into_owned();
    if idx.is_empty() {
        return out;
    }
    let dshape = dst.shape();
    let mut ostr = contiguous_strides(dshape);
    let sd = ostr[dim];
    ostr[dim] = 0;
    let (sdata, sl) = src.cpu_raw::<T>();
    let row: usize = shape[1..].iter().product();
    // Writes rows r0..r0 + nrows of the index into `run`, which starts at output row r0 when
    // dim != 0 and is the whole output when dim == 0.
    let write = |r0: usize, nrows: usize, run: &mut [T]| {
        let mut sub: Dims = shape.into();
        sub[0] = nrows;
        let mut p = r0 * row;
        for_each_offset(&sub, &[&ostr, &sl.strides], &[0, sl.offset + r0 * sl.strides[0]], |[o, s], len, [so, ss]| {
            for t in 0..len {
                f(&mut run[o + t * so + idx[p + t] as usize * sd], sdata[s + t * ss]);
            }
            p += len;
        });
    };
    if dim == 0 {
        // Any index row may write any output row: one sequential pass.
        write(0, shape[0], &mut out);
    } else {
        // Index row r only writes output row r, so runs of rows are independent.
        let orow: usize = dshape[1..].iter().product();
        par_rows(&mut out, orow, shape[0], idx.len(), |r0, run| write(r0, run.len() / orow, run));
    }
    out
}
