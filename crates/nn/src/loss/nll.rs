//! `NllLoss`, and the class-index machinery it shares with `CrossEntropyLoss`: target checks, the
//! gather of the target classes' log-probabilities, weights, `ignore_index` and the reductions.

use ember_autograd::Variable;
use ember_tensor::{DType, Result, Tensor};

use super::{c, check_float, err, two_input_loss, Reduction};

/// Negative log-likelihood of class indices, PyTorch's `nn.NLLLoss`: `-weight[t] * input[n, t]` for
/// each sample `n` with target class `t`.
///
/// `input` holds log-probabilities of shape `[N, C]`, `[N, C, d1, ...]` or unbatched `[C]`; `target`
/// holds `I64` class indices of shape `[N]`, `[N, d1, ...]` or `[]`. Targets equal to
/// `ignore_index` (default -100) contribute nothing; with [`Reduction::Mean`] the sum is divided by
/// the total weight of the targets not ignored (NaN when all are ignored, as PyTorch).
///
/// ```
/// use ember_nn::NllLoss;
/// use ember_autograd::Variable;
/// use ember_tensor::Tensor;
/// let logp = Variable::from(Tensor::from_vec(vec![-0.5f32, -1.0, -2.0, -3.0], &[2, 2]));
/// let target = Variable::from(Tensor::from_vec(vec![1i64, 0], &[2]));
/// assert_eq!(NllLoss::new().forward(&logp, &target).data().item::<f32>(), 1.5);
/// ```
#[derive(Clone, Debug)]
pub struct NllLoss {
    /// How the per-sample losses are reduced.
    pub reduction: Reduction,
    /// A weight per class (`[C]`), or `None` for 1 each.
    pub weight: Option<Tensor>,
    /// A target value that is skipped (default -100).
    pub ignore_index: i64,
}

impl Default for NllLoss {
    fn default() -> Self {
        NllLoss { reduction: Reduction::Mean, weight: None, ignore_index: -100 }
    }
}

impl NllLoss {
    /// No class weights, `ignore_index = -100`, mean reduction.
    pub fn new() -> NllLoss {
        NllLoss::default()
    }

    /// Weights each class's loss (a float tensor of shape `[C]`).
    #[must_use]
    pub fn weight(mut self, weight: Tensor) -> Self {
        self.weight = Some(weight);
        self
    }

    /// Sets the target value to skip.
    #[must_use]
    pub fn ignore_index(mut self, ignore_index: i64) -> Self {
        self.ignore_index = ignore_index;
        self
    }

    /// Checked form of [`forward`](Self::forward): errors on a non-`I64` target, a target shape that
    /// does not fit the input, a class index out of range, or weights of the wrong length.
    pub fn try_forward(&self, input: &Variable, target: &Variable) -> Result<Variable> {
        if let Some((a, b)) = super::autocast2("nll_loss", input, target) {
            return self.try_forward(&a, &b);
        }
        const OP: &str = "nll_loss";
        let ct = ClassTargets::new(OP, input, target, self.weight.as_ref(), self.ignore_index)?;
        let elems = ct.nll_elems(&ct.batched(input));
        ct.reduce(OP, elems, self.reduction)
    }
}
two_input_loss!(NllLoss);

/// Checked class-index targets, laid out for a gather along the class dim of the batched input.
pub(crate) struct ClassTargets {
    /// The target shape given (`[]` for an unbatched input).
    target_shape: Vec<usize>,
    /// The batched target shape (`[N, d1, ...]`).
    batched_shape: Vec<usize>,
    /// Number of classes.
    pub(crate) classes: usize,
    /// The input's dtype.
    dtype: DType,
    /// Targets with ignored ones replaced by 0, shaped `[N, 1, d1, ...]` for `gather(1, ..)`.
    idx: Tensor,
    /// Where the target is `ignore_index` (batched shape), when any is.
    ignored: Option<Tensor>,
    /// The class weights, converted to the input's dtype.
    pub(crate) weight: Option<Tensor>,
    /// Each target's class weight (batched shape, 0 where ignored), when there are class weights.
    elem_weight: Option<Tensor>,
}

impl ClassTargets {
    /// Checks `input` (`[C]`, `[N, C]` or `[N, C, d...]`, float), `target` (I64 of the input's shape
    /// without the class dim), `weight` (`[C]`) and every target value.
    pub(crate) fn new(
        op: &'static str,
        input: &Variable,
        target: &Variable,
        weight: Option<&Tensor>,
        ignore_index: i64,
    ) -> Result<ClassTargets> {
        let dtype = check_float(op, "input", input)?;
        let shape = input.shape();
        if shape.is_empty() {
            return Err(err(
                op,
                "input must have a class dimension: expected [C], [N, C] or [N, C, d1, ...], got a 0-d tensor".into(),
            ));
        }
        let t = target.data();
        if t.dtype() != DType::I64 {
            let hint = if op == "cross_entropy" && t.dtype().is_float() {
                format!("; float targets are class probabilities and must have the input's shape {shape:?}")
            } else {
                String::new()
            };
            return Err(err(
                op,
                format!(
                    "expected a target of dtype I64 (class indices), got {} of shape {:?}{hint}",
                    t.dtype(),
                    t.shape()
                ),
            ));
        }
        let (classes, batched_shape, want) = if shape.len() == 1 {
            (shape[0], vec![1], Vec::new())
        } else {
            let mut want = shape.clone();
            want.remove(1);
            (shape[1], want.clone(), want)
        };
        if t.shape() != want.as_slice() {
            return Err(err(
                op,
                format!(
                    "expected a target of shape {want:?} for input of shape {shape:?} (the input's shape without the class dim {}), got target shape {:?}",
                    if shape.len() == 1 { 0 } else { 1 },
                    t.shape()
                ),
            ));
        }
        let weight = match weight {
            None => None,
            Some(w) => {
                if w.shape() != [classes] || !w.dtype().is_float() {
                    return Err(err(
                        op,
                        format!(
                            "weight should be a float tensor of one value per class, shape [{classes}], got {} of shape {:?}",
                            w.dtype(),
                            w.shape()
                        ),
                    ));
                }
                Some(w.to_dtype(dtype))
            }
        };
        let t = t.reshape(&batched_shape);
        let ignored = t.eq_scalar(ignore_index as f64);
        let ignored = ignored.any().item::<bool>().then_some(ignored);
        let safe = match &ignored {
            Some(m) => t.masked_fill(m, 0.0),
            None => t,
        };
        check_range(op, &safe, classes, ignore_index)?;
        let elem_weight = weight.as_ref().map(|w| {
            let ew = w.index_select(0, &safe.reshape(&[-1])).reshape(&batched_shape);
            match &ignored {
                Some(m) => ew.masked_fill(m, 0.0),
                None => ew,
            }
        });
        Ok(ClassTargets {
            target_shape: want,
            batched_shape,
            classes,
            dtype,
            idx: safe.unsqueeze(1),
            ignored,
            weight,
            elem_weight,
        })
    }

    /// The input with a batch dim added when it is unbatched (`[C]` becomes `[1, C]`).
    pub(crate) fn batched(&self, input: &Variable) -> Variable {
        if self.target_shape.is_empty() {
            input.unsqueeze(0)
        } else {
            input.clone()
        }
    }

    /// Zeroes the entries of per-sample values `v` (batched target shape) whose target is ignored.
    pub(crate) fn mask_ignored(&self, v: Variable) -> Variable {
        match &self.ignored {
            Some(m) => v.masked_fill(m, 0.0),
            None => v,
        }
    }

    /// `-w[t] * logp[n, t, ...]` per sample (batched target shape), 0 where ignored: one gather of the
    /// target classes, no one-hot.
    pub(crate) fn nll_elems(&self, logp: &Variable) -> Variable {
        let picked = logp.gather(1, &self.idx).reshape(&self.batched_shape);
        let l = match &self.elem_weight {
            Some(w) => picked * c(w.neg()),
            None => -picked,
        };
        self.mask_ignored(l)
    }

    /// The class weights shaped to broadcast along dim 1 of the batched input (`[1, C, 1, ...]`).
    pub(crate) fn weight_view(&self) -> Option<Tensor> {
        self.weight.as_ref().map(|w| {
            let mut s = vec![1usize; self.batched_shape.len() + 1];
            s[1] = self.classes;
            w.reshape(&s)
        })
    }

    /// Reduces per-sample losses as `nll_loss` does: the mean divides by the total weight of the
    /// targets not ignored (their count without class weights).
    pub(crate) fn reduce(&self, op: &'static str, elems: Variable, r: Reduction) -> Result<Variable> {
        match r {
            Reduction::None => Ok(elems.reshape(&self.target_shape)),
            Reduction::Sum => Ok(elems.sum()),
            Reduction::Mean => {
                let total = match (&self.elem_weight, &self.ignored) {
                    (Some(w), _) => w.sum(),
                    (None, Some(m)) => m.logical_not().to_dtype(self.dtype).sum(),
                    (None, None) => return Ok(elems.mean()),
                };
                Ok(elems.sum() / c(total))
            }
            Reduction::Batchmean => {
                Err(err(op, "reduction Batchmean is only valid for kl_div; use None, Mean or Sum".into()))
            }
        }
    }
}

/// Checks every (non-ignored, already zeroed) target against `0..classes` with two reductions;
/// the slow search for the offending value runs only on the error path.
fn check_range(op: &'static str, safe: &Tensor, classes: usize, ignore_index: i64) -> Result<()> {
    if safe.numel() == 0 {
        return Ok(());
    }
    let (lo, hi) = (safe.min().item::<i64>(), safe.max().item::<i64>());
    if lo >= 0 && hi < classes as i64 {
        return Ok(());
    }
    let bad = safe.lt_scalar(0.0).logical_or(&safe.ge_scalar(classes as f64));
    let value = safe.masked_select(&bad).to_vec::<i64>().first().copied().unwrap_or(if lo < 0 { lo } else { hi });
    Err(err(
        op,
        format!(
            "target {value} is out of bounds for {classes} classes (expected 0 <= target < {classes}, or target == ignore_index {ignore_index})"
        ),
    ))
}
