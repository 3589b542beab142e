//! [`OneCycleLr`]: the 1cycle policy, stepped once per batch.

use std::f64::consts::PI;

use ember_tensor::{Error, Result};

use super::{impl_scheduler, Base};
use crate::Optimizer;

/// How [`OneCycleLr`] moves between two values within a phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Anneal {
    /// Cosine annealing (PyTorch's `"cos"`, the default).
    #[default]
    Cos,
    /// Linear annealing (`"linear"`).
    Linear,
}

impl Anneal {
    fn apply(self, start: f64, end: f64, pct: f64) -> f64 {
        match self {
            Anneal::Cos => end + (start - end) / 2.0 * ((PI * pct).cos() + 1.0),
            Anneal::Linear => (end - start) * pct + start,
        }
    }
}

/// The options of [`OneCycleLr`], PyTorch's keyword arguments with its defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct OneCycleOptions {
    /// Fraction of the cycle spent increasing the rate (0.3).
    pub pct_start: f64,
    /// The annealing shape (cosine).
    pub anneal_strategy: Anneal,
    /// Also cycles the momentum (`momentum`, or `beta1` for the Adam family) inversely to the
    /// rate, between `base_momentum` and `max_momentum` (true).
    pub cycle_momentum: bool,
    /// Lowest momentum of the cycle (0.85).
    pub base_momentum: f64,
    /// Highest momentum, used at the start (0.95).
    pub max_momentum: f64,
    /// `initial_lr = max_lr / div_factor` (25).
    pub div_factor: f64,
    /// `min_lr = initial_lr / final_div_factor` (1e4).
    pub final_div_factor: f64,
    /// Three phases (up, back down to `initial_lr`, then annihilation) instead of two (false).
    pub three_phase: bool,
}

impl Default for OneCycleOptions {
    fn default() -> Self {
        OneCycleOptions {
            pct_start: 0.3,
            anneal_strategy: Anneal::Cos,
            cycle_momentum: true,
            base_momentum: 0.85,
            max_momentum: 0.95,
            div_factor: 25.0,
            final_div_factor: 1e4,
            three_phase: false,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Point {
    Initial,
    Max,
    Min,
}

#[derive(Debug)]
struct Phase {
    end_step: f64,
    lr: (Point, Point),
    /// `true` = from max to base momentum, `false` = from base to max; `None` = constant max.
    momentum_down: Option<bool>,
}

/// The 1cycle learning-rate policy (PyTorch's `OneCycleLR`): the rate rises from
/// `max_lr / div_factor` to `max_lr`, then anneals to `initial_lr / final_div_factor`, over
/// `total_steps` calls of `step` (one per batch); the momentum cycles the other way.
///
/// ```
/// use ember_autograd::Variable;
/// use ember_optim::{LrScheduler, OneCycleLr, Optimizer, Sgd};
/// use ember_tensor::Tensor;
/// let mut opt = Sgd::new(vec![Variable::new(Tensor::zeros(&[1]), true)], 0.1).momentum(0.9);
/// let mut s = OneCycleLr::new(&mut opt, 1.0, 10);
/// assert!((opt.lr() - 0.04).abs() < 1e-12); // max_lr / 25
/// assert_eq!(opt.hyper(0, "momentum"), Some(0.95));
/// s.step(&mut opt);
/// s.step(&mut opt); // step 2 = end of the warm-up (0.3 · 10 - 1)
/// assert!((opt.lr() - 1.0).abs() < 1e-12);
/// assert!((opt.hyper(0, "momentum").unwrap() - 0.85).abs() < 1e-12);
/// ```
#[derive(Debug)]
pub struct OneCycleLr {
    base: Base,
    total_steps: usize,
    phases: Vec<Phase>,
    anneal: Anneal,
    /// Per group: (initial_lr, max_lr, min_lr).
    points: Vec<(f64, f64, f64)>,
    /// The optimizer key cycled (`"momentum"` or `"beta1"`) with (base, max) momentum.
    momentum: Option<(&'static str, f64, f64)>,
}

impl OneCycleLr {
    /// The policy peaking at `max_lr` (every group) over `total_steps` batches, with PyTorch's
    /// default options.
    ///
    /// **Panics** on invalid arguments; see [`OneCycleLr::try_with_options`].
    #[track_caller]
    pub fn new(opt: &mut dyn Optimizer, max_lr: f64, total_steps: usize) -> OneCycleLr {
        OneCycleLr::with_options(opt, max_lr, total_steps, OneCycleOptions::default())
    }

    /// The policy with explicit options.
    ///
    /// **Panics** on invalid arguments; see [`OneCycleLr::try_with_options`].
    #[track_caller]
    pub fn with_options(opt: &mut dyn Optimizer, max_lr: f64, total_steps: usize, o: OneCycleOptions) -> OneCycleLr {
        match OneCycleLr::try_with_options(opt, max_lr, total_steps, o) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    /// Checked form of [`OneCycleLr::with_options`]: `total_steps` must be positive, `pct_start`
    /// in `[0, 1]`, the rates non-negative, and with `cycle_momentum` the optimizer must have a
    /// `momentum` or `beta1` that accepts the momentum values.
    pub fn try_with_options(
        opt: &mut dyn Optimizer,
        max_lr: f64,
        total_steps: usize,
        o: OneCycleOptions,
    ) -> Result<OneCycleLr> {
        let bad = |msg: String| Error::InvalidArgument { op: "OneCycleLr", msg };
        if total_steps == 0 {
            return Err(bad("expected positive integer total_steps, but got 0".into()));
        }
        if !(0.0..=1.0).contains(&o.pct_start) {
            return Err(bad(format!("expected float between 0 and 1 pct_start, but got {}", o.pct_start)));
        }
        let initial = max_lr / o.div_factor;
        if !(initial >= 0.0 && max_lr >= 0.0) {
            return Err(bad(format!("max_lr {max_lr} / div_factor {} must be a non-negative rate", o.div_factor)));
        }
        let total = total_steps as f64;
        let phases = if o.three_phase {
            vec![
                Phase {
                    end_step: o.pct_start * total - 1.0,
                    lr: (Point::Initial, Point::Max),
                    momentum_down: Some(true),
                },
                Phase {
                    end_step: 2.0 * o.pct_start * total - 2.0,
                    lr: (Point::Max, Point::Initial),
                    momentum_down: Some(false),
                },
                Phase { end_step: total - 1.0, lr: (Point::Initial, Point::Min), momentum_down: None },
            ]
        } else {
            vec![
                Phase {
                    end_step: o.pct_start * total - 1.0,
                    lr: (Point::Initial, Point::Max),
                    momentum_down: Some(true),
                },
                Phase { end_step: total - 1.0, lr: (Point::Max, Point::Min), momentum_down: Some(false) },
            ]
        };
        let groups = opt.num_param_groups();
        let momentum = if o.cycle_momentum {
            let key = if opt.hyper(0, "beta1").is_some() {
                "beta1"
            } else if opt.hyper(0, "momentum").is_some() {
                "momentum"
            } else {
                return Err(bad(format!(
                    "optimizer {} must support momentum or beta1 with `cycle_momentum` enabled",
                    opt.name()
                )));
            };
            // Both ends must be values the optimizer accepts; the cycle starts at the maximum.
            for g in 0..groups {
                opt.set_hyper(g, key, o.base_momentum)?;
                opt.set_hyper(g, key, o.max_momentum)?;
            }
            Some((key, o.base_momentum, o.max_momentum))
        } else {
            None
        };
        for g in 0..groups {
            // Recorded for other schedulers, as PyTorch's group["initial_lr"].
            let _ = opt.set_hyper(g, "initial_lr", initial);
        }
        let mut base = Base::attach("OneCycleLr", opt);
        base.base_lrs = vec![initial; groups];
        let points = vec![(initial, max_lr, initial / o.final_div_factor); groups];
        Ok(OneCycleLr { base, total_steps, phases, anneal: o.anneal_strategy, points, momentum }.initial_step(opt))
    }

    #[track_caller]
    fn compute(&mut self, opt: &mut dyn Optimizer, _initial: bool) -> Vec<f64> {
        let step = self.base.last_epoch;
        if step > self.total_steps as i64 {
            panic!(
                "OneCycleLr: tried to step {step} times; the specified number of total steps is {}",
                self.total_steps
            );
        }
        let step = step as f64;
        let mut lrs = Vec::with_capacity(self.points.len());
        for (g, &(initial, max, min)) in self.points.iter().enumerate() {
            let value = |p: Point| match p {
                Point::Initial => initial,
                Point::Max => max,
                Point::Min => min,
            };
            let mut start_step = 0.0;
            for (i, phase) in self.phases.iter().enumerate() {
                if step <= phase.end_step || i == self.phases.len() - 1 {
                    let pct = (step - start_step) / (phase.end_step - start_step);
                    lrs.push(self.anneal.apply(value(phase.lr.0), value(phase.lr.1), pct));
                    if let Some((key, base_m, max_m)) = self.momentum {
                        let m = match phase.momentum_down {
                            Some(true) => self.anneal.apply(max_m, base_m, pct),
                            Some(false) => self.anneal.apply(base_m, max_m, pct),
                            None => self.anneal.apply(max_m, max_m, pct),
                        };
                        if let Err(e) = opt.set_hyper(g, key, m) {
                            panic!("OneCycleLr: {e}");
                        }
                    }
                    break;
                }
                start_step = phase.end_step;
            }
        }
        lrs
    }
}

impl_scheduler!(OneCycleLr);
