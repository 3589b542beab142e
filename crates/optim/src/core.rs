//! The machinery every optimizer shares: parameter groups, per-parameter state, hyperparameter
//! access and the step loop. An optimizer supplies only its [`Algo`]: hyperparameters, state
//! buffer names and the update of one parameter.

use ember_autograd::Variable;
use ember_tensor::{DType, Device, Error, Result, Tensor};

use crate::group::{check_value, Hyper, ParamGroup};

/// What parameters of one multi-tensor update share: group, device, dtype, step count.
type BatchKey = (usize, Device, DType, u64);
/// One parameter's work in a batch: its index, data and gradient.
type Work = (usize, Tensor, Tensor);

/// One optimizer's algorithm: what differs between Sgd, Adam, ...
pub(crate) trait Algo: 'static {
    /// The public type's name, used in every error message.
    const NAME: &'static str;
    /// The hyperparameters of a group.
    type H: Hyper;
    /// Names of the per-parameter state tensors (PyTorch's state keys), in slot order.
    const SLOTS: &'static [&'static str];
    /// Slots a loaded state must hold once the parameter has taken a step.
    const REQUIRED: &'static [&'static str];
    /// Per-parameter scalar state (PyTorch keeps these as 0-d tensors) with initial values.
    const SCALARS: &'static [(&'static str, f64)] = &[];
    /// The hyperparameters for a constructor's `lr`, everything else PyTorch's default.
    fn defaults(lr: f64) -> Self::H;
    /// Checks between hyperparameters (e.g. Nesterov needs momentum), beyond [`check_value`].
    fn check(_h: &Self::H) -> std::result::Result<(), String> {
        Ok(())
    }
    /// The new value of parameter `p` from its gradient `g` and state (`st.step` already counts
    /// this step). Runs as tensor ops on `p`'s device.
    fn update(h: &Self::H, p: &Tensor, g: Tensor, st: &mut ParamState) -> Tensor;
    /// The updates of several parameters of one group that share device, dtype and step count
    /// (PyTorch's `foreach`): `(θ, g, state)` each, the new values in the same order. By default
    /// one [`Algo::update`] each; Adam and SGD run one multi-tensor fused map.
    fn update_many(h: &Self::H, items: Vec<(Tensor, Tensor, &mut ParamState)>) -> Vec<Tensor> {
        items.into_iter().map(|(p, g, st)| Self::update(h, &p, g, st)).collect()
    }
}

/// The state of one parameter: its step count, buffers and scalars.
#[derive(Clone, Debug, Default)]
pub(crate) struct ParamState {
    pub(crate) step: u64,
    pub(crate) slots: Vec<Option<Tensor>>,
    pub(crate) scalars: Vec<f64>,
}

impl ParamState {
    pub(crate) fn fresh<A: Algo>() -> ParamState {
        ParamState { step: 0, slots: vec![None; A::SLOTS.len()], scalars: A::SCALARS.iter().map(|&(_, v)| v).collect() }
    }

    /// True once the parameter has state worth saving.
    pub(crate) fn is_set(&self) -> bool {
        self.step > 0 || self.slots.iter().any(Option::is_some)
    }

    /// Takes buffer `i` out, or zeros shaped like `p` (PyTorch's lazy initialisation).
    pub(crate) fn take_or_zeros(&mut self, i: usize, p: &Tensor) -> Tensor {
        self.slots[i].take().unwrap_or_else(|| p.zeros_like())
    }

    /// Stores buffer `i`.
    pub(crate) fn put(&mut self, i: usize, t: Tensor) {
        self.slots[i] = Some(t);
    }
}

/// A parameter group as the optimizer keeps it.
pub(crate) struct Group<H> {
    pub(crate) params: Vec<Variable>,
    pub(crate) hyper: H,
    /// Keys set on this group itself (builder defaults no longer reach them).
    pub(crate) explicit: Vec<&'static str>,
    /// The `initial_lr` LR schedulers record (PyTorch stores it in the group).
    pub(crate) initial_lr: Option<f64>,
}

/// Groups, defaults and state of one optimizer.
pub(crate) struct Core<A: Algo> {
    pub(crate) defaults: A::H,
    pub(crate) groups: Vec<Group<A::H>>,
    pub(crate) state: Vec<ParamState>,
}

/// An `InvalidArgument` error naming optimizer `A`.
pub(crate) fn err<A: Algo>(msg: String) -> Error {
    Error::InvalidArgument { op: A::NAME, msg }
}

/// The static name of a known key (`None` for keys this optimizer lacks).
pub(crate) fn known_key<A: Algo>(key: &str) -> Option<&'static str> {
    <A::H as Hyper>::KEYS.iter().copied().find(|k| *k == key)
}

impl<A: Algo> Core<A> {
    /// Builds an optimizer's core from its groups and constructor `lr`.
    pub(crate) fn build(groups: Vec<ParamGroup>, lr: f64) -> Result<Core<A>> {
        check_value("lr", lr).map_err(err::<A>)?;
        let mut core = Core { defaults: A::defaults(lr), groups: Vec::new(), state: Vec::new() };
        if groups.is_empty() || groups.iter().all(|g| g.params.is_empty()) {
            return Err(err::<A>("got an empty parameter list".into()));
        }
        for g in groups {
            core.add_group(g)?;
        }
        Ok(core)
    }

    fn group_prefix(&self, g: usize) -> String {
        if self.groups.len() > 1 {
            format!("param group {g}: ")
        } else {
            String::new()
        }
    }

    /// Appends a group, checking its settings and parameters (PyTorch's `add_param_group`).
    pub(crate) fn add_group(&mut self, group: ParamGroup) -> Result<()> {
        let gi = self.groups.len();
        let mut hyper = self.defaults.clone();
        let mut explicit = Vec::new();
        let mut initial_lr = None;
        for (key, v) in &group.settings {
            let k = if key == "initial_lr" {
                initial_lr = Some(*v);
                "initial_lr"
            } else {
                known_key::<A>(key).ok_or_else(|| {
                    err::<A>(format!(
                        "param group {gi}: unknown hyperparameter '{key}' ({} has {})",
                        A::NAME,
                        <A::H as Hyper>::KEYS.join(", ")
                    ))
                })?
            };
            check_value(k, *v).map_err(|m| err::<A>(format!("param group {gi}: {m}")))?;
            hyper.put(k, *v);
            explicit.push(k);
        }
        let mut seen: Vec<&Variable> = self.groups.iter().flat_map(|g| g.params.iter()).collect();
        for (i, p) in group.params.iter().enumerate() {
            if !p.dtype().is_float() {
                return Err(err::<A>(format!(
                    "param group {gi}: parameter {i} has dtype {}; only floating-point parameters can be optimized",
                    p.dtype()
                )));
            }
            if !p.is_leaf() {
                return Err(err::<A>(format!(
                    "param group {gi}: can't optimize a non-leaf Variable (parameter {i} was made by {})",
                    p.op_name()
                )));
            }
            if seen.iter().any(|q| q.same(p)) {
                return Err(err::<A>(format!(
                    "param group {gi}: parameter {i} appears more than once (some parameters appear in more than one parameter group)"
                )));
            }
            seen.push(p);
        }
        self.state.extend((0..group.params.len()).map(|_| ParamState::fresh::<A>()));
        self.groups.push(Group { params: group.params, hyper, explicit, initial_lr });
        Ok(())
    }

    /// Sets a builder default: every group that did not set `key` itself takes it.
    #[track_caller]
    pub(crate) fn set_default(&mut self, key: &'static str, v: f64) {
        if let Err(m) = check_value(key, v) {
            panic!("{}", err::<A>(m));
        }
        self.defaults.put(key, v);
        for g in &mut self.groups {
            if !g.explicit.contains(&key) {
                g.hyper.put(key, v);
            }
        }
    }

    /// Checks every group's hyperparameters together.
    pub(crate) fn validate(&self) -> Result<()> {
        for (i, g) in self.groups.iter().enumerate() {
            A::check(&g.hyper).map_err(|m| err::<A>(format!("{}{m}", self.group_prefix(i))))?;
        }
        Ok(())
    }

    /// One optimization step over every parameter with a gradient. Every gradient is checked
    /// against its parameter before any parameter changes.
    #[track_caller]
    pub(crate) fn step(&mut self) {
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        let mut work = Vec::new();
        for (gi, g) in self.groups.iter().enumerate() {
            for p in &g.params {
                let i = work.len();
                let grad = p.grad();
                if let Some(grad) = &grad {
                    let data = p.data();
                    if grad.shape() != data.shape() || grad.dtype() != data.dtype() || grad.device() != data.device() {
                        panic!(
                            "{}: step: the gradient of parameter {i} ({:?} {} on {}) does not match the parameter ({:?} {} on {})",
                            A::NAME,
                            grad.shape(),
                            grad.dtype(),
                            grad.device(),
                            data.shape(),
                            data.dtype(),
                            data.device()
                        );
                    }
                }
                work.push((gi, grad));
            }
        }
        let params: Vec<Variable> = self.groups.iter().flat_map(|g| g.params.iter().cloned()).collect();
        // parameters that can share one multi-tensor update: group, device, dtype, step count
        let mut batches: Vec<(BatchKey, Vec<Work>)> = Vec::new();
        for (i, (gi, grad)) in work.into_iter().enumerate() {
            let Some(grad) = grad else { continue };
            self.state[i].step += 1;
            let data = params[i].data();
            let key = (gi, data.device(), data.dtype(), self.state[i].step);
            match batches.iter_mut().find(|(k, _)| *k == key) {
                Some((_, b)) => b.push((i, data, grad)),
                None => batches.push((key, vec![(i, data, grad)])),
            }
        }
        for ((gi, ..), batch) in batches {
            let mut states: Vec<ParamState> = batch.iter().map(|(i, ..)| std::mem::take(&mut self.state[*i])).collect();
            let index: Vec<usize> = batch.iter().map(|(i, ..)| *i).collect();
            let items = batch.into_iter().zip(states.iter_mut()).map(|((_, p, g), st)| (p, g, st)).collect();
            let new = A::update_many(&self.groups[gi].hyper, items);
            for ((i, st), p) in index.into_iter().zip(states).zip(new) {
                self.state[i] = st;
                params[i].set_data(p);
            }
        }
    }

    pub(crate) fn zero_grad(&self) {
        for g in &self.groups {
            for p in &g.params {
                p.zero_grad();
            }
        }
    }

    pub(crate) fn params(&self) -> Vec<Variable> {
        self.groups.iter().flat_map(|g| g.params.iter().cloned()).collect()
    }

    pub(crate) fn hyper(&self, group: usize, key: &str) -> Option<f64> {
        let g = self.groups.get(group)?;
        if key == "initial_lr" {
            return g.initial_lr;
        }
        g.hyper.get(key)
    }

    pub(crate) fn set_hyper(&mut self, group: usize, key: &str, v: f64) -> Result<()> {
        let n = self.groups.len();
        let k = if key == "initial_lr" {
            "initial_lr"
        } else {
            known_key::<A>(key).ok_or_else(|| {
                err::<A>(format!(
                    "unknown hyperparameter '{key}' ({} has {})",
                    A::NAME,
                    <A::H as Hyper>::KEYS.join(", ")
                ))
            })?
        };
        let prefix = self.group_prefix(group);
        let g = self
            .groups
            .get_mut(group)
            .ok_or_else(|| err::<A>(format!("param group {group} does not exist ({n} groups)")))?;
        check_value(k, v).map_err(|m| err::<A>(format!("{prefix}{m}")))?;
        if k == "initial_lr" {
            g.initial_lr = Some(v);
        } else {
            g.hyper.put(k, v);
            if !g.explicit.contains(&k) {
                g.explicit.push(k);
            }
        }
        Ok(())
    }

    pub(crate) fn lr(&self) -> f64 {
        self.groups[0].hyper.get("lr").unwrap_or(0.0)
    }

    /// Sets one group's rate unchecked, as PyTorch's `param_group["lr"] = v` (schedulers may
    /// compute any value). **Panics** when the group does not exist.
    #[track_caller]
    pub(crate) fn set_group_lr(&mut self, group: usize, lr: f64) {
        let n = self.groups.len();
        match self.groups.get_mut(group) {
            Some(g) => g.hyper.put("lr", lr),
            None => panic!("{}: param group {group} does not exist ({n} groups)", A::NAME),
        }
    }

    pub(crate) fn set_lr(&mut self, lr: f64) {
        for g in &mut self.groups {
            g.hyper.put("lr", lr);
        }
    }
}

/// Implements constructors, [`Optimizer`](crate::Optimizer) and `Debug` for an optimizer type
/// `$ty { core: Core<$algo> }`.
macro_rules! impl_optimizer {
    ($ty:ident, $algo:ty) => {
        /// # Construction
        impl $ty {
            #[doc = concat!("A ", stringify!($ty), " over `params` with learning rate `lr` and PyTorch's defaults.")]
            ///
            /// **Panics** on a negative `lr` or an empty or invalid parameter list; see `try_new`.
            #[track_caller]
            pub fn new(params: Vec<ember_autograd::Variable>, lr: f64) -> Self {
                Self::with_groups(vec![$crate::ParamGroup::new(params)], lr)
            }

            /// Checked form of `new`.
            pub fn try_new(params: Vec<ember_autograd::Variable>, lr: f64) -> ember_tensor::Result<Self> {
                Self::try_with_groups(vec![$crate::ParamGroup::new(params)], lr)
            }

            /// An optimizer over several parameter groups, each with its own settings; `lr` and the
            /// builder options are the defaults of groups that do not set them.
            ///
            /// **Panics** on an invalid setting or parameter list; see `try_with_groups`.
            #[track_caller]
            pub fn with_groups(groups: Vec<$crate::ParamGroup>, lr: f64) -> Self {
                match Self::try_with_groups(groups, lr) {
                    Ok(o) => o,
                    Err(e) => panic!("{e}"),
                }
            }

            /// Checked form of `with_groups`.
            pub fn try_with_groups(groups: Vec<$crate::ParamGroup>, lr: f64) -> ember_tensor::Result<Self> {
                Ok($ty { core: $crate::core::Core::<$algo>::build(groups, lr)? })
            }

            /// Adds a parameter group (PyTorch's `add_param_group`); it takes the current defaults
            /// for the settings it does not give.
            pub fn add_param_group(&mut self, group: $crate::ParamGroup) -> ember_tensor::Result<()> {
                self.core.add_group(group)
            }

            /// Checks the hyperparameters of every group together (e.g. Nesterov momentum needs a
            /// momentum); `step` panics with this error.
            pub fn validate(&self) -> ember_tensor::Result<()> {
                self.core.validate()
            }

            /// The parameters of group `group` (empty for a group that does not exist).
            pub fn group_params(&self, group: usize) -> &[ember_autograd::Variable] {
                self.core.groups.get(group).map_or(&[], |g| &g.params[..])
            }
        }

        /// # The training-loop methods, callable without importing [`Optimizer`](crate::Optimizer)
        impl $ty {
            /// See [`Optimizer::step`](crate::Optimizer::step).
            #[track_caller]
            pub fn step(&mut self) {
                self.core.step()
            }

            /// See [`Optimizer::zero_grad`](crate::Optimizer::zero_grad).
            pub fn zero_grad(&mut self) {
                self.core.zero_grad()
            }

            /// See [`Optimizer::lr`](crate::Optimizer::lr).
            pub fn lr(&self) -> f64 {
                self.core.lr()
            }

            /// See [`Optimizer::set_lr`](crate::Optimizer::set_lr).
            pub fn set_lr(&mut self, lr: f64) {
                self.core.set_lr(lr)
            }

            /// See [`Optimizer::save_state`](crate::Optimizer::save_state).
            pub fn save_state(&self, path: impl AsRef<std::path::Path>) -> ember_tensor::Result<()> {
                $crate::Optimizer::save_state(self, path)
            }

            /// See [`Optimizer::load_state`](crate::Optimizer::load_state).
            pub fn load_state(&mut self, path: impl AsRef<std::path::Path>) -> ember_tensor::Result<()> {
                $crate::Optimizer::load_state(self, path)
            }
        }

        impl $crate::Optimizer for $ty {
            #[track_caller]
            fn step(&mut self) {
                self.core.step()
            }
            fn zero_grad(&mut self) {
                self.core.zero_grad()
            }
            fn lr(&self) -> f64 {
                self.core.lr()
            }
            fn set_lr(&mut self, lr: f64) {
                self.core.set_lr(lr)
            }
            fn name(&self) -> &'static str {
                <$algo as $crate::core::Algo>::NAME
            }
            #[track_caller]
            fn set_group_lr(&mut self, group: usize, lr: f64) {
                self.core.set_group_lr(group, lr)
            }
            fn num_param_groups(&self) -> usize {
                self.core.groups.len()
            }
            fn params(&self) -> Vec<ember_autograd::Variable> {
                self.core.params()
            }
            fn hyper(&self, group: usize, key: &str) -> Option<f64> {
                self.core.hyper(group, key)
            }
            fn set_hyper(&mut self, group: usize, key: &str, value: f64) -> ember_tensor::Result<()> {
                self.core.set_hyper(group, key, value)
            }
            fn state_dict(&self) -> Vec<(String, ember_tensor::Tensor)> {
                self.core.state_dict()
            }
            fn load_state_dict(&mut self, entries: &[(String, ember_tensor::Tensor)]) -> ember_tensor::Result<()> {
                self.core.load_state_dict(entries)
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let mut d = f.debug_struct(stringify!($ty));
                for (i, g) in self.core.groups.iter().enumerate() {
                    d.field(&format!("group{i}"), &g.hyper);
                    d.field(&format!("group{i}_params"), &g.params.len());
                }
                d.finish()
            }
        }
    };
}
pub(crate) use impl_optimizer;

/// `a + w (b - a)` with PyTorch's `lerp` formula (the form switches at `w = 0.5` for accuracy).
pub(crate) fn lerp(a: &Tensor, b: &Tensor, w: f64) -> Tensor {
    if w < 0.5 {
        a.add(&b.sub(a).mul_scalar(w))
    } else {
        b.sub(&b.sub(a).mul_scalar(1.0 - w))
    }
}

/// The gradient as the update sees it: negated for `maximize`, plus `weight_decay * p` (L2).
pub(crate) fn effective_grad(g: Tensor, p: &Tensor, maximize: bool, weight_decay: f64) -> Tensor {
    let g = if maximize { g.neg() } else { g };
    if weight_decay != 0.0 {
        g.add(&p.mul_scalar(weight_decay))
    } else {
        g
    }
}

/// `s * beta + g² (1 - beta)`: the running average of squared gradients.
pub(crate) fn ema_sq(s: &Tensor, g: &Tensor, beta: f64) -> Tensor {
    s.mul_scalar(beta).add(&g.mul(g).mul_scalar(1.0 - beta))
}

/// Applies weight decay for the Adam family: decoupled (AdamW: `θ ← θ(1 - γλ)`) or as an L2 term
/// added to the gradient; returns the parameter and gradient the update continues with.
pub(crate) fn decay(p: &Tensor, g: Tensor, lr: f64, weight_decay: f64, decoupled: bool) -> (Tensor, Tensor) {
    if weight_decay == 0.0 {
        (p.clone(), g)
    } else if decoupled {
        (p.mul_scalar(1.0 - lr * weight_decay), g)
    } else {
        let g = g.add(&p.mul_scalar(weight_decay));
        (p.clone(), g)
    }
}
