//! Views and reshapes: `reshape view transpose permute unsqueeze squeeze flatten expand narrow select
//! chunk split t`. All of them share storage where PyTorch's do; `reshape` copies only when it must.

use smallvec::SmallVec;

use crate::shape::{infer_shape, normalize_dim, normalize_insert_dim, view_strides, Dim, Dims, Layout};
use crate::tensor::ok;
use crate::{Error, Result, Tensor};

/// # Views and reshapes
impl Tensor {
    /// The same elements in a new shape; one entry may be `-1` (inferred). A view when the layout
    /// allows it, else a contiguous copy (as PyTorch's `reshape`).
    ///
    /// ```
    /// # use ember_tensor::Tensor;
    /// let t = Tensor::arange(0.0, 6.0, 1.0).reshape(&[2, -1]);
    /// assert_eq!(t.shape(), &[2, 3]);
    /// ```
    #[must_use]
    #[track_caller]
    pub fn reshape<D: Dim>(&self, shape: &[D]) -> Tensor {
        ok(self.try_reshape(shape))
    }

    /// Checked form of [`Tensor::reshape`].
    pub fn try_reshape<D: Dim>(&self, shape: &[D]) -> Result<Tensor> {
        let to: SmallVec<[isize; 6]> = shape.iter().map(|d| d.to_isize()).collect();
        let new_shape = infer_shape("reshape", self.shape(), &to)?;
        match view_strides(self.shape(), self.strides(), &new_shape) {
            Some(strides) => Ok(self.with_layout(Layout { shape: new_shape, strides, offset: self.layout.offset })),
            None => Ok(self.contiguous().with_layout(Layout::contiguous(&new_shape))),
        }
    }

    /// Like [`Tensor::reshape`] but never copies: fails when the layout cannot be viewed so.
    #[must_use]
    #[track_caller]
    pub fn view<D: Dim>(&self, shape: &[D]) -> Tensor {
        ok(self.try_view(shape))
    }

    /// Checked form of [`Tensor::view`].
    pub fn try_view<D: Dim>(&self, shape: &[D]) -> Result<Tensor> {
        let to: SmallVec<[isize; 6]> = shape.iter().map(|d| d.to_isize()).collect();
        let new_shape = infer_shape("view", self.shape(), &to)?;
        match view_strides(self.shape(), self.strides(), &new_shape) {
            Some(strides) => Ok(self.with_layout(Layout { shape: new_shape, strides, offset: self.layout.offset })),
            None => Err(Error::InvalidArgument {
                op: "view",
                msg: format!(
                    "view size {:?} is not compatible with input tensor's size {:?} and stride {:?}; use reshape instead",
                    new_shape.as_slice(),
                    self.shape(),
                    self.strides()
                ),
            }),
        }
    }

    /// Swaps two dimensions (a view).
    #[must_use]
    #[track_caller]
    pub fn transpose(&self, d0: impl Dim, d1: impl Dim) -> Tensor {
        ok(self.try_transpose(d0, d1))
    }

    /// Checked form of [`Tensor::transpose`].
    pub fn try_transpose(&self, d0: impl Dim, d1: impl Dim) -> Result<Tensor> {
        if self.rank() == 0 {
            normalize_dim("transpose", d0.to_isize(), 0)?;
            normalize_dim("transpose", d1.to_isize(), 0)?;
            return Ok(self.clone());
        }
        let a = normalize_dim("transpose", d0.to_isize(), self.rank())?;
        let b = normalize_dim("transpose", d1.to_isize(), self.rank())?;
        let mut l = self.layout.clone();
        l.shape.swap(a, b);
        l.strides.swap(a, b);
        Ok(self.with_layout(l))
    }

    /// Transpose of a matrix (rank ≤ 2), PyTorch's `t()`.
    #[must_use]
    #[track_caller]
    pub fn t(&self) -> Tensor {
        if self.rank() > 2 {
            panic!("t: expects a tensor with <= 2 dimensions, but self is {}D", self.rank());
        }
        if self.rank() < 2 {
            return self.clone();
        }
        self.transpose(0, 1)
    }

    /// Reorders the dimensions (a view): output dim `i` is input dim `dims[i]`.
    #[must_use]
    #[track_caller]
    pub fn permute<D: Dim>(&self, dims: &[D]) -> Tensor {
        ok(self.try_permute(dims))
    }

    /// Checked form of [`Tensor::permute`].
    pub fn try_permute<D: Dim>(&self, dims: &[D]) -> Result<Tensor> {
        let r = self.rank();
        if dims.len() != r {
            crate::bail!("permute", "number of dims don't match: got {} dims for a tensor of rank {r}", dims.len());
        }
        let mut seen: SmallVec<[bool; 6]> = SmallVec::from_elem(false, r);
        let mut shape = Dims::new();
        let mut strides = Dims::new();
        for d in dims {
            let d = normalize_dim("permute", d.to_isize(), r)?;
            if seen[d] {
                crate::bail!(
                    "permute",
                    "repeated dim {d} in {:?}",
                    dims.iter().map(|d| d.to_isize()).collect::<Vec<_>>()
                );
            }
            seen[d] = true;
            shape.push(self.layout.shape[d]);
            strides.push(self.layout.strides[d]);
        }
        Ok(self.with_layout(Layout { shape, strides, offset: self.layout.offset }))
    }

    /// Inserts a dimension of size 1 at `dim` (a view); `dim` may be `rank` or `-1`.
    #[must_use]
    #[track_caller]
    pub fn unsqueeze(&self, dim: impl Dim) -> Tensor {
        ok(self.try_unsqueeze(dim))
    }

    /// Checked form of [`Tensor::unsqueeze`].
    pub fn try_unsqueeze(&self, dim: impl Dim) -> Result<Tensor> {
        let d = normalize_insert_dim("unsqueeze", dim.to_isize(), self.rank())?;
        let mut l = self.layout.clone();
        let stride = if d < l.rank() { l.strides[d] * l.shape[d] } else { 1 };
        l.shape.insert(d, 1);
        l.strides.insert(d, stride);
        Ok(self.with_layout(l))
    }

    /// Removes dimension `dim` if its size is 1 (else returns the tensor unchanged, as PyTorch).
    #[must_use]
    #[track_caller]
    pub fn squeeze(&self, dim: impl Dim) -> Tensor {
        ok(self.try_squeeze(dim))
    }

    /// Checked form of [`Tensor::squeeze`].
    pub fn try_squeeze(&self, dim: impl Dim) -> Result<Tensor> {
        let d = normalize_dim("squeeze", dim.to_isize(), self.rank())?;
        if self.rank() == 0 || self.layout.shape[d] != 1 {
            return Ok(self.clone());
        }
        let mut l = self.layout.clone();
        l.shape.remove(d);
        l.strides.remove(d);
        Ok(self.with_layout(l))
    }

    /// Removes every dimension of size 1.
    #[must_use]
    pub fn squeeze_all(&self) -> Tensor {
        let mut l = self.layout.clone();
        let keep: Vec<usize> = (0..l.rank()).filter(|&i| l.shape[i] != 1).collect();
        l.shape = keep.iter().map(|&i| self.layout.shape[i]).collect();
        l.strides = keep.iter().map(|&i| self.layout.strides[i]).collect();
        self.with_layout(l)
    }

    /// Merges dims `start..=end` into one (negative dims count from the end), as `torch.flatten`.
    #[must_use]
    #[track_caller]
    pub fn flatten(&self, start: impl Dim, end: impl Dim) -> Tensor {
        ok(self.try_flatten(start, end))
    }

    /// Checked form of [`Tensor::flatten`].
    pub fn try_flatten(&self, start: impl Dim, end: impl Dim) -> Result<Tensor> {
        if self.rank() == 0 {
            return self.try_reshape(&[1usize]);
        }
        let s = normalize_dim("flatten", start.to_isize(), self.rank())?;
        let e = normalize_dim("flatten", end.to_isize(), self.rank())?;
        if s > e {
            crate::bail!("flatten", "start_dim {s} cannot come after end_dim {e}");
        }
        let mut shape: Dims = self.layout.shape[..s].into();
        shape.push(self.layout.shape[s..=e].iter().product());
        shape.extend_from_slice(&self.layout.shape[e + 1..]);
        self.try_reshape(&shape)
    }

    /// Broadcasts to `shape` without copying (stride 0 on repeated dims); `-1` keeps a size.
    #[must_use]
    #[track_caller]
    pub fn expand<D: Dim>(&self, shape: &[D]) -> Tensor {
        ok(self.try_expand(shape))
    }

    /// Checked form of [`Tensor::expand`].
    pub fn try_expand<D: Dim>(&self, shape: &[D]) -> Result<Tensor> {
        let r = self.rank();
        let n = shape.len();
        if n < r {
            crate::bail!(
                "expand",
                "the number of sizes provided ({n}) must be at least the number of dimensions ({r})"
            );
        }
        let mut target = Dims::new();
        for (i, d) in shape.iter().enumerate() {
            let d = d.to_isize();
            if d == -1 {
                if i < n - r {
                    crate::bail!("expand", "-1 is not allowed in a leading, non-existing dimension ({i})");
                }
                target.push(self.layout.shape[i - (n - r)]);
            } else if d < 0 {
                crate::bail!("expand", "invalid size {d}");
            } else {
                target.push(d as usize);
            }
        }
        let l = self.layout.broadcast_to("expand", &target)?;
        Ok(self.with_layout(l))
    }

    /// Broadcasts to `shape` (a view), NumPy's and PyTorch's `broadcast_to`.
    #[must_use]
    #[track_caller]
    pub fn broadcast_to(&self, shape: &[usize]) -> Tensor {
        ok(self.try_expand(shape))
    }

    /// Elements `start..start + len` of dimension `dim` (a view).
    #[must_use]
    #[track_caller]
    pub fn narrow(&self, dim: impl Dim, start: usize, len: usize) -> Tensor {
        ok(self.try_narrow(dim, start, len))
    }

    /// Checked form of [`Tensor::narrow`].
    pub fn try_narrow(&self, dim: impl Dim, start: usize, len: usize) -> Result<Tensor> {
        if self.rank() == 0 {
            crate::bail!("narrow", "cannot be applied to a 0-dim tensor");
        }
        let d = normalize_dim("narrow", dim.to_isize(), self.rank())?;
        let size = self.layout.shape[d];
        if start > size || len > size - start {
            crate::bail!("narrow", "start ({start}) + length ({len}) exceeds dimension size ({size}) of dim {d}");
        }
        let mut l = self.layout.clone();
        l.shape[d] = len;
        if len > 0 {
            l.offset += start * l.strides[d];
        }
        Ok(self.with_layout(l))
    }

    /// The slice at `index` along `dim`, with that dim removed (a view). Negative indexes count from
    /// the end.
    #[must_use]
    #[track_caller]
    pub fn select(&self, dim: impl Dim, index: i64) -> Tensor {
        ok(self.try_select(dim, index))
    }

    /// Checked form of [`Tensor::select`].
    pub fn try_select(&self, dim: impl Dim, index: i64) -> Result<Tensor> {
        if self.rank() == 0 {
            crate::bail!("select", "cannot be applied to a 0-dim tensor");
        }
        let d = normalize_dim("select", dim.to_isize(), self.rank())?;
        let size = self.layout.shape[d];
        let i = if index < 0 { index + size as i64 } else { index };
        if i < 0 || i >= size as i64 {
            return Err(Error::IndexOutOfRange { op: "select", index, size });
        }
        let mut l = self.layout.clone();
        l.offset += i as usize * l.strides[d];
        l.shape.remove(d);
        l.strides.remove(d);
        Ok(self.with_layout(l))
    }

    /// Splits into `chunks` views along `dim`, each of size `ceil(size / chunks)` but the last.
    #[must_use]
    #[track_caller]
    pub fn chunk(&self, chunks: usize, dim: impl Dim) -> Vec<Tensor> {
        ok(self.try_chunk(chunks, dim))
    }

    /// Checked form of [`Tensor::chunk`].
    pub fn try_chunk(&self, chunks: usize, dim: impl Dim) -> Result<Vec<Tensor>> {
        if chunks == 0 {
            crate::bail!("chunk", "number of chunks must be greater than 0");
        }
        if self.rank() == 0 {
            crate::bail!("chunk", "expects at least a 1-dimensional tensor");
        }
        let d = normalize_dim("chunk", dim.to_isize(), self.rank())?;
        let size = self.shape().get(d).copied().unwrap_or(1);
        let step = size.div_ceil(chunks).max(1);
        self.try_split(step, d)
    }

    /// Splits into views of `size` elements along `dim` (the last may be smaller).
    #[must_use]
    #[track_caller]
    pub fn split(&self, size: usize, dim: impl Dim) -> Vec<Tensor> {
        ok(self.try_split(size, dim))
    }

    /// Checked form of [`Tensor::split`].
    pub fn try_split(&self, size: usize, dim: impl Dim) -> Result<Vec<Tensor>> {
        if self.rank() == 0 {
            crate::bail!("split", "cannot be applied to a 0-dim tensor");
        }
        let d = normalize_dim("split", dim.to_isize(), self.rank())?;
        let total = self.layout.shape[d];
        if size == 0 && total > 0 {
            crate::bail!("split", "split_size can only be 0 if dimension size is 0, but got dimension size of {total}");
        }
        if total == 0 {
            return Ok(vec![self.clone()]);
        }
        let mut out = Vec::with_capacity(total.div_ceil(size));
        let mut start = 0;
        while start < total {
            let len = size.min(total - start);
            out.push(self.try_narrow(d, start, len)?);
            start += len;
        }
        Ok(out)
    }

    /// Splits into views of the given sizes along `dim`; the sizes must add up to the dim's size.
    #[must_use]
    #[track_caller]
    pub fn split_sizes(&self, sizes: &[usize], dim: impl Dim) -> Vec<Tensor> {
        ok(self.try_split_sizes(sizes, dim))
    }

    /// Checked form of [`Tensor::split_sizes`].
    pub fn try_split_sizes(&self, sizes: &[usize], dim: impl Dim) -> Result<Vec<Tensor>> {
        let d = normalize_dim("split", dim.to_isize(), self.rank())?;
        let total = self.shape().get(d).copied().unwrap_or(0);
        if sizes.iter().try_fold(0usize, |a, &s| a.checked_add(s)) != Some(total) {
            crate::bail!("split", "split sizes {sizes:?} do not sum to the size {total} of dim {d}");
        }
        let mut start = 0;
        let mut out = Vec::with_capacity(sizes.len());
        for &s in sizes {
            out.push(self.try_narrow(d, start, s)?);
            start += s;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    fn seq(shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        Tensor::from_vec((0..n).map(|x| x as f32).collect(), shape)
    }

    #[test]
    fn transpose_and_reshape_copy() {
        let t = seq(&[2, 3]).transpose(0, 1);
        assert_eq!(t.to_vec::<f32>(), vec![0., 3., 1., 4., 2., 5.]);
        let r = t.reshape(&[-1]);
        assert_eq!(r.to_vec::<f32>(), vec![0., 3., 1., 4., 2., 5.]);
        assert!(t.try_view(&[6]).is_err());
    }

    #[test]
    fn narrow_select_split() {
        let t = seq(&[3, 4]);
        assert_eq!(t.narrow(1, 1, 2).to_vec::<f32>(), vec![1., 2., 5., 6., 9., 10.]);
        assert_eq!(t.select(0, -1).to_vec::<f32>(), vec![8., 9., 10., 11.]);
        let parts = t.chunk(3, 1);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1].shape(), &[3, 2]);
        assert!(t.try_select(1, 4).unwrap_err().to_string().contains("index 4 is out of bounds"));
    }

    #[test]
    fn expand_and_unsqueeze() {
        let t = seq(&[3]).unsqueeze(0).expand(&[2, -1]);
        assert_eq!(t.shape(), &[2, 3]);
        assert_eq!(t.to_vec::<f32>(), vec![0., 1., 2., 0., 1., 2.]);
        assert!(seq(&[3]).try_expand(&[4]).is_err());
    }
}
