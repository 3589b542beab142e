//! Reductions on Variables: sums, means, products, extrema, variance and standard deviation, and the
//! constant (non-differentiable) reductions `argmax`, `all`, `any`.

use ember_tensor::{Dim, Result, Tensor};

use super::elementwise::{c, ok};
use crate::Variable;

/// `g` reduced over `dim` (keepdim or not) brought back to `shape` by broadcasting.
pub(crate) fn unreduce(g: &Variable, dim: isize, keepdim: bool, shape: &[usize]) -> Variable {
    let g = if keepdim || shape.is_empty() { g.clone() } else { g.unsqueeze(dim) };
    g.expand(shape)
}

/// `g` reduced over the sorted non-negative `dims` brought back to `shape`.
fn unreduce_dims(g: &Variable, dims: &[isize], keepdim: bool, shape: &[usize]) -> Variable {
    let mut g = g.clone();
    if !keepdim && !shape.is_empty() {
        for &d in dims {
            g = g.unsqueeze(d);
        }
    }
    g.expand(shape)
}

/// A valid dim (the forward call checked it) as a non-negative index; 0-d tensors accept 0 and -1.
pub(crate) fn norm_dim(dim: isize, rank: usize) -> isize {
    dim.rem_euclid(rank.max(1) as isize)
}

/// The sorted, non-negative form of checked `dims`; empty means every dim (as PyTorch's `dim=[]`).
fn norm_dims<D: Dim>(dims: &[D], rank: usize) -> Vec<isize> {
    let mut ds: Vec<isize> = if dims.is_empty() {
        (0..rank as isize).collect()
    } else {
        dims.iter().map(|d| norm_dim(d.to_isize(), rank)).collect()
    };
    ds.sort_unstable();
    ds.dedup();
    ds
}

/// # Reductions (differentiable)
impl Variable {
    /// Sum of all elements (0-d).
    #[must_use]
    #[track_caller]
    pub fn sum(&self) -> Variable {
        ok(self.try_sum())
    }

    /// Checked form of [`Variable::sum`].
    #[track_caller]
    pub fn try_sum(&self) -> Result<Variable> {
        if let Some(x) = crate::autocast::cast1("sum", self) {
            return x.try_sum();
        }
        let out = self.with_data(Tensor::try_sum)?;
        Ok(Variable::record("sum", &[self], out, |ctx| vec![Some(ctx.grad.expand(&ctx.inputs[0].shape()))]))
    }

    /// Sum over `dim`.
    #[must_use]
    #[track_caller]
    pub fn sum_dim(&self, dim: impl Dim, keepdim: bool) -> Variable {
        ok(self.try_sum_dim(dim, keepdim))
    }

    /// Checked form of [`Variable::sum_dim`].
    #[track_caller]
    pub fn try_sum_dim(&self, dim: impl Dim, keepdim: bool) -> Result<Variable> {
        if let Some(x) = crate::autocast::cast1("sum", self) {
            return x.try_sum_dim(dim, keepdim);
        }
        let data = self.data();
        let out = data.try_sum_dim(dim, keepdim)?;
        let d = norm_dim(dim.to_isize(), data.rank());
        Ok(Variable::record("sum", &[self], out, move |ctx| {
            vec![Some(unreduce(ctx.grad, d, keepdim, &ctx.inputs[0].shape()))]
        }))
    }

    /// Sum over several dims (an empty list sums everything, as PyTorch's `dim=[]`).
    #[must_use]
    #[track_caller]
    pub fn sum_dims<D: Dim>(&self, dims: &[D], keepdim: bool) -> Variable {
        ok(self.try_sum_dims(dims, keepdim))
    }

    /// Checked form of [`Variable::sum_dims`].
    #[track_caller]
    pub fn try_sum_dims<D: Dim>(&self, dims: &[D], keepdim: bool) -> Result<Variable> {
        if let Some(x) = crate::autocast::cast1("sum", self) {
            return x.try_sum_dims(dims, keepdim);
        }
        let data = self.data();
        let out = data.try_sum_dims(dims, keepdim)?;
        let ds = norm_dims(dims, data.rank());
        Ok(Variable::record("sum", &[self], out, move |ctx| {
            vec![Some(unreduce_dims(ctx.grad, &ds, keepdim, &ctx.inputs[0].shape()))]
        }))
    }

    /// Sums a broadcast result back to `shape` (the reverse of broadcasting).
    #[must_use]
    #[track_caller]
    pub fn sum_to_shape(&self, shape: &[usize]) -> Variable {
        ok(self.try_sum_to_shape(shape))
    }

    /// Checked form of [`Variable::sum_to_shape`].
    #[track_caller]
    pub fn try_sum_to_shape(&self, shape: &[usize]) -> Result<Variable> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let out = self.data().try_sum_to_shape(shape)?;
        Ok(Variable::record("sum_to_shape", &[self], out, |ctx| vec![Some(ctx.grad.expand(&ctx.inputs[0].shape()))]))
    }

    /// Mean of all elements.
    #[must_use]
    #[track_caller]
    pub fn mean(&self) -> Variable {
        ok(self.try_mean())
    }

    /// Checked form of [`Variable::mean`] (fails on integer data).
    #[track_caller]
    pub fn try_mean(&self) -> Result<Variable> {
        let n = self.numel() as f64;
        let out = self.data().try_mean()?;
        Ok(Variable::record("mean", &[self], out, move |ctx| vec![Some(ctx.grad.expand(&ctx.inputs[0].shape()) / n)]))
    }

    /// Mean over `dim`.
    #[must_use]
    #[track_caller]
    pub fn mean_dim(&self, dim: impl Dim, keepdim: bool) -> Variable {
        ok(self.try_mean_dim(dim, keepdim))
    }

    /// Checked form of [`Variable::mean_dim`].
    #[track_caller]
    pub fn try_mean_dim(&self, dim: impl Dim, keepdim: bool) -> Result<Variable> {
        let data = self.data();
        let out = data.try_mean_dim(dim, keepdim)?;
        let d = norm_dim(dim.to_isize(), data.rank());
        let n = if data.rank() == 0 { 1.0 } else { data.size(d) as f64 };
        Ok(Variable::record("mean", &[self], out, move |ctx| {
            vec![Some(unreduce(ctx.grad, d, keepdim, &ctx.inputs[0].shape()) / n)]
        }))
    }

    /// Mean over several dims (an empty list averages everything).
    #[must_use]
    #[track_caller]
    pub fn mean_dims<D: Dim>(&self, dims: &[D], keepdim: bool) -> Variable {
        ok(self.try_mean_dims(dims, keepdim))
    }

    /// Checked form of [`Variable::mean_dims`].
    #[track_caller]
    pub fn try_mean_dims<D: Dim>(&self, dims: &[D], keepdim: bool) -> Result<Variable> {
        let data = self.data();
        let out = data.try_mean_dims(dims, keepdim)?;
        let ds = norm_dims(dims, data.rank());
        let n: usize = ds.iter().map(|&d| data.shape()[d as usize]).product();
        let n = n as f64;
        Ok(Variable::record("mean", &[self], out, move |ctx| {
            vec![Some(unreduce_dims(ctx.grad, &ds, keepdim, &ctx.inputs[0].shape()) / n)]
        }))
    }

    /// Product of all elements.
    #[must_use]
    #[track_caller]
    pub fn prod(&self) -> Variable {
        ok(self.try_prod())
    }

    /// Checked form of [`Variable::prod`].
    #[track_caller]
    pub fn try_prod(&self) -> Result<Variable> {
        self.reshape(&[-1]).try_prod_dim(0, false)
    }

    /// Product over `dim`. The gradient of each element is the product of the others (exclusive
    /// products from both sides), exact when elements are zero.
    ///
    /// ```
    /// use ember_autograd::Variable;
    /// use ember_tensor::Tensor;
    /// let x = Variable::new(Tensor::from_vec(vec![2.0f32, 0.0, 3.0], &[3]), true);
    /// let p = x.prod_dim(0, false);
    /// assert_eq!(p.item::<f32>(), 0.0);
    /// p.backward();
    /// assert_eq!(x.grad().unwrap().to_vec::<f32>(), vec![0.0, 6.0, 0.0]);
    /// ```
    #[must_use]
    #[track_caller]
    pub fn prod_dim(&self, dim: impl Dim, keepdim: bool) -> Variable {
        ok(self.try_prod_dim(dim, keepdim))
    }

    /// Checked form of [`Variable::prod_dim`].
    #[track_caller]
    pub fn try_prod_dim(&self, dim: impl Dim, keepdim: bool) -> Result<Variable> {
        if let Some(x) = crate::autocast::cast1("prod", self) {
            return x.try_prod_dim(dim, keepdim);
        }
        let data = self.data();
        let out = data.try_prod_dim(dim, keepdim)?;
        let d = norm_dim(dim.to_isize(), data.rank());
        Ok(Variable::record("prod", &[self], out, move |ctx| {
            let x = &ctx.inputs[0];
            if x.rank() == 0 {
                return vec![Some(ctx.grad.clone())];
            }
            vec![Some(unreduce(ctx.grad, d, keepdim, &x.shape()) * &x.product_of_others(d))]
        }))
    }

    /// Per element, the product of the other elements of its slice along `dim`: exclusive
    /// cumulative products from the left times from the right (no division, so zeros are exact).
    #[track_caller]
    fn product_of_others(&self, d: isize) -> Variable {
        let data = self.data();
        let n = data.size(d);
        if n <= 1 {
            return c(data.ones_like());
        }
        let mut s = data.shape().to_vec();
        s[d as usize] = 1;
        let one = c(Tensor::ones_dtype(&s, data.dtype()).to(&data.device()));
        let left = Variable::cat(&[one.clone(), self.narrow(d, 0, n - 1).cumprod(d)], d);
        let rev = self.flip(&[d]).narrow(d, 0, n - 1).cumprod(d);
        let right = Variable::cat(&[one, rev], d).flip(&[d]);
        left * &right
    }

    /// Largest element (0-d); ties share the gradient evenly (as PyTorch's `max()`).
    #[must_use]
    #[track_caller]
    pub fn max(&self) -> Variable {
        ok(self.try_max())
    }

    /// Checked form of [`Variable::max`] (fails on an empty tensor).
    #[track_caller]
    pub fn try_max(&self) -> Result<Variable> {
        self.data().try_max()?;
        self.reshape(&[-1]).try_extreme_dim("max", 0, false)
    }

    /// Smallest element (0-d); ties share the gradient evenly.
    #[must_use]
    #[track_caller]
    pub fn min(&self) -> Variable {
        ok(self.try_min())
    }

    /// Checked form of [`Variable::min`].
    #[track_caller]
    pub fn try_min(&self) -> Result<Variable> {
        self.data().try_min()?;
        self.reshape(&[-1]).try_extreme_dim("min", 0, false)
    }

    /// Largest values over `dim` (PyTorch's `amax`); ties share the gradient evenly.
    #[must_use]
    #[track_caller]
    pub fn max_dim(&self, dim: impl Dim, keepdim: bool) -> Variable {
        ok(self.try_extreme_dim("max", dim.to_isize(), keepdim))
    }

    /// Checked form of [`Variable::max_dim`].
    #[track_caller]
    pub fn try_max_dim(&self, dim: impl Dim, keepdim: bool) -> Result<Variable> {
        self.try_extreme_dim("max", dim.to_isize(), keepdim)
    }

    /// Smallest values over `dim` (PyTorch's `amin`); ties share the gradient evenly.
    #[must_use]
    #[track_caller]
    pub fn min_dim(&self, dim: impl Dim, keepdim: bool) -> Variable {
        ok(self.try_extreme_dim("min", dim.to_isize(), keepdim))
    }

    /// Checked form of [`Variable::min_dim`].
    #[track_caller]
    pub fn try_min_dim(&self, dim: impl Dim, keepdim: bool) -> Result<Variable> {
        self.try_extreme_dim("min", dim.to_isize(), keepdim)
    }

    #[track_caller]
    fn try_extreme_dim(&self, name: &'static str, dim: isize, keepdim: bool) -> Result<Variable> {
        let data = self.data();
        let out = if name == "max" { data.try_max_dim(dim, keepdim)? } else { data.try_min_dim(dim, keepdim)? };
        let d = norm_dim(dim, data.rank());
        Ok(Variable::record(name, &[self], out, move |ctx| {
            let x = ctx.inputs[0].data();
            let o = ctx.output.data();
            let o = if keepdim || x.rank() == 0 { o } else { o.unsqueeze(d) };
            // the gradient is shared by the elements equal to the extreme (a constant weight)
            let mask = x.eq(&o).to_dtype(x.dtype());
            let w = if x.rank() == 0 { mask } else { mask.div(&mask.sum_dim(d, true)) };
            vec![Some(unreduce(ctx.grad, d, keepdim, x.shape()) * &c(w))]
        }))
    }

    /// Max over `dim` with the I64 indices of the maxima (the first one on ties); the gradient goes
    /// to those indices (as PyTorch's `max(dim)`).
    #[must_use]
    #[track_caller]
    pub fn max_dim_with_indices(&self, dim: impl Dim, keepdim: bool) -> (Variable, Tensor) {
        ok(self.try_max_dim_with_indices(dim, keepdim))
    }

    /// Checked form of [`Variable::max_dim_with_indices`].
    #[track_caller]
    pub fn try_max_dim_with_indices(&self, dim: impl Dim, keepdim: bool) -> Result<(Variable, Tensor)> {
        let (_, idx) = self.data().try_max_dim_with_indices(dim, true)?;
        Ok(self.take_at(dim.to_isize(), idx, keepdim))
    }

    /// Min over `dim` with the I64 indices of the minima.
    #[must_use]
    #[track_caller]
    pub fn min_dim_with_indices(&self, dim: impl Dim, keepdim: bool) -> (Variable, Tensor) {
        ok(self.try_min_dim_with_indices(dim, keepdim))
    }

    /// Checked form of [`Variable::min_dim_with_indices`].
    #[track_caller]
    pub fn try_min_dim_with_indices(&self, dim: impl Dim, keepdim: bool) -> Result<(Variable, Tensor)> {
        let (_, idx) = self.data().try_min_dim_with_indices(dim, true)?;
        Ok(self.take_at(dim.to_isize(), idx, keepdim))
    }

    #[track_caller]
    fn take_at(&self, dim: isize, idx: Tensor, keepdim: bool) -> (Variable, Tensor) {
        if self.rank() == 0 {
            let idx = idx.reshape::<usize>(&[]);
            return (self.clone(), idx);
        }
        let d = norm_dim(dim, self.rank());
        let vals = self.gather(d, &idx);
        if keepdim {
            (vals, idx)
        } else {
            (vals.squeeze(d), idx.squeeze(d))
        }
    }

    /// Variance over all elements (`unbiased`: divide by n - 1).
    #[must_use]
    #[track_caller]
    pub fn var(&self, unbiased: bool) -> Variable {
        ok(self.try_var(unbiased))
    }

    /// Checked form of [`Variable::var`].
    #[track_caller]
    pub fn try_var(&self, unbiased: bool) -> Result<Variable> {
        self.reshape(&[-1]).try_var_dim(0, unbiased, false)
    }

    /// Variance over `dim`; the gradient is `2 (x - mean) / (n - unbiased)`.
    #[must_use]
    #[track_caller]
    pub fn var_dim(&self, dim: impl Dim, unbiased: bool, keepdim: bool) -> Variable {
        ok(self.try_var_dim(dim, unbiased, keepdim))
    }

    /// Checked form of [`Variable::var_dim`].
    #[track_caller]
    pub fn try_var_dim(&self, dim: impl Dim, unbiased: bool, keepdim: bool) -> Result<Variable> {
        let data = self.data();
        let out = data.try_var_dim(dim, unbiased, keepdim)?;
        let d = norm_dim(dim.to_isize(), data.rank());
        let n = if data.rank() == 0 { 1.0 } else { data.size(d) as f64 } - if unbiased { 1.0 } else { 0.0 };
        Ok(Variable::record("var", &[self], out, move |ctx| {
            let x = &ctx.inputs[0];
            let centered = x - &x.mean_dim(d, true);
            vec![Some(unreduce(ctx.grad, d, keepdim, &x.shape()) * &(centered * (2.0 / n)))]
        }))
    }

    /// Standard deviation over all elements.
    #[must_use]
    #[track_caller]
    pub fn std(&self, unbiased: bool) -> Variable {
        ok(self.try_std(unbiased))
    }

    /// Checked form of [`Variable::std`].
    #[track_caller]
    pub fn try_std(&self, unbiased: bool) -> Result<Variable> {
        self.reshape(&[-1]).try_std_dim(0, unbiased, false)
    }

    /// Standard deviation over `dim`; the gradient is `(x - mean) / ((n - unbiased) std)`, and 0
    /// where the std is 0 (as PyTorch).
    #[must_use]
    #[track_caller]
    pub fn std_dim(&self, dim: impl Dim, unbiased: bool, keepdim: bool) -> Variable {
        ok(self.try_std_dim(dim, unbiased, keepdim))
    }

    /// Checked form of [`Variable::std_dim`].
    #[track_caller]
    pub fn try_std_dim(&self, dim: impl Dim, unbiased: bool, keepdim: bool) -> Result<Variable> {
        let data = self.data();
        let out = data.try_std_dim(dim, unbiased, keepdim)?;
        let d = norm_dim(dim.to_isize(), data.rank());
        let n = if data.rank() == 0 { 1.0 } else { data.size(d) as f64 } - if unbiased { 1.0 } else { 0.0 };
        Ok(Variable::record("std", &[self], out, move |ctx| {
            let x = &ctx.inputs[0];
            let centered = x - &x.mean_dim(d, true);
            let o = if keepdim || x.rank() == 0 { ctx.output.clone() } else { ctx.output.unsqueeze(d) };
            let zero = o.data().eq_scalar(0.0);
            let scale = (centered / &(o * n)).masked_fill(&zero, 0.0);
            vec![Some(unreduce(ctx.grad, d, keepdim, &x.shape()) * &scale)]
        }))
    }
}

/// # Constant reductions (I64 or Bool results: no gradient flows through them)
impl Variable {
    /// Indices of the maxima over `dim` (an I64 constant).
    #[must_use]
    #[track_caller]
    pub fn argmax(&self, dim: impl Dim, keepdim: bool) -> Variable {
        ok(self.try_argmax(dim, keepdim))
    }

    /// Checked form of [`Variable::argmax`].
    #[track_caller]
    pub fn try_argmax(&self, dim: impl Dim, keepdim: bool) -> Result<Variable> {
        Ok(c(self.data().try_argmax(dim, keepdim)?))
    }

    /// Indices of the minima over `dim` (an I64 constant).
    #[must_use]
    #[track_caller]
    pub fn argmin(&self, dim: impl Dim, keepdim: bool) -> Variable {
        ok(self.try_argmin(dim, keepdim))
    }

    /// Checked form of [`Variable::argmin`].
    #[track_caller]
    pub fn try_argmin(&self, dim: impl Dim, keepdim: bool) -> Result<Variable> {
        Ok(c(self.data().try_argmin(dim, keepdim)?))
    }

    /// Flat index of the largest element (a 0-d I64 constant).
    #[must_use]
    #[track_caller]
    pub fn argmax_all(&self) -> Variable {
        ok(self.try_argmax_all())
    }

    /// Checked form of [`Variable::argmax_all`] (fails on an empty tensor).
    #[track_caller]
    pub fn try_argmax_all(&self) -> Result<Variable> {
        Ok(c(self.data().try_argmax_all()?))
    }

    /// Flat index of the smallest element (a 0-d I64 constant).
    #[must_use]
    #[track_caller]
    pub fn argmin_all(&self) -> Variable {
        ok(self.try_argmin_all())
    }

    /// Checked form of [`Variable::argmin_all`].
    #[track_caller]
    pub fn try_argmin_all(&self) -> Result<Variable> {
        Ok(c(self.data().try_argmin_all()?))
    }

    /// True (a 0-d Bool constant) when every element is nonzero.
    #[must_use]
    #[track_caller]
    pub fn all(&self) -> Variable {
        c(self.data().all())
    }

    /// True (a 0-d Bool constant) when some element is nonzero.
    #[must_use]
    #[track_caller]
    pub fn any(&self) -> Variable {
        c(self.data().any())
    }

    /// [`Variable::all`] over `dim`.
    #[must_use]
    #[track_caller]
    pub fn all_dim(&self, dim: impl Dim, keepdim: bool) -> Variable {
        ok(self.try_all_dim(dim, keepdim))
    }

    /// Checked form of [`Variable::all_dim`].
    #[track_caller]
    pub fn try_all_dim(&self, dim: impl Dim, keepdim: bool) -> Result<Variable> {
        Ok(c(self.data().try_all_dim(dim, keepdim)?))
    }

    /// [`Variable::any`] over `dim`.
    #[must_use]
    #[track_caller]
    pub fn any_dim(&self, dim: impl Dim, keepdim: bool) -> Variable {
        ok(self.try_any_dim(dim, keepdim))
    }

    /// Checked form of [`Variable::any_dim`].
    #[track_caller]
    pub fn try_any_dim(&self, dim: impl Dim, keepdim: bool) -> Result<Variable> {
        Ok(c(self.data().try_any_dim(dim, keepdim)?))
    }
}
