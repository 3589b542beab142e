//! The CPU (and host-fallback) kernels of the fused cross-entropy (`ops/cross_entropy.rs`): the
//! reference the GPU kernels are checked against, computed in f64 and rounded to the logits' dtype.

use crate::ops::cross_entropy::{out_of_bounds, CrossEntropyOpts};
use crate::{Result, Tensor};

/// The host copies of the operands: logits, targets, class weights (1 without), ε.
struct Rows {
    x: Vec<f64>,
    t: Vec<i64>,
    w: Vec<f64>,
    n: usize,
    c: usize,
}

impl Rows {
    fn new(x: &Tensor, target: &Tensor, weight: Option<&Tensor>) -> Rows {
        let (n, c) = (x.shape()[0], x.shape()[1]);
        let w = weight.map_or_else(|| vec![1.0; c], |w| w.to_vec::<f64>());
        Rows { x: x.to_vec::<f64>(), t: target.to_vec::<i64>(), w, n, c }
    }

    /// The class of row `r`, `None` when ignored; an error when out of range.
    fn class(&self, r: usize, o: &CrossEntropyOpts) -> Result<Option<usize>> {
        let t = self.t[r];
        if t == o.ignore_index {
            return Ok(None);
        }
        if t < 0 || t as usize >= self.c {
            return Err(out_of_bounds(t, self.c, o.ignore_index));
        }
        Ok(Some(t as usize))
    }

    fn lse(&self, r: usize) -> f64 {
        let row = &self.x[r * self.c..(r + 1) * self.c];
        let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
    }
}

/// The loss (0-d) and statistics `[loss, total, Σ w, ε, lse...]` of `ops/cross_entropy.rs`.
pub(crate) fn forward(
    x: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    o: &CrossEntropyOpts,
) -> Result<(Tensor, Tensor)> {
    let r = Rows::new(x, target, weight);
    let eps = o.label_smoothing;
    let (mut loss, mut total) = (0.0, 0.0);
    let mut stats = vec![0.0; r.n + 4];
    for i in 0..r.n {
        let lse = r.lse(i);
        stats[4 + i] = lse;
        let Some(k) = r.class(i, o)? else { continue };
        let row = &r.x[i * r.c..(i + 1) * r.c];
        let mut l = (1.0 - eps) * r.w[k] * (lse - row[k]);
        if eps > 0.0 {
            let smooth: f64 = row.iter().zip(&r.w).map(|(v, w)| w * (lse - v)).sum();
            l += eps / r.c as f64 * smooth;
        }
        loss += l;
        total += r.w[k];
    }
    stats[0] = if o.mean { loss / total } else { loss };
    stats[1] = total;
    stats[2] = r.w.iter().sum();
    stats[3] = eps;
    let stats = Tensor::try_from_vec(stats, &[r.n + 4])?.try_to_dtype(x.dtype())?;
    Ok((stats.try_narrow(0, 0, 1)?.try_reshape(&[] as &[usize])?, stats))
}

/// The gradient with respect to the logits (see `Tensor::cross_entropy_fused_backward`).
pub(crate) fn backward(
    x: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    stats: &Tensor,
    grad: &Tensor,
    o: &CrossEntropyOpts,
) -> Result<Tensor> {
    let r = Rows::new(x, target, weight);
    let s = stats.to_vec::<f64>();
    let eps = o.label_smoothing;
    let g = grad.to_vec::<f64>()[0];
    let scale = if o.mean { g / s[1] } else { g };
    let mut dx = vec![0.0; r.n * r.c];
    for i in 0..r.n {
        let Some(k) = r.class(i, o)? else { continue };
        let q_sum = (1.0 - eps) * r.w[k] + eps / r.c as f64 * s[2];
        for c in 0..r.c {
            let mut q = eps / r.c as f64 * r.w[c];
            if c == k {
                q += (1.0 - eps) * r.w[k];
            }
            let p = (r.x[i * r.c + c] - s[4 + i]).exp();
            dx[i * r.c + c] = scale * (q_sum * p - q);
        }
    }
    Tensor::try_from_vec(dx, &[r.n, r.c])?.try_to_dtype(x.dtype())
}
