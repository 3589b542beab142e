//! `CrossEntropyLoss`: log-softmax and negative log-likelihood in one, with class-index or
//! class-probability targets and label smoothing.

use ember_autograd::Variable;
use ember_tensor::{Result, Tensor};

use super::nll::ClassTargets;
use super::{c, check_float, err, two_input_loss, Reduction};

/// Cross-entropy of unnormalised logits, PyTorch's `nn.CrossEntropyLoss`.
///
/// `input` holds logits of shape `[N, C]`, `[N, C, d1, ...]` or unbatched `[C]`. The target is either
/// - `I64` class indices of shape `[N]`, `[N, d1, ...]` or `[]`: the loss is
///   `-weight[t] * log_softmax(input)[n, t]`, computed as one log-softmax and one gather of the target
///   classes (no one-hot); targets equal to `ignore_index` (default -100) are skipped and the mean
///   divides by the total weight of the others (NaN when all are ignored, as PyTorch); or
/// - class probabilities of the input's float dtype and shape: `-sum_c weight[c] * p[n, c] *
///   log_softmax(input)[n, c]`; the mean divides by the number of samples (`numel / C`).
///
/// `label_smoothing` (in `[0, 1]`) mixes the target with the uniform distribution over classes:
/// `(1 - ε) * loss + ε / C * sum_c -weight[c] log_softmax(input)[n, c]`, as PyTorch.
///
/// ```
/// use ember_nn::CrossEntropyLoss;
/// use ember_autograd::Variable;
/// use ember_tensor::Tensor;
/// let logits = Variable::new(Tensor::zeros(&[2, 4]), true);
/// let target = Variable::from(Tensor::from_vec(vec![3i64, 0], &[2]));
/// let loss = CrossEntropyLoss::new().forward(&logits, &target);
/// assert!((loss.data().item::<f32>() - 4f32.ln()).abs() < 1e-6);
/// loss.backward();
/// // softmax minus one-hot, over the batch of 2
/// assert_eq!(logits.grad().unwrap().to_vec::<f32>(), vec![0.125, 0.125, 0.125, -0.375, -0.375, 0.125, 0.125, 0.125]);
/// ```
#[derive(Clone, Debug)]
pub struct CrossEntropyLoss {
    /// How the per-sample losses are reduced.
    pub reduction: Reduction,
    /// A weight per class (`[C]`), or `None` for 1 each.
    pub weight: Option<Tensor>,
    /// A class-index target value that is skipped (default -100).
    pub ignore_index: i64,
    /// How much of the target is replaced by the uniform distribution (in `[0, 1]`, default 0).
    pub label_smoothing: f64,
}

impl Default for CrossEntropyLoss {
    fn default() -> Self {
        CrossEntropyLoss { reduction: Reduction::Mean, weight: None, ignore_index: -100, label_smoothing: 0.0 }
    }
}

impl CrossEntropyLoss {
    /// No class weights, `ignore_index = -100`, no label smoothing, mean reduction.
    pub fn new() -> CrossEntropyLoss {
        CrossEntropyLoss::default()
    }

    /// Weights each class's loss (a float tensor of shape `[C]`).
    #[must_use]
    pub fn weight(mut self, weight: Tensor) -> Self {
        self.weight = Some(weight);
        self
    }

    /// Sets the class-index target value to skip.
    #[must_use]
    pub fn ignore_index(mut self, ignore_index: i64) -> Self {
        self.ignore_index = ignore_index;
        self
    }

    /// Sets the label smoothing `ε` (in `[0, 1]`).
    #[must_use]
    pub fn label_smoothing(mut self, label_smoothing: f64) -> Self {
        self.label_smoothing = label_smoothing;
        self
    }

    /// Checked form of [`forward`](Self::forward): errors on a target that is neither `I64` class
    /// indices of the right shape nor probabilities of the input's shape, a class index out of range,
    /// weights of the wrong length, or a label smoothing outside `[0, 1]`.
    pub fn try_forward(&self, input: &Variable, target: &Variable) -> Result<Variable> {
        if let Some((a, b)) = super::autocast2("cross_entropy", input, target) {
            return self.try_forward(&a, &b);
        }
        const OP: &str = "cross_entropy";
        let eps = self.label_smoothing;
        if !(0.0..=1.0).contains(&eps) {
            return Err(err(OP, format!("label_smoothing must be between 0.0 and 1.0, got {eps}")));
        }
        let dtype = check_float(OP, "input", input)?;
        if target.dtype().is_float() && target.shape() == input.shape() {
            if target.dtype() != dtype {
                return Err(err(
                    OP,
                    format!(
                        "probability target has dtype {}, but input has dtype {dtype}; they must match",
                        target.dtype()
                    ),
                ));
            }
            return self.probabilities(input, target);
        }
        if let Some(loss) = super::cross_entropy_fused::try_fused(self, input, target) {
            return Ok(loss);
        }
        let ct = ClassTargets::new(OP, input, target, self.weight.as_ref(), self.ignore_index)?;
        let logp = ct.batched(input).log_softmax(1);
        let mut elems = ct.nll_elems(&logp);
        if eps > 0.0 {
            // the uniform part: -sum_c w_c logp_c per sample, 0 where ignored
            let weighted = match ct.weight_view() {
                Some(w) => &logp * &c(w),
                None => logp,
            };
            let smooth = ct.mask_ignored(-weighted.sum_dim(1, false));
            elems = elems * (1.0 - eps) + smooth * (eps / ct.classes as f64);
        }
        ct.reduce(OP, elems, self.reduction)
    }

    /// The probability-target path: `-sum_c w_c p_c logp_c` per sample.
    fn probabilities(&self, input: &Variable, target: &Variable) -> Result<Variable> {
        const OP: &str = "cross_entropy";
        let shape = input.shape();
        if shape.is_empty() {
            return Err(err(
                OP,
                "input must have a class dimension: expected [C], [N, C] or [N, C, d1, ...], got a 0-d tensor".into(),
            ));
        }
        let class_dim = usize::from(shape.len() > 1);
        let classes = shape[class_dim];
        let weight = match &self.weight {
            None => None,
            Some(w) => {
                if w.shape() != [classes] || !w.dtype().is_float() {
                    return Err(err(
                        OP,
                        format!(
                            "weight should be a float tensor of one value per class, shape [{classes}], got {} of shape {:?}",
                            w.dtype(),
                            w.shape()
                        ),
                    ));
                }
                let mut s = vec![1usize; shape.len()];
                s[class_dim] = classes;
                Some(w.to_dtype(input.dtype()).reshape(&s))
            }
        };
        let eps = self.label_smoothing;
        let p = if eps > 0.0 { target * (1.0 - eps) + eps / classes as f64 } else { target.clone() };
        let mut prod = input.log_softmax(class_dim as isize) * p;
        if let Some(w) = weight {
            prod = prod * c(w);
        }
        match self.reduction {
            Reduction::None => Ok(-prod.sum_dim(class_dim as isize, false)),
            Reduction::Sum => Ok(-prod.sum()),
            Reduction::Mean => {
                let samples = (input.numel() / classes.max(1)) as f64;
                Ok(-prod.sum() / samples)
            }
            Reduction::Batchmean => {
                Err(err(OP, "reduction Batchmean is only valid for kl_div; use None, Mean or Sum".into()))
            }
        }
    }
}
two_input_loss!(CrossEntropyLoss);
