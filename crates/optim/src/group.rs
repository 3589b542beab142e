//! [`ParamGroup`]: parameters sharing hyperparameters, and the checks every hyperparameter gets.

use ember_autograd::Variable;

/// A group of parameters with hyperparameters of its own (PyTorch's param-group dicts).
///
/// Settings not given here take the optimizer's values (its constructor's `lr` and its builder
/// options), as in PyTorch. Keys are PyTorch's names, with `betas` split into `beta1`/`beta2` and
/// booleans written as `0.0`/`1.0`; the optimizer checks them when it is built (an unknown key
/// or an invalid value is an error naming the optimizer, the group and the value).
///
/// ```
/// use ember_autograd::Variable;
/// use ember_optim::{Optimizer, ParamGroup, Sgd};
/// use ember_tensor::Tensor;
/// let a = Variable::new(Tensor::ones(&[2]), true);
/// let b = Variable::new(Tensor::ones(&[3]), true);
/// let opt = Sgd::with_groups(vec![ParamGroup::new(vec![a]).lr(0.1), ParamGroup::new(vec![b])], 0.01)
///     .momentum(0.9);
/// assert_eq!(opt.group_lrs(), vec![0.1, 0.01]);
/// assert_eq!(opt.hyper(1, "momentum"), Some(0.9));
/// ```
#[derive(Clone)]
pub struct ParamGroup {
    pub(crate) params: Vec<Variable>,
    pub(crate) settings: Vec<(String, f64)>,
}

impl ParamGroup {
    /// A group of `params` with the optimizer's hyperparameters.
    pub fn new(params: Vec<Variable>) -> ParamGroup {
        ParamGroup { params, settings: Vec::new() }
    }

    /// Sets hyperparameter `key` (PyTorch's name) for this group; the last setting of a key wins.
    #[must_use]
    pub fn set(mut self, key: &str, value: f64) -> ParamGroup {
        self.settings.retain(|(k, _)| k != key);
        self.settings.push((key.to_string(), value));
        self
    }

    /// This group's learning rate.
    #[must_use]
    pub fn lr(self, lr: f64) -> ParamGroup {
        self.set("lr", lr)
    }

    /// This group's momentum (Sgd, RmsProp).
    #[must_use]
    pub fn momentum(self, momentum: f64) -> ParamGroup {
        self.set("momentum", momentum)
    }

    /// This group's weight decay.
    #[must_use]
    pub fn weight_decay(self, weight_decay: f64) -> ParamGroup {
        self.set("weight_decay", weight_decay)
    }

    /// This group's `betas` (the Adam family).
    #[must_use]
    pub fn betas(self, beta1: f64, beta2: f64) -> ParamGroup {
        self.set("beta1", beta1).set("beta2", beta2)
    }

    /// This group's epsilon.
    #[must_use]
    pub fn eps(self, eps: f64) -> ParamGroup {
        self.set("eps", eps)
    }

    /// The group's parameters.
    pub fn params(&self) -> &[Variable] {
        &self.params
    }

    /// The settings given to this group, in order.
    pub fn settings(&self) -> &[(String, f64)] {
        &self.settings
    }
}

impl From<Vec<Variable>> for ParamGroup {
    fn from(params: Vec<Variable>) -> ParamGroup {
        ParamGroup::new(params)
    }
}

impl std::fmt::Debug for ParamGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParamGroup").field("params", &self.params.len()).field("settings", &self.settings).finish()
    }
}

/// The hyperparameters of one group of one optimizer, reachable by PyTorch's key names.
pub(crate) trait Hyper: Clone + std::fmt::Debug + Send + Sync + 'static {
    /// Every key, in the order state files list them.
    const KEYS: &'static [&'static str];
    /// The value of `key` (booleans as 0/1), `None` for a key this optimizer lacks.
    fn get(&self, key: &str) -> Option<f64>;
    /// Stores `v` under `key` (already checked by [`check_value`]); unknown keys are ignored.
    fn put(&mut self, key: &str, v: f64);
}

/// A hyperparameter field's type: `f64` or `bool` (stored as 0/1 in the generic view).
pub(crate) trait HyperValue {
    fn to_f64(&self) -> f64;
    fn from_f64(v: f64) -> Self;
}

impl HyperValue for f64 {
    fn to_f64(&self) -> f64 {
        *self
    }
    fn from_f64(v: f64) -> f64 {
        v
    }
}

impl HyperValue for bool {
    fn to_f64(&self) -> f64 {
        flag(*self)
    }
    fn from_f64(v: f64) -> bool {
        v != 0.0
    }
}

/// Declares an optimizer's hyperparameter struct with its defaults and its [`Hyper`] impl.
macro_rules! hyper {
    ($name:ident { $($field:ident : $ty:ty = $default:expr),* $(,)? }) => {
        #[derive(Clone, Debug, PartialEq)]
        pub(crate) struct $name {
            $(pub(crate) $field: $ty,)*
        }

        impl Default for $name {
            fn default() -> Self {
                $name { $($field: $default,)* }
            }
        }

        impl $crate::group::Hyper for $name {
            const KEYS: &'static [&'static str] = &[$(stringify!($field)),*];

            fn get(&self, key: &str) -> Option<f64> {
                match key {
                    $(stringify!($field) => Some($crate::group::HyperValue::to_f64(&self.$field)),)*
                    _ => None,
                }
            }

            fn put(&mut self, key: &str, v: f64) {
                match key {
                    $(stringify!($field) => self.$field = $crate::group::HyperValue::from_f64(v),)*
                    _ => {}
                }
            }
        }
    };
}
pub(crate) use hyper;

/// The builder setters of an optimizer's options, one per `name: f64` or `name: bool` entry (with
/// its doc comment): `fn name(mut self, name: T) -> Self` sets the default of `name` (a bool as
/// 0/1) for every group that did not set its own; invalid values panic at the call, naming the
/// option (`Core::set_default`).
macro_rules! options {
    ($ty:ty { $($(#[doc = $doc:literal])* $name:ident: $kind:ident,)* }) => {
        /// # Options (defaults as PyTorch's; each sets the value of every group that did not set its own)
        impl $ty {
            $(
                $(#[doc = $doc])*
                #[must_use]
                #[track_caller]
                pub fn $name(mut self, $name: $kind) -> Self {
                    self.core.set_default(stringify!($name), $crate::group::OptionValue::value($name));
                    self
                }
            )*
        }
    };
}
pub(crate) use options;

/// How an option's argument is stored among a group's numeric hyper-parameters.
pub(crate) trait OptionValue {
    /// The stored value.
    fn value(self) -> f64;
}

impl OptionValue for f64 {
    fn value(self) -> f64 {
        self
    }
}

impl OptionValue for bool {
    fn value(self) -> f64 {
        flag(self)
    }
}

/// A boolean option in the generic (`f64`) view.
pub(crate) fn flag(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// Keys holding booleans (0 or 1).
const BOOL_KEYS: &[&str] = &["nesterov", "maximize", "amsgrad", "centered", "decoupled_weight_decay"];

/// Checks one hyperparameter value as PyTorch's constructors do (same rules, same wording).
pub(crate) fn check_value(key: &str, v: f64) -> std::result::Result<(), String> {
    let at_least_zero = |what: &str| {
        if v >= 0.0 {
            Ok(())
        } else {
            Err(format!("invalid {what}: {v} (must be >= 0)"))
        }
    };
    match key {
        "lr" | "initial_lr" => at_least_zero("learning rate"),
        "eps" => at_least_zero("epsilon value"),
        "weight_decay" => at_least_zero("weight_decay value"),
        "momentum" => at_least_zero("momentum value"),
        "alpha" => at_least_zero("alpha value"),
        "lr_decay" => at_least_zero("lr_decay value"),
        "initial_accumulator_value" => at_least_zero("initial_accumulator_value value"),
        "momentum_decay" => at_least_zero("momentum_decay value"),
        "beta1" | "beta2" => {
            if (0.0..1.0).contains(&v) {
                Ok(())
            } else {
                let i = if key == "beta1" { 0 } else { 1 };
                Err(format!("invalid beta parameter at index {i}: {v} (must be in [0, 1))"))
            }
        }
        "rho" => {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(format!("invalid rho value: {v} (must be in [0, 1])"))
            }
        }
        "dampening" if !v.is_finite() => Err(format!("invalid dampening value: {v} (must be finite)")),
        k if BOOL_KEYS.contains(&k) && v != 0.0 && v != 1.0 => {
            Err(format!("invalid {k} value: {v} (a boolean: 0 or 1)"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_as_pytorch() {
        assert!(check_value("lr", 0.0).is_ok());
        assert!(check_value("lr", -1e-3).unwrap_err().contains("learning rate: -0.001"));
        assert!(check_value("lr", f64::NAN).is_err());
        assert!(check_value("beta1", 1.0).unwrap_err().contains("index 0: 1"));
        assert!(check_value("beta2", -0.1).unwrap_err().contains("index 1: -0.1"));
        assert!(check_value("rho", 1.0).is_ok());
        assert!(check_value("amsgrad", 0.5).is_err());
        assert!(check_value("dampening", -0.5).is_ok());
    }

    #[test]
    fn group_settings_last_wins() {
        let g = ParamGroup::new(vec![]).lr(0.1).betas(0.8, 0.9).lr(0.2);
        assert_eq!(g.settings().iter().filter(|(k, _)| k == "lr").count(), 1);
        assert!(g.settings().contains(&("lr".to_string(), 0.2)));
    }
}
