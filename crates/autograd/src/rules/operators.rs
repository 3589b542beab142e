//! `+ - * /` and unary `-` on Variables, with Variables and `f64` scalars on either side.
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_tensor::Tensor;
//! let x = Variable::new(Tensor::from_vec(vec![2.0f64], &[1]), true);
//! let y = (1.0 - &x) * 3.0 / &x + -&x; // 3(1 - x)/x - x = -3.5
//! assert_eq!(y.to_vec::<f64>(), vec![-3.5]);
//! y.sum().backward();
//! assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![-1.75]); // -3/x^2 - 1
//! ```

use crate::Variable;

macro_rules! impl_operator {
    ($Trait:ident, $method:ident, $var_fn:ident, $scalar_fn:ident, $rscalar:ident) => {
        impl std::ops::$Trait<&Variable> for &Variable {
            type Output = Variable;
            #[track_caller]
            fn $method(self, rhs: &Variable) -> Variable {
                Variable::$var_fn(self, rhs)
            }
        }
        impl std::ops::$Trait<Variable> for &Variable {
            type Output = Variable;
            #[track_caller]
            fn $method(self, rhs: Variable) -> Variable {
                Variable::$var_fn(self, &rhs)
            }
        }
        impl std::ops::$Trait<&Variable> for Variable {
            type Output = Variable;
            #[track_caller]
            fn $method(self, rhs: &Variable) -> Variable {
                Variable::$var_fn(&self, rhs)
            }
        }
        impl std::ops::$Trait<Variable> for Variable {
            type Output = Variable;
            #[track_caller]
            fn $method(self, rhs: Variable) -> Variable {
                Variable::$var_fn(&self, &rhs)
            }
        }
        impl std::ops::$Trait<f64> for &Variable {
            type Output = Variable;
            #[track_caller]
            fn $method(self, rhs: f64) -> Variable {
                Variable::$scalar_fn(self, rhs)
            }
        }
        impl std::ops::$Trait<f64> for Variable {
            type Output = Variable;
            #[track_caller]
            fn $method(self, rhs: f64) -> Variable {
                Variable::$scalar_fn(&self, rhs)
            }
        }
        impl std::ops::$Trait<&Variable> for f64 {
            type Output = Variable;
            #[track_caller]
            fn $method(self, rhs: &Variable) -> Variable {
                Variable::$rscalar(rhs, self)
            }
        }
        impl std::ops::$Trait<Variable> for f64 {
            type Output = Variable;
            #[track_caller]
            fn $method(self, rhs: Variable) -> Variable {
                Variable::$rscalar(&rhs, self)
            }
        }
    };
}

impl_operator!(Add, add, add, add_scalar, add_scalar);
impl_operator!(Sub, sub, sub, sub_scalar, rsub_scalar);
impl_operator!(Mul, mul, mul, mul_scalar, mul_scalar);
impl_operator!(Div, div, div, div_scalar, rdiv_scalar);

impl std::ops::Neg for &Variable {
    type Output = Variable;
    fn neg(self) -> Variable {
        Variable::neg(self)
    }
}

impl std::ops::Neg for Variable {
    type Output = Variable;
    #[track_caller]
    fn neg(self) -> Variable {
        Variable::neg(&self)
    }
}
