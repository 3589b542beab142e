//! Views and reshapes on Variables; each backward moves the gradient back to the input's layout.

use ember_tensor::shape::normalize_dim;
use ember_tensor::{DType, Device, Dim, Result, Tensor};

use super::elementwise::{c, ok};
use crate::Variable;

/// The backward of every reshaping view: the gradient reshaped to the input's shape.
fn reshape_back(name: &'static str, x: &Variable, out: Tensor) -> Variable {
    Variable::record(name, &[x], out, |ctx| vec![Some(ctx.grad.reshape(&ctx.inputs[0].shape()))])
}

/// # Views and reshapes (differentiable)
impl Variable {
    /// Reshape (one `-1` inferred); the gradient is reshaped back.
    #[must_use]
    #[track_caller]
    pub fn reshape<D: Dim>(&self, shape: &[D]) -> Variable {
        ok(self.try_reshape(shape))
    }

    /// Checked form of [`Variable::reshape`].
    #[track_caller]
    pub fn try_reshape<D: Dim>(&self, shape: &[D]) -> Result<Variable> {
        let out = self.data().try_reshape(shape)?;
        Ok(reshape_back("reshape", self, out))
    }

    /// View (never copies the data; fails where the strides do not allow it).
    #[must_use]
    #[track_caller]
    pub fn view<D: Dim>(&self, shape: &[D]) -> Variable {
        ok(self.try_view(shape))
    }

    /// Checked form of [`Variable::view`].
    #[track_caller]
    pub fn try_view<D: Dim>(&self, shape: &[D]) -> Result<Variable> {
        let out = self.data().try_view(shape)?;
        Ok(reshape_back("view", self, out))
    }

    /// Swaps two dims.
    #[must_use]
    #[track_caller]
    pub fn transpose(&self, d0: impl Dim, d1: impl Dim) -> Variable {
        ok(self.try_transpose(d0, d1))
    }

    /// Checked form of [`Variable::transpose`].
    #[track_caller]
    pub fn try_transpose(&self, d0: impl Dim, d1: impl Dim) -> Result<Variable> {
        let (d0, d1) = (d0.to_isize(), d1.to_isize());
        let out = self.data().try_transpose(d0, d1)?;
        Ok(Variable::record("transpose", &[self], out, move |ctx| vec![Some(ctx.grad.transpose(d0, d1))]))
    }

    /// Matrix transpose (rank ≤ 2; lower ranks are returned as they are).
    ///
    /// **Panics** on rank > 2, as PyTorch.
    #[must_use]
    #[track_caller]
    pub fn t(&self) -> Variable {
        if self.rank() < 2 {
            return self.clone();
        }
        let _ = self.data().t(); // rank check with PyTorch's message
        self.transpose(0, 1)
    }

    /// Reorders dims; the gradient is permuted back by the inverse permutation.
    #[must_use]
    #[track_caller]
    pub fn permute<D: Dim>(&self, dims: &[D]) -> Variable {
        ok(self.try_permute(dims))
    }

    /// Checked form of [`Variable::permute`].
    #[track_caller]
    pub fn try_permute<D: Dim>(&self, dims: &[D]) -> Result<Variable> {
        let data = self.data();
        let out = data.try_permute(dims)?;
        let r = data.rank() as isize;
        let perm: Vec<usize> = dims.iter().map(|d| d.to_isize().rem_euclid(r.max(1)) as usize).collect();
        let mut inv = vec![0usize; perm.len()];
        for (i, &p) in perm.iter().enumerate() {
            inv[p] = i;
        }
        Ok(Variable::record("permute", &[self], out, move |ctx| vec![Some(ctx.grad.permute(&inv))]))
    }

    /// Inserts a size-1 dim.
    #[must_use]
    #[track_caller]
    pub fn unsqueeze(&self, dim: impl Dim) -> Variable {
        ok(self.try_unsqueeze(dim))
    }

    /// Checked form of [`Variable::unsqueeze`].
    #[track_caller]
    pub fn try_unsqueeze(&self, dim: impl Dim) -> Result<Variable> {
        let out = self.data().try_unsqueeze(dim)?;
        Ok(reshape_back("unsqueeze", self, out))
    }

    /// Removes `dim` if its size is 1.
    #[must_use]
    #[track_caller]
    pub fn squeeze(&self, dim: impl Dim) -> Variable {
        ok(self.try_squeeze(dim))
    }

    /// Checked form of [`Variable::squeeze`].
    #[track_caller]
    pub fn try_squeeze(&self, dim: impl Dim) -> Result<Variable> {
        let out = self.data().try_squeeze(dim)?;
        Ok(reshape_back("squeeze", self, out))
    }

    /// Removes every size-1 dim.
    #[must_use]
    #[track_caller]
    pub fn squeeze_all(&self) -> Variable {
        reshape_back("squeeze", self, self.data().squeeze_all())
    }

    /// Merges dims `start..=end`.
    #[must_use]
    #[track_caller]
    pub fn flatten(&self, start: impl Dim, end: impl Dim) -> Variable {
        ok(self.try_flatten(start, end))
    }

    /// Checked form of [`Variable::flatten`].
    #[track_caller]
    pub fn try_flatten(&self, start: impl Dim, end: impl Dim) -> Result<Variable> {
        let out = self.data().try_flatten(start, end)?;
        Ok(reshape_back("flatten", self, out))
    }

    /// Broadcasts to `shape` (`-1` keeps a size); the gradient is summed back.
    #[must_use]
    #[track_caller]
    pub fn expand<D: Dim>(&self, shape: &[D]) -> Variable {
        ok(self.try_expand(shape))
    }

    /// Checked form of [`Variable::expand`].
    #[track_caller]
    pub fn try_expand<D: Dim>(&self, shape: &[D]) -> Result<Variable> {
        let out = self.data().try_expand(shape)?;
        Ok(Variable::record("expand", &[self], out, |ctx| vec![Some(ctx.grad.sum_to_shape(&ctx.inputs[0].shape()))]))
    }

    /// Broadcasts to `shape`; the gradient is summed back.
    #[must_use]
    #[track_caller]
    pub fn broadcast_to(&self, shape: &[usize]) -> Variable {
        self.expand(shape)
    }

    /// Broadcasts to `other`'s shape (PyTorch's `expand_as`).
    #[must_use]
    #[track_caller]
    pub fn expand_as(&self, other: &Variable) -> Variable {
        self.expand(&other.shape())
    }

    /// Elements `start..start + len` of `dim`; the gradient is zero-padded back.
    ///
    /// ```
    /// use ember_autograd::Variable;
    /// use ember_tensor::Tensor;
    /// let x = Variable::new(Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[4]), true);
    /// let y = x.narrow(0, 1, 2);
    /// assert_eq!(y.to_vec::<f32>(), vec![2.0, 3.0]);
    /// (&y * 10.0).sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec::<f32>(), vec![0.0, 10.0, 10.0, 0.0]);
    /// ```
    #[must_use]
    #[track_caller]
    pub fn narrow(&self, dim: impl Dim, start: usize, len: usize) -> Variable {
        ok(self.try_narrow(dim, start, len))
    }

    /// Checked form of [`Variable::narrow`].
    #[track_caller]
    pub fn try_narrow(&self, dim: impl Dim, start: usize, len: usize) -> Result<Variable> {
        let data = self.data();
        let out = data.try_narrow(dim, start, len)?;
        let d = normalize_dim("narrow", dim.to_isize(), data.rank())? as isize;
        let after = data.size(d) - start - len;
        Ok(Variable::record("narrow", &[self], out, move |ctx| vec![Some(ctx.grad.pad_dim(d, start, after))]))
    }

    /// Zero-pads dimension `dim` with `before` and `after` elements (the backward of `narrow`);
    /// the gradient is the middle part again.
    #[must_use]
    #[track_caller]
    pub fn pad_dim(&self, dim: impl Dim, before: usize, after: usize) -> Variable {
        ok(self.try_pad_dim(dim, before, after))
    }

    /// Checked form of [`Variable::pad_dim`].
    #[track_caller]
    pub fn try_pad_dim(&self, dim: impl Dim, before: usize, after: usize) -> Result<Variable> {
        let data = self.data();
        if data.rank() == 0 {
            ember_tensor::bail!("pad_dim", "cannot be applied to a 0-dim tensor");
        }
        let d = normalize_dim("pad_dim", dim.to_isize(), data.rank())?;
        if before == 0 && after == 0 {
            return Ok(self.clone());
        }
        let zeros = |n: usize| {
            let mut s = data.shape().to_vec();
            s[d] = n;
            c(Tensor::zeros_dtype(&s, data.dtype()).to(&data.device()))
        };
        let mut parts = Vec::with_capacity(3);
        if before > 0 {
            parts.push(zeros(before));
        }
        parts.push(self.clone());
        if after > 0 {
            parts.push(zeros(after));
        }
        Variable::try_cat(&parts, d)
    }

    /// The slice at `index` of `dim` (negative counts from the end), that dim removed.
    #[must_use]
    #[track_caller]
    pub fn select(&self, dim: impl Dim, index: i64) -> Variable {
        ok(self.try_select(dim, index))
    }

    /// Checked form of [`Variable::select`].
    #[track_caller]
    pub fn try_select(&self, dim: impl Dim, index: i64) -> Result<Variable> {
        let data = self.data();
        let out = data.try_select(dim, index)?;
        let d = normalize_dim("select", dim.to_isize(), data.rank())? as isize;
        let size = data.size(d);
        let i = if index < 0 { index + size as i64 } else { index } as usize;
        Ok(Variable::record("select", &[self], out, move |ctx| {
            vec![Some(ctx.grad.unsqueeze(d).pad_dim(d, i, size - i - 1))]
        }))
    }

    /// Splits into `chunks` pieces along `dim` (views sharing the gradient's slices).
    #[must_use]
    #[track_caller]
    pub fn chunk(&self, chunks: usize, dim: impl Dim) -> Vec<Variable> {
        ok(self.try_chunk(chunks, dim))
    }

    /// Checked form of [`Variable::chunk`].
    #[track_caller]
    pub fn try_chunk(&self, chunks: usize, dim: impl Dim) -> Result<Vec<Variable>> {
        let parts = self.data().try_chunk(chunks, dim)?;
        let sizes: Vec<usize> = parts.iter().map(|p| p.size(dim)).collect();
        self.try_split_sizes(&sizes, dim)
    }

    /// Splits into pieces of `size` along `dim` (the last may be smaller).
    #[must_use]
    #[track_caller]
    pub fn split(&self, size: usize, dim: impl Dim) -> Vec<Variable> {
        ok(self.try_split(size, dim))
    }

    /// Checked form of [`Variable::split`].
    #[track_caller]
    pub fn try_split(&self, size: usize, dim: impl Dim) -> Result<Vec<Variable>> {
        let parts = self.data().try_split(size, dim)?;
        let sizes: Vec<usize> = parts.iter().map(|p| p.size(dim)).collect();
        self.try_split_sizes(&sizes, dim)
    }

    /// Splits into pieces of the given sizes along `dim`.
    #[must_use]
    #[track_caller]
    pub fn split_sizes(&self, sizes: &[usize], dim: impl Dim) -> Vec<Variable> {
        ok(self.try_split_sizes(sizes, dim))
    }

    /// Checked form of [`Variable::split_sizes`].
    #[track_caller]
    pub fn try_split_sizes(&self, sizes: &[usize], dim: impl Dim) -> Result<Vec<Variable>> {
        self.data().try_split_sizes(sizes, dim)?;
        let mut start = 0;
        sizes
            .iter()
            .map(|&s| {
                start += s;
                self.try_narrow(dim, start - s, s)
            })
            .collect()
    }

    /// A contiguous copy of the data (identity for gradients).
    #[must_use]
    #[track_caller]
    pub fn contiguous(&self) -> Variable {
        let data = self.data();
        if data.is_contiguous() {
            return self.clone();
        }
        Variable::record("contiguous", &[self], data.contiguous(), |ctx| vec![Some(ctx.grad.clone())])
    }

    /// Converts the dtype; the gradient is converted back. A conversion to an integer or Bool dtype
    /// is a constant (such results have no gradient).
    #[must_use]
    #[track_caller]
    pub fn to_dtype(&self, dtype: DType) -> Variable {
        let src = self.dtype();
        if src == dtype {
            return self.clone();
        }
        let out = self.data().to_dtype(dtype);
        Variable::record("to_dtype", &[self], out, move |ctx| vec![Some(ctx.grad.to_dtype(src))])
    }

    /// Moves to `device`; the gradient moves back.
    #[must_use]
    #[track_caller]
    pub fn to(&self, device: &Device) -> Variable {
        ok(self.try_to(device))
    }

    /// Checked form of [`Variable::to`] (fails when the device cannot take the data).
    #[track_caller]
    pub fn try_to(&self, device: &Device) -> Result<Variable> {
        let src = self.device();
        if &src == device {
            return Ok(self.clone());
        }
        let out = self.data().try_to(device)?;
        Ok(Variable::record("to", &[self], out, move |ctx| vec![Some(ctx.grad.to(&src))]))
    }

    /// The size of `dim` (negative counts from the end).
    ///
    /// **Panics** on an out-of-range dim.
    #[must_use]
    #[track_caller]
    pub fn size(&self, dim: impl Dim) -> usize {
        self.data().size(dim)
    }

    /// Number of dimensions (PyTorch's `dim()`; the same as [`Variable::rank`]).
    #[must_use]
    #[track_caller]
    pub fn dim(&self) -> usize {
        self.rank()
    }

    /// The data's strides, in elements.
    #[must_use]
    #[track_caller]
    pub fn strides(&self) -> Vec<usize> {
        self.data().strides().to_vec()
    }

    /// True when the data is laid out contiguously (row-major).
    #[must_use]
    #[track_caller]
    pub fn is_contiguous(&self) -> bool {
        self.data().is_contiguous()
    }
}

/// # Constants shaped like a Variable
impl Variable {
    /// Zeros of this shape, dtype and device (a constant).
    #[must_use]
    #[track_caller]
    pub fn zeros_like(&self) -> Variable {
        c(self.data().zeros_like())
    }

    /// Ones of this shape, dtype and device (a constant).
    #[must_use]
    #[track_caller]
    pub fn ones_like(&self) -> Variable {
        c(self.data().ones_like())
    }

    /// Standard-normal samples in this shape, dtype and device (a constant; PyTorch's
    /// `torch.randn_like`), drawn from the generator seeded by `manual_seed`.
    #[must_use]
    pub fn randn_like(&self) -> Variable {
        c(self.data().randn_like())
    }

    /// Uniform samples in `[0, 1)` in this shape, dtype and device (a constant; `torch.rand_like`).
    #[must_use]
    pub fn rand_like(&self) -> Variable {
        c(self.data().rand_like())
    }

    /// `v` everywhere, in this shape, dtype and device (a constant).
    #[must_use]
    #[track_caller]
    pub fn full_like(&self, v: f64) -> Variable {
        c(self.data().full_like(v))
    }
}
