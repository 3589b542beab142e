//! Elementwise regression losses: `MseLoss`, `L1Loss`, `SmoothL1Loss`, `HuberLoss`.

use ember_autograd::Variable;
use ember_tensor::Result;

use super::{check_like, err, reduce, two_input_loss, Reduction};

/// Mean squared error, PyTorch's `nn.MSELoss`: `(input - target)²` per element, then reduced.
///
/// Input and target must have the same float dtype and the same shape (PyTorch broadcasts with a
/// warning; Ember refuses). Gradients flow into both.
///
/// ```
/// use ember_nn::MseLoss;
/// use ember_autograd::Variable;
/// use ember_tensor::Tensor;
/// let x = Variable::from(Tensor::from_vec(vec![1.0f32, 3.0], &[2]));
/// let y = Variable::from(Tensor::from_vec(vec![0.0f32, 1.0], &[2]));
/// assert_eq!(MseLoss::new().forward(&x, &y).data().item::<f32>(), 2.5);
/// ```
#[derive(Clone, Debug, Default)]
pub struct MseLoss {
    /// How the per-element losses are reduced.
    pub reduction: Reduction,
}

impl MseLoss {
    /// With mean reduction.
    pub fn new() -> MseLoss {
        MseLoss::default()
    }

    /// Checked form of [`forward`](Self::forward).
    pub fn try_forward(&self, input: &Variable, target: &Variable) -> Result<Variable> {
        if let Some((a, b)) = super::autocast2("mse_loss", input, target) {
            return self.try_forward(&a, &b);
        }
        check_like("mse_loss", "input", input, "target", target)?;
        reduce("mse_loss", (input - target).square(), self.reduction)
    }
}
two_input_loss!(MseLoss);

/// Mean absolute error, PyTorch's `nn.L1Loss`: `|input - target|` per element, then reduced.
///
/// The gradient at `input == target` is 0 (the sign), as PyTorch.
#[derive(Clone, Debug, Default)]
pub struct L1Loss {
    /// How the per-element losses are reduced.
    pub reduction: Reduction,
}

impl L1Loss {
    /// With mean reduction.
    pub fn new() -> L1Loss {
        L1Loss::default()
    }

    /// Checked form of [`forward`](Self::forward).
    pub fn try_forward(&self, input: &Variable, target: &Variable) -> Result<Variable> {
        if let Some((a, b)) = super::autocast2("l1_loss", input, target) {
            return self.try_forward(&a, &b);
        }
        check_like("l1_loss", "input", input, "target", target)?;
        reduce("l1_loss", (input - target).abs(), self.reduction)
    }
}
two_input_loss!(L1Loss);

/// PyTorch's `nn.SmoothL1Loss`: with `d = |input - target|`, `0.5 d² / beta` where `d < beta`, else
/// `d - 0.5 beta`; `beta = 0` is the L1 loss. Default `beta = 1`.
#[derive(Clone, Debug)]
pub struct SmoothL1Loss {
    /// How the per-element losses are reduced.
    pub reduction: Reduction,
    /// Where the loss turns from quadratic to linear (non-negative).
    pub beta: f64,
}

impl Default for SmoothL1Loss {
    fn default() -> Self {
        SmoothL1Loss { reduction: Reduction::Mean, beta: 1.0 }
    }
}

impl SmoothL1Loss {
    /// With `beta = 1` and mean reduction.
    pub fn new() -> SmoothL1Loss {
        SmoothL1Loss::default()
    }

    /// Sets `beta` (must be non-negative).
    #[must_use]
    pub fn beta(mut self, beta: f64) -> Self {
        self.beta = beta;
        self
    }

    /// Checked form of [`forward`](Self::forward).
    pub fn try_forward(&self, input: &Variable, target: &Variable) -> Result<Variable> {
        if let Some((a, b)) = super::autocast2("smooth_l1_loss", input, target) {
            return self.try_forward(&a, &b);
        }
        const OP: &str = "smooth_l1_loss";
        let beta = self.beta;
        if beta.is_nan() || beta < 0.0 {
            return Err(err(OP, format!("beta must be non-negative, got {beta}")));
        }
        check_like(OP, "input", input, "target", target)?;
        let d = input - target;
        let a = d.abs();
        if beta == 0.0 {
            return reduce(OP, a, self.reduction);
        }
        let near = a.data().lt_scalar(beta);
        let quad = d.square() * (0.5 / beta);
        let lin = a - 0.5 * beta;
        reduce(OP, quad.where_(&near, &lin), self.reduction)
    }
}
two_input_loss!(SmoothL1Loss);

/// PyTorch's `nn.HuberLoss`: with `d = |input - target|`, `0.5 d²` where `d < delta`, else
/// `delta (d - 0.5 delta)`. Default `delta = 1` (where it equals [`SmoothL1Loss`]).
#[derive(Clone, Debug)]
pub struct HuberLoss {
    /// How the per-element losses are reduced.
    pub reduction: Reduction,
    /// Where the loss turns from quadratic to linear (positive).
    pub delta: f64,
}

impl Default for HuberLoss {
    fn default() -> Self {
        HuberLoss { reduction: Reduction::Mean, delta: 1.0 }
    }
}

impl HuberLoss {
    /// With `delta = 1` and mean reduction.
    pub fn new() -> HuberLoss {
        HuberLoss::default()
    }

    /// Sets `delta` (must be positive).
    #[must_use]
    pub fn delta(mut self, delta: f64) -> Self {
        self.delta = delta;
        self
    }

    /// Checked form of [`forward`](Self::forward).
    pub fn try_forward(&self, input: &Variable, target: &Variable) -> Result<Variable> {
        if let Some((a, b)) = super::autocast2("huber_loss", input, target) {
            return self.try_forward(&a, &b);
        }
        const OP: &str = "huber_loss";
        let delta = self.delta;
        if delta.is_nan() || delta <= 0.0 {
            return Err(err(OP, format!("delta must be positive, got {delta}")));
        }
        check_like(OP, "input", input, "target", target)?;
        let d = input - target;
        let a = d.abs();
        let near = a.data().lt_scalar(delta);
        let quad = d.square() * 0.5;
        let lin = (a - 0.5 * delta) * delta;
        reduce(OP, quad.where_(&near, &lin), self.reduction)
    }
}
two_input_loss!(HuberLoss);
