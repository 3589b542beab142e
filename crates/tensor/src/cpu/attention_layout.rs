//! Where the fused attention kernel (`attention.rs`) reads its operands and writes its results:
//! batches of matrices in place, at any strides with a unit column stride ([`Blocks`]), and
//! outputs laid out in the memory order of the input they follow ([`Placement`]).
//!
//! Multi-head attention hands the kernel `q`, `k`, `v` as `[N, heads, L, E/heads]` permuted
//! views of `[N, L, heads, E/heads]` projections: reading them in place and writing the output
//! (and `dq`, `dk`, `dv`) in that same `[N, L, heads, ...]` order saves one gather per operand
//! forward and backward, and the merge of the heads after the op becomes a free reshape.

/// Row-major offsets of every index of the batch dims `shape` under `strides`, from `base`.
pub fn batch_offsets(shape: &[usize], strides: &[usize], base: usize) -> Vec<usize> {
    let count: usize = shape.iter().product();
    let mut offsets = Vec::with_capacity(count);
    if count == 0 {
        return offsets;
    }
    let mut idx = vec![0usize; shape.len()];
    loop {
        offsets.push(base + idx.iter().zip(strides).map(|(i, s)| i * s).sum::<usize>());
        let mut d = shape.len();
        loop {
            if d == 0 {
                return offsets;
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

/// A batch of `rows x cols` matrices read in place: element `(i, j)` of block `b` is
/// `data[offsets[b] + i * rs + j]`.
pub struct Blocks<'a, T> {
    /// The storage.
    pub data: &'a [T],
    /// Where each block starts.
    pub offsets: Vec<usize>,
    /// Row stride (0 for a broadcast row).
    pub rs: usize,
}

impl<'a, T> Blocks<'a, T> {
    /// `batch` dense `rows x cols` blocks one after the other from the start of `data`.
    pub fn dense(data: &'a [T], batch: usize, rows: usize, cols: usize) -> Blocks<'a, T> {
        Blocks { data, offsets: (0..batch).map(|b| b * rows * cols).collect(), rs: cols }
    }

    /// The blocks of a tensor's storage `data` with layout `shape` / `strides` / `offset`
    /// (`[batch..., rows, cols]`), or `None` when its columns are not adjacent (a unit stride,
    /// or at most one column) and the caller must copy it first.
    ///
    /// **Panics** when the layout reaches past `data` (a layout of another storage).
    pub fn of_layout(data: &'a [T], shape: &[usize], strides: &[usize], offset: usize) -> Option<Blocks<'a, T>> {
        let n = shape.len();
        assert!(n >= 2 && strides.len() == n, "attention: a layout of rank {n} with {} strides", strides.len());
        if shape[n - 1] > 1 && strides[n - 1] != 1 {
            return None;
        }
        if shape.contains(&0) {
            return Some(Blocks { data, offsets: batch_offsets(&shape[..n - 2], &strides[..n - 2], offset), rs: 0 });
        }
        let last: usize = offset + shape.iter().zip(strides).map(|(d, s)| (d - 1) * s).sum::<usize>();
        assert!(last < data.len(), "attention: layout reaches element {last} of a storage of {}", data.len());
        Some(Blocks { data, offsets: batch_offsets(&shape[..n - 2], &strides[..n - 2], offset), rs: strides[n - 2] })
    }

    /// Block `b` as a `rows x cols` matrix view.
    pub fn mat(&self, b: usize, rows: usize, cols: usize) -> crate::cpu::matmul::MatRef<'a, T> {
        crate::cpu::matmul::MatRef { data: self.data, off: self.offsets[b], rows, cols, rs: self.rs, cs: 1 }
    }
}

/// Where a batch of output matrices `[batch..., rows, cols]` lies in its dense buffer: block `b`'s
/// row `i` starts at `offsets[b] + i * rs` and its `cols` elements are adjacent. Made only by
/// [`Placement::following`], whose layout is a permutation of a dense one, so no two rows of any
/// blocks overlap and all lie inside the buffer of `len` elements.
pub struct Placement {
    /// Where each block's row 0 starts.
    pub offsets: Vec<usize>,
    /// Row stride.
    pub rs: usize,
    /// Elements in the buffer.
    pub len: usize,
    /// The buffer's dims in memory order (outermost first): the logical dims of `shape` as
    /// `shape[order[0]], shape[order[1]], ...`; the last is always the column dim.
    pub order: Vec<usize>,
}

impl Placement {
    /// The dense layout of an output of `shape` `[batch..., rows, cols]` whose batch and row dims
    /// lie in memory in the order of `strides` (an input's; larger stride outer, ties keep the
    /// logical order), the columns innermost.
    pub fn following(shape: &[usize], strides: &[usize]) -> Placement {
        let n = shape.len();
        let mut order: Vec<usize> = (0..n - 1).collect();
        // stable: equal strides (size-1 or broadcast dims) stay in logical order
        order.sort_by(|&a, &b| strides[b].cmp(&strides[a]));
        order.push(n - 1);
        let mut buf_strides = vec![0usize; n];
        let mut acc = 1usize;
        for &d in order.iter().rev() {
            buf_strides[d] = acc;
            acc *= shape[d];
        }
        Placement {
            offsets: batch_offsets(&shape[..n - 2], &buf_strides[..n - 2], 0),
            rs: buf_strides[n - 2],
            len: shape.iter().product(),
            order,
        }
    }

    /// The buffer's shape in memory order, and the permutation that turns a tensor of that shape
    /// into the logical `shape` (for `Tensor::permute`).
    pub fn memory_shape_and_permutation(&self, shape: &[usize]) -> (Vec<usize>, Vec<usize>) {
        let mem: Vec<usize> = self.order.iter().map(|&d| shape[d]).collect();
        let mut perm = vec![0usize; shape.len()];
        for (pos, &d) in self.order.iter().enumerate() {
            perm[d] = pos;
        }
        (mem, perm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_permuted_views_follow_their_projection_order() {
        // q: [N=2, H=3, L=4, D=5] as a permuted view of [N, L, H, D] dense, row stride H*D
        let (n, h, l, dd) = (2, 3, 4, 5);
        let strides = [l * h * dd, dd, h * dd, 1];
        let p = Placement::following(&[n, h, l, dd], &strides);
        assert_eq!(p.order, vec![0, 2, 1, 3]);
        assert_eq!(p.rs, h * dd);
        assert_eq!(p.offsets, batch_offsets(&[n, h], &[l * h * dd, dd], 0));
        let (mem, perm) = p.memory_shape_and_permutation(&[n, h, l, dd]);
        assert_eq!(mem, vec![n, l, h, dd]);
        assert_eq!(perm, vec![0, 2, 1, 3]);
        // every element of the buffer is covered exactly once
        let mut seen = vec![0u8; p.len];
        for &o in &p.offsets {
            for i in 0..l {
                for j in 0..dd {
                    seen[o + i * p.rs + j] += 1;
                }
            }
        }
        assert!(seen.iter().all(|&c| c == 1));
    }

    #[test]
    fn blocks_refuse_strided_columns_and_check_bounds() {
        let data = vec![0.0f32; 24];
        assert!(Blocks::of_layout(&data, &[2, 3, 4], &[12, 4, 1], 0).is_some());
        assert!(Blocks::of_layout(&data, &[2, 4, 3], &[12, 1, 4], 0).is_none());
        let b = Blocks::of_layout(&data, &[2, 3, 1], &[12, 4, 7], 0).expect("one column is adjacent");
        assert_eq!((b.offsets, b.rs), (vec![0, 12], 4));
        let r = std::panic::catch_unwind(|| Blocks::of_layout(&data, &[2, 3, 4], &[13, 4, 1], 0).map(|b| b.rs));
        assert!(r.is_err());
    }
}
