//! CPU kernels of the fused activation ops (`ops/activation.rs`): the tanh form of GELU and the
//! gradients of GELU, SiLU, sigmoid and tanh, one pass each. F32 runs the vectorised kernels of
//! [`vmath`](super::vmath); F64 the exact formulas (erf from `libm`).

use super::elementwise::{map_slice, par_worth};
use super::vmath::{self, GeluBackward, GeluTanh, GeluTanhBackward, SigmoidBackward, SiluBackward, TanhBackward};
use crate::ops::activation::ActGrad;
use crate::{DType, Result, Tensor};

use rayon::prelude::*;

const K_TANH: f64 = 0.797_884_560_802_865_4; // sqrt(2 / pi)
const C_TANH: f64 = 0.044_715;

fn sigmoid64(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `x/2 (1 + tanh(√(2/π) (x + 0.044715 x³)))` of a float CPU tensor.
pub fn gelu_tanh(x: &Tensor) -> Result<Tensor> {
    let out = match x.dtype() {
        DType::F32 => Tensor::from_vec_unchecked(vmath::map(&x.try_cpu_data::<f32>()?, GeluTanh)?, x.shape()),
        DType::F64 => Tensor::from_vec_unchecked(
            map_slice(&x.try_cpu_data::<f64>()?, |x: f64| {
                0.5 * x * (1.0 + (K_TANH * (x + C_TANH * x * x * x)).tanh())
            })?,
            x.shape(),
        ),
        d => return Err(crate::Error::UnsupportedDType { op: "gelu_tanh", dtype: d }),
    };
    Ok(out)
}

/// The f64 gradient of `op` at the saved value `s` (the input, or the output for sigmoid and tanh).
fn grad64(op: ActGrad, s: f64) -> f64 {
    match op {
        ActGrad::Gelu => {
            let cdf = 0.5 * libm::erfc(-s * std::f64::consts::FRAC_1_SQRT_2);
            cdf + s * (-0.5 * s * s).exp() * 0.398_942_280_401_432_7
        }
        ActGrad::GeluTanh => {
            let t = (K_TANH * (s + C_TANH * s * s * s)).tanh();
            0.5 * (1.0 + t) + 0.5 * s * (1.0 - t * t) * K_TANH * (1.0 + 3.0 * C_TANH * s * s)
        }
        ActGrad::Silu => {
            let sg = sigmoid64(s);
            sg * (1.0 + s * (1.0 - sg))
        }
        ActGrad::SigmoidFromOutput => s * (1.0 - s),
        ActGrad::TanhFromOutput => 1.0 - s * s,
    }
}

/// `grad · op'(saved)` for float CPU tensors of one shape (checked by the op).
pub fn activation_backward(op: ActGrad, saved: &Tensor, grad: &Tensor) -> Result<Tensor> {
    let shape = saved.shape();
    match saved.dtype() {
        DType::F32 => {
            let (s, g) = (saved.try_cpu_data::<f32>()?, grad.try_cpu_data::<f32>()?);
            let v = match op {
                ActGrad::Gelu => vmath::zip(&g, &s, GeluBackward),
                ActGrad::GeluTanh => vmath::zip(&g, &s, GeluTanhBackward),
                ActGrad::Silu => vmath::zip(&g, &s, SiluBackward),
                ActGrad::SigmoidFromOutput => vmath::zip(&g, &s, SigmoidBackward),
                ActGrad::TanhFromOutput => vmath::zip(&g, &s, TanhBackward),
            }?;
            Ok(Tensor::from_vec_unchecked(v, shape))
        }
        DType::F64 => {
            let (s, g) = (saved.try_cpu_data::<f64>()?, grad.try_cpu_data::<f64>()?);
            let n = s.len();
            let mut out = super::alloc::try_vec_any::<f64>("activation_backward", n)?;
            let f = |(o, (&g, &s)): (&mut std::mem::MaybeUninit<f64>, (&f64, &f64))| {
                o.write(g * grad64(op, s));
            };
            let dst = &mut out.spare_capacity_mut()[..n];
            if par_worth(n) {
                dst.par_iter_mut().zip(g.par_iter().zip(s.par_iter())).for_each(f);
            } else {
                dst.iter_mut().zip(g.iter().zip(s.iter())).for_each(f);
            }
            // SAFETY: every element was written above.
            unsafe { out.set_len(n) };
            Ok(Tensor::from_vec_unchecked(out, shape))
        }
        d => Err(crate::Error::UnsupportedDType { op: op.name(), dtype: d }),
    }
}
