//! Normalisation, as `torch.nn.functional`: `batch_norm`, `layer_norm`, `group_norm`, `rms_norm`.
//!
//! `layer_norm` and `rms_norm` normalise rows of trailing elements with the fused kernel
//! `Tensor::norm_rows` (statistics, normalisation and affine in one pass per row, the backward
//! likewise; see `fused_rows`). `batch_norm` and `group_norm` share one recorded op, `normalize`: `x̂ = (x - mean) / sqrt(var + eps)` over some dims
//! (biased variance; RMS norm skips the centring), with its backward rule beside it:
//! `dx = r (g - mean(g) - x̂ mean(g x̂))`, `r = 1 / sqrt(var + eps)` (without the `mean(g)` term
//! for RMS). The elementwise affine (`x̂ * weight + bias`) is plain Variable ops after it. First-order
//! backward reuses the forward's statistics; under `create_graph` the rule recomputes them from `x`
//! with Variable ops, so second derivatives are exact too (checked by gradcheck in the tests).
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_nn::functional as F;
//! use ember_tensor::Tensor;
//! let x = Variable::from(Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]));
//! let y = F::layer_norm(&x, &[2], None, None, 1e-5).to_vec::<f32>();
//! assert!((y[0] + 1.0).abs() < 1e-3 && (y[1] - 1.0).abs() < 1e-3);
//! ```

use ember_autograd::{autocast_inputs, is_grad_enabled, no_grad, Variable};
use ember_tensor::{DType, Result, Tensor};

use super::checked::{bail, ok};

/// The normalised input and its statistics (keepdim shapes): `mean` (none for RMS) and the biased
/// `var` (the mean square for RMS).
pub(crate) struct Normalized {
    pub out: Variable,
    pub mean: Option<Tensor>,
    pub var: Tensor,
}

/// `(x - mean) / sqrt(var + eps)` over `dims` (or `x / sqrt(mean(x²) + eps)` without `center`),
/// recorded as one op named `op`.
pub(crate) fn normalize(op: &'static str, x: &Variable, dims: &[usize], eps: f64, center: bool) -> Normalized {
    let d = x.data();
    let n: usize = dims.iter().map(|&i| d.shape()[i]).product();
    let mean = center.then(|| d.mean_dims(dims, true));
    let xc = match &mean {
        Some(m) => d.sub(m),
        None => d.clone(),
    };
    let var = xc.square().mean_dims(dims, true);
    let invstd = var.add_scalar(eps).rsqrt();
    let out = xc.mul(&invstd);
    let ds: Vec<isize> = dims.iter().map(|&i| i as isize).collect();
    let saved_invstd = invstd;
    let out = Variable::record(op, &[x], out, move |ctx| {
        let g = ctx.grad;
        let inv_n = 1.0 / n as f64;
        let (xhat, r) = if is_grad_enabled() {
            // create_graph: the statistics as functions of x, so this gradient is differentiable
            let x = &ctx.inputs[0];
            let xc = if center { x - &(x.sum_dims(&ds, true) * inv_n) } else { x.clone() };
            let r = ((&xc * &xc).sum_dims(&ds, true) * inv_n + eps).rsqrt();
            (&xc * &r, r)
        } else {
            (Variable::from(ctx.output.data()), Variable::from(saved_invstd.clone()))
        };
        let proj = (g * &xhat).sum_dims(&ds, true) * inv_n;
        let mut inner = g - &(&xhat * &proj);
        if center {
            inner = inner - g.sum_dims(&ds, true) * inv_n;
        }
        vec![Some(inner * &r)]
    });
    Normalized { out, mean, var }
}

/// `y * weight + bias`, the parameters viewed as `param_shape` to broadcast against `y`.
fn affine(y: Variable, weight: Option<&Variable>, bias: Option<&Variable>, param_shape: &[usize]) -> Result<Variable> {
    let mut y = y;
    if let Some(w) = weight {
        y = y.try_mul(&w.try_reshape(param_shape)?)?;
    }
    if let Some(b) = bias {
        y = y.try_add(&b.try_reshape(param_shape)?)?;
    }
    Ok(y)
}

/// Checks that an optional per-channel (or per-feature) tensor has `shape`.
fn check_param(op: &'static str, what: &str, v: Option<&Variable>, shape: &[usize]) -> Result<()> {
    if let Some(v) = v {
        if v.shape() != shape {
            return bail(op, format!("{what} of shape {:?} does not match the expected shape {shape:?}", v.shape()));
        }
    }
    Ok(())
}

/// `[C, 1, .., 1]`: a per-channel parameter shaped to broadcast over `[N, C, *]` of `rank`.
fn channel_shape(c: usize, rank: usize) -> Vec<usize> {
    let mut s = vec![c];
    s.resize(rank.max(2) - 1, 1);
    s
}

/// Batch normalisation over `[N, C, *]`, PyTorch's `F.batch_norm`. With `training`, the input is
/// normalised by its own per-channel mean and biased variance and the running statistics (if
/// given) move towards the batch's: `running = (1 - momentum) running + momentum batch`, with the
/// unbiased variance. Otherwise the running statistics normalise.
///
/// **Panics** on shapes that do not fit or a single value per channel in training; see
/// [`try_batch_norm`].
#[must_use]
#[track_caller]
#[allow(clippy::too_many_arguments)]
pub fn batch_norm(
    input: &Variable,
    running_mean: Option<&Variable>,
    running_var: Option<&Variable>,
    weight: Option<&Variable>,
    bias: Option<&Variable>,
    training: bool,
    momentum: f64,
    eps: f64,
) -> Variable {
    ok(try_batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps))
}

/// Checked form of [`batch_norm`].
#[allow(clippy::too_many_arguments)]
pub fn try_batch_norm(
    input: &Variable,
    running_mean: Option<&Variable>,
    running_var: Option<&Variable>,
    weight: Option<&Variable>,
    bias: Option<&Variable>,
    training: bool,
    momentum: f64,
    eps: f64,
) -> Result<Variable> {
    let op = "batch_norm";
    let shape = input.shape();
    if shape.len() < 2 {
        return bail(op, format!("expected an input of shape [N, C, *] (at least 2 dims), got {shape:?}"));
    }
    if !input.dtype().is_float() {
        return bail(op, format!("expected a floating-point input, got {}", input.dtype()));
    }
    let c = shape[1];
    check_param(op, "weight", weight, &[c])?;
    check_param(op, "bias", bias, &[c])?;
    check_param(op, "running_mean", running_mean, &[c])?;
    check_param(op, "running_var", running_var, &[c])?;
    let pshape = channel_shape(c, shape.len());
    let dims: Vec<usize> = std::iter::once(0).chain(2..shape.len()).collect();
    if training {
        let n = input.numel() / c.max(1);
        if n <= 1 {
            return bail(op, format!("Expected more than 1 value per channel when training, got input size {shape:?}"));
        }
        let st = normalize(op, input, &dims, eps, true);
        let y = affine(st.out, weight, bias, &pshape)?;
        no_grad(|| {
            let upd = |run: &Variable, batch: &Tensor| {
                let r = run.data();
                let b = batch.reshape(&[c]).to_dtype(r.dtype()).to(&r.device());
                run.set_data(&r.mul_scalar(1.0 - momentum) + &b.mul_scalar(momentum));
            };
            if let (Some(rm), Some(m)) = (running_mean, &st.mean) {
                upd(rm, m);
            }
            if let Some(rv) = running_var {
                upd(rv, &st.var.mul_scalar(n as f64 / (n as f64 - 1.0)));
            }
        });
        return Ok(y);
    }
    let (Some(rm), Some(rv)) = (running_mean, running_var) else {
        return bail(op, "running_mean and running_var must be given when not training".into());
    };
    // (x - rm) / sqrt(rv + eps) * w + b  ==  x * scale + shift, with per-channel scale and shift
    let (rmd, rvd) = (rm.data().to_dtype(input.dtype()), rv.data().to_dtype(input.dtype()));
    let inv = Variable::from(rvd.add_scalar(eps).rsqrt());
    let scale = match weight {
        Some(w) => w.try_mul(&inv)?,
        None => inv,
    };
    let shifted = -(&scale * &Variable::from(rmd));
    let shift = match bias {
        Some(b) => b.try_add(&shifted)?,
        None => shifted,
    };
    input.try_mul(&scale.reshape(&pshape))?.try_add(&shift.reshape(&pshape))
}

/// Checks that `input`'s trailing dims are `normalized_shape`; returns the dims normalised over.
fn trailing_dims(op: &'static str, input: &Variable, normalized_shape: &[usize]) -> Result<Vec<usize>> {
    let shape = input.shape();
    let k = normalized_shape.len();
    if k == 0 || shape.len() < k || shape[shape.len() - k..] != *normalized_shape {
        return bail(
            op,
            format!(
                "Given normalized_shape={normalized_shape:?}, expected input with shape [*, {}], but got input of size {shape:?}",
                normalized_shape.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ")
            ),
        );
    }
    if !input.dtype().is_float() {
        return bail(op, format!("expected a floating-point input, got {}", input.dtype()));
    }
    Ok((shape.len() - k..shape.len()).collect())
}

/// Layer normalisation over the trailing `normalized_shape` dims, PyTorch's `F.layer_norm`.
///
/// **Panics** when the trailing dims differ or the parameters have the wrong shape; see
/// [`try_layer_norm`].
#[must_use]
#[track_caller]
pub fn layer_norm(
    input: &Variable,
    normalized_shape: &[usize],
    weight: Option<&Variable>,
    bias: Option<&Variable>,
    eps: f64,
) -> Variable {
    ok(try_layer_norm(input, normalized_shape, weight, bias, eps))
}

/// Checked form of [`layer_norm`].
pub fn try_layer_norm(
    input: &Variable,
    normalized_shape: &[usize],
    weight: Option<&Variable>,
    bias: Option<&Variable>,
    eps: f64,
) -> Result<Variable> {
    if let Some(a) = autocast_inputs("layer_norm", &[Some(input), weight, bias]) {
        return try_layer_norm(a.var(0), normalized_shape, a.opt(1), a.opt(2), eps);
    }
    let op = "layer_norm";
    trailing_dims(op, input, normalized_shape)?;
    check_param(op, "weight", weight, normalized_shape)?;
    check_param(op, "bias", bias, normalized_shape)?;
    fused_rows(op, input, normalized_shape, weight, bias, eps, true)
}

/// LayerNorm (`center`) or RMSNorm over the trailing `normalized_shape`, affine included, recorded
/// as one op on `[x, weight?, bias?]`: one fused pass per row forward (`Tensor::norm_rows`) and,
/// without create_graph, backward; with create_graph the rule writes the same gradients as
/// Variable ops of the inputs, so second derivatives stay exact.
fn fused_rows(
    op: &'static str,
    x: &Variable,
    normalized_shape: &[usize],
    weight: Option<&Variable>,
    bias: Option<&Variable>,
    eps: f64,
    center: bool,
) -> Result<Variable> {
    let cols: usize = normalized_shape.iter().product();
    let (wd, bd) = (weight.map(|w| w.data()), bias.map(|b| b.data()));
    for p in [&wd, &bd].into_iter().flatten() {
        if p.dtype() != x.dtype() || p.device() != x.device() {
            // mixed dtypes or devices: the composite reports (or promotes) as before
            let dims: Vec<usize> = (x.shape().len() - normalized_shape.len()..x.shape().len()).collect();
            return affine(normalize(op, x, &dims, eps, center).out, weight, bias, normalized_shape);
        }
    }
    let (out, mean, rstd) = x.data().try_norm_rows(wd.as_ref(), bd.as_ref(), cols, eps, center)?;
    let mut inputs = vec![x];
    inputs.extend(weight);
    inputs.extend(bias);
    let (has_w, has_b) = (weight.is_some(), bias.is_some());
    Ok(Variable::record(op, &inputs, out, move |ctx| {
        let (x, g) = (&ctx.inputs[0], ctx.grad);
        let w = has_w.then(|| &ctx.inputs[1]);
        let (dx, dw, db) = if is_grad_enabled() {
            rows_grad_composite(g, x, w, cols, eps, center)
        } else {
            let (dx, dw, db) =
                Tensor::norm_rows_backward(&g.data(), &x.data(), w.map(|w| w.data()).as_ref(), &mean, &rstd, center);
            (Variable::from(dx), Variable::from(dw), Variable::from(db))
        };
        let mut grads = vec![Some(dx)];
        if let Some(w) = w {
            grads.push(Some(dw.reshape(&w.shape())));
        }
        if has_b {
            let b = &ctx.inputs[ctx.inputs.len() - 1];
            grads.push(Some(db.reshape(&b.shape())));
        }
        grads
    }))
}

/// The gradients of [`fused_rows`] as Variable ops of its inputs (for create_graph):
/// `dx = r (gy - mean(gy) - x̂ mean(gy x̂))` with `gy = g w`, `dw = Σ g x̂`, `db = Σ g`.
fn rows_grad_composite(
    g: &Variable,
    x: &Variable,
    w: Option<&Variable>,
    cols: usize,
    eps: f64,
    center: bool,
) -> (Variable, Variable, Variable) {
    let inv_n = 1.0 / cols as f64;
    let flat = [-1isize, cols as isize];
    let (xr, gr) = (x.reshape(&flat), g.reshape(&flat));
    let xc = if center { &xr - &(xr.sum_dims(&[1], true) * inv_n) } else { xr };
    let r = ((&xc * &xc).sum_dims(&[1], true) * inv_n + eps).rsqrt();
    let xhat = &xc * &r;
    let gy = match w {
        Some(w) => &gr * &w.reshape(&[1, cols as isize]),
        None => gr.clone(),
    };
    let proj = (&gy * &xhat).sum_dims(&[1], true) * inv_n;
    let mut inner = &gy - &(&xhat * &proj);
    if center {
        inner = inner - gy.sum_dims(&[1], true) * inv_n;
    }
    let dx = (inner * &r).reshape(&x.shape());
    let dw = (&gr * &xhat).sum_dims(&[0], false);
    let db = gr.sum_dims(&[0], false);
    (dx, dw, db)
}

/// Group normalisation of `[N, C, *]` over `num_groups` groups of channels (each with the spatial
/// dims), PyTorch's `F.group_norm`; `weight` and `bias` are per channel.
///
/// **Panics** when `num_groups` does not divide `C`; see [`try_group_norm`].
#[must_use]
#[track_caller]
pub fn group_norm(
    input: &Variable,
    num_groups: usize,
    weight: Option<&Variable>,
    bias: Option<&Variable>,
    eps: f64,
) -> Variable {
    ok(try_group_norm(input, num_groups, weight, bias, eps))
}

/// Checked form of [`group_norm`].
pub fn try_group_norm(
    input: &Variable,
    num_groups: usize,
    weight: Option<&Variable>,
    bias: Option<&Variable>,
    eps: f64,
) -> Result<Variable> {
    if let Some(a) = autocast_inputs("group_norm", &[Some(input), weight, bias]) {
        return try_group_norm(a.var(0), num_groups, a.opt(1), a.opt(2), eps);
    }
    let op = "group_norm";
    let shape = input.shape();
    if shape.len() < 2 {
        return bail(op, format!("expected an input of shape [N, C, *] (at least 2 dims), got {shape:?}"));
    }
    if !input.dtype().is_float() {
        return bail(op, format!("expected a floating-point input, got {}", input.dtype()));
    }
    let c = shape[1];
    if num_groups == 0 || !c.is_multiple_of(num_groups) {
        return bail(
            op,
            format!("Expected number of channels in input to be divisible by num_groups, but got input of shape {shape:?} and num_groups={num_groups}"),
        );
    }
    check_param(op, "weight", weight, &[c])?;
    check_param(op, "bias", bias, &[c])?;
    let grouped = input.try_reshape(&[shape[0] as isize, num_groups as isize, -1])?;
    let y = normalize(op, &grouped, &[2], eps, true).out.try_reshape(&shape)?;
    affine(y, weight, bias, &channel_shape(c, shape.len()))
}

/// RMS normalisation over the trailing `normalized_shape` dims, PyTorch's `F.rms_norm`:
/// `x / sqrt(mean(x²) + eps) * weight`; `eps = None` is the machine epsilon of the input's dtype.
///
/// **Panics** when the trailing dims differ; see [`try_rms_norm`].
#[must_use]
#[track_caller]
pub fn rms_norm(input: &Variable, normalized_shape: &[usize], weight: Option<&Variable>, eps: Option<f64>) -> Variable {
    ok(try_rms_norm(input, normalized_shape, weight, eps))
}

/// Checked form of [`rms_norm`].
pub fn try_rms_norm(
    input: &Variable,
    normalized_shape: &[usize],
    weight: Option<&Variable>,
    eps: Option<f64>,
) -> Result<Variable> {
    if let Some(a) = autocast_inputs("rms_norm", &[Some(input), weight]) {
        return try_rms_norm(a.var(0), normalized_shape, a.opt(1), eps);
    }
    let op = "rms_norm";
    trailing_dims(op, input, normalized_shape)?;
    check_param(op, "weight", weight, normalized_shape)?;
    let eps = eps.unwrap_or(if input.dtype() == DType::F64 { f64::EPSILON } else { f32::EPSILON as f64 });
    fused_rows(op, input, normalized_shape, weight, None, eps, false)
}
