//! CPU kernels of the fused optimizer updates.

use rayon::prelude::*;

use super::elementwise::PAR_THRESHOLD;
use crate::{DType, Float, Tensor};

/// The Adam step of [`Tensor::adam_step`] in one pass (parallel over chunks for large tensors).
#[allow(clippy::too_many_arguments)]
pub fn adam_step(
    p: &Tensor,
    g: &Tensor,
    m: &Tensor,
    v: &Tensor,
    beta1: f64,
    beta2: f64,
    scale: f64,
    eps: f64,
) -> (Tensor, Tensor, Tensor) {
    match p.dtype() {
        DType::F32 => typed::<f32>(p, g, m, v, beta1, beta2, scale, eps),
        DType::F64 => typed::<f64>(p, g, m, v, beta1, beta2, scale, eps),
        d => unreachable!("adam_step: dtype {d} checked by the caller"),
    }
}

#[allow(clippy::too_many_arguments)]
fn typed<T: Float>(
    p: &Tensor,
    g: &Tensor,
    m: &Tensor,
    v: &Tensor,
    beta1: f64,
    beta2: f64,
    scale: f64,
    eps: f64,
) -> (Tensor, Tensor, Tensor) {
    let (p_in, g_in, m_in, v_in) = (p.cpu_data::<T>(), g.cpu_data::<T>(), m.cpu_data::<T>(), v.cpu_data::<T>());
    let n = p_in.len();
    let (w1, b2, w2) = (T::from_f64(1.0 - beta1), T::from_f64(beta2), T::from_f64(1.0 - beta2));
    let (sc, ep) = (T::from_f64(scale), T::from_f64(eps));
    let mut p_out = vec![T::ZERO; n];
    let mut m_out = vec![T::ZERO; n];
    let mut v_out = vec![T::ZERO; n];
    let kernel = |start: usize, po: &mut [T], mo: &mut [T], vo: &mut [T]| {
        for i in 0..po.len() {
            let j = start + i;
            let gi = g_in[j];
            let mi = m_in[j] + (gi - m_in[j]) * w1;
            let vi = v_in[j] * b2 + gi * gi * w2;
            mo[i] = mi;
            vo[i] = vi;
            po[i] = p_in[j] - mi / (vi.sqrt() + ep) * sc;
        }
    };
    if n >= PAR_THRESHOLD {
        const CHUNK: usize = 1 << 14;
        p_out
            .par_chunks_mut(CHUNK)
            .zip(m_out.par_chunks_mut(CHUNK))
            .zip(v_out.par_chunks_mut(CHUNK))
            .enumerate()
            .for_each(|(c, ((po, mo), vo))| kernel(c * CHUNK, po, mo, vo));
    } else {
        kernel(0, &mut p_out, &mut m_out, &mut v_out);
    }
    let shape = p.shape();
    (
        Tensor::from_vec_unchecked(p_out, shape),
        Tensor::from_vec_unchecked(m_out, shape),
        Tensor::from_vec_unchecked(v_out, shape),
    )
}
