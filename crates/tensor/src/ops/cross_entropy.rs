//! Fused cross-entropy of logits `[N, C]` against `I64` class indices `[N]`: the forward (loss and
//! the per-row statistics its gradient needs) and the backward, each one kernel on a GPU
//! (`shaders/cross_entropy.wgsl`), as PyTorch's fused `log_softmax` + `nll_loss`. Class weights,
//! `ignore_index` and label smoothing are covered; `ember_nn`'s `cross_entropy` uses it on the GPU
//! and keeps its composed form (log-softmax, gather, reductions) for the other cases.

use crate::tensor::ok;
use crate::{DType, Error, Result, Tensor};

/// The options of [`Tensor::cross_entropy_fused`], as PyTorch's `cross_entropy`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CrossEntropyOpts {
    /// A target value whose row is skipped (PyTorch's default is -100).
    pub ignore_index: i64,
    /// `ε` in `[0, 1]`: the target is mixed with the uniform distribution over classes.
    pub label_smoothing: f64,
    /// `true`: the sum divided by the total weight of the targets not ignored; `false`: the sum.
    pub mean: bool,
}

impl Default for CrossEntropyOpts {
    fn default() -> Self {
        CrossEntropyOpts { ignore_index: -100, label_smoothing: 0.0, mean: true }
    }
}

const OP: &str = "cross_entropy";

/// # Fused losses
impl Tensor {
    /// Cross-entropy of logits `self` (`[N, C]`, F32 or F64) against class indices `target` (`I64`,
    /// `[N]`), with optional class `weight`s (`[C]`): returns the 0-d loss and the statistics
    /// [`Tensor::cross_entropy_fused_backward`] needs (`[N + 4]`: the loss, the total target weight,
    /// the sum of the class weights, ε, then each row's log-sum-exp). Per row
    /// `(1 - ε) w[t] (lse - x[t]) + ε / C Σ_c w[c] (lse - x[c])`, 0 where `t == ignore_index`.
    ///
    /// ```
    /// # use ember_tensor::{CrossEntropyOpts, Tensor};
    /// let x = Tensor::zeros(&[2, 4]);
    /// let t = Tensor::from_vec(vec![3i64, 0], &[2]);
    /// let (loss, _) = x.cross_entropy_fused(&t, None, CrossEntropyOpts::default());
    /// assert!((loss.item::<f32>() - 4f32.ln()).abs() < 1e-6);
    /// ```
    ///
    /// **Panics** on bad shapes or dtypes, ε outside `[0, 1]`, or a target outside `[0, C)` that is
    /// not `ignore_index`; see [`Tensor::try_cross_entropy_fused`].
    #[must_use]
    #[track_caller]
    pub fn cross_entropy_fused(
        &self,
        target: &Tensor,
        weight: Option<&Tensor>,
        o: CrossEntropyOpts,
    ) -> (Tensor, Tensor) {
        ok(self.try_cross_entropy_fused(target, weight, o))
    }

    /// Checked form of [`Tensor::cross_entropy_fused`].
    pub fn try_cross_entropy_fused(
        &self,
        target: &Tensor,
        weight: Option<&Tensor>,
        o: CrossEntropyOpts,
    ) -> Result<(Tensor, Tensor)> {
        let w = check(self, target, weight, &o)?;
        self.backend().cross_entropy(self, target, w.as_ref(), &o)
    }

    /// The gradient of [`Tensor::cross_entropy_fused`]'s loss with respect to the logits `self`,
    /// given the `stats` it returned and the loss's gradient `grad` (0-d):
    /// `grad * (Q softmax(x[n]) - q)` per row (divided by the total weight for the mean), with `q`
    /// the smoothed, weighted target distribution and `Q` its sum; rows ignored get 0.
    ///
    /// **Panics** on operands that do not fit the forward's; see
    /// [`Tensor::try_cross_entropy_fused_backward`].
    #[must_use]
    #[track_caller]
    pub fn cross_entropy_fused_backward(
        &self,
        target: &Tensor,
        weight: Option<&Tensor>,
        stats: &Tensor,
        grad: &Tensor,
        o: CrossEntropyOpts,
    ) -> Tensor {
        ok(self.try_cross_entropy_fused_backward(target, weight, stats, grad, o))
    }

    /// Checked form of [`Tensor::cross_entropy_fused_backward`].
    pub fn try_cross_entropy_fused_backward(
        &self,
        target: &Tensor,
        weight: Option<&Tensor>,
        stats: &Tensor,
        grad: &Tensor,
        o: CrossEntropyOpts,
    ) -> Result<Tensor> {
        let w = check(self, target, weight, &o)?;
        let n = self.shape()[0];
        for (what, t, shape) in [("stats", stats, vec![n + 4]), ("grad", grad, vec![])] {
            self.same_device(OP, t)?;
            self.same_dtype(OP, t)?;
            if t.shape() != shape.as_slice() {
                crate::bail!(
                    OP,
                    "{what} of shape {:?} given for logits of shape {:?}; expected {shape:?}",
                    t.shape(),
                    self.shape()
                );
            }
        }
        self.backend().cross_entropy_backward(self, target, w.as_ref(), stats, grad, &o)
    }
}

/// Checks the operands; returns the weights in the logits' dtype.
fn check(x: &Tensor, target: &Tensor, weight: Option<&Tensor>, o: &CrossEntropyOpts) -> Result<Option<Tensor>> {
    let dtype = x.dtype();
    if !matches!(dtype, DType::F32 | DType::F64) {
        return Err(Error::UnsupportedDType { op: OP, dtype });
    }
    if x.rank() != 2 {
        crate::bail!(OP, "the fused kernel takes logits of shape [N, C], got {:?}", x.shape());
    }
    x.same_device(OP, target)?;
    if target.dtype() != DType::I64 || target.shape() != [x.shape()[0]] {
        crate::bail!(
            OP,
            "expected a target of dtype I64 and shape [{}] for logits of shape {:?}, got {} of shape {:?}",
            x.shape()[0],
            x.shape(),
            target.dtype(),
            target.shape()
        );
    }
    let eps = o.label_smoothing;
    if !(0.0..=1.0).contains(&eps) {
        crate::bail!(OP, "label_smoothing must be between 0.0 and 1.0, got {eps}");
    }
    let Some(w) = weight else { return Ok(None) };
    x.same_device(OP, w)?;
    let classes = x.shape()[1];
    if w.shape() != [classes] || !w.dtype().is_float() {
        crate::bail!(
            OP,
            "weight should be a float tensor of one value per class, shape [{classes}], got {} of shape {:?}",
            w.dtype(),
            w.shape()
        );
    }
    w.try_to_dtype(dtype).map(Some)
}

/// The error for a target outside `[0, classes)` that is not `ignore_index` (the message of the
/// composed loss).
pub(crate) fn out_of_bounds(value: i64, classes: usize, ignore_index: i64) -> Error {
    Error::InvalidArgument {
        op: OP,
        msg: format!(
            "target {value} is out of bounds for {classes} classes (expected 0 <= target < {classes}, or target == ignore_index {ignore_index})"
        ),
    }
}
