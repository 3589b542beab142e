//! CPU kernel for `cat` (and so `stack`): block copies into one output.

use super::index::{par_rows, split_at_dim};
use super::strided::for_each_offset;
use crate::{Element, Tensor};

/// Concatenates checked tensors along `dim` into a tensor of `shape` (the inputs agree with `shape`
/// outside `dim`). Contiguous inputs are copied as blocks of `size * inner` elements per outer index
/// (one `memcpy` each for dim 0), in parallel over outer rows when large; other inputs are walked
/// through their strides straight into place.
pub fn cat(tensors: &[&Tensor], dim: usize, shape: &[usize]) -> Tensor {
    with_dtype!(tensors[0].dtype(), T, Tensor::from_vec_unchecked(cat_typed::<T>(tensors, dim, shape), shape))
}

fn cat_typed<T: Element>(tensors: &[&Tensor], dim: usize, shape: &[usize]) -> Vec<T> {
    let (outer, total, inner) = split_at_dim(shape, dim);
    let row = total * inner;
    let n = outer * row;
    let mut out = super::alloc::filled("cat", n, T::default());
    // (data, column offset in an output row, block length) of each contiguous input.
    let mut dense: Vec<(&[T], usize, usize)> = Vec::with_capacity(tensors.len());
    let mut strided: Vec<(&Tensor, usize, usize)> = Vec::new();
    let mut col = 0;
    for t in tensors {
        let blk = t.shape().get(dim).copied().unwrap_or(0) * inner;
        if t.numel() > 0 && t.rank() == shape.len() {
            let (data, l) = t.cpu_raw::<T>();
            if l.is_contiguous() {
                dense.push((&data[l.offset..l.offset + t.numel()], col, blk));
            } else {
                strided.push((t, col, blk));
            }
        }
        col += blk;
    }
    par_rows(&mut out, row, outer, n, |r0, run| {
        for (o, dst) in run.chunks_exact_mut(row).enumerate() {
            let o = r0 + o;
            for &(data, col, blk) in &dense {
                let (d, s) = (&mut dst[col..col + blk], &data[o * blk..(o + 1) * blk]);
                if blk <= 8 {
                    // Short blocks (stack along a late dim): a plain loop beats a memcpy call.
                    for (d, &s) in d.iter_mut().zip(s) {
                        *d = s;
                    }
                } else {
                    d.copy_from_slice(s);
                }
            }
        }
    });
    for (t, col, blk) in strided {
        let (data, l) = t.cpu_raw::<T>();
        // Runs along the last dim never cross a block: a block is whole last-dim runs.
        let mut q = 0;
        for_each_offset(&l.shape, &[&l.strides], &[l.offset], |[s], len, [st]| {
            let at = (q / blk) * row + col + q % blk;
            let dst = &mut out[at..at + len];
            if st == 1 {
                dst.copy_from_slice(&data[s..s + len]);
            } else {
                for (i, d) in dst.iter_mut().enumerate() {
                    *d = data[s + i * st];
                }
            }
            q += len;
        });
    }
    out
}
