//! Reductions, scans and softmax on Variables.

use ember_tensor::{Dim, Tensor};

use super::elementwise::{c, ok};
use crate::Variable;

/// `g` reduced over `dim` (keepdim or not) brought back to `shape` by broadcasting.
fn unreduce(g: &Variable, dim: isize, keepdim: bool, shape: &[usize]) -> Variable {
    let g = if keepdim || shape.is_empty() { g.clone() } else { g.unsqueeze(dim) };
    g.expand(shape)
}

fn norm_dim(dim: isize, rank: usize) -> isize {
    dim.rem_euclid(rank.max(1) as isize)
}

/// # Reductions (differentiable)
impl Variable {
    /// Sum of all elements (0-d).
    #[must_use]
    pub fn sum(&self) -> Variable {
        let out = self.data().sum();
        Variable::record("sum", &[self], out, |ctx| vec![Some(ctx.grad.expand(&ctx.inputs[0].shape()))])
    }

    /// Sum over `dim`.
    #[must_use]
    #[track_caller]
    pub fn sum_dim(&self, dim: impl Dim, keepdim: bool) -> Variable {
        let data = self.data();
        let out = ok(data.try_sum_dim(dim, keepdim));
        let d = norm_dim(dim.to_isize(), data.rank());
        Variable::record("sum", &[self], out, move |ctx| {
            vec![Some(unreduce(ctx.grad, d, keepdim, &ctx.inputs[0].shape()))]
        })
    }

    /// Sum over several dims.
    #[must_use]
    #[track_caller]
    pub fn sum_dims<D: Dim>(&self, dims: &[D], keepdim: bool) -> Variable {
        let data = self.data();
        let out = ok(data.try_sum_dims(dims, keepdim));
        let mut ds: Vec<isize> = dims.iter().map(|d| norm_dim(d.to_isize(), data.rank())).collect();
        ds.sort_unstable();
        Variable::record("sum", &[self], out, move |ctx| {
            let mut g = ctx.grad.clone();
            if !keepdim {
                for &d in &ds {
                    g = g.unsqueeze(d);
                }
            }
            vec![Some(g.expand(&ctx.inputs[0].shape()))]
        })
    }

    /// Sums a broadcast result back to `shape` (the reverse of broadcasting).
    #[must_use]
    #[track_caller]
    pub fn sum_to_shape(&self, shape: &[usize]) -> Variable {
        if self.shape() == shape {
            return self.clone();
        }
        let out = ok(self.data().try_sum_to_shape(shape));
        Variable::record("sum_to_shape", &[self], out, |ctx| vec![Some(ctx.grad.expand(&ctx.inputs[0].shape()))])
    }

    /// Mean of all elements.
    #[must_use]
    #[track_caller]
    pub fn mean(&self) -> Variable {
        let n = self.numel() as f64;
        let out = ok(self.data().try_mean());
        Variable::record("mean", &[self], out, move |ctx| vec![Some(ctx.grad.expand(&ctx.inputs[0].shape()) / n)])
    }

    /// Mean over `dim`.
    #[must_use]
    #[track_caller]
    pub fn mean_dim(&self, dim: impl Dim, keepdim: bool) -> Variable {
        let data = self.data();
        let out = ok(data.try_mean_dim(dim, keepdim));
        let d = norm_dim(dim.to_isize(), data.rank());
        let n = data.size(d) as f64;
        Variable::record("mean", &[self], out, move |ctx| {
            vec![Some(unreduce(ctx.grad, d, keepdim, &ctx.inputs[0].shape()) / n)]
        })
    }

    /// Product of all elements.
    #[must_use]
    pub fn prod(&self) -> Variable {
        self.reshape(&[-1]).prod_dim(0, false)
    }

    /// Product over `dim`; the gradient is the product of the other elements (exact with zeros).
    #[must_use]
    #[track_caller]
    pub fn prod_dim(&self, dim: impl Dim, keepdim: bool) -> Variable {
        let data = self.data();
        let out = ok(data.try_prod_dim(dim, keepdim));
        let d = norm_dim(dim.to_isize(), data.rank());
        Variable::record("prod", &[self], out, move |ctx| {
            let x = &ctx.inputs[0];
            let n = x.data().size(d);
            if n == 0 {
                return vec![Some(c(x.data().zeros_like()))];
            }
            // product of the others = exclusive cumprod from the left * from the right
            let left = x.narrow(d, 0, n - 1).cumprod(d).pad_dim_ones(d);
            let right = x.flip(&[d]).narrow(d, 0, n - 1).cumprod(d).pad_dim_ones(d).flip(&[d]);
            vec![Some(unreduce(ctx.grad, d, keepdim, &x.shape()) * &(left * &right))]
        })
    }

    /// Prepends one slice of ones along `dim` (a helper of the prod rule).
    fn pad_dim_ones(&self, dim: isize) -> Variable {
        let data = self.data();
        let mut s = data.shape().to_vec();
        s[dim as usize] = 1;
        Variable::cat(&[Variable::from(Tensor::ones_dtype(&s, data.dtype()).to(&data.device())), self.clone()], dim)
    }

    /// Largest element (0-d); ties share the gradient evenly (as PyTorch's `amax`).
    #[must_use]
    #[track_caller]
    pub fn max(&self) -> Variable {
        self.reshape(&[-1]).max_dim(0, false)
    }

    /// Smallest element (0-d).
    #[must_use]
    #[track_caller]
    pub fn min(&self) -> Variable {
        self.reshape(&[-1]).min_dim(0, false)
    }

    /// Largest values over `dim` (PyTorch's `amax`); ties share the gradient evenly.
    #[must_use]
    #[track_caller]
    pub fn max_dim(&self, dim: impl Dim, keepdim: bool) -> Variable {
        self.extreme_dim("max", dim.to_isize(), keepdim)
    }

    /// Smallest values over `dim` (PyTorch's `amin`); ties share the gradient evenly.
    #[must_use]
    #[track_caller]
    pub fn min_dim(&self, dim: impl Dim, keepdim: bool) -> Variable {
        self.extreme_dim("min", dim.to_isize(), keepdim)
    }

    #[track_caller]
    fn extreme_dim(&self, name: &'static str, dim: isize, keepdim: bool) -> Variable {
        let data = self.data();
        let out = ok(if name == "max" { data.try_max_dim(dim, keepdim) } else { data.try_min_dim(dim, keepdim) });
        let d = norm_dim(dim, data.rank());
        Variable::record(name, &[self], out, move |ctx| {
            let x = ctx.inputs[0].data();
            let o = ctx.output.data();
            let o = if keepdim || x.rank() == 0 { o } else { o.unsqueeze(d) };
            let mask = x.eq(&o).to_dtype(x.dtype());
            let count = mask.sum_dim(d, true);
            let w = c(mask.div(&count));
            vec![Some(unreduce(ctx.grad, d, keepdim, x.shape()) * &w)]
        })
    }

    /// Max over `dim` with the I64 indices of the maxima; the gradient goes to those indices.
    #[must_use]
    #[track_caller]
    pub fn max_dim_with_indices(&self, dim: impl Dim, keepdim: bool) -> (Variable, Tensor) {
        let (_, idx) = ok(self.data().try_max_dim_with_indices(dim, true));
        self.take_at(dim.to_isize(), idx, keepdim)
    }

    /// Min over `dim` with the I64 indices of the minima.
    #[must_use]
    #[track_caller]
    pub fn min_dim_with_indices(&self, dim: impl Dim, keepdim: bool) -> (Variable, Tensor) {
        let (_, idx) = ok(self.data().try_min_dim_with_indices(dim, true));
        self.take_at(dim.to_isize(), idx, keepdim)
    }

    fn take_at(&self, dim: isize, idx: Tensor, keepdim: bool) -> (Variable, Tensor) {
        let d = norm_dim(dim, self.rank());
        let vals = self.gather(d, &idx);
        if keepdim || self.rank() == 0 {
            (vals, idx)
        } else {
            (vals.squeeze(d), idx.squeeze(d))
        }
    }

    /// Variance over all elements (`unbiased`: divide by n - 1).
    #[must_use]
    #[track_caller]
    pub fn var(&self, unbiased: bool) -> Variable {
        self.reshape(&[-1]).var_dim(0, unbiased, false)
    }

    /// Variance over `dim`.
    #[must_use]
    #[track_caller]
    pub fn var_dim(&self, dim: impl Dim, unbiased: bool, keepdim: bool) -> Variable {
        let data = self.data();
        let out = ok(data.try_var_dim(dim, unbiased, keepdim));
        let d = norm_dim(dim.to_isize(), data.rank());
        let n = data.size(d) as f64 - if unbiased { 1.0 } else { 0.0 };
        Variable::record("var", &[self], out, move |ctx| {
            let x = &ctx.inputs[0];
            let centered = x - &x.mean_dim(d, true);
            vec![Some(unreduce(ctx.grad, d, keepdim, &x.shape()) * &(centered * (2.0 / n)))]
        })
    }

    /// Standard deviation over all elements.
    #[must_use]
    #[track_caller]
    pub fn std(&self, unbiased: bool) -> Variable {
        self.reshape(&[-1]).std_dim(0, unbiased, false)
    }

    /// Standard deviation over `dim`.
    #[must_use]
    #[track_caller]
    pub fn std_dim(&self, dim: impl Dim, unbiased: bool, keepdim: bool) -> Variable {
        let data = self.data();
        let out = ok(data.try_std_dim(dim, unbiased, keepdim));
        let d = norm_dim(dim.to_isize(), data.rank());
        let n = data.size(d) as f64 - if unbiased { 1.0 } else { 0.0 };
        Variable::record("std", &[self], out, move |ctx| {
            let x = &ctx.inputs[0];
            let centered = x - &x.mean_dim(d, true);
            let o = if keepdim { ctx.output.clone() } else { ctx.output.unsqueeze(d) };
            vec![Some(unreduce(ctx.grad, d, keepdim, &x.shape()) * &(centered / &(o * n)))]
        })
    }

    /// `log(sum(exp(x)))` over `dim`, computed stably.
    #[must_use]
    #[track_caller]
    pub fn logsumexp(&self, dim: impl Dim, keepdim: bool) -> Variable {
        let data = self.data();
        let out = ok(data.try_logsumexp(dim, keepdim));
        let d = norm_dim(dim.to_isize(), data.rank());
        Variable::record("logsumexp", &[self], out, move |ctx| {
            let x = &ctx.inputs[0];
            let o = if keepdim { ctx.output.clone() } else { ctx.output.unsqueeze(d) };
            vec![Some(unreduce(ctx.grad, d, keepdim, &x.shape()) * &(x - &o).exp())]
        })
    }

    /// Cumulative sum along `dim`.
    #[must_use]
    #[track_caller]
    pub fn cumsum(&self, dim: impl Dim) -> Variable {
        let data = self.data();
        let out = ok(data.try_cumsum(dim));
        let d = norm_dim(dim.to_isize(), data.rank());
        Variable::record("cumsum", &[self], out, move |ctx| vec![Some(ctx.grad.flip(&[d]).cumsum(d).flip(&[d]))])
    }

    /// Cumulative product along `dim` (its gradient divides by the input: inputs with zeros give
    /// non-finite gradients).
    #[must_use]
    #[track_caller]
    pub fn cumprod(&self, dim: impl Dim) -> Variable {
        let data = self.data();
        let out = ok(data.try_cumprod(dim));
        let d = norm_dim(dim.to_isize(), data.rank());
        Variable::record("cumprod", &[self], out, move |ctx| {
            let x = &ctx.inputs[0];
            let rev = (ctx.grad * ctx.output).flip(&[d]).cumsum(d).flip(&[d]);
            vec![Some(rev / x)]
        })
    }

    /// Softmax along `dim`.
    #[must_use]
    #[track_caller]
    pub fn softmax(&self, dim: impl Dim) -> Variable {
        let data = self.data();
        let out = ok(data.try_softmax(dim));
        let d = norm_dim(dim.to_isize(), data.rank());
        Variable::record("softmax", &[self], out, move |ctx| {
            let (y, g) = (ctx.output, ctx.grad);
            vec![Some(y * &(g - &(g * y).sum_dim(d, true)))]
        })
    }

    /// Log-softmax along `dim`.
    #[must_use]
    #[track_caller]
    pub fn log_softmax(&self, dim: impl Dim) -> Variable {
        let data = self.data();
        let out = ok(data.try_log_softmax(dim));
        let d = norm_dim(dim.to_isize(), data.rank());
        Variable::record("log_softmax", &[self], out, move |ctx| {
            let (y, g) = (ctx.output, ctx.grad);
            vec![Some(g - &(y.exp() * &g.sum_dim(d, true)))]
        })
    }
}

/// # Non-differentiable reductions (results are constants)
impl Variable {
    /// Indices of the maxima over `dim` (an I64 constant).
    #[must_use]
    #[track_caller]
    pub fn argmax(&self, dim: impl Dim, keepdim: bool) -> Variable {
        Variable::from(self.data().argmax(dim, keepdim))
    }

    /// Indices of the minima over `dim` (an I64 constant).
    #[must_use]
    #[track_caller]
    pub fn argmin(&self, dim: impl Dim, keepdim: bool) -> Variable {
        Variable::from(self.data().argmin(dim, keepdim))
    }
}
