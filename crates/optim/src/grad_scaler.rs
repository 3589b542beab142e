//! [`GradScaler`]: dynamic loss scaling for mixed-precision training (PyTorch's
//! `torch.amp.GradScaler`), with its defaults and its update rule.

use std::collections::HashMap;

use ember_autograd::Variable;
use ember_tensor::{Error, Result};

use crate::Optimizer;

/// What has happened to one optimizer since the last [`GradScaler::update`] (PyTorch's
/// `OptState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Unscaled,
    Stepped,
}

#[derive(Clone, Copy, Debug)]
struct PerOpt {
    stage: Stage,
    found_inf: bool,
}

/// The saved state of a [`GradScaler`] (PyTorch's `scaler.state_dict()` keys).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradScalerState {
    /// The current scale.
    pub scale: f64,
    /// Factor applied after `growth_interval` steps without inf/NaN gradients.
    pub growth_factor: f64,
    /// Factor applied after a step with inf/NaN gradients.
    pub backoff_factor: f64,
    /// Number of consecutive clean steps before the scale grows.
    pub growth_interval: u64,
    /// Consecutive clean steps counted so far.
    pub growth_tracker: u64,
}

/// Dynamic loss scaling, PyTorch's `GradScaler` (defaults: `init_scale` 65536, `growth_factor`
/// 2, `backoff_factor` 0.5, `growth_interval` 2000, enabled).
///
/// Per iteration: `scaler.scale(&loss).backward()`, optionally `scaler.unscale_(&mut opt)` before
/// clipping, `scaler.step(&mut opt)` (unscales if not done yet, and skips the optimizer step when
/// any gradient is inf or NaN), then `scaler.update()`. The scale is kept in `f32` as PyTorch's
/// `_scale` tensor, so sequences of scales match PyTorch's bit for bit.
///
/// ```
/// use ember_autograd::Variable;
/// use ember_optim::{GradScaler, Sgd};
/// use ember_tensor::Tensor;
/// let w = Variable::new(Tensor::from_vec(vec![1.0f32], &[1]), true);
/// let mut opt = Sgd::new(vec![w.clone()], 0.5);
/// let mut scaler = GradScaler::new();
/// scaler.scale(&w.mul_scalar(3.0).sum()).backward();
/// assert!(scaler.step(&mut opt)); // grad 3 after unscaling: w = 1 - 0.5 * 3
/// scaler.update();
/// assert_eq!(w.data().to_vec::<f32>(), vec![-0.5]);
/// assert_eq!(scaler.get_scale(), 65536.0);
/// ```
#[derive(Debug)]
pub struct GradScaler {
    scale: f32,
    growth_factor: f64,
    backoff_factor: f64,
    growth_interval: u64,
    growth_tracker: u64,
    enabled: bool,
    per_opt: HashMap<usize, PerOpt>,
}

impl Default for GradScaler {
    fn default() -> Self {
        GradScaler::new()
    }
}

/// The identity of an optimizer for the per-optimizer state (PyTorch keys it by `id(optimizer)`).
fn key<O: Optimizer + ?Sized>(opt: &O) -> usize {
    opt as *const O as *const () as usize
}

impl GradScaler {
    /// A scaler with PyTorch's defaults.
    pub fn new() -> GradScaler {
        GradScaler {
            scale: 65536.0,
            growth_factor: 2.0,
            backoff_factor: 0.5,
            growth_interval: 2000,
            growth_tracker: 0,
            enabled: true,
            per_opt: HashMap::new(),
        }
    }

    /// Sets the initial scale (PyTorch's `init_scale`).
    pub fn init_scale(mut self, s: f64) -> GradScaler {
        self.scale = s as f32;
        self
    }

    /// Sets `growth_factor` (must be above 1).
    #[track_caller]
    pub fn growth_factor(mut self, g: f64) -> GradScaler {
        assert!(g > 1.0, "GradScaler: growth_factor should be > 1, got {g}");
        self.growth_factor = g;
        self
    }

    /// Sets `backoff_factor` (must be in (0, 1)).
    #[track_caller]
    pub fn backoff_factor(mut self, b: f64) -> GradScaler {
        assert!(b > 0.0 && b < 1.0, "GradScaler: backoff_factor should be in (0, 1), got {b}");
        self.backoff_factor = b;
        self
    }

    /// Sets `growth_interval` (must be positive).
    #[track_caller]
    pub fn growth_interval(mut self, n: u64) -> GradScaler {
        assert!(n > 0, "GradScaler: growth_interval should be positive");
        self.growth_interval = n;
        self
    }

    /// Enables or disables scaling (disabled: `scale` is the identity, `step` just steps).
    pub fn enabled(mut self, on: bool) -> GradScaler {
        self.enabled = on;
        self
    }

    /// True when scaling is on.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// The current scale (`1.0` when disabled, as PyTorch).
    pub fn get_scale(&self) -> f64 {
        if self.enabled {
            f64::from(self.scale)
        } else {
            1.0
        }
    }

    /// Consecutive steps without inf/NaN gradients counted towards the next growth.
    pub fn get_growth_tracker(&self) -> u64 {
        self.growth_tracker
    }

    /// The state to checkpoint (PyTorch's `state_dict()`).
    pub fn state_dict(&self) -> GradScalerState {
        GradScalerState {
            scale: f64::from(self.scale),
            growth_factor: self.growth_factor,
            backoff_factor: self.backoff_factor,
            growth_interval: self.growth_interval,
            growth_tracker: self.growth_tracker,
        }
    }

    /// Restores a state saved by [`GradScaler::state_dict`].
    pub fn load_state_dict(&mut self, s: &GradScalerState) {
        self.scale = s.scale as f32;
        self.growth_factor = s.growth_factor;
        self.backoff_factor = s.backoff_factor;
        self.growth_interval = s.growth_interval;
        self.growth_tracker = s.growth_tracker;
    }

    /// `loss` multiplied by the scale (in the loss's dtype; unchanged when disabled).
    pub fn scale(&self, loss: &Variable) -> Variable {
        if self.enabled {
            loss.mul_scalar(f64::from(self.scale))
        } else {
            loss.clone()
        }
    }

    /// Divides `opt`'s gradients by the scale in place and records whether any is inf or NaN
    /// (call it before clipping). Fails when called twice for `opt` before [`GradScaler::update`],
    /// or after its `step`, as PyTorch does.
    pub fn try_unscale_<O: Optimizer + ?Sized>(&mut self, opt: &mut O) -> Result<()> {
        if !self.enabled {
            return Ok(());
        }
        match self.per_opt.get(&key(opt)).map(|p| p.stage) {
            Some(Stage::Unscaled) => {
                return Err(bad("unscale_() has already been called on this optimizer since the last update()."))
            }
            Some(Stage::Stepped) => return Err(bad("unscale_() is being called after step().")),
            None => {}
        }
        // PyTorch: inv_scale = scale.double().reciprocal().float()
        let inv = f64::from((1.0 / f64::from(self.scale)) as f32);
        let mut found_inf = false;
        for p in opt.params() {
            let Some(g) = p.grad() else { continue };
            if !g.dtype().is_float() {
                continue;
            }
            let finite = g.try_isfinite()?.try_all()?.item::<bool>();
            found_inf |= !finite;
            // mul_scalar keeps the gradient's dtype (f32 math, rounded once for F16/BF16)
            p.set_grad(Some(g.try_mul_scalar(inv)?));
        }
        self.per_opt.insert(key(opt), PerOpt { stage: Stage::Unscaled, found_inf });
        Ok(())
    }

    /// Checked form's panicking twin: see [`GradScaler::try_unscale_`].
    #[track_caller]
    pub fn unscale_<O: Optimizer + ?Sized>(&mut self, opt: &mut O) {
        if let Err(e) = self.try_unscale_(opt) {
            panic!("{e}");
        }
    }

    /// Unscales `opt`'s gradients if not done yet, then runs `opt.step()` unless a gradient is
    /// inf or NaN. Returns whether the step ran.
    pub fn try_step<O: Optimizer + ?Sized>(&mut self, opt: &mut O) -> Result<bool> {
        if !self.enabled {
            opt.step();
            return Ok(true);
        }
        match self.per_opt.get(&key(opt)).map(|p| p.stage) {
            Some(Stage::Stepped) => {
                return Err(bad("step() has already been called since the last update()."));
            }
            Some(Stage::Unscaled) => {}
            None => self.try_unscale_(opt)?,
        }
        let st = self.per_opt.get_mut(&key(opt)).expect("unscale_ recorded the optimizer");
        st.stage = Stage::Stepped;
        if st.found_inf {
            return Ok(false);
        }
        opt.step();
        Ok(true)
    }

    /// Panicking form of [`GradScaler::try_step`].
    #[track_caller]
    pub fn step<O: Optimizer + ?Sized>(&mut self, opt: &mut O) -> bool {
        match self.try_step(opt) {
            Ok(b) => b,
            Err(e) => panic!("{e}"),
        }
    }

    /// Updates the scale (PyTorch's `_amp_update_scale_`): after a step with inf/NaN gradients it
    /// is multiplied by `backoff_factor` and the growth count restarts; after `growth_interval`
    /// clean steps in a row it is multiplied by `growth_factor` (if the result is finite).
    /// Fails when no optimizer was unscaled or stepped since the last update.
    pub fn try_update(&mut self) -> Result<()> {
        if !self.enabled {
            return Ok(());
        }
        if self.per_opt.is_empty() {
            return Err(bad("No inf checks were recorded prior to update."));
        }
        let found_inf = self.per_opt.values().any(|p| p.found_inf);
        self.per_opt.clear();
        if found_inf {
            self.scale = (f64::from(self.scale) * self.backoff_factor) as f32;
            self.growth_tracker = 0;
        } else {
            let successful = self.growth_tracker + 1;
            if successful == self.growth_interval {
                let grown = (f64::from(self.scale) * self.growth_factor) as f32;
                if grown.is_finite() {
                    self.scale = grown;
                }
                self.growth_tracker = 0;
            } else {
                self.growth_tracker = successful;
            }
        }
        Ok(())
    }

    /// Panicking form of [`GradScaler::try_update`].
    #[track_caller]
    pub fn update(&mut self) {
        if let Err(e) = self.try_update() {
            panic!("{e}");
        }
    }

    /// Sets the scale directly (PyTorch's `update(new_scale)`), restarting nothing else.
    pub fn set_scale(&mut self, s: f64) {
        self.scale = s as f32;
        self.per_opt.clear();
    }
}

fn bad(msg: &str) -> Error {
    Error::InvalidArgument { op: "GradScaler", msg: msg.to_string() }
}
