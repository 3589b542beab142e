//! Binary arithmetic with NumPy/PyTorch broadcasting: `add sub mul div pow maximum minimum`,
//! their scalar forms, and the `+ - * /` operators.

pub use crate::op_desc::BinaryOp;
use crate::shape::broadcast_shapes;
use crate::tensor::ok;
use crate::{DType, Result, Tensor};

impl Tensor {
    /// Checks devices, dtypes and broadcast shapes, then runs `op` on the backend.
    pub(crate) fn binary(&self, other: &Tensor, op: BinaryOp) -> Result<Tensor> {
        let name = op.name();
        self.same_device(name, other)?;
        self.same_dtype(name, other)?;
        let shape = broadcast_shapes(name, self.shape(), other.shape())?;
        if op == BinaryOp::Div && self.dtype == DType::I64 {
            // PyTorch's `/` is true division: integer operands give a float result.
            return self.try_to_dtype(DType::F32)?.binary(&other.try_to_dtype(DType::F32)?, op);
        }
        self.backend().binary(op, self, other, &shape)
    }

    /// A 0-d tensor holding `v` in this tensor's dtype, on its device. An integer tensor combined
    /// with a fractional scalar is promoted to F32 first, as PyTorch does.
    pub(crate) fn scalar_operand(&self, v: f64) -> (Tensor, Tensor) {
        let base = if self.dtype == DType::I64 && v.fract() != 0.0 { self.to_dtype(DType::F32) } else { self.clone() };
        let s = crate::ops::creation::full_on("scalar", &[], v, base.dtype, base.device());
        (base, s)
    }
}

macro_rules! binary_methods {
    ($($name:ident, $try:ident, $scalar:ident, $try_scalar:ident, $op:ident, $doc:literal;)*) => {
        /// # Binary arithmetic (broadcasting)
        impl Tensor {
            $(
                #[doc = concat!("Elementwise ", $doc, " with broadcasting.")]
                ///
                /// **Panics** when the shapes do not broadcast, the dtypes differ or the devices differ;
                #[doc = concat!("see [`Tensor::", stringify!($try), "`].")]
                #[must_use]
                #[track_caller]
                pub fn $name(&self, other: &Tensor) -> Tensor {
                    ok(self.$try(other))
                }

                #[doc = concat!("Checked form of [`Tensor::", stringify!($name), "`].")]
                pub fn $try(&self, other: &Tensor) -> Result<Tensor> {
                    self.binary(other, BinaryOp::$op)
                }

                #[doc = concat!("Elementwise ", $doc, " with a scalar, converted to this tensor's dtype.")]
                #[must_use]
                #[track_caller]
                pub fn $scalar(&self, v: f64) -> Tensor {
                    ok(self.$try_scalar(v))
                }

                #[doc = concat!("Checked form of [`Tensor::", stringify!($scalar), "`].")]
                pub fn $try_scalar(&self, v: f64) -> Result<Tensor> {
                    let (base, s) = self.scalar_operand(v);
                    base.binary(&s, BinaryOp::$op)
                }
            )*
        }
    };
}

binary_methods! {
    add, try_add, add_scalar, try_add_scalar, Add, "addition";
    sub, try_sub, sub_scalar, try_sub_scalar, Sub, "subtraction";
    mul, try_mul, mul_scalar, try_mul_scalar, Mul, "multiplication";
    div, try_div, div_scalar, try_div_scalar, Div, "true division";
    pow, try_pow, pow_scalar, try_pow_scalar, Pow, "power (`self ** other`)";
    maximum, try_maximum, maximum_scalar, try_maximum_scalar, Maximum, "maximum (NaN-propagating)";
    minimum, try_minimum, minimum_scalar, try_minimum_scalar, Minimum, "minimum (NaN-propagating)";
}

impl Tensor {
    /// `v - self`, elementwise (PyTorch's `rsub`).
    #[must_use]
    #[track_caller]
    pub fn rsub_scalar(&self, v: f64) -> Tensor {
        let (base, s) = self.scalar_operand(v);
        ok(s.binary(&base, BinaryOp::Sub))
    }

    /// `v / self`, elementwise.
    #[must_use]
    #[track_caller]
    pub fn rdiv_scalar(&self, v: f64) -> Tensor {
        let (base, s) = self.scalar_operand(v);
        ok(s.binary(&base, BinaryOp::Div))
    }
}

macro_rules! impl_operator {
    ($Trait:ident, $method:ident, $tensor_fn:ident, $scalar_fn:ident, $rscalar:expr) => {
        impl std::ops::$Trait<&Tensor> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor {
                Tensor::$tensor_fn(&self, rhs)
            }
        }
        impl std::ops::$Trait<Tensor> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor {
                Tensor::$tensor_fn(&self, &rhs)
            }
        }
        impl std::ops::$Trait<&Tensor> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor {
                Tensor::$tensor_fn(&self, rhs)
            }
        }
        impl std::ops::$Trait<Tensor> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor {
                Tensor::$tensor_fn(&self, &rhs)
            }
        }
        impl std::ops::$Trait<f64> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: f64) -> Tensor {
                Tensor::$scalar_fn(&self, rhs)
            }
        }
        impl std::ops::$Trait<f64> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: f64) -> Tensor {
                Tensor::$scalar_fn(&self, rhs)
            }
        }
        impl std::ops::$Trait<&Tensor> for f64 {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor {
                let f: fn(f64, &Tensor) -> Tensor = $rscalar;
                f(self, rhs)
            }
        }
        impl std::ops::$Trait<Tensor> for f64 {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor {
                let f: fn(f64, &Tensor) -> Tensor = $rscalar;
                f(self, &rhs)
            }
        }
    };
}

impl_operator!(Add, add, add, add_scalar, |s, t| t.add_scalar(s));
impl_operator!(Sub, sub, sub, sub_scalar, |s, t| t.rsub_scalar(s));
impl_operator!(Mul, mul, mul, mul_scalar, |s, t| t.mul_scalar(s));
impl_operator!(Div, div, div, div_scalar, |s, t| t.rdiv_scalar(s));

impl std::ops::Neg for &Tensor {
    type Output = Tensor;
    #[track_caller]
    fn neg(self) -> Tensor {
        Tensor::neg(self)
    }
}

impl std::ops::Neg for Tensor {
    type Output = Tensor;
    #[track_caller]
    fn neg(self) -> Tensor {
        Tensor::neg(&self)
    }
}
