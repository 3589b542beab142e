//! [`FusedMap`]: a generic fused elementwise kernel. The caller writes one or more output
//! expressions ([`Expr`]) over several same-shaped input tensors and scalar parameters; a run
//! evaluates them in one pass over memory: on the CPU a vectorised block loop (`cpu/fused_map.rs`),
//! on a GPU one WGSL kernel generated from the expression (`wgpu/fused_map.rs`), compiled once per
//! structure and dtype (scalars and constants travel in a buffer, so a new learning rate does not
//! recompile). Optimizers (`ember-optim`) write their update rules with it; the array crate holds
//! no optimizer formula.

use std::sync::Arc;

use crate::ops::fused_expr::{flatten, Flat, Inst, MapBinary, MapUnary};
use crate::ops::fused_formula::NativeKernel;
use crate::tensor::ok;
use crate::{Error, Expr, Result, Tensor};

/// A compiled fused elementwise map: `n_inputs` tensors of one shape, float dtype and device, and
/// `n_scalars` numbers in; one tensor per output expression out, each of the inputs' shape.
///
/// ```
/// use ember_tensor::{Expr, FusedMap, Tensor};
/// // SGD with momentum: b' = μb + g, θ' = θ - lr·b'
/// let (p, g, b) = (Expr::input(0), Expr::input(1), Expr::input(2));
/// let (lr, mu) = (Expr::scalar(0), Expr::scalar(1));
/// let b2 = &b * &mu + &g;
/// let step = FusedMap::new("sgd_momentum", 3, 2, &[&p - &(&b2 * &lr), b2]);
/// let t = |v: f64| Tensor::from_vec(vec![v], &[1]);
/// let out = step.run(&[&t(1.0), &t(2.0), &t(0.5)], &[0.1, 0.9]);
/// assert_eq!(out[1].item::<f64>(), 0.5 * 0.9 + 2.0);
/// assert_eq!(out[0].item::<f64>(), 1.0 - (0.5 * 0.9 + 2.0) * 0.1);
/// ```
#[derive(Clone)]
pub struct FusedMap {
    name: &'static str,
    n_inputs: usize,
    n_scalars: usize,
    flat: Flat,
    key: String,
    /// The native CPU loop of a map made by [`FusedMap::from_formula`].
    native: Option<Arc<dyn NativeKernel>>,
}

impl std::fmt::Debug for FusedMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FusedMap")
            .field("name", &self.name)
            .field("structure", &self.key)
            .field("native", &self.native.is_some())
            .finish()
    }
}

impl FusedMap {
    /// Compiles `outputs` as the map `name` (named in every error) of `n_inputs` tensors and
    /// `n_scalars` scalars.
    ///
    /// **Panics** when an expression uses an input or scalar index past those counts, when there
    /// is no input or no output; see [`FusedMap::try_new`].
    #[track_caller]
    pub fn new(name: &'static str, n_inputs: usize, n_scalars: usize, outputs: &[Expr]) -> FusedMap {
        ok(FusedMap::try_new(name, n_inputs, n_scalars, outputs))
    }

    /// Checked form of [`FusedMap::new`].
    pub fn try_new(name: &'static str, n_inputs: usize, n_scalars: usize, outputs: &[Expr]) -> Result<FusedMap> {
        let bad = |msg: String| Err(Error::InvalidArgument { op: name, msg });
        if n_inputs == 0 {
            return bad("a fused map needs at least one input tensor".into());
        }
        if outputs.is_empty() {
            return bad("a fused map needs at least one output expression".into());
        }
        let flat = flatten(outputs, n_scalars);
        if flat.inputs_used > n_inputs {
            return bad(format!("an expression uses input {} but the map has {n_inputs} inputs", flat.inputs_used - 1));
        }
        if flat.scalars_used > n_scalars {
            return bad(format!(
                "an expression uses scalar {} but the map has {n_scalars} scalars",
                flat.scalars_used - 1
            ));
        }
        let key = flat.key(n_inputs, n_scalars + flat.consts.len());
        Ok(FusedMap { name, n_inputs, n_scalars, flat, key, native: None })
    }

    /// The map with `native` as its CPU loop (`from_formula`).
    pub(crate) fn with_native(mut self, native: Arc<dyn NativeKernel>) -> FusedMap {
        self.native = Some(native);
        self
    }

    /// True when the map runs a native CPU loop (made by [`FusedMap::from_formula`]) rather than
    /// the interpreter of its program.
    pub fn is_native(&self) -> bool {
        self.native.is_some()
    }

    /// The map's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Number of input tensors a run takes.
    pub fn num_inputs(&self) -> usize {
        self.n_inputs
    }

    /// Number of scalars a run takes.
    pub fn num_scalars(&self) -> usize {
        self.n_scalars
    }

    /// Number of output tensors a run returns.
    pub fn num_outputs(&self) -> usize {
        self.flat.outputs.len()
    }

    /// A text naming the structure of the map (what a GPU kernel is cached by): maps that differ
    /// only in the values of their constants share it.
    pub fn structure(&self) -> &str {
        &self.key
    }

    /// Evaluates the map on one element in `f64` without any kernel (the reference the kernels
    /// are tested against): `inputs[k]` is the element of input `k`. **Panics** on a wrong count.
    #[track_caller]
    pub fn eval_scalar(&self, inputs: &[f64], scalars: &[f64]) -> Vec<f64> {
        assert_eq!(inputs.len(), self.n_inputs, "{}: eval_scalar takes {} inputs", self.name, self.n_inputs);
        assert_eq!(scalars.len(), self.n_scalars, "{}: eval_scalar takes {} scalars", self.name, self.n_scalars);
        self.flat.eval_one(inputs, &self.values(scalars))
    }

    /// Runs the map on `inputs` with `scalars`; returns one tensor per output.
    ///
    /// **Panics** on a wrong number of inputs or scalars, or inputs that differ in shape, dtype or
    /// device, or are not F32/F64; see [`FusedMap::try_run`].
    #[track_caller]
    pub fn run(&self, inputs: &[&Tensor], scalars: &[f64]) -> Vec<Tensor> {
        ok(self.try_run(inputs, scalars))
    }

    /// Checked form of [`FusedMap::run`].
    pub fn try_run(&self, inputs: &[&Tensor], scalars: &[f64]) -> Result<Vec<Tensor>> {
        self.try_run_owned(inputs.iter().map(|&t| t.clone()).collect(), scalars)
    }

    /// [`FusedMap::run`] taking the inputs by value: on the CPU, an input that is the only handle
    /// to its contiguous storage (an optimizer's own state buffer) lends that storage to an
    /// output, which is written over it in the same pass (outputs take such inputs in order). This
    /// saves an allocation and a third of the memory traffic per reused buffer. An input shared
    /// with another tensor is never written.
    #[track_caller]
    pub fn run_owned(&self, inputs: Vec<Tensor>, scalars: &[f64]) -> Vec<Tensor> {
        ok(self.try_run_owned(inputs, scalars))
    }

    /// Checked form of [`FusedMap::run_owned`].
    pub fn try_run_owned(&self, inputs: Vec<Tensor>, scalars: &[f64]) -> Result<Vec<Tensor>> {
        self.check(&inputs, scalars)?;
        let values = self.values(scalars);
        if inputs[0].device().is_cpu() {
            let mut out =
                crate::cpu::fused_map::run(self.name, &self.flat, self.native.as_deref(), vec![inputs], &values)?;
            return Ok(out.pop().expect("one tuple"));
        }
        self.run_device(&inputs, &values)
    }

    /// One tuple on a device backend: its fused kernel, or the composite of tensor ops.
    fn run_device(&self, inputs: &[Tensor], values: &[f64]) -> Result<Vec<Tensor>> {
        match inputs[0].backend().fused_map(self.name, &self.key, &self.flat, inputs, values)? {
            Some(out) => Ok(out),
            None => self.composite(inputs, values),
        }
    }

    /// Runs the map on every tuple of `tuples` at once (PyTorch's `foreach`: an optimizer's
    /// parameters of one group), taking the inputs by value as [`FusedMap::run_owned`]; returns
    /// the outputs of each tuple. Tensors of one tuple share a shape; tuples may differ in shape
    /// but share one device and dtype. On the CPU all tuples run in one parallel pass; on a GPU
    /// as one dispatch where the backend can (wgpu), else one per tuple. Each tuple's results
    /// equal [`FusedMap::run_owned`] on it, bit for bit.
    ///
    /// **Panics** on any argument [`FusedMap::run`] rejects, or tuples on different devices or of
    /// different dtypes; see [`FusedMap::try_run_foreach`].
    ///
    /// ```
    /// use ember_tensor::{Expr, FusedMap, Tensor};
    /// let axpy = FusedMap::new("axpy", 2, 1, &[Expr::input(0) * Expr::scalar(0) + Expr::input(1)]);
    /// let (a, b) = (Tensor::ones(&[3]), Tensor::ones(&[2, 2]));
    /// let out = axpy.run_foreach(vec![vec![a.clone(), a], vec![b.clone(), b]], &[2.0]);
    /// assert_eq!(out[0][0].to_vec::<f32>(), vec![3.0; 3]);
    /// assert_eq!(out[1][0].shape(), &[2, 2]);
    /// ```
    #[track_caller]
    pub fn run_foreach(&self, tuples: Vec<Vec<Tensor>>, scalars: &[f64]) -> Vec<Vec<Tensor>> {
        ok(self.try_run_foreach(tuples, scalars))
    }

    /// Checked form of [`FusedMap::run_foreach`].
    pub fn try_run_foreach(&self, tuples: Vec<Vec<Tensor>>, scalars: &[f64]) -> Result<Vec<Vec<Tensor>>> {
        let Some(first) = tuples.first() else { return Ok(Vec::new()) };
        self.check(first, scalars)?;
        let (device, dtype) = (first[0].device(), first[0].dtype());
        for t in &tuples[1..] {
            self.check(t, scalars)?;
            if t[0].device() != device {
                return Err(Error::DeviceMismatch { op: self.name, lhs: device, rhs: t[0].device() });
            }
            if t[0].dtype() != dtype {
                return Err(Error::DTypeMismatch { op: self.name, expected: dtype, got: t[0].dtype() });
            }
        }
        let values = self.values(scalars);
        if device.is_cpu() {
            return crate::cpu::fused_map::run(self.name, &self.flat, self.native.as_deref(), tuples, &values);
        }
        if let Some(out) = first[0].backend().fused_map_foreach(self.name, &self.key, &self.flat, &tuples, &values)? {
            return Ok(out);
        }
        tuples.iter().map(|t| self.run_device(t, &values)).collect()
    }

    /// The run's value slots: the scalars, then the constants.
    fn values(&self, scalars: &[f64]) -> Vec<f64> {
        scalars.iter().chain(&self.flat.consts).copied().collect()
    }

    /// Arity, shape, dtype and device checks, naming the map and the offending operand.
    fn check(&self, inputs: &[Tensor], scalars: &[f64]) -> Result<()> {
        let op = self.name;
        let bad = |msg: String| Err(Error::InvalidArgument { op, msg });
        if inputs.len() != self.n_inputs {
            return bad(format!("expects {} input tensors, got {}", self.n_inputs, inputs.len()));
        }
        if scalars.len() != self.n_scalars {
            return bad(format!("expects {} scalars, got {}", self.n_scalars, scalars.len()));
        }
        let first = &inputs[0];
        if !first.dtype().is_float() {
            return Err(Error::UnsupportedDType { op, dtype: first.dtype() });
        }
        for t in &inputs[1..] {
            if t.device() != first.device() {
                return Err(Error::DeviceMismatch { op, lhs: first.device(), rhs: t.device() });
            }
            if t.dtype() != first.dtype() {
                return Err(Error::DTypeMismatch { op, expected: first.dtype(), got: t.dtype() });
            }
            if t.shape() != first.shape() {
                return Err(Error::ShapeMismatch { op, lhs: first.shape().to_vec(), rhs: t.shape().to_vec() });
            }
        }
        Ok(())
    }

    /// The map as a sequence of ordinary tensor ops (one kernel and one temporary per
    /// instruction): the path of GPUs whose binding limits cannot hold the fused kernel.
    fn composite(&self, inputs: &[Tensor], values: &[f64]) -> Result<Vec<Tensor>> {
        #[derive(Clone)]
        enum V {
            T(Tensor),
            S(f64),
        }
        let mut r: Vec<V> = Vec::with_capacity(self.flat.insts.len());
        for inst in &self.flat.insts {
            let v = match *inst {
                Inst::Input(k) => V::T(inputs[k].clone()),
                Inst::Value(k) => V::S(values[k]),
                Inst::Unary(f, a) => match &r[a] {
                    V::S(x) => V::S(f.eval(*x)),
                    V::T(t) => V::T(match f {
                        MapUnary::Neg => t.neg(),
                        MapUnary::Abs => t.abs(),
                        MapUnary::Sqrt => t.sqrt(),
                        MapUnary::Exp => t.exp(),
                        MapUnary::Ln => t.log(),
                    }),
                },
                Inst::Binary(f, a, b) => match (&r[a], &r[b]) {
                    (V::S(x), V::S(y)) => V::S(f.eval(*x, *y)),
                    (V::T(x), V::S(y)) => V::T(tensor_scalar(f, x, *y)?),
                    (V::S(x), V::T(y)) => V::T(tensor_tensor(f, &y.full_like(*x), y)?),
                    (V::T(x), V::T(y)) => V::T(tensor_tensor(f, x, y)?),
                },
            };
            r.push(v);
        }
        let like = &inputs[0];
        Ok(self
            .flat
            .outputs
            .iter()
            .map(|&o| match &r[o] {
                V::T(t) => t.clone(),
                V::S(x) => like.full_like(*x),
            })
            .collect())
    }
}

fn tensor_tensor(f: MapBinary, x: &Tensor, y: &Tensor) -> Result<Tensor> {
    match f {
        MapBinary::Add => x.try_add(y),
        MapBinary::Sub => x.try_sub(y),
        MapBinary::Mul => x.try_mul(y),
        MapBinary::Div => x.try_div(y),
        MapBinary::Max => x.try_maximum(y),
        MapBinary::Min => x.try_minimum(y),
    }
}

fn tensor_scalar(f: MapBinary, x: &Tensor, y: f64) -> Result<Tensor> {
    match f {
        MapBinary::Add => x.try_add_scalar(y),
        MapBinary::Sub => x.try_sub_scalar(y),
        MapBinary::Mul => x.try_mul_scalar(y),
        MapBinary::Div => x.try_div_scalar(y),
        MapBinary::Max => x.try_maximum_scalar(y),
        MapBinary::Min => x.try_minimum_scalar(y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_composite_path_agrees_with_the_reference() {
        let (a, b, s) = (Expr::input(0), Expr::input(1), Expr::scalar(0));
        let m = FusedMap::new("t", 2, 1, &[(&a - &b).abs().sqrt().max(&s) * 2.0, (-&a).exp() + b.ln(), 3.0 + s]);
        let x = Tensor::from_vec(vec![0.5f64, -2.0, 9.0], &[3]);
        let y = Tensor::from_vec(vec![1.5f64, 0.25, 4.0], &[3]);
        let out = m.composite(&[x.clone(), y.clone()], &m.values(&[0.8])).unwrap();
        for i in 0..3 {
            let want = m.eval_scalar(&[x.to_vec::<f64>()[i], y.to_vec::<f64>()[i]], &[0.8]);
            for (o, w) in out.iter().zip(&want) {
                assert!((o.to_vec::<f64>()[i] - w).abs() < 1e-12, "{o:?} vs {w}");
            }
        }
    }
}
