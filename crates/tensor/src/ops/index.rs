//! Indexing with index tensors: `index_select index_add gather scatter scatter_value scatter_add`.
//!
//! Indices are I64 tensors. As in PyTorch, negative indices are not allowed here: any index outside
//! `0..size` fails with [`Error::IndexOutOfRange`] naming the op, the index and the size. All ops are
//! out-of-place: they return a new tensor and never modify their operands.

use crate::op_desc::ScatterMode;
use crate::shape::{normalize_dim, Dim};
use crate::tensor::ok;
use crate::{DType, Error, Result, Tensor};

/// Checks that `index` is an I64 tensor on `t`'s device.
pub(crate) fn check_index(op: &'static str, t: &Tensor, index: &Tensor) -> Result<()> {
    t.same_device(op, index)?;
    if index.dtype() != DType::I64 {
        return Err(Error::DTypeMismatch { op, expected: DType::I64, got: index.dtype() });
    }
    Ok(())
}

/// Checks that `index` is 0-d or 1-d (the index of `index_select` and `index_add`).
fn check_vector_index(op: &'static str, index: &Tensor) -> Result<()> {
    if index.rank() > 1 {
        crate::bail!(op, "index must be 0-d or 1-d, got an index of shape {:?}", index.shape());
    }
    Ok(())
}

/// The checked `index_select`, naming `op` in errors.
pub(crate) fn index_select_impl(op: &'static str, t: &Tensor, dim: isize, index: &Tensor) -> Result<Tensor> {
    check_index(op, t, index)?;
    check_vector_index(op, index)?;
    let d = normalize_dim(op, dim, t.rank())?;
    if t.rank() > 0 {
        // the result: `t`'s shape with the index's length at `d` (larger than `t` when the
        // index repeats): sized and probed before the kernel reserves it
        let mut out: crate::shape::Dims = t.shape().into();
        out[d] = index.numel();
        crate::cpu::alloc::try_room(op, t, &out, t.dtype)?;
    }
    if t.rank() == 0 {
        // A 0-d tensor is indexed as a one-element vector, and stays 0-d.
        let r = index_select_impl(op, &t.reshape(&[1]), 0, index)?;
        return if r.numel() == 1 { Ok(r.reshape(&[0usize; 0])) } else { Ok(r) };
    }
    t.backend().index_select(op, t, d, index)
}

/// The checked `index_add`, naming `op` in errors.
pub(crate) fn index_add_impl(
    op: &'static str,
    t: &Tensor,
    dim: isize,
    index: &Tensor,
    source: &Tensor,
) -> Result<Tensor> {
    check_index(op, t, index)?;
    check_vector_index(op, index)?;
    t.same_device(op, source)?;
    t.same_dtype(op, source)?;
    let d = normalize_dim(op, dim, t.rank())?;
    if t.rank() == 0 {
        let (t1, s1) = (t.reshape(&[1]), source.try_reshape(&[-1])?);
        return Ok(index_add_impl(op, &t1, 0, index, &s1)?.reshape(&[0usize; 0]));
    }
    let k = index.numel();
    let mut want = t.shape().to_vec();
    want[d] = k;
    let src_shape = if source.rank() == 0 { vec![1] } else { source.shape().to_vec() };
    if src_shape != want {
        crate::bail!(
            op,
            "source of shape {:?} must match self of shape {:?} except in dim {d}, where it must equal the \
             number of indices ({k})",
            source.shape(),
            t.shape()
        );
    }
    let source = source.try_reshape(&want)?;
    t.backend().index_add(op, t, d, index, &source)
}

/// Checks the same-rank rule of `gather` and `scatter`: `index` has `t`'s rank and its sizes outside
/// `d` do not exceed `t`'s. Returns the normalized dim.
fn check_same_rank(op: &'static str, what: &str, t: &Tensor, dim: isize, index: &Tensor) -> Result<usize> {
    if index.rank() != t.rank() {
        crate::bail!(
            op,
            "index tensor must have the same number of dimensions as {what} tensor (index shape {:?}, {what} shape {:?})",
            index.shape(),
            t.shape()
        );
    }
    let d = normalize_dim(op, dim, t.rank())?;
    for (i, (&a, &b)) in index.shape().iter().zip(t.shape()).enumerate() {
        if i != d && a > b {
            crate::bail!(
                op,
                "size {a} of index shape {:?} exceeds size {b} of {what} shape {:?} in dim {i} (only dim {d} may be larger)",
                index.shape(),
                t.shape()
            );
        }
    }
    Ok(d)
}

/// Views a 0-d tensor as a one-element vector (the 0-d forms of gather and scatter).
fn as_vector(t: &Tensor) -> Tensor {
    if t.rank() == 0 {
        t.reshape(&[1])
    } else {
        t.clone()
    }
}

/// # Indexing with index tensors
impl Tensor {
    /// The slices at `index` along `dim`, in the order given (`torch.index_select`): the result has
    /// `self`'s shape with `index.numel()` at `dim`. `index` is a 0-d or 1-d I64 tensor; repeats are
    /// allowed.
    ///
    /// ```
    /// # use ember_tensor::Tensor;
    /// let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]);
    /// let i = Tensor::from_vec(vec![2i64, 0, 2], &[3]);
    /// assert_eq!(t.index_select(0, &i).to_vec::<f32>(), vec![5.0, 6.0, 1.0, 2.0, 5.0, 6.0]);
    /// assert!(t.try_index_select(0, &Tensor::from_vec(vec![3i64], &[1])).is_err());
    /// ```
    ///
    /// **Panics** on a bad dim, an index that is not a 0-d/1-d I64 tensor, or an index outside
    /// `0..size` (negative ones included); see [`Tensor::try_index_select`].
    #[must_use]
    #[track_caller]
    pub fn index_select(&self, dim: impl Dim, index: &Tensor) -> Tensor {
        ok(self.try_index_select(dim, index))
    }

    /// Checked form of [`Tensor::index_select`].
    pub fn try_index_select(&self, dim: impl Dim, index: &Tensor) -> Result<Tensor> {
        index_select_impl("index_select", self, dim.to_isize(), index)
    }

    /// `self` with the slices of `source` added at `index` along `dim` (out-of-place
    /// `Tensor.index_add`): `out.select(dim, index[j]) += source.select(dim, j)`. Repeated indices
    /// accumulate. `source` has `self`'s shape with `index.numel()` at `dim`. This is the backward of
    /// [`Tensor::index_select`].
    ///
    /// **Panics** on a bad dim, shape, dtype or index; see [`Tensor::try_index_add`].
    #[must_use]
    #[track_caller]
    pub fn index_add(&self, dim: impl Dim, index: &Tensor, source: &Tensor) -> Tensor {
        ok(self.try_index_add(dim, index, source))
    }

    /// Checked form of [`Tensor::index_add`].
    pub fn try_index_add(&self, dim: impl Dim, index: &Tensor, source: &Tensor) -> Result<Tensor> {
        index_add_impl("index_add", self, dim.to_isize(), index, source)
    }

    /// Values gathered along `dim` (`torch.gather`): `out[i][j][k] = self[i][index[i][j][k]][k]` for
    /// `dim == 1`. `index` is an I64 tensor of `self`'s rank whose sizes outside `dim` do not exceed
    /// `self`'s; the result has `index`'s shape.
    ///
    /// **Panics** on a bad dim, rank, size, dtype or index; see [`Tensor::try_gather`].
    #[must_use]
    #[track_caller]
    pub fn gather(&self, dim: impl Dim, index: &Tensor) -> Tensor {
        ok(self.try_gather(dim, index))
    }

    /// Checked form of [`Tensor::gather`].
    pub fn try_gather(&self, dim: impl Dim, index: &Tensor) -> Result<Tensor> {
        let op = "gather";
        check_index(op, self, index)?;
        let d = check_same_rank(op, "input", self, dim.to_isize(), index)?;
        if index.numel() == 0 {
            return Ok(crate::ops::creation::full_on("gather", index.shape(), 0.0, self.dtype, self.device()));
        }
        if self.rank() == 0 {
            return Ok(as_vector(self).try_gather(0, &as_vector(index))?.reshape(&[0usize; 0]));
        }
        crate::cpu::alloc::try_room(op, self, index.shape(), self.dtype)?;
        self.backend().gather(self, d, index)
    }

    /// `self` with the values of `src` written at `index` along `dim` (out-of-place
    /// `Tensor.scatter`): `out[i][index[i][j][k]][k] = src[i][j][k]` for `dim == 1`. `index`, `src`
    /// and `self` have one rank; `index`'s sizes do not exceed `src`'s, nor `self`'s outside `dim`.
    /// Where indices collide the last source in row-major order wins (PyTorch leaves it undefined).
    ///
    /// **Panics** on a bad dim, rank, size, dtype or index; see [`Tensor::try_scatter`].
    #[must_use]
    #[track_caller]
    pub fn scatter(&self, dim: impl Dim, index: &Tensor, src: &Tensor) -> Tensor {
        ok(self.try_scatter(dim, index, src))
    }

    /// Checked form of [`Tensor::scatter`].
    pub fn try_scatter(&self, dim: impl Dim, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        self.scatter_impl("scatter", dim.to_isize(), index, Some(src), 0.0, ScatterMode::Set)
    }

    /// `self` with `value` written at `index` along `dim` (out-of-place `Tensor.scatter` with a
    /// scalar): as [`Tensor::scatter`] with a source full of `value`.
    ///
    /// **Panics** on a bad dim, rank, size, dtype or index; see [`Tensor::try_scatter_value`].
    #[must_use]
    #[track_caller]
    pub fn scatter_value(&self, dim: impl Dim, index: &Tensor, value: f64) -> Tensor {
        ok(self.try_scatter_value(dim, index, value))
    }

    /// Checked form of [`Tensor::scatter_value`].
    pub fn try_scatter_value(&self, dim: impl Dim, index: &Tensor, value: f64) -> Result<Tensor> {
        self.scatter_impl("scatter", dim.to_isize(), index, None, value, ScatterMode::Set)
    }

    /// `self` with the values of `src` added at `index` along `dim` (out-of-place
    /// `Tensor.scatter_add`): `out[i][index[i][j][k]][k] += src[i][j][k]` for `dim == 1`; colliding
    /// indices accumulate. Shapes as [`Tensor::scatter`]. This is the backward of [`Tensor::gather`].
    ///
    /// **Panics** on a bad dim, rank, size, dtype or index; see [`Tensor::try_scatter_add`].
    #[must_use]
    #[track_caller]
    pub fn scatter_add(&self, dim: impl Dim, index: &Tensor, src: &Tensor) -> Tensor {
        ok(self.try_scatter_add(dim, index, src))
    }

    /// Checked form of [`Tensor::scatter_add`].
    pub fn try_scatter_add(&self, dim: impl Dim, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        self.scatter_impl("scatter_add", dim.to_isize(), index, Some(src), 0.0, ScatterMode::Add)
    }

    /// Shared checks of the scatter forms; `src: None` means a source full of `value`.
    fn scatter_impl(
        &self,
        op: &'static str,
        dim: isize,
        index: &Tensor,
        src: Option<&Tensor>,
        value: f64,
        mode: ScatterMode,
    ) -> Result<Tensor> {
        check_index(op, self, index)?;
        if mode == ScatterMode::Add && self.dtype == DType::Bool {
            return Err(Error::UnsupportedDType { op, dtype: DType::Bool });
        }
        let d = check_same_rank(op, "self", self, dim, index)?;
        let src = match src {
            Some(s) => {
                self.same_device(op, s)?;
                self.same_dtype(op, s)?;
                if s.rank() != index.rank() {
                    crate::bail!(
                        op,
                        "index tensor must have the same number of dimensions as src tensor (index shape {:?}, \
                         src shape {:?})",
                        index.shape(),
                        s.shape()
                    );
                }
                if let Some(i) = (0..s.rank()).find(|&i| index.shape()[i] > s.shape()[i]) {
                    crate::bail!(op, "index shape {:?} exceeds src shape {:?} in dim {i}", index.shape(), s.shape());
                }
                s.clone()
            }
            None => {
                crate::ops::creation::full_on("scatter", &[], value, self.dtype, self.device()).expand(index.shape())
            }
        };
        let (t, index, src) = (as_vector(self), as_vector(index), as_vector(&src));
        let r = t.backend().scatter(op, &t, d, &index, &src, mode)?;
        Ok(if self.rank() == 0 { r.reshape(&[0usize; 0]) } else { r })
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    fn seq(shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        Tensor::from_vec((0..n).map(|x| x as f64).collect(), shape)
    }

    /// Naive gather by multi-index, for comparing on random shapes.
    #[test]
    fn gather_scatter_add_roundtrip_against_naive() {
        let t = seq(&[3, 4, 5]).transpose(0, 2); // [5, 4, 3], non-contiguous
        for dim in 0..3 {
            let mut ishape = vec![4, 3, 2];
            ishape[dim] = 7;
            let n: usize = ishape.iter().product();
            let size = t.shape()[dim] as i64;
            let idx: Vec<i64> = (0..n as i64).map(|i| (i * 7 + 3) % size).collect();
            let index = Tensor::from_vec(idx.clone(), &ishape);
            let g = t.gather(dim, &index).to_vec::<f64>();
            let src = t.contiguous().to_vec::<f64>();
            let mut p = 0;
            let mut acc = vec![0.0; t.numel()];
            for a in 0..ishape[0] {
                for b in 0..ishape[1] {
                    for c in 0..ishape[2] {
                        let mut m = [a, b, c];
                        m[dim] = idx[p] as usize;
                        let flat = (m[0] * 4 + m[1]) * 3 + m[2];
                        assert_eq!(g[p], src[flat], "dim {dim} pos {p}");
                        acc[flat] += g[p];
                        p += 1;
                    }
                }
            }
            let back = t.zeros_like().scatter_add(dim, &index, &Tensor::from_vec(g, &ishape));
            assert_eq!(back.to_vec::<f64>(), acc);
        }
    }

    #[test]
    fn zero_dim_and_empty() {
        let s = Tensor::scalar(5.0f32);
        let i = Tensor::scalar(0i64);
        assert_eq!(s.gather(0, &i).shape(), &[] as &[usize]);
        assert_eq!(s.index_select(0, &i).item::<f32>(), 5.0);
        assert_eq!(s.scatter_value(0, &i, 2.0).item::<f32>(), 2.0);
        let e = Tensor::from_vec(Vec::<i64>::new(), &[2, 0]);
        assert_eq!(seq(&[2, 3]).gather(1, &e).shape(), &[2, 0]);
        assert_eq!(seq(&[2, 3]).scatter_add(1, &e, &seq(&[2, 3])).to_vec::<f64>(), seq(&[2, 3]).to_vec::<f64>());
    }

    #[test]
    fn large_index_add_is_parallel_and_exact() {
        let rows = 300;
        let t = Tensor::zeros_dtype(&[rows, 256], crate::DType::F64);
        let idx: Vec<i64> = (0..1000).map(|i| (i * 37) % rows as i64).collect();
        let src = Tensor::ones_dtype(&[1000, 256], crate::DType::F64);
        let out = t.index_add(0, &Tensor::from_vec(idx.clone(), &[1000]), &src).to_vec::<f64>();
        for r in 0..rows {
            let c = idx.iter().filter(|&&i| i == r as i64).count() as f64;
            assert!(out[r * 256..(r + 1) * 256].iter().all(|&v| v == c));
        }
    }
}
