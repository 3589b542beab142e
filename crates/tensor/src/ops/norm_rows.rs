//! Fused row normalisation (the kernels of LayerNorm and RMSNorm): one pass per row forward, one
//! backward (the CPU kernel in `cpu/norm.rs`; other backends run it through the host fallback).

use crate::tensor::ok;
use crate::{Error, Result, Tensor};

/// Checks the operands of the row norms: a float `x` whose numel is a multiple of `cols > 0`, and
/// parameters (if any) of `cols` elements with `x`'s dtype and device.
fn check(op: &'static str, x: &Tensor, cols: usize, params: &[Option<&Tensor>]) -> Result<()> {
    if !x.dtype().is_float() {
        return Err(Error::UnsupportedDType { op, dtype: x.dtype() });
    }
    if cols == 0 || !x.numel().is_multiple_of(cols) {
        crate::bail!(op, "rows of {cols} elements do not divide an input of shape {:?}", x.shape());
    }
    for p in params.iter().flatten() {
        x.same_dtype(op, p)?;
        x.same_device(op, p)?;
        if p.numel() != cols {
            crate::bail!(op, "a parameter of shape {:?} does not have the row's {cols} elements", p.shape());
        }
    }
    Ok(())
}

/// # Fused normalisation
impl Tensor {
    /// Normalises each row of `cols` trailing elements: `(x - mean) / sqrt(var + eps) * weight +
    /// bias` (biased variance), or with `center = false` RMS normalisation `x / sqrt(mean(x²) +
    /// eps) * weight`. Returns `(out, mean, rstd)`, `mean` and `rstd` with one value per row (the
    /// statistics [`Tensor::norm_rows_backward`] takes).
    ///
    /// ```
    /// use ember_tensor::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 3.0, 0.0, 4.0], &[2, 2]);
    /// let (y, mean, _) = x.norm_rows(None, None, 2, 0.0, true);
    /// assert_eq!(y.to_vec::<f32>(), vec![-1.0, 1.0, -1.0, 1.0]);
    /// assert_eq!(mean.to_vec::<f32>(), vec![2.0, 2.0]);
    /// ```
    #[must_use]
    #[track_caller]
    pub fn norm_rows(
        &self,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        cols: usize,
        eps: f64,
        center: bool,
    ) -> (Tensor, Tensor, Tensor) {
        ok(self.try_norm_rows(weight, bias, cols, eps, center))
    }

    /// Checked form of [`Tensor::norm_rows`].
    pub fn try_norm_rows(
        &self,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        cols: usize,
        eps: f64,
        center: bool,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let op = "norm_rows";
        check(op, self, cols, &[weight, bias])?;
        self.backend().norm_rows(self, weight, bias, cols, eps, center)
    }

    /// The gradients of [`Tensor::norm_rows`] from the output gradient `grad`, the input `x`, the
    /// weight (if any) and the saved `mean`, `rstd`: `(dx, dweight, dbias)` (the parameter
    /// gradients as flat `[cols]` tensors, the bias's whether or not there was one).
    #[must_use]
    #[track_caller]
    pub fn norm_rows_backward(
        grad: &Tensor,
        x: &Tensor,
        weight: Option<&Tensor>,
        mean: &Tensor,
        rstd: &Tensor,
        center: bool,
    ) -> (Tensor, Tensor, Tensor) {
        ok(Tensor::try_norm_rows_backward(grad, x, weight, mean, rstd, center))
    }

    /// Checked form of [`Tensor::norm_rows_backward`].
    pub fn try_norm_rows_backward(
        grad: &Tensor,
        x: &Tensor,
        weight: Option<&Tensor>,
        mean: &Tensor,
        rstd: &Tensor,
        center: bool,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let op = "norm_rows_backward";
        let rows = mean.numel();
        if rows == 0 || rstd.numel() != rows || !x.numel().is_multiple_of(rows) {
            crate::bail!(
                op,
                "statistics of {rows} and {} rows do not fit an input of shape {:?}",
                rstd.numel(),
                x.shape()
            );
        }
        let cols = x.numel() / rows;
        check(op, x, cols, &[weight])?;
        grad.check_fused(op, &[x])?;
        x.same_dtype(op, mean)?;
        x.same_dtype(op, rstd)?;
        x.backend().norm_rows_backward(grad, x, weight, mean, rstd, cols, center)
    }
}

#[cfg(test)]
mod tests {
    use crate::{DType, Tensor};

    /// Forward and backward against the composite of tensor ops, on enough rows to run in several
    /// parallel chunks, with and without centring and parameters, in F64 and F32.
    #[test]
    fn matches_composite() {
        let (rows, cols) = (700, 96);
        let x = Tensor::randn(&[rows, cols]).to_dtype(DType::F64);
        let g = Tensor::randn(&[rows, cols]).to_dtype(DType::F64);
        let w = Tensor::randn(&[cols]).to_dtype(DType::F64);
        let b = Tensor::randn(&[cols]).to_dtype(DType::F64);
        for center in [true, false] {
            for params in [true, false] {
                let (wp, bp) = if params { (Some(&w), Some(&b)) } else { (None, None) };
                let (y, mean, rstd) = x.norm_rows(wp, bp.filter(|_| center), cols, 1e-5, center);
                let xc = if center { &x - &x.mean_dims(&[1], true) } else { x.clone() };
                let r = (&xc * &xc).mean_dims(&[1], true).add_scalar(1e-5).rsqrt();
                let xhat = &xc * &r;
                let mut want = xhat.clone();
                if params {
                    want = &want * &w;
                    if center {
                        want = &want + &b;
                    }
                }
                assert!(y.sub(&want).abs().max().item::<f64>() < 1e-12);
                let (dx, dw, db) = Tensor::norm_rows_backward(&g, &x, wp, &mean, &rstd, center);
                let gy = if params { &g * &w } else { g.clone() };
                let mut inner = &gy - &(&xhat * &(&gy * &xhat).mean_dims(&[1], true));
                if center {
                    inner = &inner - &gy.mean_dims(&[1], true);
                }
                assert!(dx.sub(&(&inner * &r)).abs().max().item::<f64>() < 1e-10);
                assert!(dw.sub(&(&g * &xhat).sum_dims(&[0], false)).abs().max().item::<f64>() < 1e-9);
                assert!(db.sub(&g.sum_dims(&[0], false)).abs().max().item::<f64>() < 1e-9);
                // F32 follows F64 to its precision
                let (y32, _, _) = x.to_dtype(DType::F32).norm_rows(None, None, cols, 1e-5, center);
                assert!(y32.to_dtype(DType::F64).sub(&xhat).abs().max().item::<f64>() < 1e-5);
            }
        }
        assert!(x.try_norm_rows(None, None, 97, 1e-5, true).is_err());
        assert!(x.try_norm_rows(Some(&b.narrow(0, 0, 10)), None, cols, 1e-5, true).is_err());
    }
}
