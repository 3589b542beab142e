//! More activations, as `torch.nn.functional`: `hardtanh`, `mish`, `hardswish`, `prelu`, as
//! composites of the differentiable Variable ops.
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_nn::functional as F;
//! use ember_tensor::Tensor;
//! let x = Variable::from(Tensor::from_vec(vec![-4.0f32, -0.5, 0.5, 4.0], &[4]));
//! assert_eq!(F::hardtanh(&x, -1.0, 1.0).to_vec::<f32>(), vec![-1.0, -0.5, 0.5, 1.0]);
//! assert_eq!(F::hardswish(&x).to_vec::<f32>()[3], 4.0);
//! ```

use ember_autograd::{autocast_inputs, Variable};
use ember_tensor::{Error, Result};

/// `clamp(x, min_val, max_val)`, PyTorch's `F.hardtanh` (its defaults -1, 1); the gradient is 1
/// strictly inside the range, 0 at and beyond the bounds (as PyTorch).
#[must_use]
pub fn hardtanh(x: &Variable, min_val: f64, max_val: f64) -> Variable {
    x.clamp(Some(min_val), Some(max_val))
}

/// `x tanh(softplus(x))`, PyTorch's `F.mish`.
#[must_use]
pub fn mish(x: &Variable) -> Variable {
    x * &x.softplus().tanh()
}

/// `x relu6(x + 3) / 6`, PyTorch's `F.hardswish`: 0 below -3, `x` above 3. Its gradient is
/// `(2x + 3) / 6` on `[-3, 3]` (both ends included, as PyTorch's backward) and 0 / 1 outside.
#[must_use]
pub fn hardswish(x: &Variable) -> Variable {
    let xd = x.data();
    let out = (&(&xd + 3.0).clamp(Some(0.0), Some(6.0)) * &xd) / 6.0;
    Variable::record("hardswish", &[x], out, |ctx| {
        let x = &ctx.inputs[0];
        let xd = x.data();
        let inside = xd.ge_scalar(-3.0).logical_and(&xd.le_scalar(3.0)).to_dtype(xd.dtype());
        let above = xd.gt_scalar(3.0).to_dtype(xd.dtype());
        let d = &(&(x * 2.0 + 3.0) / 6.0) * &Variable::from(inside) + Variable::from(above);
        vec![Some(ctx.grad * &d)]
    })
}

/// `max(0, x) + weight * min(0, x)`, PyTorch's `F.prelu`: `weight` has 1 element (shared) or one
/// per channel (dim 1 of the input, or dim 0 of a 1-d input).
///
/// **Panics** when `weight` fits neither; see [`try_prelu`].
#[must_use]
#[track_caller]
pub fn prelu(x: &Variable, weight: &Variable) -> Variable {
    match try_prelu(x, weight) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

/// Checked form of [`prelu`].
pub fn try_prelu(x: &Variable, weight: &Variable) -> Result<Variable> {
    if let Some(a) = autocast_inputs("prelu", &[Some(x), Some(weight)]) {
        return try_prelu(a.var(0), a.var(1));
    }
    let (s, ws) = (x.shape(), weight.shape());
    let n = weight.numel();
    let channels = if s.len() >= 2 { s[1] } else { s.first().copied().unwrap_or(1) };
    if ws.len() > 1 || (n != 1 && n != channels) || (n != 1 && s.is_empty()) {
        return Err(Error::InvalidArgument {
            op: "prelu",
            msg: format!(
                "weight of shape {ws:?} fits neither 1 shared parameter nor the {channels} channels of an input of shape {s:?}"
            ),
        });
    }
    let w = if n == 1 || s.len() < 2 {
        weight.clone()
    } else {
        let mut shape = vec![1isize; s.len()];
        shape[1] = n as isize;
        weight.reshape(&shape)
    };
    Ok(&x.relu() + &(&w * &x.clamp_max(0.0)))
}
