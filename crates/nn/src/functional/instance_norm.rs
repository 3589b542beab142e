//! Instance normalisation, as `torch.nn.functional.instance_norm` (without running statistics).

use ember_autograd::Variable;
use ember_tensor::{Error, Result};

#[track_caller]
fn ok<T>(r: Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

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
