//! The expression language of [`FusedMap`](crate::FusedMap): elementwise arithmetic over input
//! tensors and scalar parameters, written with Rust operators, and its flat form (a list of
//! instructions in evaluation order, each subexpression once) that the CPU loop and the WGSL
//! generator run.

use std::collections::HashMap;
use std::sync::Arc;

/// A unary function in a fused expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapUnary {
    /// `-x`.
    Neg,
    /// `|x|`.
    Abs,
    /// `√x` (NaN below zero).
    Sqrt,
    /// `eˣ`.
    Exp,
    /// The natural logarithm.
    Ln,
}

/// A binary function in a fused expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapBinary {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a · b`.
    Mul,
    /// `a / b`.
    Div,
    /// The larger of `a` and `b`, NaN if either is NaN (PyTorch's `maximum`).
    Max,
    /// The smaller of `a` and `b`, NaN if either is NaN (PyTorch's `minimum`).
    Min,
}

impl MapUnary {
    /// The function on one `f64` (the reference the kernels are tested against).
    pub fn eval(self, x: f64) -> f64 {
        match self {
            MapUnary::Neg => -x,
            MapUnary::Abs => x.abs(),
            MapUnary::Sqrt => x.sqrt(),
            MapUnary::Exp => x.exp(),
            MapUnary::Ln => x.ln(),
        }
    }
}

impl MapBinary {
    /// The function on two `f64`s (the reference the kernels are tested against).
    pub fn eval(self, a: f64, b: f64) -> f64 {
        match self {
            MapBinary::Add => a + b,
            MapBinary::Sub => a - b,
            MapBinary::Mul => a * b,
            MapBinary::Div => a / b,
            MapBinary::Max if a.is_nan() || b.is_nan() => f64::NAN,
            MapBinary::Min if a.is_nan() || b.is_nan() => f64::NAN,
            MapBinary::Max => a.max(b),
            MapBinary::Min => a.min(b),
        }
    }
}

/// An elementwise expression over the input tensors (`Expr::input(k)`: element `i` of input `k`)
/// and scalar parameters (`Expr::scalar(k)`: the `k`-th number given at each run), built with
/// `+ - * /`, unary `-`, [`sqrt`](Expr::sqrt), [`abs`](Expr::abs), [`exp`](Expr::exp),
/// [`ln`](Expr::ln), [`max`](Expr::max) and [`min`](Expr::min). An `f64` operand is a constant
/// of the expression; values that change between runs (a learning rate) should be scalars, so a
/// GPU kernel compiled once serves every value.
///
/// Cloning is cheap (shared nodes); a subexpression used twice is evaluated once.
///
/// ```
/// use ember_tensor::Expr;
/// let (p, g, lr) = (Expr::input(0), Expr::input(1), Expr::scalar(0));
/// let step = &p - &(&g * &lr);
/// let clipped = step.max(-1.0).min(1.0);
/// # drop(clipped);
/// ```
#[derive(Clone, Debug)]
pub struct Expr(Arc<Node>);

#[derive(Debug)]
enum Node {
    Input(usize),
    Scalar(usize),
    Const(f64),
    Unary(MapUnary, Expr),
    Binary(MapBinary, Expr, Expr),
}

impl Expr {
    /// Element `i` of input tensor `k`.
    pub fn input(k: usize) -> Expr {
        Expr(Arc::new(Node::Input(k)))
    }

    /// The scalar parameter `k`, given at each run.
    pub fn scalar(k: usize) -> Expr {
        Expr(Arc::new(Node::Scalar(k)))
    }

    /// A constant (part of the expression: a changed value is another kernel on a GPU).
    pub fn constant(v: f64) -> Expr {
        Expr(Arc::new(Node::Const(v)))
    }

    /// `f(self)`.
    pub fn unary(&self, f: MapUnary) -> Expr {
        Expr(Arc::new(Node::Unary(f, self.clone())))
    }

    /// `f(self, other)`.
    pub fn binary(&self, f: MapBinary, other: impl Into<Expr>) -> Expr {
        Expr(Arc::new(Node::Binary(f, self.clone(), other.into())))
    }

    /// `√self`.
    #[must_use]
    pub fn sqrt(&self) -> Expr {
        self.unary(MapUnary::Sqrt)
    }

    /// `|self|`.
    #[must_use]
    pub fn abs(&self) -> Expr {
        self.unary(MapUnary::Abs)
    }

    /// `e^self`.
    #[must_use]
    pub fn exp(&self) -> Expr {
        self.unary(MapUnary::Exp)
    }

    /// The natural logarithm of `self`.
    #[must_use]
    pub fn ln(&self) -> Expr {
        self.unary(MapUnary::Ln)
    }

    /// The elementwise maximum (NaN if either is NaN, as PyTorch's `maximum`).
    #[must_use]
    pub fn max(&self, other: impl Into<Expr>) -> Expr {
        self.binary(MapBinary::Max, other)
    }

    /// The elementwise minimum (NaN if either is NaN, as PyTorch's `minimum`).
    #[must_use]
    pub fn min(&self, other: impl Into<Expr>) -> Expr {
        self.binary(MapBinary::Min, other)
    }
}

impl From<f64> for Expr {
    fn from(v: f64) -> Expr {
        Expr::constant(v)
    }
}

impl From<&Expr> for Expr {
    fn from(e: &Expr) -> Expr {
        e.clone()
    }
}

macro_rules! expr_binop {
    ($tr:ident, $method:ident, $f:expr) => {
        impl<R: Into<Expr>> std::ops::$tr<R> for Expr {
            type Output = Expr;
            fn $method(self, rhs: R) -> Expr {
                self.binary($f, rhs)
            }
        }
        impl<R: Into<Expr>> std::ops::$tr<R> for &Expr {
            type Output = Expr;
            fn $method(self, rhs: R) -> Expr {
                self.binary($f, rhs)
            }
        }
        impl std::ops::$tr<Expr> for f64 {
            type Output = Expr;
            fn $method(self, rhs: Expr) -> Expr {
                Expr::constant(self).binary($f, rhs)
            }
        }
        impl std::ops::$tr<&Expr> for f64 {
            type Output = Expr;
            fn $method(self, rhs: &Expr) -> Expr {
                Expr::constant(self).binary($f, rhs)
            }
        }
    };
}

expr_binop!(Add, add, MapBinary::Add);
expr_binop!(Sub, sub, MapBinary::Sub);
expr_binop!(Mul, mul, MapBinary::Mul);
expr_binop!(Div, div, MapBinary::Div);

impl std::ops::Neg for Expr {
    type Output = Expr;
    fn neg(self) -> Expr {
        self.unary(MapUnary::Neg)
    }
}

impl std::ops::Neg for &Expr {
    type Output = Expr;
    fn neg(self) -> Expr {
        self.unary(MapUnary::Neg)
    }
}

/// One instruction of the flat form; operands are indices of earlier instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Inst {
    /// Element `i` of input `k`.
    Input(usize),
    /// Value slot `k`: the run's scalars, then the program's constants.
    Value(usize),
    /// A unary function of an earlier instruction.
    Unary(MapUnary, usize),
    /// A binary function of two earlier instructions.
    Binary(MapBinary, usize, usize),
}

/// The flat form of a list of output expressions.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Flat {
    /// Instructions in evaluation order, each distinct subexpression once.
    pub insts: Vec<Inst>,
    /// The instruction of each output.
    pub outputs: Vec<usize>,
    /// The constants, in value slots `n_scalars..`.
    pub consts: Vec<f64>,
    /// The largest input index used, plus one (0 when none).
    pub inputs_used: usize,
    /// The largest scalar index used, plus one (0 when none).
    pub scalars_used: usize,
}

/// Flattens `outputs` (constants go after `n_scalars` scalar slots).
pub(crate) fn flatten(outputs: &[Expr], n_scalars: usize) -> Flat {
    let mut b = Builder { n_scalars, ..Builder::default() };
    let outputs = outputs.iter().map(|e| b.visit(e)).collect();
    Flat { insts: b.insts, outputs, consts: b.consts, inputs_used: b.inputs_used, scalars_used: b.scalars_used }
}

#[derive(Default)]
struct Builder {
    n_scalars: usize,
    insts: Vec<Inst>,
    consts: Vec<f64>,
    inputs_used: usize,
    scalars_used: usize,
    /// Structural dedup: an instruction seen before is not repeated.
    seen: HashMap<Inst, usize>,
    /// Nodes already visited (shared subtrees), by address.
    visited: HashMap<*const Node, usize>,
}

impl Builder {
    fn push(&mut self, inst: Inst) -> usize {
        *self.seen.entry(inst).or_insert_with(|| {
            self.insts.push(inst);
            self.insts.len() - 1
        })
    }

    fn visit(&mut self, e: &Expr) -> usize {
        let addr = Arc::as_ptr(&e.0);
        if let Some(&i) = self.visited.get(&addr) {
            return i;
        }
        let inst = match &*e.0 {
            Node::Input(k) => {
                self.inputs_used = self.inputs_used.max(k + 1);
                Inst::Input(*k)
            }
            Node::Scalar(k) => {
                self.scalars_used = self.scalars_used.max(k + 1);
                Inst::Value(*k)
            }
            Node::Const(v) => {
                let slot = match self.consts.iter().position(|c| c.to_bits() == v.to_bits()) {
                    Some(j) => j,
                    None => {
                        self.consts.push(*v);
                        self.consts.len() - 1
                    }
                };
                Inst::Value(self.n_scalars + slot)
            }
            Node::Unary(f, a) => Inst::Unary(*f, self.visit(a)),
            Node::Binary(f, a, b) => {
                let (a, b) = (self.visit(a), self.visit(b));
                Inst::Binary(*f, a, b)
            }
        };
        let i = self.push(inst);
        self.visited.insert(addr, i);
        i
    }
}

impl Flat {
    /// A text naming the structure (instructions, outputs, counts; not the constants' values,
    /// which travel with the scalars): equal texts run the same GPU kernel.
    pub(crate) fn key(&self, n_inputs: usize, n_values: usize) -> String {
        use std::fmt::Write;
        let mut s = format!("{n_inputs}i{n_values}v:");
        for inst in &self.insts {
            let _ = match inst {
                Inst::Input(k) => write!(s, "i{k};"),
                Inst::Value(k) => write!(s, "v{k};"),
                Inst::Unary(f, a) => write!(s, "{f:?}({a});"),
                Inst::Binary(f, a, b) => write!(s, "{f:?}({a},{b});"),
            };
        }
        let _ = write!(s, "->{:?}", self.outputs);
        s
    }

    /// Evaluates the program on one element in `f64`, the plain reference of the kernels:
    /// `inputs[k]` is element `i` of input `k`, `values` the scalars then the constants.
    pub(crate) fn eval_one(&self, inputs: &[f64], values: &[f64]) -> Vec<f64> {
        let mut r = Vec::with_capacity(self.insts.len());
        for inst in &self.insts {
            let v = match *inst {
                Inst::Input(k) => inputs[k],
                Inst::Value(k) => values[k],
                Inst::Unary(f, a) => f.eval(r[a]),
                Inst::Binary(f, a, b) => f.eval(r[a], r[b]),
            };
            r.push(v);
        }
        self.outputs.iter().map(|&o| r[o]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_and_repeated_subexpressions_are_flattened_once() {
        let (a, b) = (Expr::input(0), Expr::input(1));
        let s = &a + &b;
        // `s` shared, and `a + b` written again: both become one instruction
        let f = flatten(&[&s * &s, (&a + &b).sqrt()], 1);
        assert_eq!(
            f.insts,
            vec![
                Inst::Input(0),
                Inst::Input(1),
                Inst::Binary(MapBinary::Add, 0, 1),
                Inst::Binary(MapBinary::Mul, 2, 2),
                Inst::Unary(MapUnary::Sqrt, 2)
            ]
        );
        assert_eq!(f.outputs, vec![3, 4]);
        assert_eq!((f.inputs_used, f.scalars_used), (2, 0));
    }

    #[test]
    fn constants_take_value_slots_after_the_scalars_and_stay_out_of_the_key() {
        let x = Expr::input(0);
        let f1 = flatten(&[&x * 2.0 + 2.0 - Expr::scalar(0)], 1);
        assert_eq!(f1.consts, vec![2.0]);
        assert!(f1.insts.contains(&Inst::Value(1)) && f1.insts.contains(&Inst::Value(0)));
        let f2 = flatten(&[&x * 3.0 + 3.0 - Expr::scalar(0)], 1);
        assert_eq!(f1.key(1, 2), f2.key(1, 2));
        let f3 = flatten(&[&x * 3.0 - Expr::scalar(0)], 1);
        assert_ne!(f1.key(1, 2), f3.key(1, 2));
    }

    #[test]
    fn reference_evaluation_and_nan_propagating_extrema() {
        let (a, b) = (Expr::input(0), Expr::input(1));
        let f = flatten(&[a.max(&b), a.min(&b), (-&a).abs().sqrt() / Expr::scalar(0)], 1);
        assert_eq!(f.eval_one(&[-4.0, 1.0], &[2.0]), vec![1.0, -4.0, 1.0]);
        let r = f.eval_one(&[f64::NAN, 1.0], &[2.0]);
        assert!(r[0].is_nan() && r[1].is_nan());
        assert!(MapBinary::Max.eval(1.0, f64::NAN).is_nan());
    }
}
