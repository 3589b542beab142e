//! CPU kernels for [`UnaryOp`]: `f` and its domain in one place per op.

use super::elementwise::map;
use crate::op_desc::UnaryOp;
use crate::{DType, Float, Result, Tensor};

/// Runs `op` on a CPU tensor of dtype F32, F64 or I64 (integer ops only where `op.keeps_int()`).
pub fn unary(op: UnaryOp, a: &Tensor) -> Result<Tensor> {
    let shape = a.shape();
    Ok(match a.dtype() {
        DType::F32 => Tensor::from_vec_unchecked(
            match vector_f32(op, a) {
                Some(v) => v?,
                None => float_unary::<f32>(op, a)?,
            },
            shape,
        ),
        DType::F64 => Tensor::from_vec_unchecked(float_unary::<f64>(op, a)?, shape),
        DType::I64 => Tensor::from_vec_unchecked(int_unary(op, a)?, shape),
        d => return Err(crate::Error::UnsupportedDType { op: op.name(), dtype: d }),
    })
}

/// The F32 transcendental activations through the vectorised kernels of `vmath` (`None` for the
/// other ops, which take the generic path).
fn vector_f32(op: UnaryOp, a: &Tensor) -> Option<Result<Vec<f32>>> {
    use super::vmath::{self, Exp, Gelu, Sigmoid, Silu, Tanh};
    let run = |f: fn(&[f32]) -> Result<Vec<f32>>| Some(a.try_cpu_data::<f32>().and_then(|d| f(&d)));
    match op {
        UnaryOp::Exp => run(|d| vmath::map(d, Exp)),
        UnaryOp::Tanh => run(|d| vmath::map(d, Tanh)),
        UnaryOp::Sigmoid => run(|d| vmath::map(d, Sigmoid)),
        UnaryOp::Gelu => run(|d| vmath::map(d, Gelu)),
        UnaryOp::Silu => run(|d| vmath::map(d, Silu)),
        _ => None,
    }
}

#[inline]
fn sigmoid<T: Float>(x: T) -> T {
    if x >= T::ZERO {
        T::ONE / (T::ONE + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::ONE + e)
    }
}

fn float_unary<T: Float>(op: UnaryOp, a: &Tensor) -> Result<Vec<T>> {
    let half = T::from_f64(0.5);
    match op {
        UnaryOp::Neg => map(a, |x: T| -x),
        UnaryOp::Abs => map(a, |x: T| x.abs()),
        UnaryOp::Exp => map(a, |x: T| x.exp()),
        UnaryOp::Log => map(a, |x: T| x.ln()),
        UnaryOp::Log1p => map(a, |x: T| x.ln_1p()),
        UnaryOp::Sqrt => map(a, |x: T| x.sqrt()),
        UnaryOp::Rsqrt => map(a, |x: T| T::ONE / x.sqrt()),
        UnaryOp::Sin => map(a, |x: T| x.sin()),
        UnaryOp::Cos => map(a, |x: T| x.cos()),
        UnaryOp::Tanh => map(a, |x: T| x.tanh()),
        UnaryOp::Sigmoid => map(a, sigmoid::<T>),
        // relu(NaN) is NaN, as in PyTorch.
        UnaryOp::Relu => map(a, |x: T| if x < T::ZERO { T::ZERO } else { x }),
        UnaryOp::Gelu => {
            let r = T::from_f64(std::f64::consts::FRAC_1_SQRT_2);
            map(a, move |x: T| half * x * (T::ONE + (x * r).erf()))
        }
        UnaryOp::Silu => map(a, |x: T| x * sigmoid(x)),
        UnaryOp::Softplus => {
            let th = T::from_f64(20.0);
            map(a, move |x: T| if x > th { x } else { x.exp().ln_1p() })
        }
        UnaryOp::Sign => map(a, |x: T| {
            if x > T::ZERO {
                T::ONE
            } else if x < T::ZERO {
                -T::ONE
            } else {
                x * T::ZERO
            }
        }),
        UnaryOp::Floor => map(a, |x: T| x.floor()),
        UnaryOp::Ceil => map(a, |x: T| x.ceil()),
        UnaryOp::Round => map(a, |x: T| x.round_half_even()),
        UnaryOp::Recip => map(a, |x: T| T::ONE / x),
        UnaryOp::Erf => map(a, |x: T| x.erf()),
        UnaryOp::Powf(e) => {
            if e == 2.0 {
                map(a, |x: T| x * x)
            } else {
                let e = T::from_f64(e);
                map(a, move |x: T| x.powt(e))
            }
        }
        UnaryOp::Clamp(lo, hi) => {
            let lo = lo.map(T::from_f64);
            let hi = hi.map(T::from_f64);
            map(a, move |x: T| {
                if x.is_nan() {
                    return x;
                }
                let mut y = x;
                if let Some(l) = lo {
                    if y < l {
                        y = l;
                    }
                }
                if let Some(h) = hi {
                    if y > h {
                        y = h;
                    }
                }
                y
            })
        }
        UnaryOp::LeakyRelu(s) => {
            let s = T::from_f64(s);
            map(a, move |x: T| if x > T::ZERO { x } else { x * s })
        }
        UnaryOp::Elu(alpha) => {
            let al = T::from_f64(alpha);
            map(a, move |x: T| if x > T::ZERO { x } else { al * x.exp_m1() })
        }
    }
}

fn int_unary(op: UnaryOp, a: &Tensor) -> Result<Vec<i64>> {
    match op {
        UnaryOp::Neg => map(a, |x: i64| x.wrapping_neg()),
        UnaryOp::Abs => map(a, |x: i64| x.wrapping_abs()),
        UnaryOp::Relu => map(a, |x: i64| x.max(0)),
        UnaryOp::Sign => map(a, |x: i64| x.signum()),
        UnaryOp::Floor | UnaryOp::Ceil | UnaryOp::Round => map(a, |x: i64| x),
        UnaryOp::Clamp(lo, hi) => {
            // PyTorch rounds float bounds toward the integer range of the tensor.
            let lo = lo.map(|v| v.ceil() as i64).unwrap_or(i64::MIN);
            let hi = hi.map(|v| v.floor() as i64).unwrap_or(i64::MAX);
            map(a, move |x: i64| x.max(lo).min(hi))
        }
        other => unreachable!("{} promotes integers to float before the backend", other.name()),
    }
}
