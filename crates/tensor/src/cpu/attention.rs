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
use super::attention_layout::{Blocks, Placement};
use super::elementwise::for_each_init;
use super::matmul::{GemmElem, MatRef};
use super::vmath;
use super::SharedPtr;
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

/// `dst = mᵀ` for block `b` of `m` (`rows x cols`), into a dense `cols x rows` row-major scratch.
fn transpose_into<T: Copy>(m: &Blocks<'_, T>, b: usize, rows: usize, cols: usize, dst: &mut Vec<T>) {
    dst.clear();
    dst.reserve(rows * cols);
    let (data, off, rs) = (m.data, m.offsets[b], m.rs);
    for j in 0..cols {
        dst.extend((0..rows).map(|i| data[off + i * rs + j]));
    }
}

/// Copies the dense `rows x cols` block `src` into block `b` of the output `out` placed by `place`.
///
/// # Safety
/// `out` points to the `place.len` elements `place` describes, and no other thread writes block
/// `b` (the blocks of a [`Placement`] never share an element).
unsafe fn scatter<T: Copy>(src: &[T], out: SharedPtr<T>, place: &Placement, b: usize, rows: usize, cols: usize) {
    if cols == 0 {
        return;
    }
    for (i, row) in src.chunks_exact(cols).take(rows).enumerate() {
        let at = place.offsets[b] + i * place.rs;
        debug_assert!(at + cols <= place.len);
        // SAFETY: the row lies inside the buffer (a Placement's rows do) and belongs to block b,
        // which only this call writes.
        unsafe { out.slice(at..at + cols) }.copy_from_slice(row);
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

/// The operands of one attention: `q`, `k`, `v` read in place.
pub struct Operands<'a, T> {
    /// `[B][L, E]`.
    pub q: Blocks<'a, T>,
    /// `[B][S, E]`.
    pub k: Blocks<'a, T>,
    /// `[B][S, Ev]`.
    pub v: Blocks<'a, T>,
}

/// Per-thread scratch of the forward: `kᵀ`, the score block (when the probabilities are not
/// kept), the output block.
type FwdScratch<T> = (Vec<T>, Vec<T>, Vec<T>);

#[allow(clippy::too_many_arguments)]
/// The forward of one block: probabilities into `p` (`l x s`), output into `o` (`l x ev`).
fn block_forward<T: AttnElem>(
    x: &Operands<'_, T>,
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
    // kᵀ as a dense `e x s` matrix: GEMM packs a row-major operand fastest
    transpose_into(&x.k, b, s, e, kt);
    T::gemm(x.q.mat(b, l, e), MatRef::dense(kt, 0, e, s), T::ZERO, p, s, 1);
    softmax_rows(p, b, d, bias, causal, scale);
    T::gemm(MatRef::dense(p, 0, l, s), x.v.mat(b, s, ev), T::ZERO, o, ev, 1);
}

/// `softmax(scale · q kᵀ + bias) v` for `q` `[B][L, E]`, `k` `[B][S, E]`, `v` `[B][S, Ev]`: the
/// output `[B][L, Ev]` in a buffer laid out by `place` and, when `keep_probs`, the probabilities
/// `[B, L, S]` (dense).
#[allow(clippy::too_many_arguments)]
pub fn forward<T: AttnElem>(
    x: &Operands<'_, T>,
    bias: Option<&Bias<'_, T>>,
    causal: bool,
    scale: T,
    d: Dims,
    place: &Placement,
    keep_probs: bool,
) -> Result<(Vec<T>, Option<Vec<T>>)> {
    let op = "scaled_dot_product_attention";
    assert_eq!(place.len, d.batch * d.l * d.ev, "{op}: output placement of another size");
    let mut out = try_filled(op, place.len, T::ZERO)?;
    let ls = (d.l * d.s).max(1);
    if d.s == 0 || d.l == 0 {
        // no keys (or no queries): zero outputs and no probabilities to speak of
        return Ok((out, keep_probs.then(Vec::new)));
    }
    let optr = SharedPtr(out.as_mut_ptr());
    let one = |(kt, ps, o): &mut FwdScratch<T>, b: usize, p: Option<&mut [T]>| {
        o.resize(d.l * d.ev, T::ZERO);
        let p = match p {
            Some(p) => p,
            None => {
                ps.resize(d.l * d.s, T::ZERO);
                &mut ps[..]
            }
        };
        block_forward(x, b, d, bias, causal, scale, p, o, kt);
        // SAFETY: `out` holds `place.len` elements and block b is written by this item only.
        unsafe { scatter(o, optr, place, b, d.l, d.ev) };
    };
    let pool = rayon::current_num_threads() > 1;
    if keep_probs {
        let mut probs = try_filled(op, d.batch * d.l * d.s, T::ZERO)?;
        if pool {
            probs.par_chunks_mut(ls).enumerate().for_each_init(FwdScratch::default, |sc, (b, p)| one(sc, b, Some(p)));
        } else {
            let mut sc = FwdScratch::default();
            probs.chunks_mut(ls).enumerate().for_each(|(b, p)| one(&mut sc, b, Some(p)));
        }
        Ok((out, Some(probs)))
    } else {
        for_each_init(d.batch, FwdScratch::default, |sc, b| one(sc, b, None));
        Ok((out, None))
    }
}

/// Where the backward's three gradients go: `dq` like `q`, `dk` like `k`, `dv` like `v`.
pub struct GradPlacements {
    /// `dq`'s layout, `[B][L, E]`.
    pub q: Placement,
    /// `dk`'s layout, `[B][S, E]`.
    pub k: Placement,
    /// `dv`'s layout, `[B][S, Ev]`.
    pub v: Placement,
}

/// Per-thread scratch of the backward: `vᵀ`, `dS`, and the `dq`, `dk`, `dv` blocks.
type BwdScratch<T> = (Vec<T>, Vec<T>, Vec<T>, Vec<T>, Vec<T>);

/// The gradients `(dq, dk, dv)` of [`forward`] from the output gradient `go` `[B][L, Ev]` and the
/// saved probabilities `p` `[B, L, S]` (dense; the bias and mask are inside `p`), each in a buffer
/// laid out by its placement in `place`.
pub fn backward<T: AttnElem>(
    go: &Blocks<'_, T>,
    x: &Operands<'_, T>,
    p: &[T],
    scale: T,
    d: Dims,
    place: &GradPlacements,
) -> Result<(Vec<T>, Vec<T>, Vec<T>)> {
    let op = "scaled_dot_product_attention_backward";
    let (l, s, e, ev) = (d.l, d.s, d.e, d.ev);
    assert!(
        place.q.len == d.batch * l * e && place.k.len == d.batch * s * e && place.v.len == d.batch * s * ev,
        "{op}: gradient placements of other sizes"
    );
    assert!(p.len() >= d.batch * l * s, "{op}: probabilities of another size");
    let mut dq = try_filled(op, place.q.len, T::ZERO)?;
    let mut dk = try_filled(op, place.k.len, T::ZERO)?;
    let mut dv = try_filled(op, place.v.len, T::ZERO)?;
    let ptrs = (SharedPtr(dq.as_mut_ptr()), SharedPtr(dk.as_mut_ptr()), SharedPtr(dv.as_mut_ptr()));
    // One item per batch entry even where a gradient is empty (E = 0 still has dV = Pᵀ dO).
    for_each_init(d.batch, BwdScratch::default, |(vt, ds, dqb, dkb, dvb), b| {
        let (dqp, dkp, dvp) = ptrs;
        ds.resize(l * s, T::ZERO);
        dvb.resize(s * ev, T::ZERO);
        let pb = MatRef::dense(p, b * l * s, l, s);
        let gob = go.mat(b, l, ev);
        // dV = Pᵀ dO
        T::gemm(pb.t(), gob, T::ZERO, dvb, ev, 1);
        // SAFETY: each buffer holds its placement's `len` elements; block b is this item's only.
        unsafe { scatter(dvb, dvp, &place.v, b, s, ev) };
        // dP = dO Vᵀ
        transpose_into(&x.v, b, s, ev, vt);
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
        dqb.resize(l * e, T::ZERO);
        dkb.resize(s * e, T::ZERO);
        // dQ = dS K, dK = dSᵀ Q
        T::gemm(dsm, x.k.mat(b, s, e), T::ZERO, dqb, e, 1);
        T::gemm(dsm.t(), x.q.mat(b, l, e), T::ZERO, dkb, e, 1);
        // SAFETY: as above.
        unsafe {
            scatter(dqb, dqp, &place.q, b, l, e);
            scatter(dkb, dkp, &place.k, b, s, e);
        }
    });
    Ok((dq, dk, dv))
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
        let x =
            Operands { q: Blocks::dense(&[], b, l, 0), k: Blocks::dense(&[], b, s, 0), v: Blocks::dense(&v, b, s, ev) };
        let place = GradPlacements {
            q: Placement::following(&[b, l, 0], &[0, 0, 1]),
            k: Placement::following(&[b, s, 0], &[0, 0, 1]),
            v: Placement::following(&[b, s, ev], &[s * ev, ev, 1]),
        };
        let (dq, dk, dv) = backward::<f64>(&Blocks::dense(&go, b, l, ev), &x, &p, 1.0, d, &place).unwrap();
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
