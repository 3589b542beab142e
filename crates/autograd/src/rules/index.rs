//! Indexing, joining and sorting on Variables.

use ember_tensor::{DType, Dim, Result, Tensor};

use super::elementwise::{c, ok};
use crate::Variable;

fn norm_dim(dim: isize, rank: usize) -> isize {
    dim.rem_euclid(rank.max(1) as isize)
}

/// # Indexing (differentiable in the values, not the indices)
impl Variable {
    /// Rows (slices along `dim`) picked by the 1-d I64 `index`.
    #[must_use]
    #[track_caller]
    pub fn index_select(&self, dim: impl Dim, index: &Tensor) -> Variable {
        let data = self.data();
        let out = ok(data.try_index_select(dim, index));
        let d = norm_dim(dim.to_isize(), data.rank());
        let index = index.clone();
        Variable::record("index_select", &[self], out, move |ctx| {
            let zeros = c(ctx.inputs[0].data().zeros_like());
            vec![Some(zeros.index_add(d, &index, ctx.grad))]
        })
    }

    /// `self` with `source`'s slices added at `index` along `dim` (out of place).
    #[must_use]
    #[track_caller]
    pub fn index_add(&self, dim: impl Dim, index: &Tensor, source: &Variable) -> Variable {
        let data = self.data();
        let out = ok(data.try_index_add(dim, index, &source.data()));
        let d = norm_dim(dim.to_isize(), data.rank());
        let index = index.clone();
        Variable::record("index_add", &[self, source], out, move |ctx| {
            vec![Some(ctx.grad.clone()), ctx.needs(1).then(|| ctx.grad.index_select(d, &index))]
        })
    }

    /// Values picked along `dim` by an I64 `index` of the same rank (`torch.gather`).
    #[must_use]
    #[track_caller]
    pub fn gather(&self, dim: impl Dim, index: &Tensor) -> Variable {
        let data = self.data();
        let out = ok(data.try_gather(dim, index));
        let d = norm_dim(dim.to_isize(), data.rank());
        let index = index.clone();
        Variable::record("gather", &[self], out, move |ctx| {
            let zeros = c(ctx.inputs[0].data().zeros_like());
            vec![Some(zeros.scatter_add(d, &index, ctx.grad))]
        })
    }

    /// `self` with `src` added at `index` along `dim` (out of place; collisions accumulate).
    #[must_use]
    #[track_caller]
    pub fn scatter_add(&self, dim: impl Dim, index: &Tensor, src: &Variable) -> Variable {
        let data = self.data();
        let out = ok(data.try_scatter_add(dim, index, &src.data()));
        let d = norm_dim(dim.to_isize(), data.rank());
        let index = index.clone();
        Variable::record("scatter_add", &[self, src], out, move |ctx| {
            vec![Some(ctx.grad.clone()), ctx.needs(1).then(|| ctx.grad.gather(d, &index))]
        })
    }

    /// `self` with `src` written at `index` along `dim` (out of place).
    #[must_use]
    #[track_caller]
    pub fn scatter(&self, dim: impl Dim, index: &Tensor, src: &Variable) -> Variable {
        let data = self.data();
        let out = ok(data.try_scatter(dim, index, &src.data()));
        let d = norm_dim(dim.to_isize(), data.rank());
        let index = index.clone();
        Variable::record("scatter", &[self, src], out, move |ctx| {
            let keep = ctx.needs(0).then(|| {
                let hit = ctx.grad.data().zeros_like().scatter_value(d, &index, 1.0).ne_scalar(0.0);
                ctx.grad.masked_fill(&hit, 0.0)
            });
            vec![keep, ctx.needs(1).then(|| ctx.grad.gather(d, &index))]
        })
    }

    /// Rows of `weight` picked by I64 `indices` of any shape: the embedding lookup.
    #[must_use]
    #[track_caller]
    pub fn embedding(weight: &Variable, indices: &Tensor) -> Variable {
        ok(Variable::try_embedding(weight, indices))
    }

    /// Checked form of [`Variable::embedding`].
    pub fn try_embedding(weight: &Variable, indices: &Tensor) -> Result<Variable> {
        let out = Tensor::try_embedding(&weight.data(), indices)?;
        let idx = indices.reshape(&[-1]);
        Ok(Variable::record("embedding", &[weight], out, move |ctx| {
            let w = &ctx.inputs[0];
            let dim = w.shape()[1];
            let zeros = c(w.data().zeros_like());
            vec![Some(zeros.index_add(0, &idx, &ctx.grad.reshape(&[-1, dim as isize])))]
        }))
    }

    /// Reverses the order along `dims` (a copy).
    #[must_use]
    #[track_caller]
    pub fn flip<D: Dim>(&self, dims: &[D]) -> Variable {
        let out = ok(self.data().try_flip(dims));
        let ds: Vec<isize> = dims.iter().map(|d| d.to_isize()).collect();
        Variable::record("flip", &[self], out, move |ctx| vec![Some(ctx.grad.flip(&ds))])
    }

    /// Tiles the data `reps` times per dim (`torch.Tensor.repeat`).
    #[must_use]
    #[track_caller]
    pub fn repeat(&self, reps: &[usize]) -> Variable {
        let out = ok(self.data().try_repeat(reps));
        let reps = reps.to_vec();
        Variable::record("repeat", &[self], out, move |ctx| {
            let shape = ctx.inputs[0].shape();
            // leading new dims and each repeated dim split into (rep, size), then summed over reps
            let lead = reps.len() - shape.len();
            let mut split: Vec<isize> = reps[..lead].iter().map(|&r| r as isize).collect();
            let mut sum_dims: Vec<isize> = (0..lead as isize).collect();
            for (i, &s) in shape.iter().enumerate() {
                sum_dims.push(split.len() as isize);
                split.push(reps[lead + i] as isize);
                split.push(s as isize);
            }
            vec![Some(ctx.grad.reshape(&split).sum_dims(&sum_dims, false))]
        })
    }

    /// The elements where `mask` (Bool, broadcast) is true, as a 1-d Variable.
    #[must_use]
    #[track_caller]
    pub fn masked_select(&self, mask: &Tensor) -> Variable {
        let data = self.data();
        let out = ok(data.try_masked_select(mask));
        let mask = mask.clone();
        Variable::record("masked_select", &[self], out, move |ctx| {
            let x = ctx.inputs[0].data();
            let n = x.numel();
            let positions = Tensor::try_arange(0.0, n as f64, 1.0, DType::I64)
                .expect("arange of a tensor's size")
                .reshape(x.shape())
                .masked_select(&mask);
            let zeros = c(Tensor::zeros_dtype(&[n], x.dtype()).to(&x.device()));
            vec![Some(zeros.index_add(0, &positions, ctx.grad).reshape(x.shape()))]
        })
    }
}

/// # Joining (differentiable)
impl Variable {
    /// Concatenates along `dim`; each input gets its slice of the gradient.
    #[must_use]
    #[track_caller]
    pub fn cat(vars: &[Variable], dim: impl Dim) -> Variable {
        ok(Variable::try_cat(vars, dim))
    }

    /// Checked form of [`Variable::cat`].
    pub fn try_cat(vars: &[Variable], dim: impl Dim) -> Result<Variable> {
        let datas: Vec<Tensor> = vars.iter().map(|v| v.data()).collect();
        let out = Tensor::try_cat(&datas, dim)?;
        let d = norm_dim(dim.to_isize(), out.rank());
        let sizes: Vec<usize> = datas
            .iter()
            .map(|t| if t.rank() == 0 || t.numel() == 0 && t.rank() == 1 { 0 } else { t.size(d) })
            .collect();
        let refs: Vec<&Variable> = vars.iter().collect();
        Ok(Variable::record("cat", &refs, out, move |ctx| {
            let mut start = 0;
            sizes
                .iter()
                .zip(ctx.inputs)
                .map(|(&s, v)| {
                    let g = if v.numel() == 0 && v.rank() == 1 && s == 0 {
                        c(v.data().zeros_like())
                    } else {
                        ctx.grad.narrow(d, start, s)
                    };
                    start += s;
                    Some(g)
                })
                .collect()
        }))
    }

    /// Stacks along a new `dim`.
    #[must_use]
    #[track_caller]
    pub fn stack(vars: &[Variable], dim: impl Dim) -> Variable {
        let datas: Vec<Tensor> = vars.iter().map(|v| v.data()).collect();
        let out = ok(Tensor::try_stack(&datas, dim));
        let d = norm_dim(dim.to_isize(), out.rank());
        let refs: Vec<&Variable> = vars.iter().collect();
        Variable::record("stack", &refs, out, move |ctx| {
            (0..ctx.inputs.len()).map(|i| Some(ctx.grad.select(d, i as i64))).collect()
        })
    }
}

/// # Sorting (values differentiable through their indices)
impl Variable {
    /// Sorted values along `dim` and their I64 indices (stable).
    #[must_use]
    #[track_caller]
    pub fn sort(&self, dim: impl Dim, descending: bool) -> (Variable, Tensor) {
        let (_, idx) = ok(self.data().try_sort(dim, descending));
        (self.gather(dim, &idx), idx)
    }

    /// The `k` largest (or smallest) values along `dim` and their I64 indices.
    #[must_use]
    #[track_caller]
    pub fn topk(&self, k: usize, dim: impl Dim, largest: bool, sorted: bool) -> (Variable, Tensor) {
        let (_, idx) = ok(self.data().try_topk(k, dim, largest, sorted));
        (self.gather(dim, &idx), idx)
    }
}
