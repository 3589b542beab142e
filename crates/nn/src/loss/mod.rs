//! Loss functions as structs, PyTorch's `nn.*Loss` classes.
//!
//! Each loss is a plain struct of options with builder methods (defaults as PyTorch's) and
//! `forward(&input, &target) -> Variable` (three inputs for the pairwise and Gaussian losses).
//! Losses are not [`Module`](crate::Module)s, since they take more than one input; `forward` panics on
//! bad input with a message naming the loss and the values, and `try_forward` returns the same
//! message as an `Err`. The functional forms live in [`crate::functional`].
//!
//! Unlike PyTorch, input and target shapes must agree exactly (PyTorch broadcasts some of them with a
//! warning): a mismatch is an error naming both shapes.
//!
//! ```
//! use ember_nn::{MseLoss, Reduction};
//! use ember_autograd::Variable;
//! use ember_tensor::Tensor;
//! let x = Variable::new(Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]), true);
//! let y = Variable::from(Tensor::from_vec(vec![1.0f32, 0.0, 0.0], &[3]));
//! let loss = MseLoss::new().reduction(Reduction::Sum).forward(&x, &y);
//! assert_eq!(loss.data().item::<f32>(), 13.0);
//! loss.backward();
//! assert_eq!(x.grad().unwrap().to_vec::<f32>(), vec![0.0, 4.0, 6.0]);
//! ```

mod binary;
mod cross_entropy;
mod cross_entropy_fused;
mod kl_div;
mod likelihood;
mod margin;
mod nll;
mod pointwise;
mod triplet;

pub use binary::{BceLoss, BceWithLogitsLoss};
pub use cross_entropy::CrossEntropyLoss;
pub use kl_div::KlDivLoss;
pub use likelihood::{GaussianNllLoss, PoissonNllLoss};
pub use margin::{CosineEmbeddingLoss, HingeEmbeddingLoss, MarginRankingLoss};
pub use nll::NllLoss;
pub use pointwise::{HuberLoss, L1Loss, MseLoss, SmoothL1Loss};
pub use triplet::TripletMarginLoss;

use ember_autograd::Variable;
use ember_tensor::{DType, Error, Result, Tensor};

/// How a loss reduces its per-element values: PyTorch's `reduction=` argument.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Reduction {
    /// No reduction (`'none'`): one loss per element (per sample for the class losses).
    None,
    /// The mean (`'mean'`, the default); the class losses with weights divide by the total weight.
    #[default]
    Mean,
    /// The sum (`'sum'`).
    Sum,
    /// The sum divided by the batch size (`'batchmean'`): only [`KlDivLoss`] accepts it.
    Batchmean,
}

/// An `InvalidArgument` error of loss `op`.
pub(crate) fn err(op: &'static str, msg: String) -> Error {
    Error::InvalidArgument { op, msg }
}

/// Unwraps a checked result, panicking with its message at the caller (what `forward` does).
#[track_caller]
pub(crate) fn ok<T>(r: Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

/// The autocast hook of a two-input loss (PyTorch's autocast lists, see
/// [`ember_autograd::POLICIES`]): the inputs cast, when autocast is on and casts any.
pub(crate) fn autocast2(op: &str, a: &Variable, b: &Variable) -> Option<(Variable, Variable)> {
    ember_autograd::autocast_inputs(op, &[Some(a), Some(b)]).map(|c| (c.var(0).clone(), c.var(1).clone()))
}

/// The autocast hook of a three-input loss (see [`autocast2`]).
pub(crate) fn autocast3(op: &str, a: &Variable, b: &Variable, c: &Variable) -> Option<(Variable, Variable, Variable)> {
    ember_autograd::autocast_inputs(op, &[Some(a), Some(b), Some(c)])
        .map(|v| (v.var(0).clone(), v.var(1).clone(), v.var(2).clone()))
}

/// A constant Variable (no gradient flows into it).
pub(crate) fn c(t: Tensor) -> Variable {
    Variable::from(t)
}

/// Applies `r` to per-element losses `l`; `Batchmean` is rejected (only KL divergence has it).
pub(crate) fn reduce(op: &'static str, l: Variable, r: Reduction) -> Result<Variable> {
    match r {
        Reduction::None => Ok(l),
        Reduction::Mean => Ok(l.mean()),
        Reduction::Sum => Ok(l.sum()),
        Reduction::Batchmean => {
            Err(err(op, "reduction Batchmean is only valid for kl_div; use None, Mean or Sum".into()))
        }
    }
}

/// Checks that `v` (called `what`) holds F32 or F64 data.
pub(crate) fn check_float(op: &'static str, what: &str, v: &Variable) -> Result<DType> {
    let dt = v.dtype();
    if !dt.is_float() {
        return Err(err(op, format!("expected a floating-point {what} (F32 or F64), got {dt}")));
    }
    Ok(dt)
}

/// Checks that `b` (called `b_name`) has the float dtype and the exact shape of `a` (called `a_name`).
pub(crate) fn check_like(op: &'static str, a_name: &str, a: &Variable, b_name: &str, b: &Variable) -> Result<()> {
    let dt = check_float(op, a_name, a)?;
    if b.dtype() != dt {
        return Err(err(op, format!("{b_name} has dtype {}, but {a_name} has dtype {dt}; they must match", b.dtype())));
    }
    check_shape(op, a_name, a, b_name, b)
}

/// Checks that `a` and `b` have the same shape (no broadcasting).
pub(crate) fn check_shape(op: &'static str, a_name: &str, a: &Variable, b_name: &str, b: &Variable) -> Result<()> {
    let (sa, sb) = (a.shape(), b.shape());
    if sa != sb {
        return Err(err(op, format!("{a_name} shape {sa:?} and {b_name} shape {sb:?} differ; they must be equal")));
    }
    Ok(())
}

/// An optional per-element weight tensor, checked to broadcast to `shape` and converted to `dtype`.
pub(crate) fn broadcast_weight(
    op: &'static str,
    what: &str,
    w: Option<&Tensor>,
    shape: &[usize],
    dtype: DType,
) -> Result<Option<Tensor>> {
    let Some(w) = w else { return Ok(None) };
    if !w.dtype().is_float() {
        return Err(err(op, format!("{what} must be a floating-point tensor, got {}", w.dtype())));
    }
    w.try_expand(shape).map_err(|_| {
        err(op, format!("{what} of shape {:?} does not broadcast to the input shape {shape:?}", w.shape()))
    })?;
    Ok(Some(w.to_dtype(dtype)))
}

/// Generates the panicking `forward` of a two-input loss from its `try_forward`, and the
/// `reduction` builder.
macro_rules! two_input_loss {
    ($T:ident) => {
        impl $T {
            /// The reduction applied to the per-element losses (default [`Reduction::Mean`](crate::Reduction)).
            #[must_use]
            pub fn reduction(mut self, reduction: $crate::loss::Reduction) -> Self {
                self.reduction = reduction;
                self
            }

            /// The loss of `input` against `target`.
            ///
            /// **Panics** with the message of [`try_forward`](Self::try_forward) on bad input.
            #[must_use]
            #[track_caller]
            pub fn forward(
                &self,
                input: &ember_autograd::Variable,
                target: &ember_autograd::Variable,
            ) -> ember_autograd::Variable {
                $crate::loss::ok(self.try_forward(input, target))
            }
        }
    };
}

/// Generates the `reduction` builder and the panicking `forward` of a three-input loss.
macro_rules! three_input_loss {
    ($T:ident, $a:ident, $b:ident, $c:ident) => {
        impl $T {
            /// The reduction applied to the per-element losses (default [`Reduction::Mean`](crate::Reduction)).
            #[must_use]
            pub fn reduction(mut self, reduction: $crate::loss::Reduction) -> Self {
                self.reduction = reduction;
                self
            }

            /// The loss of the three inputs (see [`try_forward`](Self::try_forward)).
            ///
            /// **Panics** with the message of `try_forward` on bad input.
            #[must_use]
            #[track_caller]
            pub fn forward(
                &self,
                $a: &ember_autograd::Variable,
                $b: &ember_autograd::Variable,
                $c: &ember_autograd::Variable,
            ) -> ember_autograd::Variable {
                $crate::loss::ok(self.try_forward($a, $b, $c))
            }
        }
    };
}

pub(crate) use {three_input_loss, two_input_loss};
