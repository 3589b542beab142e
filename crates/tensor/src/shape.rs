//! Shapes, strides and the arithmetic on them: dims, broadcasting, reshape inference.

use smallvec::SmallVec;

use crate::{DType, Error, Result};

/// A small vector of sizes or strides; tensors of rank up to 6 need no heap allocation.
pub type Dims = SmallVec<[usize; 6]>;

/// An integer that names a dimension: any integer literal works, negative counts from the end.
pub trait Dim: Copy {
    /// The value as a signed index.
    fn to_isize(self) -> isize;
}

macro_rules! impl_dim {
    ($($t:ty),*) => {$(
        impl Dim for $t {
            #[inline]
            #[allow(clippy::unnecessary_cast)]
            fn to_isize(self) -> isize { self as isize }
        }
    )*};
}
impl_dim!(i32, i64, isize, usize, u32, u64);

/// How a tensor's elements sit in its storage: sizes, strides (in elements) and a start offset.
///
/// Strides are never negative; a stride of 0 marks a broadcast (expanded) dimension.
#[derive(Debug, PartialEq, Eq)]
pub struct Layout {
    /// Size of each dimension.
    pub shape: Dims,
    /// Distance in elements between neighbours along each dimension.
    pub strides: Dims,
    /// Index of the first element in the storage.
    pub offset: usize,
}

impl Clone for Layout {
    /// Copies the dims as slices (one `memcpy` each): smallvec's own `Clone` goes element by
    /// element through an iterator, which showed as 2-3% of the small-autograd benchmark.
    fn clone(&self) -> Layout {
        Layout { shape: Dims::from_slice(&self.shape), strides: Dims::from_slice(&self.strides), offset: self.offset }
    }
}

impl Layout {
    /// A row-major contiguous layout of `shape` starting at 0.
    pub fn contiguous(shape: &[usize]) -> Layout {
        Layout { shape: shape.into(), strides: contiguous_strides(shape), offset: 0 }
    }

    /// Number of elements.
    #[inline]
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// Number of dimensions.
    #[inline]
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// True when the elements are row-major and dense (offset may be nonzero).
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1;
        for (&s, &st) in self.shape.iter().zip(&self.strides).rev() {
            if s != 1 && st != expected {
                return false;
            }
            expected = expected.saturating_mul(s); // saturates only for empty tensors
        }
        true
    }

    /// The storage index of the element at a multi-index.
    #[inline]
    pub fn index_of(&self, idx: &[usize]) -> usize {
        self.offset + idx.iter().zip(&self.strides).map(|(i, s)| i * s).sum::<usize>()
    }

    /// This layout seen as `shape` by broadcasting (size-1 or missing leading dims get stride 0).
    pub fn broadcast_to(&self, op: &'static str, shape: &[usize]) -> Result<Layout> {
        if shape.len() < self.rank() {
            return Err(Error::ShapeMismatch { op, lhs: self.shape.to_vec(), rhs: shape.to_vec() });
        }
        let lead = shape.len() - self.rank();
        let mut strides: Dims = SmallVec::from_elem(0, shape.len());
        for (i, (&s, &st)) in self.shape.iter().zip(&self.strides).enumerate() {
            let t = shape[lead + i];
            if s == t {
                strides[lead + i] = if s == 1 { 0 } else { st };
            } else if s == 1 {
                strides[lead + i] = 0;
            } else {
                return Err(Error::ShapeMismatch { op, lhs: self.shape.to_vec(), rhs: shape.to_vec() });
            }
        }
        checked_numel(op, shape)?;
        Ok(Layout { shape: shape.into(), strides, offset: self.offset })
    }
}

/// The element count of `shape`, computed with checked arithmetic: the one place where sizes from
/// users become counts. An overflow is an error naming the shape, as PyTorch's "Storage size
/// calculation overflowed".
pub fn checked_numel(op: &'static str, shape: &[usize]) -> Result<usize> {
    shape.iter().try_fold(1usize, |a, &s| a.checked_mul(s)).ok_or_else(|| overflow(op, shape))
}

/// The byte size of a dense `shape` of `dtype`, checked: at most `isize::MAX` (the most any
/// allocation can hold), else the overflow error naming the shape.
pub fn checked_bytes(op: &'static str, shape: &[usize], dtype: DType) -> Result<usize> {
    let n = checked_numel(op, shape)?;
    n.checked_mul(dtype.size_in_bytes()).filter(|&b| b <= isize::MAX as usize).ok_or_else(|| overflow(op, shape))
}

fn overflow(op: &'static str, shape: &[usize]) -> Error {
    Error::InvalidArgument { op, msg: format!("storage size calculation overflowed with sizes={shape:?}") }
}

/// Row-major strides of a dense tensor of `shape`.
pub fn contiguous_strides(shape: &[usize]) -> Dims {
    let mut strides: Dims = SmallVec::from_elem(1, shape.len());
    let mut acc = 1;
    for i in (0..shape.len()).rev() {
        strides[i] = acc;
        // Saturating: only an empty tensor (a 0 elsewhere in the shape) can get here with a
        // product past usize, and its strides address nothing.
        acc = acc.saturating_mul(shape[i].max(1));
    }
    strides
}

/// The shape two shapes broadcast to, by NumPy/PyTorch rules (align right; sizes equal or 1).
pub fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Dims> {
    let n = a.len().max(b.len());
    let mut out: Dims = SmallVec::from_elem(0, n);
    for i in 0..n {
        let da = if i + a.len() >= n { a[i + a.len() - n] } else { 1 };
        let db = if i + b.len() >= n { b[i + b.len() - n] } else { 1 };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return Err(Error::ShapeMismatch { op, lhs: a.to_vec(), rhs: b.to_vec() });
        };
    }
    checked_numel(op, &out)?;
    Ok(out)
}

/// Resolves a possibly negative `dim` against `rank`, or fails naming the op.
#[inline]
pub fn normalize_dim(op: &'static str, dim: isize, rank: usize) -> Result<usize> {
    // PyTorch lets a 0-d tensor be indexed with dim 0 or -1.
    let r = rank.max(1) as isize;
    let d = if dim < 0 { dim + r } else { dim };
    if d < 0 || d >= r {
        return Err(Error::DimOutOfRange { op, dim, rank });
    }
    Ok(d as usize)
}

/// Like [`normalize_dim`] for an insertion point (`unsqueeze`): `dim` may equal `rank`.
pub fn normalize_insert_dim(op: &'static str, dim: isize, rank: usize) -> Result<usize> {
    let r = rank as isize + 1;
    let d = if dim < 0 { dim + r } else { dim };
    if d < 0 || d >= r {
        return Err(Error::DimOutOfRange { op, dim, rank: rank + 1 });
    }
    Ok(d as usize)
}

/// Resolves a shape that may hold one `-1` against a total element count.
pub fn infer_shape(op: &'static str, from: &[usize], to: &[isize]) -> Result<Dims> {
    let numel: usize = from.iter().product();
    let bad = || Error::BadReshape { op, from: from.to_vec(), to: to.to_vec() };
    let mut infer = None;
    let mut known = 1usize;
    for (i, &d) in to.iter().enumerate() {
        if d == -1 {
            if infer.replace(i).is_some() {
                return Err(Error::InvalidArgument {
                    op,
                    msg: format!("only one dimension can be inferred (-1), but got shape {to:?}"),
                });
            }
        } else if d < 0 {
            return Err(Error::InvalidArgument {
                op,
                msg: format!("invalid shape dimension {d} at index {i} of shape {to:?}"),
            });
        } else {
            known = known.checked_mul(d as usize).ok_or_else(bad)?;
        }
    }
    let mut out: Dims = to.iter().map(|&d| d.max(0) as usize).collect();
    if let Some(i) = infer {
        if known == 0 || !numel.is_multiple_of(known) {
            return Err(bad());
        }
        out[i] = numel / known;
    } else if known != numel {
        return Err(bad());
    }
    Ok(out)
}

/// Strides for viewing a tensor of (`shape`, `strides`) as `new_shape` without a copy, if possible.
///
/// Follows PyTorch's `computeStride`: dims may be split and merged as long as each merged run is
/// contiguous in memory.
pub fn view_strides(shape: &[usize], strides: &[usize], new_shape: &[usize]) -> Option<Dims> {
    if shape.is_empty() {
        // a 0-d tensor views as any all-ones shape (PyTorch: strides all 1)
        return Some(SmallVec::from_elem(1, new_shape.len()));
    }
    let numel: usize = shape.iter().product();
    if numel == 0 {
        return Some(contiguous_strides(new_shape));
    }
    let mut new_strides: Dims = SmallVec::from_elem(0, new_shape.len());
    let mut view_d = new_shape.len() as isize - 1;
    let mut chunk_base_stride = *strides.last().unwrap_or(&1);
    let mut tensor_numel = 1usize;
    let mut view_numel = 1usize;
    for tensor_d in (0..shape.len()).rev() {
        tensor_numel = tensor_numel.saturating_mul(shape[tensor_d]);
        if tensor_d == 0 || (shape[tensor_d - 1] != 1 && strides[tensor_d - 1] != tensor_numel * chunk_base_stride) {
            while view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d as usize] == 1) {
                new_strides[view_d as usize] = view_numel * chunk_base_stride;
                view_numel = view_numel.saturating_mul(new_shape[view_d as usize]);
                view_d -= 1;
            }
            if view_numel != tensor_numel {
                return None;
            }
            if tensor_d > 0 {
                chunk_base_stride = strides[tensor_d - 1];
                tensor_numel = 1;
                view_numel = 1;
            }
        }
    }
    if view_d != -1 {
        return None;
    }
    Some(new_strides)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_rules() {
        assert_eq!(broadcast_shapes("t", &[3, 1], &[4]).unwrap().to_vec(), vec![3, 4]);
        assert_eq!(broadcast_shapes("t", &[], &[2, 2]).unwrap().to_vec(), vec![2, 2]);
        assert!(broadcast_shapes("t", &[3], &[4]).is_err());
    }

    #[test]
    fn infer() {
        assert_eq!(infer_shape("r", &[2, 6], &[3, -1]).unwrap().to_vec(), vec![3, 4]);
        assert!(infer_shape("r", &[2, 6], &[5, -1]).is_err());
        assert!(infer_shape("r", &[2, 6], &[-1, -1]).is_err());
        assert!(infer_shape("r", &[2, 6], &[7]).is_err());
    }

    #[test]
    fn checked_sizes() {
        assert_eq!(checked_numel("t", &[2, 3]).unwrap(), 6);
        assert_eq!(checked_numel("t", &[]).unwrap(), 1);
        let e = checked_numel("zeros", &[1 << 32, 1 << 32]).unwrap_err().to_string();
        assert_eq!(e, "zeros: storage size calculation overflowed with sizes=[4294967296, 4294967296]");
        assert!(checked_bytes("t", &[(1 << 62) + 1, 4], DType::F32).is_err());
        assert!(checked_bytes("t", &[1 << 61], DType::F32).is_err()); // 2^63 bytes > isize::MAX
        assert_eq!(checked_bytes("t", &[1 << 20], DType::F64).unwrap(), 8 << 20);
        // a zero-sized dim makes any product small
        assert_eq!(checked_numel("t", &[0, usize::MAX]).unwrap(), 0);
        assert!(broadcast_shapes("add", &[1 << 32, 1], &[1, 1 << 32]).is_err());
        let l = Layout::contiguous(&[1, 1]);
        assert!(l.broadcast_to("expand", &[1 << 32, 1 << 32]).is_err());
    }

    #[test]
    fn views() {
        // transposed [3,2] of a [2,3] cannot be flattened without a copy
        assert!(view_strides(&[3, 2], &[1, 3], &[6]).is_none());
        assert_eq!(view_strides(&[2, 3], &[3, 1], &[3, 2]).unwrap().to_vec(), vec![2, 1]);
        assert_eq!(view_strides(&[2, 3, 4], &[12, 4, 1], &[6, 4]).unwrap().to_vec(), vec![4, 1]);
        assert_eq!(view_strides(&[], &[], &[1, 1]).unwrap().to_vec(), vec![1, 1]);
    }
}
