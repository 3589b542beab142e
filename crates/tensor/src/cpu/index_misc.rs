//! CPU kernels for `one_hot masked_select flip repeat` (embedding reuses [`super::index`]).

use smallvec::SmallVec;

use super::index::{check_range, par_rows};
use super::strided::{for_each_offset, gather};
use crate::shape::{Dims, Layout};
use crate::{Element, Error, Result, Tensor};

/// One-hot encoding of a checked I64 tensor: shape `shape + [classes]`, I64. `num_classes == -1`
/// infers `max + 1`.
pub fn one_hot(t: &Tensor, num_classes: i64) -> Result<Tensor> {
    let op = "one_hot";
    let idx = t.cpu_data::<i64>();
    let classes = if num_classes == -1 {
        match idx.iter().max() {
            Some(&m) => m.max(-1).saturating_add(1) as usize,
            None => crate::bail!(op, "can not infer the total number of classes from an empty tensor"),
        }
    } else if num_classes < 0 {
        crate::bail!(op, "num_classes must be -1 or non-negative, got {num_classes}");
    } else {
        num_classes as usize
    };
    check_range(op, &idx, classes)?;
    let n = idx.len();
    let mut out = super::alloc::try_filled(op, n.checked_mul(classes).ok_or_else(|| too_big(op))?, 0i64)?;
    par_rows(&mut out, classes, n, n * classes, |r0, run| {
        for (row, &c) in run.chunks_exact_mut(classes).zip(&idx[r0..]) {
            row[c as usize] = 1;
        }
    });
    let mut shape: Dims = t.shape().into();
    shape.push(classes);
    Ok(Tensor::from_vec_unchecked(out, &shape))
}

fn too_big(op: &'static str) -> Error {
    Error::InvalidArgument { op, msg: "the result would have more elements than fit in memory".into() }
}

/// The elements of `t` where `mask` (Bool) is true, both broadcast to `shape`, as a 1-d tensor.
pub fn masked_select(t: &Tensor, mask: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let (m, lm) = mask.cpu_raw::<bool>();
    let lm = lm.broadcast_to("masked_select", shape)?;
    Ok(with_dtype!(t.dtype(), T, {
        let (d, lt) = t.cpu_raw::<T>();
        let lt = lt.broadcast_to("masked_select", shape)?;
        let mut out: Vec<T> = Vec::new();
        for_each_offset(shape, &[&lt.strides, &lm.strides], &[lt.offset, lm.offset], |[o, om], len, [st, sm]| {
            for i in 0..len {
                if m[om + i * sm] {
                    out.push(d[o + i * st]);
                }
            }
        });
        let n = out.len();
        Tensor::from_vec_unchecked(out, &[n])
    }))
}

/// A copy of `t` (rank >= 1) reversed along every dim `d` with `flip[d]`.
pub fn flip(t: &Tensor, flip: &[bool]) -> Tensor {
    with_dtype!(t.dtype(), T, Tensor::from_vec_unchecked(flip_typed::<T>(t, flip), t.shape()))
}

fn flip_typed<T: Element>(t: &Tensor, flip: &[bool]) -> Vec<T> {
    let (data, l) = t.cpu_raw::<T>();
    let n = l.numel();
    let mut out = super::alloc::filled("index_misc", n, T::default());
    if n == 0 {
        return out;
    }
    // Read through signed strides: a flipped dim starts at its last element and steps backwards.
    let mut base = l.offset as isize;
    let strides: SmallVec<[isize; 6]> = (0..l.rank())
        .map(|d| {
            let s = l.strides[d] as isize;
            if flip[d] {
                base += (l.shape[d] as isize - 1) * s;
                -s
            } else {
                s
            }
        })
        .collect();
    let row: usize = l.shape[1..].iter().product();
    par_rows(&mut out, row, l.shape[0], n, |r0, run| {
        let mut sub: Dims = l.shape.clone();
        sub[0] = run.len() / row;
        let mut p = 0;
        walk_signed(&sub, &strides, base + r0 as isize * strides[0], |o, len, st| {
            let dst = &mut run[p..p + len];
            if st == 1 {
                dst.copy_from_slice(&data[o as usize..o as usize + len]);
            } else if st == -1 {
                let src = &data[(o + 1 - len as isize) as usize..=o as usize];
                for (d, &x) in dst.iter_mut().zip(src.iter().rev()) {
                    *d = x;
                }
            } else {
                for (i, d) in dst.iter_mut().enumerate() {
                    *d = data[(o + i as isize * st) as usize];
                }
            }
            p += len;
        });
    });
    out
}

/// Like [`for_each_offset`] for one operand with signed strides: `f(start, len, step)` per run along
/// the last dim, in row-major order. `shape` has rank >= 1 and no zero size.
fn walk_signed(shape: &[usize], strides: &[isize], offset: isize, mut f: impl FnMut(isize, usize, isize)) {
    let rank = shape.len();
    let inner = shape[rank - 1];
    let outer: usize = shape[..rank - 1].iter().product();
    let mut idx: SmallVec<[usize; 8]> = smallvec::smallvec![0; rank];
    let mut cur = offset;
    for _ in 0..outer {
        f(cur, inner, strides[rank - 1]);
        let mut d = rank - 1;
        while d > 0 {
            d -= 1;
            idx[d] += 1;
            cur += strides[d];
            if idx[d] < shape[d] {
                break;
            }
            cur -= strides[d] * shape[d] as isize;
            idx[d] = 0;
        }
    }
}

/// `t` tiled `repeats[i]` times along each dim (`repeats.len() >= rank`, leading dims added),
/// as `torch.Tensor.repeat`.
pub fn repeat(t: &Tensor, repeats: &[usize]) -> Tensor {
    let l = t.layout();
    let lead = repeats.len() - l.rank();
    // View the result as [r0, s0, r1, s1, ...] where the r dims have stride 0, then copy it out.
    let mut shape = Dims::new();
    let mut strides = Dims::new();
    let mut out_shape = Dims::new();
    for (i, &r) in repeats.iter().enumerate() {
        let (s, st) = if i < lead { (1, 0) } else { (l.shape[i - lead], l.strides[i - lead]) };
        shape.extend_from_slice(&[r, s]);
        strides.extend_from_slice(&[0, st]);
        out_shape.push(r * s);
    }
    let view = Layout { shape, strides, offset: l.offset };
    with_dtype!(t.dtype(), T, {
        let (data, _) = t.cpu_raw::<T>();
        Tensor::from_vec_unchecked(gather(data, &view), &out_shape)
    })
}
