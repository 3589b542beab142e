//! Scans (`cumsum`, `cumprod`), `logsumexp`, `softmax` and `log_softmax` on Variables.

use ember_tensor::{DType, Dim, Result, Tensor};

use super::elementwise::{c, ok};
use super::reduce::{norm_dim, unreduce};
use crate::Variable;

/// `g` summed from the end: `out[i] = sum_{j >= i} g[j]` along `d` (the adjoint of `cumsum`).
fn reverse_cumsum(g: &Variable, d: isize) -> Variable {
    g.flip(&[d]).cumsum(d).flip(&[d])
}

/// # Scans and softmax (differentiable)
impl Variable {
    /// Cumulative sum along `dim`.
    #[must_use]
    #[track_caller]
    pub fn cumsum(&self, dim: impl Dim) -> Variable {
        ok(self.try_cumsum(dim))
    }

    /// Checked form of [`Variable::cumsum`].
    #[track_caller]
    pub fn try_cumsum(&self, dim: impl Dim) -> Result<Variable> {
        if let Some(x) = crate::autocast::cast1("cumsum", self) {
            return x.try_cumsum(dim);
        }
        let data = self.data();
        let out = data.try_cumsum(dim)?;
        let d = norm_dim(dim.to_isize(), data.rank());
        Ok(Variable::record("cumsum", &[self], out, move |ctx| {
            if ctx.grad.rank() == 0 {
                return vec![Some(ctx.grad.clone())];
            }
            vec![Some(reverse_cumsum(ctx.grad, d))]
        }))
    }

    /// Cumulative product along `dim`. The gradient is `revcumsum(g * out) / x` when no element is
    /// zero, else the exact sum of products of the others (quadratic in the length of `dim`).
    ///
    /// ```
    /// use ember_autograd::Variable;
    /// use ember_tensor::Tensor;
    /// let x = Variable::new(Tensor::from_vec(vec![2.0f64, 0.0, 3.0], &[3]), true);
    /// let y = x.cumprod(0); // [2, 0, 0]
    /// y.sum().backward();
    /// // d/dx0 = 1 + x1 + x1 x2 = 1, d/dx1 = x0 + x0 x2 = 8, d/dx2 = x0 x1 = 0
    /// assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![1.0, 8.0, 0.0]);
    /// ```
    #[must_use]
    #[track_caller]
    pub fn cumprod(&self, dim: impl Dim) -> Variable {
        ok(self.try_cumprod(dim))
    }

    /// Checked form of [`Variable::cumprod`].
    #[track_caller]
    pub fn try_cumprod(&self, dim: impl Dim) -> Result<Variable> {
        if let Some(x) = crate::autocast::cast1("cumprod", self) {
            return x.try_cumprod(dim);
        }
        let data = self.data();
        let out = data.try_cumprod(dim)?;
        let d = norm_dim(dim.to_isize(), data.rank());
        Ok(Variable::record("cumprod", &[self], out, move |ctx| {
            let x = &ctx.inputs[0];
            if x.rank() == 0 {
                return vec![Some(ctx.grad.clone())];
            }
            let has_zero = x.data().eq_scalar(0.0).any().item::<bool>();
            if !has_zero {
                return vec![Some(reverse_cumsum(&(ctx.grad * ctx.output), d) / x)];
            }
            vec![Some(cumprod_grad_exact(x, ctx.grad, d))]
        }))
    }

    /// `log(sum(exp(x)))` over `dim`, computed stably; the gradient is `softmax(x)`.
    #[must_use]
    #[track_caller]
    pub fn logsumexp(&self, dim: impl Dim, keepdim: bool) -> Variable {
        ok(self.try_logsumexp(dim, keepdim))
    }

    /// Checked form of [`Variable::logsumexp`].
    #[track_caller]
    pub fn try_logsumexp(&self, dim: impl Dim, keepdim: bool) -> Result<Variable> {
        if let Some(x) = crate::autocast::cast1("logsumexp", self) {
            return x.try_logsumexp(dim, keepdim);
        }
        let data = self.data();
        let out = data.try_logsumexp(dim, keepdim)?;
        let d = norm_dim(dim.to_isize(), data.rank());
        Ok(Variable::record("logsumexp", &[self], out, move |ctx| {
            let x = &ctx.inputs[0];
            let o = if keepdim || x.rank() == 0 { ctx.output.clone() } else { ctx.output.unsqueeze(d) };
            vec![Some(unreduce(ctx.grad, d, keepdim, &x.shape()) * &(x - &o).exp())]
        }))
    }

    /// Softmax along `dim`.
    #[must_use]
    #[track_caller]
    pub fn softmax(&self, dim: impl Dim) -> Variable {
        ok(self.try_softmax(dim))
    }

    /// Checked form of [`Variable::softmax`].
    #[track_caller]
    pub fn try_softmax(&self, dim: impl Dim) -> Result<Variable> {
        if let Some(x) = crate::autocast::cast1("softmax", self) {
            return x.try_softmax(dim);
        }
        let data = self.data();
        let out = data.try_softmax(dim)?;
        let d = norm_dim(dim.to_isize(), data.rank());
        Ok(Variable::record("softmax", &[self], out, move |ctx| {
            let (y, g) = (ctx.output, ctx.grad);
            if y.rank() == 0 {
                return vec![Some(c(g.data().zeros_like()))];
            }
            vec![Some(y * &(g - &(g * y).sum_dim(d, true)))]
        }))
    }

    /// Log-softmax along `dim`.
    #[must_use]
    #[track_caller]
    pub fn log_softmax(&self, dim: impl Dim) -> Variable {
        ok(self.try_log_softmax(dim))
    }

    /// Checked form of [`Variable::log_softmax`].
    #[track_caller]
    pub fn try_log_softmax(&self, dim: impl Dim) -> Result<Variable> {
        if let Some(x) = crate::autocast::cast1("log_softmax", self) {
            return x.try_log_softmax(dim);
        }
        let data = self.data();
        let out = data.try_log_softmax(dim)?;
        let d = norm_dim(dim.to_isize(), data.rank());
        Ok(Variable::record("log_softmax", &[self], out, move |ctx| {
            let (y, g) = (ctx.output, ctx.grad);
            if y.rank() == 0 {
                return vec![Some(c(g.data().zeros_like()))];
            }
            vec![Some(g - &(y.exp() * &g.sum_dim(d, true)))]
        }))
    }
}

/// The gradient of `cumprod` along `d` without dividing by `x`:
/// `dx_i = sum_{j >= i} g_j prod_{k <= j, k != i} x_k`. Built as an `[.., n(i), n(j)]` matrix whose
/// row `i` is the cumulative product of `x` with `x_i` replaced by 1, so it stays differentiable.
fn cumprod_grad_exact(x: &Variable, g: &Variable, d: isize) -> Variable {
    let data = x.data();
    let n = data.size(d);
    let dev = data.device();
    let xt = x.transpose(d, -1); // [.., n]
    let mut rows = xt.shape();
    rows.insert(rows.len() - 1, n); // [.., n(i), n(k)]
    let i = Tensor::try_arange(0.0, n as f64, 1.0, DType::I64).expect("arange of a size");
    let (col, row) = (i.reshape(&[1, n]), i.reshape(&[n, 1]));
    let diag = col.eq(&row).to(&dev);
    let before = col.lt(&row).to(&dev); // j < i: x_i is not yet in the product
    let others = xt.unsqueeze(-2).expand(&rows).masked_fill(&diag, 1.0).cumprod(-1);
    let terms = (others * &g.transpose(d, -1).unsqueeze(-2)).masked_fill(&before, 0.0);
    terms.sum_dim(-1, false).transpose(d, -1)
}
