//! Row normalisation (LayerNorm and RMSNorm) forward and backward, one pass over each row: the
//! statistics, the normalised value and the affine transform in the forward; `dx` and the partial
//! sums of `dweight`, `dbias` in the backward, rows in parallel (one partial sum per chunk).

use rayon::prelude::*;

use super::elementwise::{par_worth, PAR_THRESHOLD};
use crate::{Element, Float, Result, Tensor};

/// `Σ f(v)` over `xs` in 16 independent partial sums (a single running sum is one long dependency
/// chain the compiler may not reorder; 16 lanes vectorise).
#[inline(always)]
fn lane_sum<T: Float>(xs: &[T], f: impl Fn(T) -> T) -> T {
    let mut acc = [T::ZERO; 16];
    let mut chunks = xs.chunks_exact(16);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += f(v);
        }
    }
    let tail = chunks.remainder().iter().fold(T::ZERO, |s, &v| s + f(v));
    acc.iter().fold(tail, |s, &a| s + a)
}

/// `Σ f(a, b)` over two slices of one length, as [`lane_sum`].
#[inline(always)]
fn lane_sum2<T: Float>(a: &[T], b: &[T], f: impl Fn(T, T) -> T) -> T {
    let mut acc = [T::ZERO; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail = ca.remainder().iter().zip(cb.remainder()).fold(T::ZERO, |s, (&x, &y)| s + f(x, y));
    for (x, y) in ca.zip(cb) {
        for ((s, &x), &y) in acc.iter_mut().zip(x).zip(y) {
            *s += f(x, y);
        }
    }
    acc.iter().fold(tail, |s, &v| s + v)
}

/// One chunk of rows of [`forward`]: its index, then its outputs, means and inverse deviations.
type RowChunk<'a, T> = (usize, ((&'a mut [T], &'a mut [T]), &'a mut [T]));

/// Rows per parallel chunk: about [`PAR_THRESHOLD`] elements.
fn rows_per_chunk(cols: usize) -> usize {
    (PAR_THRESHOLD / cols.max(1)).max(1)
}

/// `(x - mean) * rstd * w + b` for every row of `x` (`cols` wide); returns `(out, mean, rstd)`
/// (one per row; `mean` is 0 without `center`, RMSNorm).
pub fn forward<T: Float>(
    x: &[T],
    w: Option<&[T]>,
    b: Option<&[T]>,
    cols: usize,
    eps: T,
    center: bool,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let rows = x.len() / cols;
    let mut out = vec![T::ZERO; x.len()];
    let mut mean = vec![T::ZERO; rows];
    let mut rstd = vec![T::ZERO; rows];
    let inv_n = T::ONE / T::from_f64(cols as f64);
    let per = rows_per_chunk(cols);
    let body = |(c, ((o, m), r)): RowChunk<'_, T>| {
        for (i, (orow, (m, r))) in o.chunks_mut(cols).zip(m.iter_mut().zip(r.iter_mut())).enumerate() {
            let row = c * per + i;
            let xr = &x[row * cols..(row + 1) * cols];
            let mu = if center { lane_sum(xr, |v| v) * inv_n } else { T::ZERO };
            let var = lane_sum(xr, |v| (v - mu) * (v - mu)) * inv_n;
            let rs = T::ONE / (var + eps).sqrt();
            *m = mu;
            *r = rs;
            for (j, (o, &v)) in orow.iter_mut().zip(xr).enumerate() {
                let mut y = (v - mu) * rs;
                if let Some(w) = w {
                    y = y * w[j];
                }
                if let Some(b) = b {
                    y += b[j];
                }
                *o = y;
            }
        }
    };
    // the same chunks either way, so the results do not depend on the thread count
    if par_worth(x.len()) {
        out.par_chunks_mut(per * cols)
            .zip(mean.par_chunks_mut(per))
            .zip(rstd.par_chunks_mut(per))
            .enumerate()
            .for_each(body);
    } else {
        out.chunks_mut(per * cols).zip(mean.chunks_mut(per)).zip(rstd.chunks_mut(per)).enumerate().for_each(body);
    }
    (out, mean, rstd)
}

/// The gradients of [`forward`]: `(dx, dw, db)` from the output gradient `g`, the input and the
/// saved `mean`, `rstd`; with `x̂ = (x - mean) rstd` and `gy = g w`:
/// `dx = rstd (gy - mean(gy) - x̂ mean(gy x̂))` (no `mean(gy)` term without `center`),
/// `dw = Σ_rows g x̂`, `db = Σ_rows g`.
pub fn backward<T: Float>(
    g: &[T],
    x: &[T],
    w: Option<&[T]>,
    mean: &[T],
    rstd: &[T],
    cols: usize,
    center: bool,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let mut dx = vec![T::ZERO; x.len()];
    let inv_n = T::ONE / T::from_f64(cols as f64);
    let per = rows_per_chunk(cols);
    let chunk = |(c, d): (usize, &mut [T])| {
        let (mut dw, mut db) = (vec![T::ZERO; cols], vec![T::ZERO; cols]);
        let mut scratch = vec![T::ZERO; cols];
        for (i, drow) in d.chunks_mut(cols).enumerate() {
            let row = c * per + i;
            let (xr, gr) = (&x[row * cols..(row + 1) * cols], &g[row * cols..(row + 1) * cols]);
            let (mu, rs) = (mean[row], rstd[row]);
            for j in 0..cols {
                let xh = (xr[j] - mu) * rs;
                dw[j] += gr[j] * xh;
                db[j] += gr[j];
            }
            let gy: &[T] = match w {
                Some(w) => {
                    for ((s, &g), &w) in scratch.iter_mut().zip(gr).zip(w) {
                        *s = g * w;
                    }
                    &scratch
                }
                None => gr,
            };
            let sum_gy = lane_sum(gy, |v| v);
            let sum_gyx = lane_sum2(gy, xr, |g, x| g * ((x - mu) * rs));
            let a = if center { sum_gy * inv_n } else { T::ZERO };
            let p = sum_gyx * inv_n;
            for ((d, &g), &x) in drow.iter_mut().zip(gy).zip(xr) {
                *d = rs * (g - a - (x - mu) * rs * p);
            }
        }
        (dw, db)
    };
    // the same chunks either way, so the results do not depend on the thread count
    let partials: Vec<(Vec<T>, Vec<T>)> = if par_worth(x.len()) {
        dx.par_chunks_mut(per * cols).enumerate().map(chunk).collect()
    } else {
        dx.chunks_mut(per * cols).enumerate().map(chunk).collect()
    };
    let (mut dw, mut db) = (vec![T::ZERO; cols], vec![T::ZERO; cols]);
    for (pw, pb) in partials {
        for j in 0..cols {
            dw[j] += pw[j];
            db[j] += pb[j];
        }
    }
    (dx, dw, db)
}

/// [`forward`] on tensors checked by `ops/norm_rows.rs` (float `x`, parameters of `cols`
/// elements): `(out, mean, rstd)`, the statistics of shape `[rows]`.
pub(crate) fn forward_tensors(
    x: &Tensor,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    cols: usize,
    eps: f64,
    center: bool,
) -> Result<(Tensor, Tensor, Tensor)> {
    let rows = x.numel() / cols;
    Ok(crate::with_float!("norm_rows", x.dtype(), T, {
        let (wd, bd) = (weight.map(|t| t.cpu_data::<T>()), bias.map(|t| t.cpu_data::<T>()));
        let (o, m, s) = forward::<T>(&x.cpu_data::<T>(), wd.as_deref(), bd.as_deref(), cols, T::from_f64(eps), center);
        (
            Tensor::from_vec_unchecked(o, x.shape()),
            Tensor::from_vec_unchecked(m, &[rows]),
            Tensor::from_vec_unchecked(s, &[rows]),
        )
    }))
}

/// [`backward`] on checked tensors: `(dx, dweight, dbias)`, the parameter gradients of `[cols]`.
pub(crate) fn backward_tensors(
    g: &Tensor,
    x: &Tensor,
    weight: Option<&Tensor>,
    mean: &Tensor,
    rstd: &Tensor,
    cols: usize,
    center: bool,
) -> Result<(Tensor, Tensor, Tensor)> {
    Ok(crate::with_float!("norm_rows_backward", x.dtype(), T, {
        let wd = weight.map(|t| t.cpu_data::<T>());
        let (dx, dw, db) = backward::<T>(
            &g.cpu_data::<T>(),
            &x.cpu_data::<T>(),
            wd.as_deref(),
            &mean.cpu_data::<T>(),
            &rstd.cpu_data::<T>(),
            cols,
            center,
        );
        (
            Tensor::from_vec_unchecked(dx, x.shape()),
            Tensor::from_vec_unchecked(dw, &[cols]),
            Tensor::from_vec_unchecked(db, &[cols]),
        )
    }))
}
