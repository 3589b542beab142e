//! CPU kernels of fused scaled dot-product attention (`ops/attention.rs`).
//!
//! Forward, per block `b` of the flattened batch (batch x heads), in parallel over blocks: the
//! scores `q_b k_bᵀ` by one single-threaded GEMM into a per-thread `[L, S]` scratch block (or
//! straight into the saved probabilities when the backward needs them), then one pass per row
//! (scale, additive bias or causal mask, max, `exp` through the vectorised f32 kernel, sum,
//! normalise), then `P_b v_b` by a second GEMM written into the output. Nothing larger than one
//! score block per thread is materialised unless the probabilities are kept for the backward.
//!
//! Backward, per block, from the saved probabilities `P`: `dV = Pᵀ dO`, `dP = dO Vᵀ`,
//! `dS = P ∘ (dP - rowsum(dP ∘ P)) · scale`, `dQ = dS K`, `dK = dSᵀ Q`.
//!
//! A row whose every key is masked (`-inf` bias) gets zero probabilities and a zero output, as
//! PyTorch's SDPA.

use rayon::prelude::*;

use super::alloc::try_filled;
use super::matmul::{GemmElem, MatRef};
use super::vmath;
use crate::{Float, Result};

/// Element types with a fused attention kernel: a GEMM and an in-place `exp` over a row.
pub trait AttnElem: GemmElem + Float {
    /// `x = e^x` for every element of `row`.
    fn exp_row(row: &mut [Self]);
}

impl AttnElem for f32 {
    fn exp_row(row: &mut [f32]) {
        vmath::apply_inplace(row, vmath::Exp);
    }
}

impl AttnElem for f64 {
    fn exp_row(row: &mut [f64]) {
        for v in row {
            *v = v.exp();
        }
    }
}

/// The sizes of one attention: `batch` blocks of `l` queries and `s` keys, embedding `e` for
/// queries and keys, `ev` for values.
#[derive(Clone, Copy, Debug)]
pub struct Dims {
    /// Number of blocks (the flattened batch and head dims).
    pub batch: usize,
    /// Queries per block.
    pub l: usize,
    /// Keys (and values) per block.
    pub s: usize,
    /// Embedding size of queries and keys.
    pub e: usize,
    /// Embedding size of values (and the output).
    pub ev: usize,
}

/// An additive bias read in place (broadcast dims have stride 0): the element for block `b`, row
/// `i`, key `j` is `data[offsets[b] + i * rs + j * cs]`.
pub struct Bias<'a, T> {
    /// The bias's storage.
    pub data: &'a [T],
    /// Where each block's `[L, S]` matrix starts.
    pub offsets: Vec<usize>,
    /// Row stride.
    pub rs: usize,
    /// Column stride.
    pub cs: usize,
}

/// `dst = src_bᵀ` for a dense `rows x cols` block (into a `cols x rows` row-major scratch).
fn transpose_into<T: Copy>(src: &[T], rows: usize, cols: usize, dst: &mut Vec<T>) {
    dst.clear();
    dst.reserve(rows * cols);
    for j in 0..cols {
        dst.extend((0..rows).map(|i| src[i * cols + j]));
    }
}

/// Scale, bias or causal mask, and softmax of each row of the `l x s` block `p` (in place).
fn softmax_rows<T: AttnElem>(p: &mut [T], b: usize, d: Dims, bias: Option<&Bias<'_, T>>, causal: bool, scale: T) {
    let s = d.s;
    for (i, row) in p.chunks_mut(s).enumerate() {
        let mut m = T::NEG_INFINITY;
        match bias {
            Some(bs) => {
                let base = bs.offsets[b] + i * bs.rs;
                for (j, v) in row.iter_mut().enumerate() {
                    *v = *v * scale + bs.data[base + j * bs.cs];
                    if *v > m {
                        m = *v;
                    }
                }
            }
            None => {
                // keys after the query are masked (top-left aligned, as PyTorch's is_causal)
                let lim = if causal { (i + 1).min(s) } else { s };
                for v in &mut row[..lim] {
                    *v = *v * scale;
                    if *v > m {
                        m = *v;
                    }
                }
                for v in &mut row[lim..] {
                    *v = T::NEG_INFINITY;
                }
            }
        }
        if m == T::NEG_INFINITY {
            // every key masked: zero weights (PyTorch's SDPA)
            row.fill(T::ZERO);
            continue;
        }
        for v in row.iter_mut() {
            *v = *v - m;
        }
        T::exp_row(row);
        let mut sum = T::ZERO;
        for &v in row.iter() {
            sum += v;
        }
        let inv = T::ONE / sum;
        for v in row.iter_mut() {
            *v = *v * inv;
        }
    }
}

#[allow(clippy::too_many_arguments)]
/// The forward of one block: probabilities into `p` (`l x s`), output into `o` (`l x ev`).
fn block_forward<T: AttnElem>(
    (q, k, v): (&[T], &[T], &[T]),
    b: usize,
    d: Dims,
    bias: Option<&Bias<'_, T>>,
    causal: bool,
    scale: T,
    p: &mut [T],
    o: &mut [T],
    kt: &mut Vec<T>,
) {
    let (l, s, e, ev) = (d.l, d.s, d.e, d.ev);
    let qb = MatRef::dense(q, b * l * e, l, e);
    // kᵀ as a dense `e x s` matrix: GEMM packs a row-major operand fastest
    transpose_into(&k[b * s * e..(b + 1) * s * e], s, e, kt);
    T::gemm(qb, MatRef::dense(kt, 0, e, s), T::ZERO, p, s, 1);
    softmax_rows(p, b, d, bias, causal, scale);
    T::gemm(MatRef::dense(p, 0, l, s), MatRef::dense(v, b * s * ev, s, ev), T::ZERO, o, ev, 1);
}

/// `softmax(scale · q kᵀ + bias) v` for dense `q` `[B, L, E]`, `k` `[B, S, E]`, `v` `[B, S, Ev]`:
/// the output `[B, L, Ev]` and, when `keep_probs`, the probabilities `[B, L, S]`.
#[allow(clippy::too_many_arguments)]
pub fn forward<T: AttnElem>(
    q: &[T],
    k: &[T],
    v: &[T],
    bias: Option<&Bias<'_, T>>,
    causal: bool,
    scale: T,
    d: Dims,
    keep_probs: bool,
) -> Result<(Vec<T>, Option<Vec<T>>)> {
    let op = "scaled_dot_product_attention";
    let mut out = try_filled(op, d.batch * d.l * d.ev, T::ZERO)?;
    let (ls, lev) = ((d.l * d.s).max(1), (d.l * d.ev).max(1));
    if d.s == 0 || d.l == 0 {
        // no keys (or no queries): zero outputs and no probabilities to speak of
        return Ok((out, keep_probs.then(Vec::new)));
    }
    if keep_probs {
        let mut probs = try_filled(op, d.batch * d.l * d.s, T::ZERO)?;
        out.par_chunks_mut(lev)
            .zip(probs.par_chunks_mut(ls))
            .enumerate()
            .for_each_init(Vec::new, |kt, (b, (o, p))| block_forward((q, k, v), b, d, bias, causal, scale, p, o, kt));
        Ok((out, Some(probs)))
    } else {
        out.par_chunks_mut(lev).enumerate().for_each_init(
            || (Vec::new(), vec![T::ZERO; d.l * d.s]),
            |(kt, p), (b, o)| block_forward((q, k, v), b, d, bias, causal, scale, p, o, kt),
        );
        Ok((out, None))
    }
}

/// The gradients `(dq, dk, dv)` of [`forward`] from the output gradient `go` `[B, L, Ev]` and the
/// saved probabilities `p` `[B, L, S]` (the bias and mask are inside `p`).
#[allow(clippy::too_many_arguments)]
pub fn backward<T: AttnElem>(
    go: &[T],
    q: &[T],
    k: &[T],
    v: &[T],
    p: &[T],
    scale: T,
    d: Dims,
) -> Result<(Vec<T>, Vec<T>, Vec<T>)> {
    let op = "scaled_dot_product_attention_backward";
    let (l, s, e, ev) = (d.l, d.s, d.e, d.ev);
    let mut dq = try_filled(op, d.batch * l * e, T::ZERO)?;
    let mut dk = try_filled(op, d.batch * s * e, T::ZERO)?;
    let mut dv = try_filled(op, d.batch * s * ev, T::ZERO)?;
    // One item per batch entry even where a gradient is empty (E = 0 still has dV = Pᵀ dO).
    let items: Vec<_> = per_batch(&mut dq, l * e, d.batch)
        .into_iter()
        .zip(per_batch(&mut dk, s * e, d.batch))
        .zip(per_batch(&mut dv, s * ev, d.batch))
        .collect();
    items.into_par_iter().enumerate().for_each_init(
        || (Vec::new(), vec![T::ZERO; l * s]),
        |(vt, ds), (b, ((dqb, dkb), dvb))| {
            let pb = MatRef::dense(p, b * l * s, l, s);
            let gob = MatRef::dense(go, b * l * ev, l, ev);
            // dV = Pᵀ dO
            T::gemm(pb.t(), gob, T::ZERO, dvb, ev, 1);
            // dP = dO Vᵀ
            transpose_into(&v[b * s * ev..(b + 1) * s * ev], s, ev, vt);
            T::gemm(gob, MatRef::dense(vt, 0, ev, s), T::ZERO, ds, s, 1);
            // dS = P ∘ (dP - rowsum(dP ∘ P)), times the scale
            for (row, prow) in ds.chunks_mut(s.max(1)).zip(p[b * l * s..(b + 1) * l * s].chunks(s.max(1))) {
                let mut dot = T::ZERO;
                for (&g, &pv) in row.iter().zip(prow) {
                    dot += g * pv;
                }
                for (g, &pv) in row.iter_mut().zip(prow) {
                    *g = pv * (*g - dot) * scale;
                }
            }
            let dsm = MatRef::dense(ds, 0, l, s);
            if e == 0 {
                return;
            }
            // dQ = dS K, dK = dSᵀ Q
            T::gemm(dsm, MatRef::dense(k, b * s * e, s, e), T::ZERO, dqb, e, 1);
            T::gemm(dsm.t(), MatRef::dense(q, b * l * e, l, e), T::ZERO, dkb, e, 1);
        },
    );
    Ok((dq, dk, dv))
}

/// `buf` cut into `parts` consecutive slices of `n` elements each (empty slices when `n` is 0).
fn per_batch<T>(buf: &mut [T], n: usize, parts: usize) -> Vec<&mut [T]> {
    if n == 0 {
        return (0..parts).map(|_| <&mut [T]>::default()).collect();
    }
    buf.chunks_mut(n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_key_size_still_gives_the_value_gradient() {
        // E = 0: the scores are all 0, P is uniform, dV = Pᵀ dO; dQ and dK are empty.
        let (b, l, s, ev) = (2, 3, 4, 2);
        let d = Dims { batch: b, l, s, e: 0, ev };
        let p = vec![0.25f64; b * l * s];
        let go: Vec<f64> = (0..b * l * ev).map(|i| i as f64 + 1.0).collect();
        let v: Vec<f64> = (0..b * s * ev).map(|i| 0.5 * i as f64).collect();
        let (dq, dk, dv) = backward::<f64>(&go, &[], &[], &v, &p, 1.0, d).unwrap();
        assert!(dq.is_empty() && dk.is_empty());
        for bi in 0..b {
            for j in 0..s {
                for c in 0..ev {
                    let want: f64 = (0..l).map(|i| 0.25 * go[(bi * l + i) * ev + c]).sum();
                    assert_eq!(dv[(bi * s + j) * ev + c], want, "batch {bi}, key {j}, column {c}");
                }
            }
        }
    }
}
