//! Gradient clipping: [`clip_grad_norm`] (PyTorch's `clip_grad_norm_`) and [`clip_grad_value`].

use ember_autograd::Variable;
use ember_tensor::{DType, Error, Result, Tensor};

/// This gradient's contribution to the total norm, as a 0-d `F64` tensor on its device:
/// `Σ|g|ᵖ` for a finite `p ≠ 0`, `max|g|` / `min|g|` for ±∞, "any nonzero" for 0.
fn partial(g: &Tensor, p: f64) -> Tensor {
    let part = if p == f64::INFINITY {
        g.abs().max()
    } else if p == f64::NEG_INFINITY {
        g.abs().min()
    } else if p == 0.0 {
        // PyTorch takes the 0-"norm" (nonzero count) of each gradient, then of those counts: the
        // result counts the gradients holding any nonzero.
        g.ne_scalar(0.0).any()
    } else if p == 1.0 {
        g.abs().sum()
    } else if p == 2.0 {
        g.mul(g).sum()
    } else {
        g.abs().powf(p).sum()
    };
    part.to_dtype(DType::F64)
}

/// Clips the gradients of `params` in place so that their joint `norm_type`-norm is at most
/// `max_norm`, and returns the norm before clipping (PyTorch's `clip_grad_norm_` with
/// `error_if_nonfinite=False`).
///
/// The norm is that of all gradients concatenated; `norm_type` may be any `p > 0`,
/// `±f64::INFINITY` (largest / smallest magnitude) or `0` (as PyTorch: the number of gradients
/// holding a nonzero). When the norm exceeds `max_norm`,
/// every gradient is scaled by `max_norm / (norm + 1e-6)`. Parameters without a gradient are
/// skipped; with no gradient at all the norm is 0. The reductions and the scaling run on the
/// gradients' device; only the norm itself comes back to the host (it is the return value).
///
/// **Panics** on a NaN or negative finite `norm_type`; see [`try_clip_grad_norm`].
///
/// ```
/// use ember_autograd::Variable;
/// use ember_optim::clip_grad_norm;
/// use ember_tensor::Tensor;
/// let w = Variable::new(Tensor::zeros(&[2]), true);
/// w.set_grad(Some(Tensor::from_vec(vec![3.0f32, 4.0], &[2])));
/// let total = clip_grad_norm(&[w.clone()], 1.0, 2.0);
/// assert!((total - 5.0).abs() < 1e-6);
/// let g = w.grad().unwrap().to_vec::<f32>();
/// assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
/// ```
#[track_caller]
pub fn clip_grad_norm(params: &[Variable], max_norm: f64, norm_type: f64) -> f64 {
    match try_clip_grad_norm(params, max_norm, norm_type) {
        Ok(n) => n,
        Err(e) => panic!("{e}"),
    }
}

/// Checked form of [`clip_grad_norm`].
pub fn try_clip_grad_norm(params: &[Variable], max_norm: f64, norm_type: f64) -> Result<f64> {
    let p = norm_type;
    if p.is_nan() || (p.is_finite() && p < 0.0) {
        return Err(Error::InvalidArgument {
            op: "clip_grad_norm",
            msg: format!("norm_type must be >= 0 or ±inf, got {p}"),
        });
    }
    let grads: Vec<(&Variable, Tensor)> =
        params.iter().filter_map(|v| v.grad().map(|g| (v, g))).filter(|(_, g)| g.numel() > 0).collect();
    let Some((_, first)) = grads.first() else { return Ok(0.0) };
    let device = first.device();
    let mut acc: Option<Tensor> = None;
    for (_, g) in &grads {
        if !g.dtype().is_float() {
            return Err(Error::UnsupportedDType { op: "clip_grad_norm", dtype: g.dtype() });
        }
        let part = partial(g, p).try_to(&device)?;
        acc = Some(match acc {
            None => part,
            Some(a) if p == f64::INFINITY => a.maximum(&part),
            Some(a) if p == f64::NEG_INFINITY => a.minimum(&part),
            Some(a) => a.add(&part),
        });
    }
    let acc = acc.expect("at least one gradient");
    let total = if p.is_finite() && p != 0.0 && p != 1.0 { acc.powf(1.0 / p) } else { acc };
    let total = total.item::<f64>();
    let coef = max_norm / (total + 1e-6);
    // PyTorch clamps the coefficient to 1 and always multiplies: scaling by exactly 1 is skipped
    // here, a NaN coefficient (non-finite norm) still propagates into the gradients.
    if coef.is_nan() || coef < 1.0 {
        for (v, g) in grads {
            v.set_grad(Some(g.mul_scalar(coef)));
        }
    }
    Ok(total)
}

/// Clamps every gradient of `params` into `[-clip_value, clip_value]` in place (PyTorch's
/// `clip_grad_value_`); parameters without a gradient are skipped.
///
/// **Panics** when `clip_value` is negative or NaN.
///
/// ```
/// use ember_autograd::Variable;
/// use ember_optim::clip_grad_value;
/// use ember_tensor::Tensor;
/// let w = Variable::new(Tensor::zeros(&[3]), true);
/// w.set_grad(Some(Tensor::from_vec(vec![-2.0f32, 0.25, 7.0], &[3])));
/// clip_grad_value(&[w.clone()], 0.5);
/// assert_eq!(w.grad().unwrap().to_vec::<f32>(), vec![-0.5, 0.25, 0.5]);
/// ```
#[track_caller]
pub fn clip_grad_value(params: &[Variable], clip_value: f64) {
    if clip_value.is_nan() || clip_value < 0.0 {
        panic!("clip_grad_value: clip_value must be >= 0, got {clip_value}");
    }
    for v in params {
        if let Some(g) = v.grad() {
            v.set_grad(Some(g.clamp(Some(-clip_value), Some(clip_value))));
        }
    }
}
