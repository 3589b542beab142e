//! Walking strided layouts: gathering a view into a dense vector and N-ary elementwise loops.

use crate::shape::Layout;

/// Copies the elements of a (possibly non-contiguous) view into a dense row-major vector.
///
/// **Panics** (never aborts) when the copy cannot be allocated; see [`try_gather`].
#[track_caller]
pub fn gather<T: Copy>(data: &[T], layout: &Layout) -> Vec<T> {
    crate::tensor::ok(try_gather(data, layout))
}

/// Checked form of [`gather`]: `OutOfMemory` when the copy cannot be allocated.
pub fn try_gather<T: Copy>(data: &[T], layout: &Layout) -> crate::Result<Vec<T>> {
    let n = layout.numel();
    let mut out = super::alloc::try_vec_any::<T>("contiguous", n)?;
    if n == 0 {
        return Ok(out);
    }
    if layout.is_contiguous() {
        out.extend_from_slice(&data[layout.offset..layout.offset + n]);
        return Ok(out);
    }
    for_each_offset(&layout.shape, &[&layout.strides], &[layout.offset], |offs, len, steps| {
        let (mut o, st) = (offs[0], steps[0]);
        if st == 1 {
            out.extend_from_slice(&data[o..o + len]);
        } else {
            for _ in 0..len {
                out.push(data[o]);
                o += st;
            }
        }
    });
    Ok(out)
}

/// Walks `shape` in row-major order for several operands at once.
///
/// For every run along the last dimension, calls `f(starts, len, steps)` with each operand's storage
/// index of the run's first element, the run length and each operand's stride along the last dim.
/// All operands must have the same rank as `shape` (broadcast them first: stride 0 is fine).
pub fn for_each_offset<const K: usize>(
    shape: &[usize],
    strides: &[&[usize]; K],
    offsets: &[usize; K],
    mut f: impl FnMut([usize; K], usize, [usize; K]),
) {
    let numel: usize = shape.iter().product();
    if numel == 0 {
        return;
    }
    let rank = shape.len();
    if rank == 0 {
        f(*offsets, 1, [0; K]);
        return;
    }
    let inner = shape[rank - 1];
    let steps: [usize; K] = std::array::from_fn(|k| strides[k][rank - 1]);
    let mut idx: smallvec::SmallVec<[usize; 8]> = smallvec::smallvec![0; rank];
    let mut cur = *offsets;
    let outer = numel / inner;
    for _ in 0..outer {
        f(cur, inner, steps);
        // increment the multi-index over dims 0..rank-1
        let mut d = rank - 1;
        while d > 0 {
            d -= 1;
            idx[d] += 1;
            for k in 0..K {
                cur[k] += strides[k][d];
            }
            if idx[d] < shape[d] {
                break;
            }
            for k in 0..K {
                cur[k] -= strides[k][d] * shape[d];
            }
            idx[d] = 0;
        }
    }
}
