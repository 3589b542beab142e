//! Indexing and sorting on Variables: differentiable in the values, never in the (I64 or Bool)
//! indices and masks, which are plain tensors.

use ember_tensor::{DType, Dim, Result, Tensor};

use super::elementwise::{c, ok};
use super::reduce::norm_dim;
use crate::Variable;

/// `g` zero-padded at the end of every dim up to `shape` (the gradient of a `src` larger than the
/// `index` that reads it: the unread elements get zero).
fn pad_to(g: Variable, shape: &[usize]) -> Variable {
    let gs = g.shape();
    let mut g = g;
    for (d, (&have, &want)) in gs.iter().zip(shape).enumerate() {
        if want > have {
            g = g.pad_dim(d as isize, 0, want - have);
        }
    }
    g
}

/// # Indexing (differentiable in the values, not the indices)
impl Variable {
    /// Slices along `dim` picked by the I64 `index` (1-d or 0-d); the gradient is `index_add`.
    #[must_use]
    #[track_caller]
    pub fn index_select(&self, dim: impl Dim, index: &Tensor) -> Variable {
        ok(self.try_index_select(dim, index))
    }

    /// Checked form of [`Variable::index_select`].
    #[track_caller]
    pub fn try_index_select(&self, dim: impl Dim, index: &Tensor) -> Result<Variable> {
        let data = self.data();
        let out = data.try_index_select(dim, index)?;
        let d = norm_dim(dim.to_isize(), data.rank());
        let index = index.clone();
        Ok(Variable::record("index_select", &[self], out, move |ctx| {
            let zeros = c(ctx.inputs[0].data().zeros_like());
            vec![Some(zeros.index_add(d, &index, ctx.grad))]
        }))
    }

    /// `self` with `source`'s slices added at `index` along `dim` (out of place; repeated indices
    /// accumulate).
    #[must_use]
    #[track_caller]
    pub fn index_add(&self, dim: impl Dim, index: &Tensor, source: &Variable) -> Variable {
        ok(self.try_index_add(dim, index, source))
    }

    /// Checked form of [`Variable::index_add`].
    #[track_caller]
    pub fn try_index_add(&self, dim: impl Dim, index: &Tensor, source: &Variable) -> Result<Variable> {
        let data = self.data();
        let out = data.try_index_add(dim, index, &source.data())?;
        let d = norm_dim(dim.to_isize(), data.rank());
        let index = index.clone();
        Ok(Variable::record("index_add", &[self, source], out, move |ctx| {
            vec![Some(ctx.grad.clone()), ctx.needs(1).then(|| ctx.grad.index_select(d, &index))]
        }))
    }

    /// Values picked along `dim` by an I64 `index` of the same rank (`torch.gather`); the gradient
    /// is `scatter_add` into zeros.
    ///
    /// ```
    /// use ember_autograd::Variable;
    /// use ember_tensor::Tensor;
    /// let x = Variable::new(Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]), true);
    /// let idx = Tensor::from_vec(vec![1i64, 1, 0, 1], &[2, 2]);
    /// let y = x.gather(1, &idx);
    /// assert_eq!(y.to_vec::<f32>(), vec![2.0, 2.0, 3.0, 4.0]);
    /// y.sum().backward();
    /// assert_eq!(x.grad().unwrap().to_vec::<f32>(), vec![0.0, 2.0, 1.0, 1.0]); // repeats add up
    /// ```
    #[must_use]
    #[track_caller]
    pub fn gather(&self, dim: impl Dim, index: &Tensor) -> Variable {
        ok(self.try_gather(dim, index))
    }

    /// Checked form of [`Variable::gather`].
    #[track_caller]
    pub fn try_gather(&self, dim: impl Dim, index: &Tensor) -> Result<Variable> {
        let data = self.data();
        let out = data.try_gather(dim, index)?;
        let d = norm_dim(dim.to_isize(), data.rank());
        let index = index.clone();
        Ok(Variable::record("gather", &[self], out, move |ctx| {
            let zeros = c(ctx.inputs[0].data().zeros_like());
            vec![Some(zeros.scatter_add(d, &index, ctx.grad))]
        }))
    }

    /// `self` with `src` added at `index` along `dim` (out of place; collisions accumulate). `src`
    /// may be larger than `index`: its unread elements get a zero gradient.
    #[must_use]
    #[track_caller]
    pub fn scatter_add(&self, dim: impl Dim, index: &Tensor, src: &Variable) -> Variable {
        ok(self.try_scatter_add(dim, index, src))
    }

    /// Checked form of [`Variable::scatter_add`].
    #[track_caller]
    pub fn try_scatter_add(&self, dim: impl Dim, index: &Tensor, src: &Variable) -> Result<Variable> {
        let data = self.data();
        let out = data.try_scatter_add(dim, index, &src.data())?;
        let d = norm_dim(dim.to_isize(), data.rank());
        let index = index.clone();
        Ok(Variable::record("scatter_add", &[self, src], out, move |ctx| {
            let gs = ctx.needs(1).then(|| pad_to(ctx.grad.gather(d, &index), &ctx.inputs[1].shape()));
            vec![Some(ctx.grad.clone()), gs]
        }))
    }

    /// `self` with `src` written at `index` along `dim` (out of place). The overwritten elements of
    /// `self` get no gradient; `src` gets the gradient of the places it was written to.
    #[must_use]
    #[track_caller]
    pub fn scatter(&self, dim: impl Dim, index: &Tensor, src: &Variable) -> Variable {
        ok(self.try_scatter(dim, index, src))
    }

    /// Checked form of [`Variable::scatter`].
    #[track_caller]
    pub fn try_scatter(&self, dim: impl Dim, index: &Tensor, src: &Variable) -> Result<Variable> {
        let data = self.data();
        let out = data.try_scatter(dim, index, &src.data())?;
        let d = norm_dim(dim.to_isize(), data.rank());
        let index = index.clone();
        Ok(Variable::record("scatter", &[self, src], out, move |ctx| {
            let keep = ctx.needs(0).then(|| ctx.grad.masked_fill(&hit_mask(ctx.grad, d, &index), 0.0));
            let gs = ctx.needs(1).then(|| pad_to(ctx.grad.gather(d, &index), &ctx.inputs[1].shape()));
            vec![keep, gs]
        }))
    }

    /// `self` with `value` written at `index` along `dim` (out of place); the overwritten elements
    /// get no gradient.
    #[must_use]
    #[track_caller]
    pub fn scatter_value(&self, dim: impl Dim, index: &Tensor, value: f64) -> Variable {
        ok(self.try_scatter_value(dim, index, value))
    }

    /// Checked form of [`Variable::scatter_value`].
    #[track_caller]
    pub fn try_scatter_value(&self, dim: impl Dim, index: &Tensor, value: f64) -> Result<Variable> {
        let data = self.data();
        let out = data.try_scatter_value(dim, index, value)?;
        let d = norm_dim(dim.to_isize(), data.rank());
        let index = index.clone();
        Ok(Variable::record("scatter_value", &[self], out, move |ctx| {
            vec![Some(ctx.grad.masked_fill(&hit_mask(ctx.grad, d, &index), 0.0))]
        }))
    }

    /// Rows of `weight` picked by I64 `indices` of any shape: the embedding lookup. The weight's
    /// gradient adds each row's upstream gradients (`index_add`).
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

    /// The elements where `mask` (Bool, broadcast with this shape) is true, as a 1-d Variable; the
    /// gradient goes back to those places (summed where the mask broadcasts this Variable).
    #[must_use]
    #[track_caller]
    pub fn masked_select(&self, mask: &Tensor) -> Variable {
        ok(self.try_masked_select(mask))
    }

    /// Checked form of [`Variable::masked_select`].
    #[track_caller]
    pub fn try_masked_select(&self, mask: &Tensor) -> Result<Variable> {
        let data = self.data();
        let out = data.try_masked_select(mask)?;
        let mask = mask.clone();
        Ok(Variable::record("masked_select", &[self], out, move |ctx| {
            let x = ctx.inputs[0].data();
            let n = x.numel();
            // the flat position of each selected element in `x` (repeated where `mask` broadcasts x)
            let positions = Tensor::try_arange(0.0, n as f64, 1.0, DType::I64)
                .expect("arange of a tensor's size")
                .reshape(x.shape())
                .to(&x.device())
                .masked_select(&mask);
            let zeros = c(Tensor::zeros_dtype(&[n], x.dtype()).to(&x.device()));
            vec![Some(zeros.index_add(0, &positions, ctx.grad).reshape(x.shape()))]
        }))
    }

    /// One-hot encoding of I64 class indices (an I64 constant, as `F.one_hot`); `num_classes` -1
    /// infers the count from the largest index.
    #[must_use]
    #[track_caller]
    pub fn one_hot(&self, num_classes: i64) -> Variable {
        ok(self.try_one_hot(num_classes))
    }

    /// Checked form of [`Variable::one_hot`].
    #[track_caller]
    pub fn try_one_hot(&self, num_classes: i64) -> Result<Variable> {
        Ok(c(self.data().try_one_hot(num_classes)?))
    }
}

/// A Bool mask of `g`'s shape, true at the places `index` writes to along `d`.
fn hit_mask(g: &Variable, d: isize, index: &Tensor) -> Tensor {
    g.data().zeros_like().scatter_value(d, index, 1.0).ne_scalar(0.0)
}

/// # Sorting (values differentiable through their indices)
impl Variable {
    /// Sorted values along `dim` and their I64 indices (stable); the gradient goes back to the
    /// original places.
    #[must_use]
    #[track_caller]
    pub fn sort(&self, dim: impl Dim, descending: bool) -> (Variable, Tensor) {
        ok(self.try_sort(dim, descending))
    }

    /// Checked form of [`Variable::sort`].
    #[track_caller]
    pub fn try_sort(&self, dim: impl Dim, descending: bool) -> Result<(Variable, Tensor)> {
        let (_, idx) = self.data().try_sort(dim, descending)?;
        Ok((self.try_gather(dim, &idx)?, idx))
    }

    /// The `k` largest (or smallest) values along `dim` and their I64 indices.
    #[must_use]
    #[track_caller]
    pub fn topk(&self, k: usize, dim: impl Dim, largest: bool, sorted: bool) -> (Variable, Tensor) {
        ok(self.try_topk(k, dim, largest, sorted))
    }

    /// Checked form of [`Variable::topk`].
    #[track_caller]
    pub fn try_topk(&self, k: usize, dim: impl Dim, largest: bool, sorted: bool) -> Result<(Variable, Tensor)> {
        let (_, idx) = self.data().try_topk(k, dim, largest, sorted)?;
        Ok((self.try_gather(dim, &idx)?, idx))
    }

    /// The indices that sort along `dim` (an I64 constant).
    #[must_use]
    #[track_caller]
    pub fn argsort(&self, dim: impl Dim, descending: bool) -> Variable {
        ok(self.try_argsort(dim, descending))
    }

    /// Checked form of [`Variable::argsort`].
    #[track_caller]
    pub fn try_argsort(&self, dim: impl Dim, descending: bool) -> Result<Variable> {
        Ok(c(self.data().try_argsort(dim, descending)?))
    }
}
