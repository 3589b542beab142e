//! The [`Optimizer`] trait: what a training loop (and an LR scheduler) sees of an optimizer.

use std::path::Path;

use ember_autograd::Variable;
use ember_tensor::{Error, Result, Tensor};

/// An optimizer: updates its parameters from their gradients, PyTorch's `torch.optim.Optimizer`.
///
/// The four required methods are the whole contract a training loop needs. The provided methods
/// expose parameter groups, hyperparameters by their PyTorch names and the state for
/// checkpointing; Ember's optimizers override all of them, and a hand-written optimizer gets
/// sensible defaults (one group, only `"lr"`, no saved state).
///
/// Hyperparameters are read and written as `f64` under PyTorch's names (`"lr"`, `"momentum"`,
/// `"weight_decay"`, `"eps"`, ...), with `betas` split into `"beta1"` and `"beta2"` and booleans
/// (`"nesterov"`, `"amsgrad"`, `"maximize"`, ...) as `0.0` / `1.0`.
///
/// ```
/// use ember_autograd::Variable;
/// use ember_optim::{Optimizer, Sgd};
/// use ember_tensor::Tensor;
/// let w = Variable::new(Tensor::from_vec(vec![1.0f32, 2.0], &[2]), true);
/// let mut opt = Sgd::new(vec![w.clone()], 0.1).momentum(0.9);
/// (&w * &w).sum().backward(); // grad = 2w
/// opt.step();
/// assert_eq!(w.data().to_vec::<f32>(), vec![0.8, 1.6]);
/// opt.zero_grad();
/// assert!(w.grad().is_none());
/// assert_eq!(opt.hyper(0, "momentum"), Some(0.9));
/// opt.set_lr(0.01);
/// assert_eq!(opt.lr(), 0.01);
/// ```
pub trait Optimizer {
    /// Performs one update of every parameter that has a gradient (parameters whose gradient is
    /// `None` are skipped, their state untouched).
    fn step(&mut self);

    /// Clears every parameter's gradient (PyTorch's default `set_to_none=True`).
    fn zero_grad(&mut self);

    /// The learning rate of the first parameter group.
    fn lr(&self) -> f64;

    /// Sets the learning rate of every parameter group.
    fn set_lr(&mut self, lr: f64);

    /// The optimizer's name as used in error messages (`"Adam"`).
    fn name(&self) -> &'static str {
        "Optimizer"
    }

    /// Number of parameter groups.
    fn num_param_groups(&self) -> usize {
        1
    }

    /// Every parameter, group after group, in the order state files index them.
    fn params(&self) -> Vec<Variable> {
        Vec::new()
    }

    /// The hyperparameter `key` of parameter group `group` (PyTorch's `param_groups[group][key]`),
    /// or `None` when the optimizer has no such hyperparameter.
    fn hyper(&self, group: usize, key: &str) -> Option<f64> {
        (group == 0 && key == "lr").then(|| self.lr())
    }

    /// Sets hyperparameter `key` of parameter group `group`, checking the value as the
    /// optimizer's constructor does.
    fn set_hyper(&mut self, group: usize, key: &str, value: f64) -> Result<()> {
        if group == 0 && key == "lr" {
            self.set_lr(value);
            return Ok(());
        }
        Err(Error::InvalidArgument {
            op: self.name(),
            msg: format!("no hyperparameter '{key}' in param group {group}"),
        })
    }

    /// The learning rate of every parameter group, in order.
    fn group_lrs(&self) -> Vec<f64> {
        (0..self.num_param_groups()).map(|g| self.hyper(g, "lr").unwrap_or_else(|| self.lr())).collect()
    }

    /// Sets the learning rate of one parameter group (what LR schedulers call). Like
    /// [`Optimizer::set_lr`] and PyTorch's `param_group["lr"] = v` the value is not checked.
    ///
    /// **Panics** when the group does not exist.
    #[track_caller]
    fn set_group_lr(&mut self, group: usize, lr: f64) {
        if let Err(e) = self.set_hyper(group, "lr", lr) {
            panic!("{e}");
        }
    }

    /// The optimizer's state as named tensors: per-parameter buffers and step counts, and every
    /// group's hyperparameters. Ember's optimizers use this layout:
    /// - `optimizer`: the optimizer's name as an `I64` vector of its UTF-8 bytes;
    /// - `param_groups.{g}.params`: `I64` indices of group `g`'s parameters (numbered across
    ///   groups, as [`Optimizer::params`] lists them);
    /// - `param_groups.{g}.{key}`: each hyperparameter as a 0-d `F64` (`lr`, `beta1`, `amsgrad`,
    ///   ..., and `initial_lr` once an LR scheduler has recorded it);
    /// - `state.{i}.step`: parameter `i`'s step count as a 0-d `I64` (only parameters that have
    ///   taken a step);
    /// - `state.{i}.{buffer}`: its buffers under PyTorch's names (`exp_avg`, `momentum_buffer`,
    ///   ...) in the parameter's dtype, and scalar state (NAdam's `mu_product`) as 0-d `F64`.
    fn state_dict(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }

    /// Restores a state produced by [`Optimizer::state_dict`] of the same optimizer over the same
    /// parameters. Everything is checked before anything changes: a file of another optimizer,
    /// another number of groups or parameters, or a buffer of the wrong shape is an `Err`.
    fn load_state_dict(&mut self, entries: &[(String, Tensor)]) -> Result<()> {
        let _ = entries;
        Err(Error::InvalidArgument { op: self.name(), msg: "load_state_dict is not supported".into() })
    }

    /// Writes [`Optimizer::state_dict`] to a safetensors file.
    fn save_state(&self, path: impl AsRef<Path>) -> Result<()>
    where
        Self: Sized,
    {
        ember_tensor::io::save(&self.state_dict(), path)
    }

    /// Reads a safetensors file written by [`Optimizer::save_state`] and restores it with
    /// [`Optimizer::load_state_dict`]. A missing, corrupt or mismatched file is an `Err`, never a
    /// panic, and leaves the optimizer unchanged.
    fn load_state(&mut self, path: impl AsRef<Path>) -> Result<()>
    where
        Self: Sized,
    {
        let name = self.name();
        let entries = ember_tensor::io::load(path).map_err(|e| match e {
            Error::Io(m) => Error::Io(format!("{name}: load_state: {m}")),
            Error::Parse(m) => Error::Parse(format!("{name}: load_state: {m}")),
            other => other,
        })?;
        self.load_state_dict(&entries)
    }
}
