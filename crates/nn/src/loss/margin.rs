//! Margin losses on pairs and ±1 labels: `CosineEmbeddingLoss`, `MarginRankingLoss`,
//! `HingeEmbeddingLoss`.

use ember_autograd::Variable;
use ember_tensor::{DType, Result};

use super::{check_like, check_shape, err, reduce, three_input_loss, two_input_loss, Reduction};

/// Rejects a Bool label tensor (labels are ±1 numbers).
fn check_label(op: &'static str, y: &Variable) -> Result<()> {
    if y.dtype() == DType::Bool {
        return Err(err(op, "target must hold the numbers 1 and -1, got a Bool tensor".into()));
    }
    Ok(())
}

/// PyTorch's `nn.CosineEmbeddingLoss`: with `cos` the cosine similarity of `x1` and `x2` along their
/// last dim, `1 - cos` where `y == 1` and `max(0, cos - margin)` where `y == -1` (0 for other labels).
///
/// `x1`, `x2`: `[N, D]` with `y` of shape `[N]`, or `[D]` with a 0-d `y`. The norms are computed as
/// `sqrt((|x1|² + 1e-12)(|x2|² + 1e-12))`, as PyTorch. Default `margin = 0`.
///
/// ```
/// use ember_nn::CosineEmbeddingLoss;
/// use ember_autograd::Variable;
/// use ember_tensor::Tensor;
/// let a = Variable::from(Tensor::from_vec(vec![1.0f64, 0.0, 0.0, 1.0], &[2, 2]));
/// let b = Variable::from(Tensor::from_vec(vec![0.0f64, 1.0, 0.0, 1.0], &[2, 2]));
/// let y = Variable::from(Tensor::from_vec(vec![1.0f64, -1.0], &[2]));
/// let l = CosineEmbeddingLoss::new().reduction(ember_nn::Reduction::None).forward(&a, &b, &y);
/// let v = l.data().to_vec::<f64>();
/// assert!((v[0] - 1.0).abs() < 1e-9 && (v[1] - 1.0).abs() < 1e-9);
/// ```
#[derive(Clone, Debug, Default)]
pub struct CosineEmbeddingLoss {
    /// How the per-pair losses are reduced.
    pub reduction: Reduction,
    /// The cosine below which dissimilar pairs cost nothing (default 0).
    pub margin: f64,
}

impl CosineEmbeddingLoss {
    /// `margin = 0`, mean reduction.
    pub fn new() -> CosineEmbeddingLoss {
        CosineEmbeddingLoss::default()
    }

    /// Sets the margin (PyTorch suggests `[-1, 1]`, usually `[0, 0.5]`).
    #[must_use]
    pub fn margin(mut self, margin: f64) -> Self {
        self.margin = margin;
        self
    }

    /// Checked form of [`forward`](Self::forward): errors on inputs of different shapes or dtypes, or
    /// a label shape that does not fit them.
    pub fn try_forward(&self, x1: &Variable, x2: &Variable, y: &Variable) -> Result<Variable> {
        if let Some((a, b, c)) = super::autocast3("cosine_embedding_loss", x1, x2, y) {
            return self.try_forward(&a, &b, &c);
        }
        const OP: &str = "cosine_embedding_loss";
        check_like(OP, "input1", x1, "input2", x2)?;
        check_label(OP, y)?;
        let (xs, ys) = (x1.shape(), y.shape());
        let fits = match ys.len() {
            0 => xs.len() == 1,
            1 => xs.len() == 2 && xs[0] == ys[0],
            _ => false,
        };
        if !fits {
            return Err(err(
                OP,
                format!("expected inputs [N, D] with target [N], or inputs [D] with a 0-d target; got inputs {xs:?} and target {ys:?}"),
            ));
        }
        let d = ys.len() as isize;
        const EPSILON: f64 = 1e-12;
        let dot = (x1 * x2).sum_dim(d, false);
        let m1 = x1.square().sum_dim(d, false) + EPSILON;
        let m2 = x2.square().sum_dim(d, false) + EPSILON;
        let cos = dot / (m1 * m2).sqrt();
        let yd = y.data();
        let pos = cos.rsub_scalar(1.0).masked_fill(&yd.ne_scalar(1.0), 0.0);
        let neg = (cos - self.margin).clamp_min(0.0).masked_fill(&yd.ne_scalar(-1.0), 0.0);
        reduce(OP, pos + neg, self.reduction)
    }
}
three_input_loss!(CosineEmbeddingLoss, x1, x2, y);

/// PyTorch's `nn.MarginRankingLoss`: `max(0, -y (x1 - x2) + margin)` per element, for labels
/// `y = 1` (x1 should rank higher) or `-1`. All three have the same shape; an `I64` label is
/// converted to the inputs' dtype. Default `margin = 0`.
///
/// ```
/// use ember_nn::MarginRankingLoss;
/// use ember_autograd::Variable;
/// use ember_tensor::Tensor;
/// let a = Variable::from(Tensor::from_vec(vec![1.0f32, 0.0], &[2]));
/// let b = Variable::from(Tensor::from_vec(vec![0.0f32, 1.0], &[2]));
/// let y = Variable::from(Tensor::from_vec(vec![1i64, 1], &[2]));
/// assert_eq!(MarginRankingLoss::new().margin(0.5).forward(&a, &b, &y).data().item::<f32>(), 0.75);
/// ```
#[derive(Clone, Debug, Default)]
pub struct MarginRankingLoss {
    /// How the per-element losses are reduced.
    pub reduction: Reduction,
    /// The margin (default 0).
    pub margin: f64,
}

impl MarginRankingLoss {
    /// `margin = 0`, mean reduction.
    pub fn new() -> MarginRankingLoss {
        MarginRankingLoss::default()
    }

    /// Sets the margin.
    #[must_use]
    pub fn margin(mut self, margin: f64) -> Self {
        self.margin = margin;
        self
    }

    /// Checked form of [`forward`](Self::forward): errors on shapes that differ or dtypes that do not
    /// fit.
    pub fn try_forward(&self, x1: &Variable, x2: &Variable, y: &Variable) -> Result<Variable> {
        if let Some((a, b, c)) = super::autocast3("margin_ranking_loss", x1, x2, y) {
            return self.try_forward(&a, &b, &c);
        }
        const OP: &str = "margin_ranking_loss";
        check_like(OP, "input1", x1, "input2", x2)?;
        check_label(OP, y)?;
        check_shape(OP, "input1", x1, "target", y)?;
        let y = match y.dtype() {
            DType::I64 => y.to_dtype(x1.dtype()),
            dt if dt == x1.dtype() => y.clone(),
            dt => return Err(err(OP, format!("target has dtype {dt}, but the inputs have dtype {}", x1.dtype()))),
        };
        let l = (-(y * (x1 - x2)) + self.margin).clamp_min(0.0);
        reduce(OP, l, self.reduction)
    }
}
three_input_loss!(MarginRankingLoss, x1, x2, y);

/// PyTorch's `nn.HingeEmbeddingLoss`: `x` where `y == 1`, `max(0, margin - x)` where `y == -1` (both
/// terms for other labels, as PyTorch). `target` has the input's shape, any numeric dtype. Default
/// `margin = 1`.
///
/// ```
/// use ember_nn::HingeEmbeddingLoss;
/// use ember_autograd::Variable;
/// use ember_tensor::Tensor;
/// let x = Variable::from(Tensor::from_vec(vec![0.25f64, 0.5], &[2]));
/// let y = Variable::from(Tensor::from_vec(vec![1.0f64, -1.0], &[2]));
/// assert_eq!(HingeEmbeddingLoss::new().reduction(ember_nn::Reduction::Sum).forward(&x, &y).data().item::<f64>(), 0.75); // 0.25 + (1 - 0.5)
/// ```
#[derive(Clone, Debug)]
pub struct HingeEmbeddingLoss {
    /// How the per-element losses are reduced.
    pub reduction: Reduction,
    /// The margin (default 1).
    pub margin: f64,
}

impl Default for HingeEmbeddingLoss {
    fn default() -> Self {
        HingeEmbeddingLoss { reduction: Reduction::Mean, margin: 1.0 }
    }
}

impl HingeEmbeddingLoss {
    /// `margin = 1`, mean reduction.
    pub fn new() -> HingeEmbeddingLoss {
        HingeEmbeddingLoss::default()
    }

    /// Sets the margin.
    #[must_use]
    pub fn margin(mut self, margin: f64) -> Self {
        self.margin = margin;
        self
    }

    /// Checked form of [`forward`](Self::forward): errors on a shape mismatch or a float input
    /// missing.
    pub fn try_forward(&self, input: &Variable, target: &Variable) -> Result<Variable> {
        if let Some((a, b)) = super::autocast2("hinge_embedding_loss", input, target) {
            return self.try_forward(&a, &b);
        }
        const OP: &str = "hinge_embedding_loss";
        super::check_float(OP, "input", input)?;
        check_label(OP, target)?;
        check_shape(OP, "input", input, "target", target)?;
        let y = target.data();
        let margin_term = input.rsub_scalar(self.margin).clamp_min(0.0).masked_fill(&y.eq_scalar(1.0), 0.0);
        let self_term = input.masked_fill(&y.eq_scalar(-1.0), 0.0);
        reduce(OP, margin_term + self_term, self.reduction)
    }
}
two_input_loss!(HingeEmbeddingLoss);
