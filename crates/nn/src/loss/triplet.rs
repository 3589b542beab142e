//! `TripletMarginLoss`: an anchor should be nearer its positive than its negative by a margin.

use ember_autograd::Variable;
use ember_tensor::Result;

use super::{check_like, err, reduce, three_input_loss, Reduction};

/// PyTorch's `nn.TripletMarginLoss`: `max(0, d(a, p) - d(a, n) + margin)` per sample, with
/// `d(x, y) = ||x - y + eps||_p` over the last dim (PyTorch's `pairwise_distance`); with `swap`,
/// `d(a, n)` is replaced by `min(d(a, n), d(p, n))`.
///
/// Anchor, positive and negative have one shape (`[N, D]`, or `[D]` for one triplet; more leading
/// dims are batch dims). Defaults:
/// `margin = 1`, `p = 2`, `eps = 1e-6`, `swap = false`. `p` may be `f64::INFINITY` (the max norm).
///
/// ```
/// use ember_nn::TripletMarginLoss;
/// use ember_autograd::Variable;
/// use ember_tensor::Tensor;
/// let a = Variable::from(Tensor::from_vec(vec![0.0f64, 0.0], &[1, 2]));
/// let p = Variable::from(Tensor::from_vec(vec![3.0f64, 4.0], &[1, 2]));
/// let n = Variable::from(Tensor::from_vec(vec![0.0f64, 1.0], &[1, 2]));
/// let l = TripletMarginLoss::new().eps(0.0).forward(&a, &p, &n);
/// assert_eq!(l.data().item::<f64>(), 5.0); // 5 - 1 + 1
/// ```
#[derive(Clone, Debug)]
pub struct TripletMarginLoss {
    /// How the per-sample losses are reduced.
    pub reduction: Reduction,
    /// The margin (positive, default 1).
    pub margin: f64,
    /// The norm degree (positive, default 2).
    pub p: f64,
    /// Added to the differences before taking the norm (default 1e-6).
    pub eps: f64,
    /// Use the positive-negative distance when it is the smaller (default false).
    pub swap: bool,
}

impl Default for TripletMarginLoss {
    fn default() -> Self {
        TripletMarginLoss { reduction: Reduction::Mean, margin: 1.0, p: 2.0, eps: 1e-6, swap: false }
    }
}

impl TripletMarginLoss {
    /// `margin = 1`, `p = 2`, `eps = 1e-6`, no swap, mean reduction.
    pub fn new() -> TripletMarginLoss {
        TripletMarginLoss::default()
    }

    /// Sets the margin (must be positive).
    #[must_use]
    pub fn margin(mut self, margin: f64) -> Self {
        self.margin = margin;
        self
    }

    /// Sets the norm degree (must be positive; `f64::INFINITY` for the max norm).
    #[must_use]
    pub fn p(mut self, p: f64) -> Self {
        self.p = p;
        self
    }

    /// Sets the small value added to the differences.
    #[must_use]
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// Whether to swap in the positive-negative distance when it is smaller.
    #[must_use]
    pub fn swap(mut self, swap: bool) -> Self {
        self.swap = swap;
        self
    }

    /// `||x - y + eps||_p` over the last dim.
    fn distance(&self, x: &Variable, y: &Variable) -> Variable {
        let d = x - y + self.eps;
        let p = self.p;
        if p == 2.0 {
            d.square().sum_dim(-1, false).sqrt()
        } else if p == 1.0 {
            d.abs().sum_dim(-1, false)
        } else if p.is_infinite() {
            d.abs().max_dim(-1, false)
        } else {
            d.abs().powf(p).sum_dim(-1, false).powf(1.0 / p)
        }
    }

    /// Checked form of [`forward`](Self::forward): errors on shapes or dtypes that differ, inputs that
    /// are 0-d, a non-positive margin or norm degree.
    pub fn try_forward(&self, anchor: &Variable, positive: &Variable, negative: &Variable) -> Result<Variable> {
        if let Some((a, b, c)) = super::autocast3("triplet_margin_loss", anchor, positive, negative) {
            return self.try_forward(&a, &b, &c);
        }
        const OP: &str = "triplet_margin_loss";
        if self.margin.is_nan() || self.margin <= 0.0 {
            return Err(err(OP, format!("margin must be greater than 0, got {}", self.margin)));
        }
        if self.p.is_nan() || self.p <= 0.0 {
            return Err(err(OP, format!("the norm degree p must be positive, got {}", self.p)));
        }
        check_like(OP, "anchor", anchor, "positive", positive)?;
        check_like(OP, "anchor", anchor, "negative", negative)?;
        if anchor.rank() == 0 {
            return Err(err(OP, "expected inputs of shape [N, D] or [D], got 0-d tensors".into()));
        }
        let d_pos = self.distance(anchor, positive);
        let mut d_neg = self.distance(anchor, negative);
        if self.swap {
            d_neg = d_neg.minimum(&self.distance(positive, negative));
        }
        reduce(OP, (d_pos - d_neg + self.margin).clamp_min(0.0), self.reduction)
    }
}
three_input_loss!(TripletMarginLoss, anchor, positive, negative);
