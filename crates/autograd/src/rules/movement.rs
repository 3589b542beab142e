//! Views and reshapes on Variables; each backward moves the gradient back to the input's layout.

use ember_tensor::{DType, Device, Dim, Result, Tensor};

use super::elementwise::ok;
use crate::Variable;

/// # Views and reshapes (differentiable)
impl Variable {
    /// Reshape (one `-1` inferred); the gradient is reshaped back.
    #[must_use]
    #[track_caller]
    pub fn reshape<D: Dim>(&self, shape: &[D]) -> Variable {
        ok(self.try_reshape(shape))
    }

    /// Checked form of [`Variable::reshape`].
    pub fn try_reshape<D: Dim>(&self, shape: &[D]) -> Result<Variable> {
        let out = self.data().try_reshape(shape)?;
        Ok(Variable::record("reshape", &[self], out, |ctx| vec![Some(ctx.grad.reshape(&ctx.inputs[0].shape()))]))
    }

    /// View (never copies the data); the gradient is reshaped back.
    #[must_use]
    #[track_caller]
    pub fn view<D: Dim>(&self, shape: &[D]) -> Variable {
        let out = ok(self.data().try_view(shape));
        Variable::record("view", &[self], out, |ctx| vec![Some(ctx.grad.reshape(&ctx.inputs[0].shape()))])
    }

    /// Swaps two dims.
    #[must_use]
    #[track_caller]
    pub fn transpose(&self, d0: impl Dim, d1: impl Dim) -> Variable {
        let (d0, d1) = (d0.to_isize(), d1.to_isize());
        let out = ok(self.data().try_transpose(d0, d1));
        Variable::record("transpose", &[self], out, move |ctx| vec![Some(ctx.grad.transpose(d0, d1))])
    }

    /// Matrix transpose (rank ≤ 2).
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
        let data = self.data();
        let out = ok(data.try_permute(dims));
        let r = data.rank() as isize;
        let perm: Vec<usize> = dims.iter().map(|d| d.to_isize().rem_euclid(r.max(1)) as usize).collect();
        let mut inv = vec![0usize; perm.len()];
        for (i, &p) in perm.iter().enumerate() {
            inv[p] = i;
        }
        Variable::record("permute", &[self], out, move |ctx| vec![Some(ctx.grad.permute(&inv))])
    }

    /// Inserts a size-1 dim.
    #[must_use]
    #[track_caller]
    pub fn unsqueeze(&self, dim: impl Dim) -> Variable {
        let out = ok(self.data().try_unsqueeze(dim));
        Variable::record("unsqueeze", &[self], out, |ctx| vec![Some(ctx.grad.reshape(&ctx.inputs[0].shape()))])
    }

    /// Removes `dim` if its size is 1.
    #[must_use]
    #[track_caller]
    pub fn squeeze(&self, dim: impl Dim) -> Variable {
        let out = ok(self.data().try_squeeze(dim));
        Variable::record("squeeze", &[self], out, |ctx| vec![Some(ctx.grad.reshape(&ctx.inputs[0].shape()))])
    }

    /// Merges dims `start..=end`.
    #[must_use]
    #[track_caller]
    pub fn flatten(&self, start: impl Dim, end: impl Dim) -> Variable {
        let out = ok(self.data().try_flatten(start, end));
        Variable::record("flatten", &[self], out, |ctx| vec![Some(ctx.grad.reshape(&ctx.inputs[0].shape()))])
    }

    /// Broadcasts to `shape` (`-1` keeps a size); the gradient is summed back.
    #[must_use]
    #[track_caller]
    pub fn expand<D: Dim>(&self, shape: &[D]) -> Variable {
        let out = ok(self.data().try_expand(shape));
        Variable::record("expand", &[self], out, |ctx| vec![Some(ctx.grad.sum_to_shape(&ctx.inputs[0].shape()))])
    }

    /// Broadcasts to `shape`; the gradient is summed back.
    #[must_use]
    #[track_caller]
    pub fn broadcast_to(&self, shape: &[usize]) -> Variable {
        self.expand(shape)
    }

    /// Elements `start..start + len` of `dim`; the gradient is zero-padded back.
    #[must_use]
    #[track_caller]
    pub fn narrow(&self, dim: impl Dim, start: usize, len: usize) -> Variable {
        let dim = dim.to_isize();
        let out = ok(self.data().try_narrow(dim, start, len));
        Variable::record("narrow", &[self], out, move |ctx| {
            vec![Some(ctx.grad.pad_dim(dim, start, ctx.inputs[0].data().size(dim) - start - len))]
        })
    }

    /// Zero-pads dimension `dim` with `before` and `after` elements (the backward of `narrow`).
    #[must_use]
    #[track_caller]
    pub fn pad_dim(&self, dim: impl Dim, before: usize, after: usize) -> Variable {
        let dim = dim.to_isize();
        let data = self.data();
        if before == 0 && after == 0 {
            return self.clone();
        }
        let mut parts = Vec::with_capacity(3);
        let zeros = |n: usize| {
            let mut s = data.shape().to_vec();
            let d = dim.rem_euclid(s.len().max(1) as isize) as usize;
            s[d] = n;
            Variable::from(Tensor::zeros_dtype(&s, data.dtype()).to(&data.device()))
        };
        if before > 0 {
            parts.push(zeros(before));
        }
        parts.push(self.clone());
        if after > 0 {
            parts.push(zeros(after));
        }
        Variable::cat(&parts, dim)
    }

    /// The slice at `index` of `dim`, that dim removed.
    #[must_use]
    #[track_caller]
    pub fn select(&self, dim: impl Dim, index: i64) -> Variable {
        let data = self.data();
        let out = ok(data.try_select(dim, index));
        let d = dim.to_isize().rem_euclid(data.rank().max(1) as isize);
        let size = data.shape()[d as usize];
        let i = if index < 0 { index + size as i64 } else { index } as usize;
        Variable::record("select", &[self], out, move |ctx| {
            vec![Some(ctx.grad.unsqueeze(d).pad_dim(d, i, size - i - 1))]
        })
    }

    /// Splits into `chunks` pieces along `dim`.
    #[must_use]
    #[track_caller]
    pub fn chunk(&self, chunks: usize, dim: impl Dim) -> Vec<Variable> {
        let parts = ok(self.data().try_chunk(chunks, dim));
        let sizes: Vec<usize> = parts.iter().map(|p| p.size(dim)).collect();
        self.split_sizes(&sizes, dim)
    }

    /// Splits into pieces of `size` along `dim`.
    #[must_use]
    #[track_caller]
    pub fn split(&self, size: usize, dim: impl Dim) -> Vec<Variable> {
        let parts = ok(self.data().try_split(size, dim));
        let sizes: Vec<usize> = parts.iter().map(|p| p.size(dim)).collect();
        self.split_sizes(&sizes, dim)
    }

    /// Splits into pieces of the given sizes along `dim`.
    #[must_use]
    #[track_caller]
    pub fn split_sizes(&self, sizes: &[usize], dim: impl Dim) -> Vec<Variable> {
        let _ = ok(self.data().try_split_sizes(sizes, dim));
        let mut start = 0;
        sizes
            .iter()
            .map(|&s| {
                let v = self.narrow(dim, start, s);
                start += s;
                v
            })
            .collect()
    }

    /// A contiguous copy of the data (identity for gradients).
    #[must_use]
    pub fn contiguous(&self) -> Variable {
        let out = self.data().contiguous();
        Variable::record("contiguous", &[self], out, |ctx| vec![Some(ctx.grad.clone())])
    }

    /// Converts the dtype; the gradient is converted back.
    #[must_use]
    pub fn to_dtype(&self, dtype: DType) -> Variable {
        let src = self.dtype();
        let out = self.data().to_dtype(dtype);
        Variable::record("to_dtype", &[self], out, move |ctx| vec![Some(ctx.grad.to_dtype(src))])
    }

    /// Moves to `device`; the gradient moves back.
    #[must_use]
    #[track_caller]
    pub fn to(&self, device: &Device) -> Variable {
        let src = self.device();
        let out = self.data().to(device);
        Variable::record("to", &[self], out, move |ctx| vec![Some(ctx.grad.to(&src))])
    }
}
