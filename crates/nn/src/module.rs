//! The [`Module`] trait: a layer or model with trainable parameters, buffers and children.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use ember_autograd::Variable;
use ember_tensor::{DType, Device, Error, Result, Tensor};

/// A layer or a model: PyTorch's `nn.Module`.
///
/// Implement [`children`](Module::children) (sub-modules, named as in PyTorch's `state_dict`) and
/// [`own_parameters`](Module::own_parameters) / [`own_buffers`](Module::own_buffers), or let
/// `#[derive(Module)]` write them from the struct's fields; everything else is provided:
/// parameters, buffers, train/eval, moving to a device, state dicts in safetensors.
/// [`forward`](Module::forward) is the one-input call; a module with several inputs (ids, masks,
/// ...) defines its own methods instead and leaves `forward` out, as in PyTorch a module that
/// does not define `forward` raises `NotImplementedError` when called.
///
/// List every sub-module in `children`, parameterless ones (`Dropout`, `Relu`) included: that is
/// how `train()`/`eval()`, devices and state dicts reach them (PyTorch registers every attribute).
///
/// ```
/// use ember_nn::{Linear, Module, Relu};
/// use ember_autograd::Variable;
///
/// /// A two-layer perceptron written as a plain struct.
/// struct Mlp { fc1: Linear, act: Relu, fc2: Linear }
///
/// impl Module for Mlp {
///     fn forward(&self, x: &Variable) -> Variable {
///         self.fc2.forward(&self.act.forward(&self.fc1.forward(x)))
///     }
///     fn children(&self) -> Vec<(String, &dyn Module)> {
///         vec![("fc1".into(), &self.fc1), ("fc2".into(), &self.fc2)]
///     }
/// }
///
/// let m = Mlp { fc1: Linear::new(4, 8), act: Relu::new(), fc2: Linear::new(8, 2) };
/// let names: Vec<String> = m.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]);
/// assert_eq!(m.num_parameters(), 4 * 8 + 8 + 8 * 2 + 2);
/// ```
pub trait Module: Send + Sync {
    /// Runs the module on `input`.
    ///
    /// **Panics** when the module does not override it (PyTorch's base `forward` raises
    /// `NotImplementedError`): the message names the module's type.
    ///
    /// `#[track_caller]` here makes every implementation, and every call through `dyn Module`,
    /// report a panic at the caller's line (a shape error in a `Sequential` points at the user's
    /// `model.forward(..)`, not into a layer's file).
    #[track_caller]
    fn forward(&self, input: &Variable) -> Variable {
        let _ = input;
        panic!(
            "NotImplementedError: Module [{}] is missing the required \"forward\" function: it has no \
             one-input forward (override Module::forward, or call the module's own methods)",
            std::any::type_name::<Self>()
        )
    }

    /// Sub-modules with their names (PyTorch's attribute names, or `"0"`, `"1"`, ... in containers).
    fn children(&self) -> Vec<(String, &dyn Module)> {
        Vec::new()
    }

    /// This module's own parameters (not its children's), in registration order.
    fn own_parameters(&self) -> Vec<(String, Variable)> {
        Vec::new()
    }

    /// This module's own buffers (running statistics and other saved non-parameters).
    fn own_buffers(&self) -> Vec<(String, Variable)> {
        Vec::new()
    }

    /// Every parameter with its `state_dict` name (`"0.weight"`, `"fc1.bias"`, ...).
    fn named_parameters(&self) -> Vec<(String, Variable)> {
        let mut out = self.own_parameters();
        for (name, child) in self.children() {
            out.extend(child.named_parameters().into_iter().map(|(n, v)| (format!("{name}.{n}"), v)));
        }
        out
    }

    /// Every buffer with its `state_dict` name (`"1.running_mean"`, ...).
    fn named_buffers(&self) -> Vec<(String, Variable)> {
        let mut out = self.own_buffers();
        for (name, child) in self.children() {
            out.extend(child.named_buffers().into_iter().map(|(n, v)| (format!("{name}.{n}"), v)));
        }
        out
    }

    /// This module's own training flag, if it keeps one (every built-in layer does). A user
    /// module needs none: without a flag it reports its children's mode.
    fn training_flag(&self) -> Option<&TrainingFlag> {
        None
    }

    /// Sets this module's own training flag, if it has one ([`training_flag`](Module::training_flag)).
    fn set_own_training(&self, on: bool) {
        if let Some(f) = self.training_flag() {
            f.set(on);
        }
    }

    /// True in training mode (the default), PyTorch's `self.training`. A module with its own flag
    /// reports it; a module without one (a user struct of layers) reports training unless one of
    /// its descendants is in evaluation mode, so after `eval()` any model built from Ember's layers
    /// reports `false`.
    fn is_training(&self) -> bool {
        match self.training_flag() {
            Some(f) => f.get(),
            None => self.children().iter().all(|(_, c)| c.is_training()),
        }
    }

    /// The parameters, in `named_parameters` order (what an optimizer takes).
    fn parameters(&self) -> Vec<Variable> {
        self.named_parameters().into_iter().map(|(_, v)| v).collect()
    }

    /// Total number of parameter elements.
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(|p| p.numel()).sum()
    }

    /// Training mode for this module and all its children (dropout active, batch norm updating).
    fn train(&self) {
        set_training(self, true);
    }

    /// Evaluation mode for this module and all its children.
    fn eval(&self) {
        set_training(self, false);
    }

    /// Clears the gradient of every parameter.
    fn zero_grad(&self) {
        for p in self.parameters() {
            p.zero_grad();
        }
    }

    /// Moves every parameter and buffer to `device` (the Variables stay the same handles, so an
    /// optimizer made before the move keeps working).
    fn to_device(&self, device: &Device) {
        for (_, v) in self.named_parameters().into_iter().chain(self.named_buffers()) {
            v.set_data(v.data().to(device));
        }
    }

    /// Converts every floating parameter and buffer to the floating `dtype` (PyTorch's
    /// `module.to(dtype)`, e.g. `DType::BF16`); integer and Bool buffers are unchanged and the
    /// Variables stay the same handles. Gradients computed afterwards have the new dtype.
    ///
    /// **Panics** when `dtype` is not floating (as PyTorch's `nn.Module.to` refuses integer dtypes).
    #[track_caller]
    fn to_dtype(&self, dtype: DType) {
        assert!(dtype.is_float(), "Module.to_dtype: only floating dtypes are accepted, got {dtype}");
        for (_, v) in self.named_parameters().into_iter().chain(self.named_buffers()) {
            let d = v.data();
            if d.dtype().is_float() && d.dtype() != dtype {
                v.set_data(d.to_dtype(dtype));
            }
        }
    }

    /// Parameters and buffers by name, in PyTorch's `state_dict()` order: each module's own
    /// parameters, then its own buffers, then its children's entries.
    fn state_dict(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        collect_state(self, "", &mut out);
        out.into_iter().map(|(n, v)| (n, v.data())).collect()
    }

    /// Loads tensors by name (PyTorch's `load_state_dict(strict=True)`): every entry must be present,
    /// known and of the right shape (the dtype is converted to the module's, the device kept).
    /// Fails naming every missing, unexpected and wrongly shaped tensor, and changes nothing then.
    fn load_state_dict(&self, state: &[(String, Tensor)]) -> Result<()> {
        load_state_dict(self, state, true).map(|_| ())
    }

    /// PyTorch's `load_state_dict(state, strict)`. With `strict` it is
    /// [`load_state_dict`](Module::load_state_dict); without, it loads every entry whose name the
    /// module knows and returns the names it left out ([`IncompatibleKeys`]). A known name with the
    /// wrong shape is an error either way (as in PyTorch), and then nothing is changed.
    ///
    /// ```
    /// use ember_nn::{Linear, Module};
    /// use ember_tensor::Tensor;
    /// let fc = Linear::new(3, 2);
    /// let state = vec![("weight".to_string(), Tensor::zeros(&[2, 3])), ("extra".to_string(), Tensor::zeros(&[1]))];
    /// let keys = fc.load_state_dict_with(&state, false).unwrap();
    /// assert_eq!((keys.missing_keys, keys.unexpected_keys), (vec!["bias".to_string()], vec!["extra".to_string()]));
    /// assert!(fc.load_state_dict_with(&state, true).is_err());
    /// ```
    fn load_state_dict_with(&self, state: &[(String, Tensor)], strict: bool) -> Result<IncompatibleKeys> {
        load_state_dict(self, state, strict)
    }

    /// Writes the state dict to a safetensors file PyTorch loads (`load_file` then `load_state_dict`).
    fn save_safetensors(&self, path: impl AsRef<Path>) -> Result<()>
    where
        Self: Sized,
    {
        ember_tensor::io::save(&self.state_dict(), path)
    }

    /// Loads a safetensors state dict (e.g. saved by PyTorch with `save_file(model.state_dict())`).
    fn load_safetensors(&self, path: impl AsRef<Path>) -> Result<()>
    where
        Self: Sized,
    {
        let state = ember_tensor::io::load(path)?;
        self.load_state_dict(&state)
    }
}

fn set_training<M: Module + ?Sized>(m: &M, on: bool) {
    m.set_own_training(on);
    for (_, c) in m.children() {
        set_training(c, on);
    }
}

/// Own parameters, own buffers, then each child's, with dotted names (PyTorch's order).
fn collect_state<M: Module + ?Sized>(m: &M, prefix: &str, out: &mut Vec<(String, Variable)>) {
    for (n, v) in m.own_parameters().into_iter().chain(m.own_buffers()) {
        out.push((format!("{prefix}{n}"), v));
    }
    for (name, child) in m.children() {
        collect_state(child, &format!("{prefix}{name}."), out);
    }
}

fn quoted(names: &[&str]) -> String {
    names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")
}

/// What a non-strict [`Module::load_state_dict_with`] left out: PyTorch's `_IncompatibleKeys`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncompatibleKeys {
    /// Names the module has that the state dict lacks (left unchanged).
    pub missing_keys: Vec<String>,
    /// Names in the state dict that the module does not have (ignored).
    pub unexpected_keys: Vec<String>,
}

fn load_state_dict<M: Module + ?Sized>(m: &M, state: &[(String, Tensor)], strict: bool) -> Result<IncompatibleKeys> {
    let mut mine = Vec::new();
    collect_state(m, "", &mut mine);
    let lookup: HashMap<&str, &Tensor> = state.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let known: HashSet<&str> = mine.iter().map(|(n, _)| n.as_str()).collect();
    let unexpected: Vec<&str> = state.iter().map(|(n, _)| n.as_str()).filter(|n| !known.contains(n)).collect();
    let missing: Vec<&str> = mine.iter().map(|(n, _)| n.as_str()).filter(|n| !lookup.contains_key(n)).collect();
    let mut problems = Vec::new();
    if strict && !missing.is_empty() {
        problems.push(format!("Missing key(s) in state_dict: {}.", quoted(&missing)));
    }
    if strict && !unexpected.is_empty() {
        problems.push(format!("Unexpected key(s) in state_dict: {}.", quoted(&unexpected)));
    }
    let mut staged = Vec::with_capacity(mine.len());
    for (name, var) in &mine {
        let Some(t) = lookup.get(name.as_str()) else { continue };
        let cur = var.data();
        if t.shape() != cur.shape() {
            problems.push(format!(
                "size mismatch for {name}: copying a param with shape {:?} from checkpoint, the shape in current model is {:?}.",
                t.shape(),
                cur.shape()
            ));
        } else if !problems.is_empty() {
            continue;
        } else {
            staged.push((var, (*t).clone(), cur));
        }
    }
    if !problems.is_empty() {
        return Err(Error::InvalidArgument {
            op: "load_state_dict",
            msg: format!("Error(s) in loading state_dict:\n\t{}", problems.join("\n\t")),
        });
    }
    // convert everything first, so a failure part-way changes nothing
    let converted: Vec<(&Variable, Tensor)> =
        staged.into_iter().map(|(v, t, cur)| (v, t.to_dtype(cur.dtype()).to(&cur.device()))).collect();
    for (var, t) in converted {
        var.set_data(t);
    }
    let owned = |v: Vec<&str>| if strict { Vec::new() } else { v.into_iter().map(String::from).collect() };
    Ok(IncompatibleKeys { missing_keys: owned(missing), unexpected_keys: owned(unexpected) })
}

/// Wraps an op's error in one naming the layer (`desc`, its PyTorch-style repr), so a shape that
/// does not fit a layer reads `Conv2d(1, 16, kernel_size=(3, 3), ...): conv2d: ...`.
pub(crate) fn layer_error(layer: &'static str, desc: &impl std::fmt::Debug, e: Error) -> Error {
    Error::InvalidArgument { op: layer, msg: format!("{desc:?}: {e}") }
}

/// `weight` and `bias`, those present, as a layer's own parameters (PyTorch's names and order).
pub(crate) fn weight_and_bias(weight: Option<&Variable>, bias: Option<&Variable>) -> Vec<(String, Variable)> {
    let named = [("weight", weight), ("bias", bias)];
    named.into_iter().filter_map(|(n, v)| v.map(|v| (n.to_string(), v.clone()))).collect()
}

/// Unwraps a layer's checked forward, panicking with its message at the caller (as PyTorch raises).
#[track_caller]
pub(crate) fn forward_or_panic(r: Result<Variable>) -> Variable {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

impl Module for Box<dyn Module> {
    fn forward(&self, input: &Variable) -> Variable {
        (**self).forward(input)
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        (**self).children()
    }
    fn own_parameters(&self) -> Vec<(String, Variable)> {
        (**self).own_parameters()
    }
    fn own_buffers(&self) -> Vec<(String, Variable)> {
        (**self).own_buffers()
    }
    fn named_parameters(&self) -> Vec<(String, Variable)> {
        (**self).named_parameters()
    }
    fn named_buffers(&self) -> Vec<(String, Variable)> {
        (**self).named_buffers()
    }
    fn training_flag(&self) -> Option<&TrainingFlag> {
        (**self).training_flag()
    }
    fn set_own_training(&self, on: bool) {
        (**self).set_own_training(on)
    }
    fn is_training(&self) -> bool {
        (**self).is_training()
    }
}

/// A module's training flag (true by default), settable through `&self` as `train()`/`eval()` need.
#[derive(Debug)]
pub struct TrainingFlag(AtomicBool);

impl TrainingFlag {
    /// A flag in training mode.
    pub fn new() -> TrainingFlag {
        TrainingFlag(AtomicBool::new(true))
    }

    /// Sets the mode.
    pub fn set(&self, on: bool) {
        self.0.store(on, Ordering::Relaxed);
    }

    /// True in training mode.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl Default for TrainingFlag {
    fn default() -> Self {
        TrainingFlag::new()
    }
}

/// What `#[derive(Module)]` expands to (not for direct use): how a field's type registers itself.
///
/// [`Field`](derive_support::Field) says what a field holds (a module is a child, a `Variable` a
/// parameter or buffer, `Vec`/`Option`/arrays of either their items); a field of any other type
/// falls through to [`ViaNothing`](derive_support::ViaNothing) by autoref: `(&Probe(&x)).__children(..)`
/// resolves to `ViaField` when `x: Field` and to the no-op otherwise, so plain data needs no marking.
#[doc(hidden)]
pub mod derive_support {
    pub use super::{Module, TrainingFlag};
    pub use ember_autograd::Variable;

    /// A field's contribution to its module's children and variables.
    pub trait Field {
        /// Pushes the sub-modules this field holds, named from `name`.
        fn children<'a>(&'a self, name: String, out: &mut Vec<(String, &'a dyn Module)>) {
            let _ = (name, out);
        }
        /// Pushes the variables (parameters or buffers) this field holds, named from `name`.
        fn variables(&self, name: String, out: &mut Vec<(String, Variable)>) {
            let _ = (name, out);
        }
    }

    impl<M: Module> Field for M {
        fn children<'a>(&'a self, name: String, out: &mut Vec<(String, &'a dyn Module)>) {
            out.push((name, self));
        }
    }

    impl Field for Variable {
        fn variables(&self, name: String, out: &mut Vec<(String, Variable)>) {
            out.push((name, self.clone()));
        }
    }

    impl<F: Field> Field for Option<F> {
        fn children<'a>(&'a self, name: String, out: &mut Vec<(String, &'a dyn Module)>) {
            if let Some(f) = self {
                f.children(name, out);
            }
        }
        fn variables(&self, name: String, out: &mut Vec<(String, Variable)>) {
            if let Some(f) = self {
                f.variables(name, out);
            }
        }
    }

    fn each_child<'a, F: Field>(items: &'a [F], name: &str, out: &mut Vec<(String, &'a dyn Module)>) {
        for (i, f) in items.iter().enumerate() {
            f.children(format!("{name}.{i}"), out);
        }
    }

    fn each_variable<F: Field>(items: &[F], name: &str, out: &mut Vec<(String, Variable)>) {
        for (i, f) in items.iter().enumerate() {
            f.variables(format!("{name}.{i}"), out);
        }
    }

    impl<F: Field> Field for Vec<F> {
        fn children<'a>(&'a self, name: String, out: &mut Vec<(String, &'a dyn Module)>) {
            each_child(self, &name, out);
        }
        fn variables(&self, name: String, out: &mut Vec<(String, Variable)>) {
            each_variable(self, &name, out);
        }
    }

    impl<F: Field, const N: usize> Field for [F; N] {
        fn children<'a>(&'a self, name: String, out: &mut Vec<(String, &'a dyn Module)>) {
            each_child(self, &name, out);
        }
        fn variables(&self, name: String, out: &mut Vec<(String, Variable)>) {
            each_variable(self, &name, out);
        }
    }

    /// A borrowed field, for the autoref dispatch.
    pub struct Probe<'p, T>(pub &'p T);

    /// Chosen when the field's type is a [`Field`].
    pub trait ViaField<'p> {
        /// Forwards to [`Field::children`].
        fn __children(&self, name: String, out: &mut Vec<(String, &'p dyn Module)>);
        /// Forwards to [`Field::variables`].
        fn __variables(&self, name: String, out: &mut Vec<(String, Variable)>);
    }

    impl<'p, F: Field> ViaField<'p> for Probe<'p, F> {
        fn __children(&self, name: String, out: &mut Vec<(String, &'p dyn Module)>) {
            self.0.children(name, out);
        }
        fn __variables(&self, name: String, out: &mut Vec<(String, Variable)>) {
            self.0.variables(name, out);
        }
    }

    /// Chosen for any other field type: plain data, registers nothing.
    pub trait ViaNothing<'p> {
        /// Does nothing.
        fn __children(&self, name: String, out: &mut Vec<(String, &'p dyn Module)>) {
            let _ = (name, out);
        }
        /// Does nothing.
        fn __variables(&self, name: String, out: &mut Vec<(String, Variable)>) {
            let _ = (name, out);
        }
    }

    impl<'p, T> ViaNothing<'p> for &Probe<'p, T> {}
}
