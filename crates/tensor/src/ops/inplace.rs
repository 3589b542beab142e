//! In-place ops with PyTorch's names (`add_`, `mul_`, `zero_`, `copy_`, `clamp_`, ...).
//!
//! **Copy-on-write, unlike PyTorch.** A `Tensor` is a handle to shared, immutable storage: views
//! and clones share it, and ops never change it while it is shared. An in-place op therefore
//! takes `&mut self` and writes into the buffer only when this handle holds the storage alone (and
//! is contiguous, on the CPU); otherwise it computes the result and points `self` at a private
//! copy. Either way only `self` changes: other handles and views keep their values, where in
//! PyTorch a view would see the write. (On a GPU the result is always a new buffer.)
//!
//! The result must keep `self`'s shape and dtype: `a.add_(&b)` broadcasts `b` to `a`, never `a`
//! to a larger shape, and an integer tensor cannot take a fractional result, as in PyTorch.
//!
//! ```
//! use ember_tensor::Tensor;
//! let mut a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
//! let view = a.clone();
//! a.mul_scalar_(2.0).add_(&Tensor::ones(&[3]));
//! assert_eq!(a.to_vec::<f32>(), vec![3.0, 5.0, 7.0]);
//! assert_eq!(view.to_vec::<f32>(), vec![1.0, 2.0, 3.0]); // the other handle is unchanged
//! ```

use crate::op_desc::BinaryOp;
use crate::tensor::ok;
use crate::{DType, Element, Error, Result, Tensor};

/// A binary in-place op (`self op= other`) on the CPU's own buffer, when this handle holds it
/// alone and the operand already has `self`'s shape and dtype, or is a one-element tensor.
fn binary_fast(t: &mut Tensor, other: &Tensor, op: BinaryOp) -> bool {
    if !t.is_host() || !other.is_host() || other.dtype() != t.dtype() {
        return false;
    }
    let scalar = other.numel() == 1;
    if !scalar && (other.shape() != t.shape() || !other.is_contiguous()) {
        return false;
    }
    fn run<T: crate::Numeric>(t: &mut Tensor, other: &Tensor, scalar: bool, f: impl Fn(T, T) -> T) -> bool {
        // borrowed: `t` writes only into storage it holds alone, so `other` cannot share it
        let o = other.cpu_data::<T>();
        let Some(d) = t.cpu_unique_mut::<T>() else { return false };
        if scalar {
            d.iter_mut().for_each(|x| *x = f(*x, o[0]));
        } else {
            d.iter_mut().zip(o.iter()).for_each(|(x, &y)| *x = f(*x, y));
        }
        true
    }
    match (t.dtype(), op) {
        (DType::F32, BinaryOp::Add) => run::<f32>(t, other, scalar, |x, y| x + y),
        (DType::F32, BinaryOp::Sub) => run::<f32>(t, other, scalar, |x, y| x - y),
        (DType::F32, BinaryOp::Mul) => run::<f32>(t, other, scalar, |x, y| x * y),
        (DType::F32, BinaryOp::Div) => run::<f32>(t, other, scalar, |x, y| x / y),
        (DType::F64, BinaryOp::Add) => run::<f64>(t, other, scalar, |x, y| x + y),
        (DType::F64, BinaryOp::Sub) => run::<f64>(t, other, scalar, |x, y| x - y),
        (DType::F64, BinaryOp::Mul) => run::<f64>(t, other, scalar, |x, y| x * y),
        (DType::F64, BinaryOp::Div) => run::<f64>(t, other, scalar, |x, y| x / y),
        (DType::I64, BinaryOp::Add) => run::<i64>(t, other, scalar, |x, y| x.wrapping_add(y)),
        (DType::I64, BinaryOp::Sub) => run::<i64>(t, other, scalar, |x, y| x.wrapping_sub(y)),
        (DType::I64, BinaryOp::Mul) => run::<i64>(t, other, scalar, |x, y| x.wrapping_mul(y)),
        _ => false,
    }
}

/// # In-place ops (copy-on-write: see the module docs)
impl Tensor {
    /// Makes `new` (the result of `op` on `self`) this tensor's value, checking that it keeps the
    /// shape, dtype and device: written into the buffer when held alone, else a private copy.
    fn assign(&mut self, op: &'static str, new: Tensor) -> Result<()> {
        if new.shape() != self.shape() {
            return Err(Error::InvalidArgument {
                op,
                msg: format!(
                    "output with shape {:?} doesn't match the broadcast shape {:?}",
                    self.shape(),
                    new.shape()
                ),
            });
        }
        if new.dtype() != self.dtype() {
            return Err(Error::InvalidArgument {
                op,
                msg: format!("result type {} can't be cast to the desired output type {}", new.dtype(), self.dtype()),
            });
        }
        self.same_device(op, &new)?;
        let written = with_dtype!(self.dtype(), T, {
            match self.is_host() {
                true => {
                    let src = new.cpu_data::<T>();
                    match self.cpu_unique_mut::<T>() {
                        Some(d) => {
                            d.copy_from_slice(&src);
                            true
                        }
                        None => false,
                    }
                }
                false => false,
            }
        });
        if !written {
            *self = new;
        }
        Ok(())
    }

    fn binary_(&mut self, op: &'static str, other: &Tensor, bop: BinaryOp) -> Result<&mut Self> {
        self.same_device(op, other)?;
        if binary_fast(self, other, bop) {
            return Ok(self);
        }
        let new = self.binary(other, bop).map_err(|e| rename(e, op))?;
        self.assign(op, new)?;
        Ok(self)
    }

    fn scalar_(&mut self, op: &'static str, v: f64, bop: BinaryOp) -> Result<&mut Self> {
        if self.dtype() == DType::I64 && v.fract() != 0.0 {
            return Err(Error::InvalidArgument {
                op,
                msg: format!("result type {} can't be cast to the desired output type {}", DType::F32, self.dtype()),
            });
        }
        let s = crate::ops::creation::try_fill_named(op, &[], v, self.dtype(), self.device())?;
        self.binary_(op, &s, bop)
    }
}

fn rename(e: Error, op: &'static str) -> Error {
    match e {
        Error::ShapeMismatch { lhs, rhs, .. } => Error::ShapeMismatch { op, lhs, rhs },
        Error::DTypeMismatch { expected, got, .. } => Error::DTypeMismatch { op, expected, got },
        Error::DeviceMismatch { lhs, rhs, .. } => Error::DeviceMismatch { op, lhs, rhs },
        e => e,
    }
}

macro_rules! inplace_binary {
    ($($name:ident, $try:ident, $scalar:ident, $try_scalar:ident, $op:ident, $doc:literal;)*) => {
        /// # In-place arithmetic
        impl Tensor {
            $(
                #[doc = concat!("`self ", $doc, "= other` in place (`other` broadcast to `self`'s shape), PyTorch's `",
                    stringify!($name), "`. **Panics** on a shape, dtype or device mismatch; see [`Tensor::",
                    stringify!($try), "`].")]
                #[track_caller]
                pub fn $name(&mut self, other: &Tensor) -> &mut Self {
                    ok(self.$try(other))
                }

                #[doc = concat!("Checked form of [`Tensor::", stringify!($name), "`].")]
                pub fn $try(&mut self, other: &Tensor) -> Result<&mut Self> {
                    self.binary_(stringify!($name), other, BinaryOp::$op)
                }

                #[doc = concat!("`self ", $doc, "= v` in place for a scalar `v`. **Panics** where an integer tensor ",
                    "would need a float result; see [`Tensor::", stringify!($try_scalar), "`].")]
                #[track_caller]
                pub fn $scalar(&mut self, v: f64) -> &mut Self {
                    ok(self.$try_scalar(v))
                }

                #[doc = concat!("Checked form of [`Tensor::", stringify!($scalar), "`].")]
                pub fn $try_scalar(&mut self, v: f64) -> Result<&mut Self> {
                    self.scalar_(stringify!($name), v, BinaryOp::$op)
                }
            )*
        }
    };
}

inplace_binary! {
    add_, try_add_, add_scalar_, try_add_scalar_, Add, "+";
    sub_, try_sub_, sub_scalar_, try_sub_scalar_, Sub, "-";
    mul_, try_mul_, mul_scalar_, try_mul_scalar_, Mul, "*";
    div_, try_div_, div_scalar_, try_div_scalar_, Div, "/";
}

/// # In-place fills, copies and elementwise functions
impl Tensor {
    /// Sets every element to 0 (PyTorch's `zero_`).
    #[track_caller]
    pub fn zero_(&mut self) -> &mut Self {
        self.fill_(0.0)
    }

    /// Sets every element to `v`, converted to the dtype (PyTorch's `fill_`). **Panics** when a
    /// GPU buffer cannot be allocated.
    #[track_caller]
    pub fn fill_(&mut self, v: f64) -> &mut Self {
        ok(self.try_fill_(v))
    }

    /// Checked form of [`Tensor::fill_`].
    pub fn try_fill_(&mut self, v: f64) -> Result<&mut Self> {
        let done = with_dtype!(self.dtype(), T, {
            match self.cpu_unique_mut::<T>() {
                Some(d) => {
                    d.fill(T::from_f64(v));
                    true
                }
                None => false,
            }
        });
        if !done {
            *self = crate::ops::creation::try_fill_named("fill_", self.shape(), v, self.dtype(), self.device())?;
        }
        Ok(self)
    }

    /// Copies `src` into `self` (PyTorch's `copy_`): `src` is broadcast to `self`'s shape and
    /// converted to its dtype and device. **Panics** when `src` does not broadcast; see
    /// [`Tensor::try_copy_`].
    #[track_caller]
    pub fn copy_(&mut self, src: &Tensor) -> &mut Self {
        ok(self.try_copy_(src))
    }

    /// Checked form of [`Tensor::copy_`].
    pub fn try_copy_(&mut self, src: &Tensor) -> Result<&mut Self> {
        let s = src.try_to(&self.device())?.try_to_dtype(self.dtype())?;
        let s = s.try_expand(self.shape()).map_err(|e| rename(e, "copy_"))?.try_contiguous()?;
        self.assign("copy_", s)?;
        Ok(self)
    }

    /// Clamps every element into `[min, max]` in place (PyTorch's `clamp_`). **Panics** when both
    /// bounds are `None`; see [`Tensor::try_clamp_`].
    #[track_caller]
    pub fn clamp_(&mut self, min: Option<f64>, max: Option<f64>) -> &mut Self {
        ok(self.try_clamp_(min, max))
    }

    /// Checked form of [`Tensor::clamp_`].
    pub fn try_clamp_(&mut self, min: Option<f64>, max: Option<f64>) -> Result<&mut Self> {
        let new = self.try_clamp(min, max).map_err(|e| rename(e, "clamp_"))?;
        self.assign("clamp_", new)?;
        Ok(self)
    }

    /// Sets the elements where `mask` (Bool, broadcast to `self`'s shape) is true to `value`
    /// (PyTorch's `masked_fill_`). **Panics** on a bad mask; see [`Tensor::try_masked_fill_`].
    #[track_caller]
    pub fn masked_fill_(&mut self, mask: &Tensor, value: f64) -> &mut Self {
        ok(self.try_masked_fill_(mask, value))
    }

    /// Checked form of [`Tensor::masked_fill_`].
    pub fn try_masked_fill_(&mut self, mask: &Tensor, value: f64) -> Result<&mut Self> {
        let new = self.try_masked_fill(mask, value).map_err(|e| rename(e, "masked_fill_"))?;
        self.assign("masked_fill_", new)?;
        Ok(self)
    }

    /// Negates every element in place (PyTorch's `neg_`). **Panics** on a Bool tensor.
    #[track_caller]
    pub fn neg_(&mut self) -> &mut Self {
        ok(self.try_unary_("neg_", crate::op_desc::UnaryOp::Neg))
    }

    /// `max(x, 0)` for every element in place (PyTorch's `relu_`). **Panics** on a Bool tensor.
    #[track_caller]
    pub fn relu_(&mut self) -> &mut Self {
        ok(self.try_unary_("relu_", crate::op_desc::UnaryOp::Relu))
    }

    fn try_unary_(&mut self, op: &'static str, u: crate::op_desc::UnaryOp) -> Result<&mut Self> {
        let new = self.unary(u).map_err(|e| match e {
            Error::UnsupportedDType { dtype, .. } => Error::UnsupportedDType { op, dtype },
            e => e,
        })?;
        self.assign(op, new)?;
        Ok(self)
    }
}

/// Used by the docs and tests: true when `t` wrote into its own storage (no other handle).
#[cfg(test)]
fn ptr_of<T: Element>(t: &Tensor) -> *const T {
    t.cpu_data::<T>().as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_storage_is_written_in_place() {
        let mut a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
        let p = ptr_of::<f32>(&a);
        a.add_(&Tensor::from_vec(vec![1.0f32, 1.0, 1.0], &[3])).mul_scalar_(2.0).clamp_(None, Some(7.0));
        a.neg_().relu_().fill_(4.0).sub_scalar_(1.0).div_(&Tensor::scalar(2.0f32));
        assert_eq!(a.to_vec::<f32>(), vec![1.5; 3]);
        assert_eq!(ptr_of::<f32>(&a), p, "no new buffer for an unshared tensor");
    }

    #[test]
    fn shared_storage_is_copied_first() {
        let mut a = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[2, 2]);
        let b = a.clone();
        let v = a.transpose(0, 1);
        a.mul_scalar_(10.0);
        assert_eq!(a.to_vec::<f64>(), vec![10.0, 20.0, 30.0, 40.0]);
        assert_eq!(b.to_vec::<f64>(), vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(v.to_vec::<f64>(), vec![1.0, 3.0, 2.0, 4.0]);
        // a transposed view written in place keeps its own (transposed) values
        let mut t = v.clone();
        t.add_scalar_(1.0);
        assert_eq!(t.to_vec::<f64>(), vec![2.0, 4.0, 3.0, 5.0]);
        assert_eq!(v.to_vec::<f64>(), vec![1.0, 3.0, 2.0, 4.0]);
    }
}
