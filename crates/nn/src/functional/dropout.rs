//! Dropout, as `torch.nn.functional.dropout`: in training, each element is zeroed with probability
//! `p` (a Bernoulli mask drawn from Ember's seeded generator) and the kept ones are scaled by
//! `1 / (1 - p)`, so the expectation is unchanged; in evaluation it is the identity.
//!
//! The mask is a constant of the graph, so the gradient is `grad * mask` through the plain `mul`
//! rule: no backward rule of its own.
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_nn::functional as F;
//! use ember_tensor::Tensor;
//! let x = Variable::from(Tensor::ones(&[1000]));
//! let y = F::dropout(&x, 0.25, true).to_vec::<f32>();
//! // every element is either dropped or scaled to 1 / 0.75
//! assert!(y.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-6));
//! assert_eq!(F::dropout(&x, 0.25, false).to_vec::<f32>(), x.to_vec::<f32>());
//! ```

use ember_autograd::Variable;
use ember_tensor::{Error, Result};

/// Dropout with drop probability `p` when `training`, else the identity.
///
/// **Panics** when `p` is outside `[0, 1]` or the input is not a float tensor; see [`try_dropout`].
#[must_use]
#[track_caller]
pub fn dropout(x: &Variable, p: f64, training: bool) -> Variable {
    match try_dropout(x, p, training) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

/// Checked form of [`dropout`].
pub fn try_dropout(x: &Variable, p: f64, training: bool) -> Result<Variable> {
    check_p("dropout", p)?;
    let data = x.data();
    if !data.dtype().is_float() {
        return Err(Error::InvalidArgument {
            op: "dropout",
            msg: format!("expected a floating-point input, got {}", data.dtype()),
        });
    }
    if !training || p == 0.0 {
        return Ok(x.clone());
    }
    if p == 1.0 {
        // everything dropped; multiplying keeps the graph (a zero gradient), as PyTorch
        return Ok(x * 0.0);
    }
    // keep where u >= p, u uniform in [0, 1): probability 1 - p
    let mask = data.rand_like().ge_scalar(p).to_dtype(data.dtype()).mul_scalar(1.0 / (1.0 - p));
    Ok(x * &Variable::from(mask))
}

/// Checks a drop probability, naming `op`.
pub(crate) fn check_p(op: &'static str, p: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&p) {
        return Err(Error::InvalidArgument {
            op,
            msg: format!("dropout probability has to be between 0 and 1, but got {p}"),
        });
    }
    Ok(())
}
