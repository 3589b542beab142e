//! Instance normalisation, as `torch.nn.functional.instance_norm`, with or without running
//! statistics.

use ember_autograd::{no_grad, Variable};
use ember_tensor::{Error, Result};

use super::checked::ok;

/// `(x - mean) / sqrt(var + eps)` per sample and channel over the spatial dims, then the optional
/// per-channel affine map: PyTorch's `F.instance_norm` without running statistics.
/// `input` is `[N, C, *]` with at least one spatial dim.
///
/// **Panics** on a bad rank or affine shape; see [`try_instance_norm`].
#[must_use]
#[track_caller]
pub fn instance_norm(input: &Variable, weight: Option<&Variable>, bias: Option<&Variable>, eps: f64) -> Variable {
    ok(try_instance_norm(input, weight, bias, eps))
}

/// Checked form of [`instance_norm`].
pub fn try_instance_norm(
    input: &Variable,
    weight: Option<&Variable>,
    bias: Option<&Variable>,
    eps: f64,
) -> Result<Variable> {
    let s = input.shape();
    if s.len() < 3 {
        return Err(Error::InvalidArgument {
            op: "instance_norm",
            msg: format!("expected an input [N, C, *] with at least one spatial dim, got shape {s:?}"),
        });
    }
    // group norm with one group per channel normalises each (sample, channel) over its positions
    super::try_group_norm(input, s[1], weight, bias, eps)
}

/// PyTorch's full `F.instance_norm(input, running_mean, running_var, weight, bias,
/// use_input_stats, momentum, eps)`. With `use_input_stats` (training, or a layer without running
/// statistics) each (sample, channel) is normalised by its own statistics, and running statistics,
/// when given, move towards the batch's: `running = (1 - momentum) running + momentum stat`, where
/// `stat` is the mean over the samples of each instance's mean, and of its unbiased variance (as
/// PyTorch, which runs batch norm on the `[1, N * C, *]` view and averages the `N` copies back).
/// Without it, both running statistics must be given and normalise every instance, as batch norm
/// in evaluation.
///
/// **Panics** on a bad rank or parameter shape, an instance of one element when its variance is
/// tracked, or missing running statistics; see [`try_instance_norm_with`].
#[must_use]
#[track_caller]
#[allow(clippy::too_many_arguments)]
pub fn instance_norm_with(
    input: &Variable,
    running_mean: Option<&Variable>,
    running_var: Option<&Variable>,
    weight: Option<&Variable>,
    bias: Option<&Variable>,
    use_input_stats: bool,
    momentum: f64,
    eps: f64,
) -> Variable {
    ok(try_instance_norm_with(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps))
}

/// Checked form of [`instance_norm_with`].
#[allow(clippy::too_many_arguments)]
pub fn try_instance_norm_with(
    input: &Variable,
    running_mean: Option<&Variable>,
    running_var: Option<&Variable>,
    weight: Option<&Variable>,
    bias: Option<&Variable>,
    use_input_stats: bool,
    momentum: f64,
    eps: f64,
) -> Result<Variable> {
    let s = input.shape();
    if !use_input_stats {
        if s.len() < 3 {
            return try_instance_norm(input, weight, bias, eps); // the rank error
        }
        // every instance normalised by the running statistics: batch norm in evaluation
        return super::try_batch_norm(input, running_mean, running_var, weight, bias, false, 0.0, eps)
            .map_err(|e| rename(e, "instance_norm"));
    }
    let y = try_instance_norm(input, weight, bias, eps)?;
    if running_mean.is_none() && running_var.is_none() {
        return Ok(y);
    }
    let c = s[1];
    for (name, r) in [("running_mean", running_mean), ("running_var", running_var)] {
        if let Some(r) = r {
            if r.shape() != [c] {
                return Err(Error::InvalidArgument {
                    op: "instance_norm",
                    msg: format!(
                        "{name} of shape {:?} given for {c} channels (input {s:?}); expected [{c}]",
                        r.shape()
                    ),
                });
            }
        }
    }
    let l: usize = s[2..].iter().product();
    if running_var.is_some() && l <= 1 {
        return Err(Error::InvalidArgument {
            op: "instance_norm",
            msg: format!("Expected more than 1 spatial element when training, got input size {s:?}"),
        });
    }
    no_grad(|| {
        let x = input.data();
        let flat = x.reshape(&[s[0], c, l]);
        let mean = flat.mean_dim(-1, true); // [N, C, 1]
        let upd = |run: &Variable, stat: ember_tensor::Tensor| {
            let r = run.data();
            let stat = stat.to_dtype(r.dtype()).to(&r.device());
            run.set_data(&r.mul_scalar(1.0 - momentum) + &stat.mul_scalar(momentum));
        };
        if let Some(rm) = running_mean {
            upd(rm, mean.mean_dim(0, false).reshape(&[c]));
        }
        if let Some(rv) = running_var {
            let var = (&flat - &mean).square().sum_dim(-1, false).mul_scalar(1.0 / (l as f64 - 1.0)); // [N, C]
            upd(rv, var.mean_dim(0, false));
        }
    });
    Ok(y)
}

/// `e` with its op renamed (a batch-norm error raised for instance norm).
fn rename(e: Error, op: &'static str) -> Error {
    match e {
        Error::InvalidArgument { msg, .. } => Error::InvalidArgument { op, msg },
        other => other,
    }
}
