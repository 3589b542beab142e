//! [`ReduceLrOnPlateau`].

use crate::Optimizer;

/// Whether [`ReduceLrOnPlateau`] watches a quantity to minimize or to maximize.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PlateauMode {
    /// Lower is better (a loss; the default).
    #[default]
    Min,
    /// Higher is better (an accuracy).
    Max,
}

/// How [`ReduceLrOnPlateau`] measures a significant improvement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ThresholdMode {
    /// Relative to the best value: `best · (1 ∓ threshold)` (the default).
    #[default]
    Rel,
    /// Absolute: `best ∓ threshold`.
    Abs,
}

/// Multiplies the learning rate by `factor` when a metric has stopped improving for more than
/// `patience` epochs (PyTorch's `ReduceLROnPlateau`). Defaults: mode min, factor 0.1,
/// patience 10, threshold 1e-4 (relative), cooldown 0, min_lr 0, eps 1e-8.
///
/// ```
/// use ember_autograd::Variable;
/// use ember_optim::{ReduceLrOnPlateau, Sgd};
/// use ember_tensor::Tensor;
/// let mut opt = Sgd::new(vec![Variable::new(Tensor::zeros(&[1]), true)], 1.0);
/// let mut s = ReduceLrOnPlateau::new(&opt).patience(1).factor(0.5);
/// for loss in [1.0, 0.5, 0.5, 0.5, 0.5] {
///     s.step(&mut opt, loss);
/// }
/// // epochs 3 and 4 without improvement exceed patience 1: halved once, then counting restarts
/// assert_eq!(opt.lr(), 0.5);
/// assert_eq!(s.num_bad_epochs(), 1);
/// ```
#[derive(Clone, Debug)]
pub struct ReduceLrOnPlateau {
    mode: PlateauMode,
    factor: f64,
    patience: usize,
    threshold: f64,
    threshold_mode: ThresholdMode,
    cooldown: usize,
    min_lrs: Vec<f64>,
    /// The `min_lr` of every group when one value was given (it follows the optimizer's groups).
    default_min_lr: Option<f64>,
    eps: f64,
    best: f64,
    num_bad_epochs: usize,
    cooldown_counter: usize,
    last_epoch: i64,
    last_lr: Vec<f64>,
}

impl ReduceLrOnPlateau {
    /// A scheduler for `opt` with PyTorch's defaults; unlike the epoch schedulers it changes
    /// nothing at construction.
    pub fn new(opt: &dyn Optimizer) -> ReduceLrOnPlateau {
        let n = opt.num_param_groups();
        ReduceLrOnPlateau {
            mode: PlateauMode::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lrs: vec![0.0; n],
            default_min_lr: Some(0.0),
            eps: 1e-8,
            best: f64::INFINITY,
            num_bad_epochs: 0,
            cooldown_counter: 0,
            last_epoch: 0,
            last_lr: opt.group_lrs(),
        }
    }

    /// Minimize or maximize the metric (default min); resets the best value seen.
    #[must_use]
    pub fn mode(mut self, mode: PlateauMode) -> Self {
        self.mode = mode;
        self.best = self.mode_worse();
        self
    }

    /// The factor applied to the rate (default 0.1). **Panics** unless `factor < 1`.
    #[must_use]
    #[track_caller]
    pub fn factor(mut self, factor: f64) -> Self {
        if factor.is_nan() || factor >= 1.0 {
            panic!("ReduceLrOnPlateau: factor should be < 1.0, got {factor}");
        }
        self.factor = factor;
        self
    }

    /// Epochs without improvement tolerated before reducing (default 10).
    #[must_use]
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// The size of a significant improvement (default 1e-4).
    #[must_use]
    pub fn threshold(mut self, threshold: f64) -> Self {
        self.threshold = threshold;
        self
    }

    /// Relative or absolute threshold (default relative).
    #[must_use]
    pub fn threshold_mode(mut self, threshold_mode: ThresholdMode) -> Self {
        self.threshold_mode = threshold_mode;
        self
    }

    /// Epochs to wait after a reduction before counting bad epochs again (default 0).
    #[must_use]
    pub fn cooldown(mut self, cooldown: usize) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The lowest rate of every group (default 0).
    #[must_use]
    pub fn min_lr(mut self, min_lr: f64) -> Self {
        self.min_lrs = vec![min_lr; self.min_lrs.len()];
        self.default_min_lr = Some(min_lr);
        self
    }

    /// The lowest rate of each group; the count must match the optimizer's groups at `step`.
    #[must_use]
    pub fn min_lrs(mut self, min_lrs: Vec<f64>) -> Self {
        self.min_lrs = min_lrs;
        self.default_min_lr = None;
        self
    }

    /// A reduction smaller than this is not applied (default 1e-8).
    #[must_use]
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    fn mode_worse(&self) -> f64 {
        match self.mode {
            PlateauMode::Min => f64::INFINITY,
            PlateauMode::Max => f64::NEG_INFINITY,
        }
    }

    fn is_better(&self, a: f64) -> bool {
        let best = self.best;
        match (self.mode, self.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => a < best * (1.0 - self.threshold),
            (PlateauMode::Min, ThresholdMode::Abs) => a < best - self.threshold,
            (PlateauMode::Max, ThresholdMode::Rel) => a > best * (self.threshold + 1.0),
            (PlateauMode::Max, ThresholdMode::Abs) => a > best + self.threshold,
        }
    }

    /// Records this epoch's `metric` and reduces the rates when it has plateaued.
    ///
    /// **Panics** when per-group `min_lrs` do not match the optimizer's groups.
    #[track_caller]
    pub fn step(&mut self, opt: &mut dyn Optimizer, metric: f64) {
        self.last_epoch += 1;
        if self.is_better(metric) {
            self.best = metric;
            self.num_bad_epochs = 0;
        } else {
            self.num_bad_epochs += 1;
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.num_bad_epochs = 0; // bad epochs in cooldown are ignored
        }
        if self.num_bad_epochs > self.patience {
            self.reduce_lr(opt);
            self.cooldown_counter = self.cooldown;
            self.num_bad_epochs = 0;
        }
        self.last_lr = opt.group_lrs();
    }

    #[track_caller]
    fn reduce_lr(&mut self, opt: &mut dyn Optimizer) {
        let n = opt.num_param_groups();
        if self.min_lrs.len() != n {
            match self.default_min_lr {
                Some(v) => self.min_lrs = vec![v; n],
                None => panic!(
                    "ReduceLrOnPlateau: the optimizer has {n} parameter groups but {} min_lrs were given",
                    self.min_lrs.len()
                ),
            }
        }
        for (g, old) in opt.group_lrs().into_iter().enumerate() {
            let new = (old * self.factor).max(self.min_lrs[g]);
            if old - new > self.eps {
                opt.set_group_lr(g, new);
            }
        }
    }

    /// The learning rate of every group after the last `step`.
    pub fn get_last_lr(&self) -> Vec<f64> {
        self.last_lr.clone()
    }

    /// The number of `step` calls so far.
    pub fn last_epoch(&self) -> i64 {
        self.last_epoch
    }

    /// The best metric seen.
    pub fn best(&self) -> f64 {
        self.best
    }

    /// Consecutive epochs without a significant improvement.
    pub fn num_bad_epochs(&self) -> usize {
        self.num_bad_epochs
    }

    /// True while the cooldown after a reduction lasts.
    pub fn in_cooldown(&self) -> bool {
        self.cooldown_counter > 0
    }
}
