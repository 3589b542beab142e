//! CPU kernels of the fused optimizer updates.

use rayon::prelude::*;

use super::elementwise::PAR_THRESHOLD;
use super::SharedPtr;
use crate::{DType, Float, Tensor};

/// The Adam step of [`Tensor::adam_step`] in one pass (parallel over chunks for large tensors);
/// `m'` and `v'` overwrite `m` and `v` when both are the only handles to their storage.
#[allow(clippy::too_many_arguments)]
pub fn adam_step(
    p: &Tensor,
    g: &Tensor,
    m: Tensor,
    v: Tensor,
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

/// Elements per parallel chunk of the fused updates.
const CHUNK: usize = 1 << 14;

/// Runs `f(start, chunk)` over `CHUNK`-sized chunks of `n` elements, in parallel when large.
fn chunked(n: usize, f: impl Fn(std::ops::Range<usize>) + Sync) {
    if n >= PAR_THRESHOLD {
        (0..n.div_ceil(CHUNK)).into_par_iter().for_each(|c| f(c * CHUNK..((c + 1) * CHUNK).min(n)));
    } else {
        f(0..n);
    }
}

#[allow(clippy::too_many_arguments)]
fn typed<T: Float>(
    p: &Tensor,
    g: &Tensor,
    mut m: Tensor,
    mut v: Tensor,
    beta1: f64,
    beta2: f64,
    scale: f64,
    eps: f64,
) -> (Tensor, Tensor, Tensor) {
    let (p_in, g_in) = (p.cpu_data::<T>(), g.cpu_data::<T>());
    let n = p_in.len();
    let (w1, b2, w2) = (T::from_f64(1.0 - beta1), T::from_f64(beta2), T::from_f64(1.0 - beta2));
    let (sc, ep) = (T::from_f64(scale), T::from_f64(eps));
    // the new parameter is written once, straight into fresh capacity (no zero-fill pass first)
    let mut p_out = super::alloc::vec_uninit("adam_step", n);
    let po = SharedPtr(p_out.spare_capacity_mut()[..n].as_mut_ptr());
    // zipped slices, no indexing: the loops have no bounds checks and vectorise (sqrt, div)
    let (m_new, v_new) = match (m.cpu_unique_mut::<T>(), v.cpu_unique_mut::<T>()) {
        (Some(ms), Some(vs)) => {
            // in place: read m and v and overwrite them in the same pass
            let (mp, vp) = (SharedPtr(ms.as_mut_ptr()), SharedPtr(vs.as_mut_ptr()));
            chunked(n, |r| {
                // SAFETY: each chunk's range r is its own, inside the n elements of every buffer.
                let (po, mo, vo) = unsafe { (po.slice(r.clone()), mp.slice(r.clone()), vp.slice(r.clone())) };
                let ins = p_in[r.clone()].iter().zip(&g_in[r]);
                for (((po, mo), vo), (&pi, &gi)) in po.iter_mut().zip(mo).zip(vo).zip(ins) {
                    let mi = *mo + (gi - *mo) * w1;
                    let vi = *vo * b2 + gi * gi * w2;
                    *mo = mi;
                    *vo = vi;
                    po.write(pi - mi / (vi.sqrt() + ep) * sc);
                }
            });
            (m, v)
        }
        _ => {
            let (m_in, v_in) = (m.cpu_data::<T>(), v.cpu_data::<T>());
            let (mut m_out, mut v_out) =
                (super::alloc::vec_uninit("adam_step", n), super::alloc::vec_uninit("adam_step", n));
            let mo = SharedPtr(m_out.spare_capacity_mut()[..n].as_mut_ptr());
            let vo = SharedPtr(v_out.spare_capacity_mut()[..n].as_mut_ptr());
            chunked(n, |r| {
                // SAFETY: each chunk's range r is its own, inside the n elements of every buffer.
                let (po, mo, vo) = unsafe { (po.slice(r.clone()), mo.slice(r.clone()), vo.slice(r.clone())) };
                let ins = p_in[r.clone()].iter().zip(&g_in[r.clone()]).zip(m_in[r.clone()].iter().zip(&v_in[r]));
                for (((po, mo), vo), ((&pi, &gi), (&m0, &v0))) in po.iter_mut().zip(mo).zip(vo).zip(ins) {
                    let mi = m0 + (gi - m0) * w1;
                    let vi = v0 * b2 + gi * gi * w2;
                    mo.write(mi);
                    vo.write(vi);
                    po.write(pi - mi / (vi.sqrt() + ep) * sc);
                }
            });
            // SAFETY: the chunks cover 0..n and each wrote every element of its range once.
            unsafe {
                m_out.set_len(n);
                v_out.set_len(n);
            }
            (Tensor::from_vec_unchecked(m_out, p.shape()), Tensor::from_vec_unchecked(v_out, p.shape()))
        }
    };
    // SAFETY: as above, for the new parameter.
    unsafe { p_out.set_len(n) };
    (Tensor::from_vec_unchecked(p_out, p.shape()), m_new, v_new)
}

/// The SGD momentum step of [`Tensor::sgd_momentum_step`] in one pass: `(θ', b')`.
#[allow(clippy::too_many_arguments)]
pub fn sgd_momentum_step(
    p: &Tensor,
    g: &Tensor,
    b: &Tensor,
    lr: f64,
    momentum: f64,
    dampening: f64,
    nesterov: bool,
) -> (Tensor, Tensor) {
    match p.dtype() {
        DType::F32 => sgd_typed::<f32>(p, g, b, lr, momentum, dampening, nesterov),
        DType::F64 => sgd_typed::<f64>(p, g, b, lr, momentum, dampening, nesterov),
        d => unreachable!("sgd_momentum_step: dtype {d} checked by the caller"),
    }
}

fn sgd_typed<T: Float>(
    p: &Tensor,
    g: &Tensor,
    b: &Tensor,
    lr: f64,
    momentum: f64,
    dampening: f64,
    nesterov: bool,
) -> (Tensor, Tensor) {
    let (p_in, g_in, b_in) = (p.cpu_data::<T>(), g.cpu_data::<T>(), b.cpu_data::<T>());
    let n = p_in.len();
    let (mu, keep, rate) = (T::from_f64(momentum), T::from_f64(1.0 - dampening), T::from_f64(lr));
    let (mut p_out, mut b_out) = (super::alloc::vec_uninit("sgd_step", n), super::alloc::vec_uninit("sgd_step", n));
    let po = SharedPtr(p_out.spare_capacity_mut()[..n].as_mut_ptr());
    let bo = SharedPtr(b_out.spare_capacity_mut()[..n].as_mut_ptr());
    // The composite's operations in its order (`b·μ + g·(1-τ)`, then `θ - d·lr`), so results agree
    // bit for bit; `g·1` is exact when there is no dampening.
    chunked(n, |r| {
        // SAFETY: each chunk's range r is its own, inside the n elements of both outputs.
        let (po, bo) = unsafe { (po.slice(r.clone()), bo.slice(r.clone())) };
        let ins = p_in[r.clone()].iter().zip(&g_in[r.clone()]).zip(&b_in[r]);
        for ((po, bo), ((&pi, &gi), &b0)) in po.iter_mut().zip(bo).zip(ins) {
            let bi = b0 * mu + gi * keep;
            bo.write(bi);
            let d = if nesterov { gi + bi * mu } else { bi };
            po.write(pi - d * rate);
        }
    });
    // SAFETY: the chunks cover 0..n and each wrote every element of its range once.
    unsafe {
        p_out.set_len(n);
        b_out.set_len(n);
    }
    let shape = p.shape();
    (Tensor::from_vec_unchecked(p_out, shape), Tensor::from_vec_unchecked(b_out, shape))
}
