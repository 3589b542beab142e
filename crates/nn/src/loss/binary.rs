//! Binary cross-entropy: `BceLoss` on probabilities, `BceWithLogitsLoss` on logits.

use ember_autograd::Variable;
use ember_tensor::Result;
use ember_tensor::Tensor;

use super::{broadcast_weight, c, check_like, err, reduce, two_input_loss, Reduction};

/// Binary cross-entropy of probabilities, PyTorch's `nn.BCELoss`:
/// `-w (y log x + (1 - y) log(1 - x))` per element, each log clamped at -100 as PyTorch (so `x = 0`
/// or `1` gives a finite loss).
///
/// `input` must lie in `[0, 1]`; `target` has its dtype and shape. The optional `weight` broadcasts
/// to the input's shape. The input gradient is PyTorch's `w (x - y) / max(x (1 - x), 1e-12)`; the
/// target gradient is `-w logit(x)`.
///
/// ```
/// use ember_nn::BceLoss;
/// use ember_autograd::Variable;
/// use ember_tensor::Tensor;
/// let p = Variable::from(Tensor::from_vec(vec![0.5f64, 0.0], &[2]));
/// let y = Variable::from(Tensor::from_vec(vec![1.0f64, 1.0], &[2]));
/// let l = BceLoss::new().reduction(ember_nn::Reduction::None).forward(&p, &y);
/// assert_eq!(l.data().to_vec::<f64>(), vec![2f64.ln(), 100.0]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct BceLoss {
    /// How the per-element losses are reduced.
    pub reduction: Reduction,
    /// A weight broadcast to the input's shape, or `None`.
    pub weight: Option<Tensor>,
}

impl BceLoss {
    /// No weight, mean reduction.
    pub fn new() -> BceLoss {
        BceLoss::default()
    }

    /// Rescales each element's loss (a float tensor broadcastable to the input's shape).
    #[must_use]
    pub fn weight(mut self, weight: Tensor) -> Self {
        self.weight = Some(weight);
        self
    }

    /// Checked form of [`forward`](Self::forward): errors on mismatched shapes or dtypes, a weight
    /// that does not broadcast, or input values outside `[0, 1]`.
    pub fn try_forward(&self, input: &Variable, target: &Variable) -> Result<Variable> {
        if let Some((a, b)) = super::autocast2("binary_cross_entropy", input, target) {
            return self.try_forward(&a, &b);
        }
        if ember_autograd::autocast_dtype().is_some() && !input.device().is_cpu() {
            // PyTorch's CUDA autocast bans it: a 16-bit sigmoid output saturates to 0 or 1
            return Err(err(
                "binary_cross_entropy",
                "binary_cross_entropy is unsafe to autocast on a GPU (as with PyTorch's CUDA autocast); \
                 combine the sigmoid and the loss with binary_cross_entropy_with_logits (BceWithLogitsLoss)"
                    .into(),
            ));
        }
        const OP: &str = "binary_cross_entropy";
        // PyTorch's clamp of the denominator is the f32 constant 1e-12, in every dtype
        const EPSILON: f64 = 1e-12f32 as f64;
        check_like(OP, "input", input, "target", target)?;
        let (x, y) = (input.data(), target.data());
        let w = broadcast_weight(OP, "weight", self.weight.as_ref(), x.shape(), x.dtype())?;
        if x.numel() > 0 {
            let (lo, hi) = (x.min().item::<f64>(), x.max().item::<f64>());
            if lo < 0.0 || hi > 1.0 {
                return Err(err(
                    OP,
                    format!("all elements of input should be between 0 and 1, got values in [{lo}, {hi}]"),
                ));
            }
        }
        // (y - 1) * max(log(1 - x), -100) - y * max(log(x), -100)
        let log_x = x.log().clamp_min(-100.0);
        let log_1mx = x.rsub_scalar(1.0).log().clamp_min(-100.0);
        let mut out = &(&y.sub_scalar(1.0) * &log_1mx) - &(&y * &log_x);
        if let Some(w) = &w {
            out = &out * w;
        }
        let l = Variable::record("binary_cross_entropy", &[input, target], out, move |ctx| {
            let (x, y) = (&ctx.inputs[0], &ctx.inputs[1]);
            let g = match &w {
                Some(w) => ctx.grad * &c(w.clone()),
                None => ctx.grad.clone(),
            };
            let gx = ctx.needs(0).then(|| &g * &(x - y) / (x * &x.rsub_scalar(1.0)).clamp_min(EPSILON));
            let gy = ctx.needs(1).then(|| -(&g * &(x.log() - x.rsub_scalar(1.0).log())));
            vec![gx, gy]
        });
        reduce(OP, l, self.reduction)
    }
}
two_input_loss!(BceLoss);

/// Binary cross-entropy of logits, PyTorch's `nn.BCEWithLogitsLoss`: `BceLoss(sigmoid(x), y)` in the
/// stable form `(1 - y) x + lw softplus(-x)` with `lw = 1 + (pos_weight - 1) y`, times `weight`.
///
/// `pos_weight` (broadcast to the input's shape, usually `[C]` along the last dim) weighs the
/// positive term; `weight` rescales each element's loss.
///
/// ```
/// use ember_nn::BceWithLogitsLoss;
/// use ember_autograd::Variable;
/// use ember_tensor::Tensor;
/// let x = Variable::from(Tensor::from_vec(vec![0.0f64, 1000.0], &[2]));
/// let y = Variable::from(Tensor::from_vec(vec![1.0f64, 1.0], &[2]));
/// let l = BceWithLogitsLoss::new().reduction(ember_nn::Reduction::None).forward(&x, &y);
/// assert_eq!(l.data().to_vec::<f64>(), vec![2f64.ln(), 0.0]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct BceWithLogitsLoss {
    /// How the per-element losses are reduced.
    pub reduction: Reduction,
    /// A weight broadcast to the input's shape, or `None`.
    pub weight: Option<Tensor>,
    /// A weight of the positive examples broadcast to the input's shape, or `None`.
    pub pos_weight: Option<Tensor>,
}

impl BceWithLogitsLoss {
    /// No weights, mean reduction.
    pub fn new() -> BceWithLogitsLoss {
        BceWithLogitsLoss::default()
    }

    /// Rescales each element's loss (a float tensor broadcastable to the input's shape).
    #[must_use]
    pub fn weight(mut self, weight: Tensor) -> Self {
        self.weight = Some(weight);
        self
    }

    /// Weighs the positive term (a float tensor broadcastable to the input's shape, e.g. `[C]`).
    #[must_use]
    pub fn pos_weight(mut self, pos_weight: Tensor) -> Self {
        self.pos_weight = Some(pos_weight);
        self
    }

    /// Checked form of [`forward`](Self::forward): errors on mismatched shapes or dtypes, or weights
    /// that do not broadcast to the input's shape.
    pub fn try_forward(&self, input: &Variable, target: &Variable) -> Result<Variable> {
        if let Some((a, b)) = super::autocast2("binary_cross_entropy_with_logits", input, target) {
            return self.try_forward(&a, &b);
        }
        const OP: &str = "binary_cross_entropy_with_logits";
        check_like(OP, "input", input, "target", target)?;
        let (shape, dt) = (input.shape(), input.dtype());
        let w = broadcast_weight(OP, "weight", self.weight.as_ref(), &shape, dt)?;
        let pw = broadcast_weight(OP, "pos_weight", self.pos_weight.as_ref(), &shape, dt)?;
        // softplus(-x) = -log(sigmoid(x)), stable for large |x|; its derivative is sigmoid(-x)
        let neg_log_sig = (-input).softplus();
        let lin = target.rsub_scalar(1.0) * input;
        let mut l = match pw {
            Some(pw) => lin + (target * &c(pw.sub_scalar(1.0)) + 1.0) * neg_log_sig,
            None => lin + neg_log_sig,
        };
        if let Some(w) = w {
            l = l * c(w);
        }
        reduce(OP, l, self.reduction)
    }
}
two_input_loss!(BceWithLogitsLoss);
