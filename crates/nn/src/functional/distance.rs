//! Norms and similarities along a dim, as `torch.nn.functional`: `normalize` (`x / max(‖x‖_p,
//! eps)`) and `cosine_similarity`.
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_nn::functional as F;
//! use ember_tensor::Tensor;
//! let x = Variable::from(Tensor::from_vec(vec![3.0f32, 4.0, 0.0, 0.0], &[2, 2]));
//! assert_eq!(F::normalize(&x, 2.0, 1, 1e-12).to_vec::<f32>(), vec![0.6, 0.8, 0.0, 0.0]);
//! let a = Variable::from(Tensor::from_vec(vec![1.0f32, 0.0], &[1, 2]));
//! let b = Variable::from(Tensor::from_vec(vec![1.0f32, 1.0], &[1, 2]));
//! let c = F::cosine_similarity(&a, &b, 1, 1e-8).to_vec::<f32>()[0];
//! assert!((c - 0.5f32.sqrt()).abs() < 1e-6);
//! ```

use ember_autograd::{autocast_inputs, Variable};
use ember_tensor::shape::{broadcast_shapes, normalize_dim};
use ember_tensor::{Dim, Error, Result, Tensor};

use super::checked::{bail, ok};

/// `‖x‖_p` along dim `d` (kept, size 1), for a finite `p > 0`. The gradient is
/// `sign(x) |x|^(p-1) / ‖x‖^(p-1)`, and 0 where the norm is 0 (PyTorch's choice of subgradient:
/// the zero vector's norm passes no gradient, instead of 0/0).
fn vector_norm(x: &Variable, p: f64, d: usize) -> Variable {
    let xd = x.data();
    let out =
        if p == 2.0 { xd.square().sum_dim(d, true).sqrt() } else { xd.abs().powf(p).sum_dim(d, true).powf(1.0 / p) };
    Variable::record("norm", &[x], out, move |ctx| {
        let (x, n) = (&ctx.inputs[0], ctx.output);
        // n with its zeros replaced by 1 (where n = 0 every x is 0, so the numerator is 0 too)
        let zero = Variable::from(n.data().eq_scalar(0.0).to_dtype(n.dtype()));
        let safe = n + &zero;
        let g = if p == 2.0 {
            ctx.grad * &(x / &safe)
        } else {
            let num = &Variable::from(x.data().sign()) * &x.abs().powf(p - 1.0);
            ctx.grad * &(&num / &safe.powf(p - 1.0))
        };
        vec![Some(g)]
    })
}

/// `x / max(‖x‖_p, eps)` along `dim`, PyTorch's `F.normalize(input, p, dim, eps)` (its defaults:
/// `p = 2.0`, `dim = 1`, `eps = 1e-12`). `p` is a finite positive number.
///
/// **Panics** on a bad `dim` or `p`; see [`try_normalize`].
#[must_use]
#[track_caller]
pub fn normalize(input: &Variable, p: f64, dim: impl Dim, eps: f64) -> Variable {
    ok(try_normalize(input, p, dim, eps))
}

/// Checked form of [`normalize`].
pub fn try_normalize(input: &Variable, p: f64, dim: impl Dim, eps: f64) -> Result<Variable> {
    let shape = input.shape();
    if !input.dtype().is_float() {
        return bail("normalize", format!("expected a floating point input, got {} of shape {shape:?}", input.dtype()));
    }
    if !(p.is_finite() && p > 0.0) {
        return bail("normalize", format!("p must be a finite positive number, got {p} (input shape {shape:?})"));
    }
    let d = normalize_dim("normalize", dim.to_isize(), shape.len())?;
    if shape.is_empty() {
        return bail("normalize", "expected an input of at least 1 dim, got a 0-d tensor".into());
    }
    let denom = vector_norm(input, p, d).clamp_min(eps);
    input.try_div(&denom)
}

/// Cosine similarity `x1·x2 / (max(‖x1‖, eps) max(‖x2‖, eps))` along `dim`, PyTorch's
/// `F.cosine_similarity(x1, x2, dim, eps)` (its defaults: `dim = 1`, `eps = 1e-8`). The inputs
/// broadcast together; `dim` is removed from the result. As PyTorch, each input is divided by its
/// own norm first (the result stays in `[-1, 1]`), and the `eps` clamp does not cut the gradient.
///
/// **Panics** when the shapes do not broadcast or `dim` is out of range; see
/// [`try_cosine_similarity`].
#[must_use]
#[track_caller]
pub fn cosine_similarity(x1: &Variable, x2: &Variable, dim: impl Dim, eps: f64) -> Variable {
    ok(try_cosine_similarity(x1, x2, dim, eps))
}

/// Checked form of [`cosine_similarity`].
pub fn try_cosine_similarity(x1: &Variable, x2: &Variable, dim: impl Dim, eps: f64) -> Result<Variable> {
    if let Some(a) = autocast_inputs("cosine_similarity", &[Some(x1), Some(x2)]) {
        return try_cosine_similarity(a.var(0), a.var(1), dim, eps);
    }
    let (s1, s2) = (x1.shape(), x2.shape());
    if x1.dtype() != x2.dtype() || !x1.dtype().is_float() {
        return bail(
            "cosine_similarity",
            format!(
                "expected float inputs of one dtype, got {} and {} (shapes {s1:?}, {s2:?})",
                x1.dtype(),
                x2.dtype()
            ),
        );
    }
    let shape = broadcast_shapes("cosine_similarity", &s1, &s2).map_err(|_| Error::InvalidArgument {
        op: "cosine_similarity",
        msg: format!("x1 of shape {s1:?} and x2 of shape {s2:?} do not broadcast"),
    })?;
    if shape.is_empty() {
        return bail("cosine_similarity", "expected inputs of at least 1 dim, got 0-d tensors".into());
    }
    let d = normalize_dim("cosine_similarity", dim.to_isize(), shape.len())?;
    let (a, b) = (x1.broadcast_to(&shape), x2.broadcast_to(&shape));
    let unit = |v: &Variable| {
        let n = vector_norm(v, 2.0, d);
        // clamp_min(eps) applied without recording it: the gradient flows as through the norm
        let lift: Tensor = &n.data().clamp_min(eps) - &n.data();
        v / &(&n + &Variable::from(lift))
    };
    Ok((&unit(&a) * &unit(&b)).sum_dim(d, false))
}
